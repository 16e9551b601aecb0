//! Command tools: an allow-listed program run with an argv built from templates (no shell), in
//! a confined working directory, with a cleared environment, and capped in time and output.
//!
//! **Invariant:** only programs on `commands.allow` run, found by path, never through `PATH`.
//! **Invariant:** an argument template is exactly one argv element; a value never becomes an
//! option (a leading `-` is refused before `--`) and a `path` value never leaves `cwd`.
//! **Invariant:** a timed-out or cancelled command's whole process group is killed.
//!
//! The result's `structuredContent` is `{exitCode, stdout, stderr, truncated, timedOut}` (the
//! tool's `outputSchema`); a non-zero exit, a signal or a timeout makes it `isError`.

mod allow;
mod argv;
mod process;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};
use switchboard_mcp::protocol::content::ContentBlock;
use switchboard_mcp::protocol::tools::{CallToolResult, Tool, ToolAnnotations};
use switchboard_mcp::protocol::JsonObject;
use switchboard_mcp::server::{HandlerError, Router};

use crate::config::{
    self, redact, CommandTool, Config, ParamType, Problem, Secret, DEFAULT_COMMAND_TIMEOUT_MS, DEFAULT_MAX_OUTPUT_BYTES,
};
use crate::source::RegisterError;

/// A command tool, compiled.
#[derive(Debug)]
struct CommandCall {
    tool: String,
    program: PathBuf,
    args: Vec<argv::Arg>,
    cwd: PathBuf,
    env: Vec<(String, Secret)>,
    timeout: Duration,
    max_output: usize,
    defaults: Map<String, Value>,
    path_params: BTreeSet<String>,
}

/// Checks the `commands:` allow-list and every command tool against this machine: the programs
/// exist and are executable, each tool's program is listed, each cwd is inside the allowed roots.
pub(crate) fn check(config: &Config) -> Result<(), Problem> {
    allow::check(config)
}

/// Registers the command tool `name` (whose `command:` section is `spec`) on `router`; the
/// program and working directory are resolved against `config`'s allow-list and roots.
pub fn register(
    router: Router,
    config: &Config,
    name: &str,
    tool: &config::Tool,
    spec: &CommandTool,
) -> Result<Router, RegisterError> {
    let call = Arc::new(CommandCall::new(config, name, tool, spec)?);
    let read_only = tool.read_only.unwrap_or(false);
    let mut def = Tool::new(name, tool.description.clone(), crate::source::input_schema(&tool.params));
    def.title = tool.title.clone();
    def.output_schema = Some(Arc::new(output_schema()));
    def.annotations = Some(ToolAnnotations {
        read_only_hint: Some(read_only),
        // A program may do anything; only the config can say it merely adds.
        destructive_hint: (!read_only).then_some(tool.destructive.unwrap_or(true)),
        open_world_hint: Some(false),
        ..ToolAnnotations::default()
    });
    Ok(router.tool(def, move |args, _ctx| {
        let call = call.clone();
        async move { run(&call, args.into_object()).await }
    }))
}

impl CommandCall {
    fn new(config: &Config, name: &str, tool: &config::Tool, spec: &CommandTool) -> Result<Self, RegisterError> {
        let resolved = allow::resolve(config, name, spec)
            .map_err(|p| RegisterError::Invalid(redact(p.to_string(), &config.substituted)))?;
        Ok(Self {
            tool: name.to_owned(),
            program: resolved.program,
            args: argv::compile(&spec.args),
            cwd: resolved.cwd,
            env: spec.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            timeout: Duration::from_millis(spec.timeout_ms.unwrap_or(DEFAULT_COMMAND_TIMEOUT_MS)),
            max_output: usize::try_from(spec.max_output_bytes.unwrap_or(DEFAULT_MAX_OUTPUT_BYTES))
                .unwrap_or(usize::MAX),
            defaults: tool.params.iter().filter_map(|(k, p)| Some((k.clone(), p.default.clone()?))).collect(),
            path_params: tool
                .params
                .iter()
                .filter(|(_, p)| p.kind == ParamType::Path)
                .map(|(k, _)| k.clone())
                .collect(),
        })
    }
}

fn output_schema() -> JsonObject {
    let schema = json!({
        "type": "object",
        "properties": {
            "exitCode": {"type": ["integer", "null"], "description": "The exit code; null when killed by a signal."},
            "stdout": {"type": "string"},
            "stderr": {"type": "string"},
            "truncated": {"type": "boolean", "description": "Output passed max_output_bytes and was cut."},
            "timedOut": {"type": "boolean", "description": "The command ran out of time and was killed."}
        },
        "required": ["exitCode", "stdout", "stderr", "truncated", "timedOut"]
    });
    match schema {
        Value::Object(o) => o,
        _ => JsonObject::new(),
    }
}

/// Runs one call. Cancel-safe: dropping the future kills the command's process group.
async fn run(call: &CommandCall, mut args: Map<String, Value>) -> Result<CallToolResult, HandlerError> {
    for (k, v) in &call.defaults {
        args.entry(k.clone()).or_insert_with(|| v.clone());
    }
    // Checked again on every call: the directory may have been swapped (for a symlink) since
    // the config was loaded.
    if std::fs::canonicalize(&call.cwd).ok().as_deref() != Some(call.cwd.as_path()) {
        return Err(HandlerError::msg(format!(
            "{}: the working directory {} is gone or moved since the config was loaded",
            call.tool,
            call.cwd.display()
        )));
    }
    for param in &call.path_params {
        if let Some(Value::String(value)) = args.get(param) {
            let confined = argv::confine(param, &call.cwd, value)?;
            args.insert(param.clone(), Value::String(confined));
        }
    }
    let argv = argv::render(&call.args, &args)?;
    let spec = process::Spec {
        program: &call.program,
        cwd: &call.cwd,
        env: &call.env,
        timeout: call.timeout,
        max_output: call.max_output,
    };
    let started = Instant::now();
    let outcome = process::run(&spec, &argv).await.map_err(|e| {
        tracing::warn!(target: "switchboard::gateway::command", tool = %call.tool, program = %call.program.display(), error = %e, "command could not start");
        HandlerError::msg(format!("{}: cannot run {}: {e}", call.tool, call.program.display()))
    })?;
    let code = outcome.status.code();
    tracing::debug!(
        target: "switchboard::gateway::command",
        tool = %call.tool,
        program = %call.program.display(),
        exit_code = ?code,
        timed_out = outcome.timed_out,
        truncated = outcome.truncated,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "command tool call"
    );
    let structured = json!({
        "exitCode": code,
        "stdout": String::from_utf8_lossy(&outcome.stdout),
        "stderr": String::from_utf8_lossy(&outcome.stderr),
        "truncated": outcome.truncated,
        "timedOut": outcome.timed_out,
    });
    let failure = if outcome.timed_out {
        Some(format!("timed out after {} ms; the command's process group was killed", call.timeout.as_millis()))
    } else if !outcome.status.success() {
        Some(match code {
            Some(c) => format!("exited with code {c}"),
            None => format!("was killed ({})", outcome.status),
        })
    } else {
        None
    };
    let mut result = CallToolResult::structured(structured);
    if let Some(failure) = failure {
        let program = call
            .program
            .file_name()
            .map_or_else(|| call.program.display().to_string(), |n| n.to_string_lossy().into_owned());
        result.content.insert(0, ContentBlock::text(format!("{program} {failure}")));
        result.is_error = Some(true);
    }
    Ok(result)
}
