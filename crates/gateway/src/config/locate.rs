//! Finds where a key path (`tools.get_order.http.path`) is written in the YAML text, so problems
//! found after parsing can name a line and column as parse errors do. Best effort: it follows
//! block mappings and single-line flow mappings (`{kind: http, base_url: ...}`); when a key
//! cannot be found, the deepest enclosing key found is named.

/// The 1-based line and column of the deepest key of `path` found in `text`.
pub(super) fn locate(text: &str, path: &[String]) -> Option<(usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = None;
    // The block searched next: lines `from..to`, keys indented deeper than `parent`.
    let (mut from, mut to, mut parent) = (0, lines.len(), None::<usize>);
    // Set when the last key's value is written on its own line: search there, from this column.
    let mut inline: Option<(usize, usize)> = None;
    for key in path {
        if let Some((line, column)) = inline {
            let Some(at) = find_flow_key(lines[line], column, key) else { break };
            found = Some((line + 1, at + 1));
            inline = Some((line, at + key.len()));
            continue;
        }
        let Some((line, indent, value_at)) = find_block_key(&lines, from, to, parent, key) else { break };
        found = Some((line + 1, indent + 1));
        let value = strip_comment(&lines[line][value_at..]).trim();
        if value.is_empty() {
            from = line + 1;
            to = (from..lines.len())
                .find(|&i| content(lines[i]).is_some_and(|ind| ind <= indent))
                .unwrap_or(lines.len());
            parent = Some(indent);
        } else {
            inline = Some((line, value_at));
        }
    }
    found
}

/// The indentation of a line with content (not blank, not a comment).
fn content(line: &str) -> Option<usize> {
    let trimmed = line.trim_start_matches(' ');
    (!trimmed.is_empty() && !trimmed.starts_with('#')).then(|| line.len() - trimmed.len())
}

fn strip_comment(s: &str) -> &str {
    match s.find(" #") {
        Some(i) => &s[..i],
        None => s,
    }
}

/// The line, key column and value column of `key` among the first-level keys of a block.
fn find_block_key(
    lines: &[&str],
    from: usize,
    to: usize,
    parent: Option<usize>,
    key: &str,
) -> Option<(usize, usize, usize)> {
    let mut level = None;
    for (i, line) in lines.iter().enumerate().take(to).skip(from) {
        let Some(indent) = content(line) else { continue };
        if parent.is_some_and(|p| indent <= p) {
            return None;
        }
        let level = *level.get_or_insert(indent);
        if indent != level {
            continue;
        }
        if let Some(len) = key_at(&line[indent..], key) {
            return Some((i, indent, indent + len));
        }
    }
    None
}

/// If `s` starts with `key:` (bare or quoted), the length up to and including the colon.
fn key_at(s: &str, key: &str) -> Option<usize> {
    for quote in ["", "\"", "'"] {
        let written = format!("{quote}{key}{quote}:");
        if s.starts_with(&written) && s[written.len()..].chars().next().is_none_or(|c| c == ' ' || c == '\t') {
            return Some(written.len());
        }
    }
    None
}

/// The column of `key:` inside a flow mapping on `line`, searching from `from`.
fn find_flow_key(line: &str, from: usize, key: &str) -> Option<usize> {
    let mut start = from;
    while let Some(i) = line.get(start..)?.find(key) {
        let at = start + i;
        let before = line[..at].trim_end_matches([' ', '"', '\'']).chars().last();
        let after = line[at + key.len()..].trim_start_matches(['"', '\'']);
        if matches!(before, Some('{' | ',')) && after.starts_with(':') {
            return Some(at);
        }
        start = at + key.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::locate;

    fn at(text: &str, path: &str) -> Option<(usize, usize)> {
        let path: Vec<String> = path.split('.').map(str::to_owned).collect();
        locate(text, &path)
    }

    #[test]
    fn block_and_flow_keys_are_found_and_missing_ones_fall_back_to_the_parent() {
        let text = "\
server:
  name: x
sources:
  # a comment
  api: {kind: http, base_url: \"ftp://x\"}
tools:
  t:
    description: d
    http:
      path: /a/../b
  u:
    command: {program: rm, args: [x]}
";
        assert_eq!(at(text, "sources.api.base_url"), Some((5, 21)));
        assert_eq!(at(text, "tools.t.http.path"), Some((10, 7)));
        assert_eq!(at(text, "tools.t.http.query"), Some((9, 5)));
        assert_eq!(at(text, "tools.u.command.program"), Some((12, 15)));
        assert_eq!(at(text, "tools.v"), Some((6, 1)));
        assert_eq!(at(text, "nowhere"), None);
        // `name` under server is not `name` anywhere else.
        assert_eq!(at(text, "tools.name"), Some((6, 1)));
    }
}
