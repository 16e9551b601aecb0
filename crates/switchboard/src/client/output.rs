//! Human-readable tables and texts, and `--json` output.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::Value;
use switchboard_mcp::client::Client;
use switchboard_mcp::protocol::prompts::Prompt;
use switchboard_mcp::protocol::resources::{Resource, ResourceTemplate};
use switchboard_mcp::protocol::tools::Tool;

/// Pretty JSON.
pub(super) fn json(out: &mut impl Write, value: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value).map_err(io::Error::other)?;
    writeln!(out)
}

/// One JSON value per line.
pub(super) fn json_line(out: &mut impl Write, value: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value).map_err(io::Error::other)?;
    writeln!(out)
}

/// A table with a header row; the last column is not padded.
fn table(out: &mut impl Write, header: &[&str], rows: &[Vec<String>]) -> io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |out: &mut dyn Write, cells: &[String]| -> io::Result<()> {
        let last = cells.len().saturating_sub(1);
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i == last {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        writeln!(out, "{}", text.trim_end())
    };
    line(out, &header.iter().map(|h| (*h).to_owned()).collect::<Vec<_>>())?;
    for row in rows {
        line(out, row)?;
    }
    Ok(())
}

/// The first line of a description, shortened.
fn summary(text: Option<&str>) -> String {
    let first = text.unwrap_or("").lines().next().unwrap_or("").trim();
    if first.chars().count() > 80 {
        format!("{}…", first.chars().take(79).collect::<String>())
    } else {
        first.to_owned()
    }
}

pub(super) fn discover(out: &mut impl Write, client: &Client) -> io::Result<()> {
    let info = client.server_info();
    writeln!(
        out,
        "server:    {}",
        info.as_ref().map_or_else(|| client.server_name().to_owned(), |i| format!("{} {}", i.name, i.version))
    )?;
    writeln!(
        out,
        "protocol:  {} ({})",
        client.protocol_version(),
        if client.is_modern() { "modern" } else { "legacy" }
    )?;
    let caps = serde_json::to_value(client.capabilities()).unwrap_or_default();
    let names: Vec<String> = caps.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
    writeln!(out, "features:  {}", if names.is_empty() { "(none)".to_owned() } else { names.join(", ") })?;
    if let Some(text) = client.instructions() {
        writeln!(out, "instructions:\n  {}", text.replace('\n', "\n  "))?;
    }
    Ok(())
}

pub(super) fn tools(out: &mut impl Write, tools: &[Tool]) -> io::Result<()> {
    let rows: Vec<Vec<String>> = tools
        .iter()
        .map(|t| {
            let required = t.input_schema.get("required").and_then(Value::as_array).map_or(0, Vec::len);
            let params = t.input_schema.get("properties").and_then(Value::as_object).map_or(0, |p| p.len());
            vec![t.name.clone(), format!("{params} ({required} required)"), summary(t.description.as_deref())]
        })
        .collect();
    table(out, &["NAME", "PARAMS", "DESCRIPTION"], &rows)
}

pub(super) fn resources(out: &mut impl Write, resources: &[Resource]) -> io::Result<()> {
    let rows: Vec<Vec<String>> = resources
        .iter()
        .map(|r| vec![r.uri.clone(), r.name.clone(), r.mime_type.clone().unwrap_or_default()])
        .collect();
    table(out, &["URI", "NAME", "MIME TYPE"], &rows)
}

pub(super) fn templates(out: &mut impl Write, templates: &[ResourceTemplate]) -> io::Result<()> {
    let rows: Vec<Vec<String>> = templates
        .iter()
        .map(|t| vec![t.uri_template.clone(), t.name.clone(), summary(t.description.as_deref())])
        .collect();
    table(out, &["URI TEMPLATE", "NAME", "DESCRIPTION"], &rows)
}

pub(super) fn prompts(out: &mut impl Write, prompts: &[Prompt]) -> io::Result<()> {
    let rows: Vec<Vec<String>> = prompts
        .iter()
        .map(|p| {
            let args = p
                .arguments
                .iter()
                .flatten()
                .map(|a| if a.required == Some(true) { a.name.clone() } else { format!("[{}]", a.name) })
                .collect::<Vec<_>>()
                .join(" ");
            vec![p.name.clone(), args, summary(p.description.as_deref())]
        })
        .collect();
    table(out, &["NAME", "ARGUMENTS", "DESCRIPTION"], &rows)
}

/// Content blocks as text: text as is, media as a one-line summary.
fn blocks(out: &mut impl Write, content: &[Value]) -> io::Result<()> {
    for block in content {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => writeln!(out, "{}", block.get("text").and_then(Value::as_str).unwrap_or(""))?,
            Some(kind @ ("image" | "audio")) => {
                let mime = block.get("mimeType").and_then(Value::as_str).unwrap_or("?");
                let len = block.get("data").and_then(Value::as_str).map_or(0, |d| d.len() * 3 / 4);
                writeln!(out, "[{kind} {mime}, about {len} bytes]")?;
            }
            Some("resource") => contents(out, &serde_json::json!({ "contents": [block.get("resource")] }))?,
            Some("resource_link") => {
                writeln!(out, "[link {}]", block.get("uri").and_then(Value::as_str).unwrap_or("?"))?
            }
            _ => writeln!(out, "{block}")?,
        }
    }
    Ok(())
}

pub(super) fn call_result(out: &mut impl Write, result: &Value) -> io::Result<()> {
    let content = result.get("content").and_then(Value::as_array).cloned().unwrap_or_default();
    if result.get("isError").and_then(Value::as_bool) == Some(true) {
        write!(out, "error: ")?;
    }
    blocks(out, &content)?;
    if content.is_empty() {
        if let Some(structured) = result.get("structuredContent") {
            json(out, structured)?;
        }
    }
    Ok(())
}

pub(super) fn contents(out: &mut impl Write, result: &Value) -> io::Result<()> {
    for item in result.get("contents").and_then(Value::as_array).into_iter().flatten() {
        if let Some(text) = item.get("text").and_then(Value::as_str) {
            writeln!(out, "{text}")?;
        } else if let Some(blob) = item.get("blob").and_then(Value::as_str) {
            let mime = item.get("mimeType").and_then(Value::as_str).unwrap_or("application/octet-stream");
            writeln!(
                out,
                "[{} {mime}, about {} bytes]",
                item.get("uri").and_then(Value::as_str).unwrap_or("?"),
                blob.len() * 3 / 4
            )?;
        }
    }
    Ok(())
}

pub(super) fn prompt_messages(out: &mut impl Write, result: &Value) -> io::Result<()> {
    if let Some(d) = result.get("description").and_then(Value::as_str) {
        writeln!(out, "# {d}")?;
    }
    for message in result.get("messages").and_then(Value::as_array).into_iter().flatten() {
        writeln!(out, "[{}]", message.get("role").and_then(Value::as_str).unwrap_or("?"))?;
        let content = message.get("content").cloned().unwrap_or(Value::Null);
        blocks(out, &[content])?;
    }
    Ok(())
}
