//! Config checks for HTTP sources and tools and command tools: every bad config is refused with
//! the key path, and the file's line and column.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{Config, ConfigError, Secret, ToolKind};

/// A fresh directory for one test's config file (and whatever it needs beside it).
fn scratch() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "switchboard-config-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(dir.join("work")).expect("scratch dir");
    dir
}

fn parse(dir: &Path, text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, &dir.join("gateway.yaml"))
}

/// Parses `text` in a fresh directory; `Ok` when `error` is empty, else an error mentioning it.
fn check(text: &str, error: &str) {
    let dir = scratch();
    match (parse(&dir, text), error) {
        (Ok(_), "") => {}
        (Ok(_), want) => panic!("should fail with {want:?}:\n{text}"),
        (Err(e), "") => panic!("should parse, but: {e}"),
        (Err(e), want) => assert!(e.to_string().contains(want), "{e}\nshould mention {want:?}"),
    }
}

const API: &str = "sources:\n  api: {kind: http, base_url: \"http://127.0.0.1:9/v1\"}\n";

fn http_tool(params: &str, http: &str) -> String {
    format!("{API}tools:\n  t:\n    description: d\n    source: api\n    params: {params}\n    http: {http}\n")
}

#[test]
fn a_good_http_and_command_config_parses() {
    let text = r#"
sources:
  api:
    kind: http
    base_url: http://127.0.0.1:9/v1
    headers: {Authorization: "Bearer abc"}
commands:
  allow: [/bin/echo]
tools:
  get:
    description: d
    source: api
    params: {id: {type: string}, v: {type: boolean, required: false}}
    http: {path: "/orders/{id}", query: {verbose: "{v}", n: 10}}
  say:
    description: d
    params: {text: {type: string}, f: {type: path, required: false}}
    command: {program: echo, args: ["{text}", 3], cwd: work}
"#;
    let dir = scratch();
    let config = parse(&dir, text).unwrap_or_else(|e| panic!("{e}"));
    let get = config.tools.get("get").expect("get");
    assert!(matches!(get.kind(), Ok(ToolKind::Http(h)) if h.query.get("n").is_some_and(|n| n.0 == "10")));
    let say = config.tools.get("say").expect("say");
    let Ok(ToolKind::Command(c)) = say.kind() else { panic!("a command tool") };
    let resolved = config.resolve_command("say", c).expect("resolves");
    assert_eq!(resolved.program, Path::new("/bin/echo"));
    assert!(resolved.cwd.ends_with("work") && resolved.cwd.is_absolute());
}

#[test]
fn http_sources_are_checked() {
    check("sources:\n  api: {kind: http}\n", "sources.api: an http source needs `base_url`");
    check("sources:\n  api: {kind: http, base_url: \"ftp://x\"}\n", "the scheme must be http");
    check("sources:\n  api: {kind: http, base_url: \"http://x/?k=1\"}\n", "not in base_url");
    check("sources:\n  api: {kind: http, base_url: \"http://x\", path: a.db}\n", "are for database sources");
    check("sources:\n  db: {kind: sqlite, path: a.db, base_url: \"http://x\"}\n", "are for http sources");
    check("sources:\n  api: {kind: http, base_url: \"http://x\", timeout_ms: 0}\n", "sources.api.timeout_ms: must be");
    check(
        "sources:\n  api: {kind: http, base_url: \"http://x\", headers: {\"Bad Name\": v}}\n",
        "\"Bad Name\" is not a valid header name",
    );
}

#[test]
fn secret_header_values_are_never_shown() {
    let text = "sources:\n  api:\n    kind: http\n    base_url: http://x\n    headers:\n      Authorization: \"Bearer s3cr3t-t0ken\\u0001\"\n";
    let dir = scratch();
    let e = parse(&dir, text).expect_err("a control character is refused").to_string();
    assert!(e.contains("sources.api.headers.Authorization: the value is not a valid header value"), "{e}");
    assert!(!e.contains("s3cr3t"), "{e}");
    assert_eq!(format!("{:?}", Secret::from("s3cr3t")), "***");
    let config = parse(&dir, "sources:\n  api: {kind: http, base_url: \"http://x\", headers: {K: s3cr3t}}\n");
    assert!(!format!("{config:?}").contains("s3cr3t"));
}

#[test]
fn http_tools_are_checked() {
    let id = "{id: {type: string}}";
    check(&http_tool(id, "{path: \"/o/{id}\"}"), "");
    check(&http_tool(id, "{path: \"o/{id}\"}"), "tools.t.http.path: \"o/{id}\" must start with /");
    check(&http_tool(id, "{path: \"/o/../{id}\"}"), "has a . or .. segment");
    check(&http_tool(id, "{path: \"/o?x={id}\"}"), "put query parameters in `query`");
    check(&http_tool(id, "{path: \"/o/{nope}\"}"), "tools.t.http.path: uses {nope}, which is not a declared param");
    check(
        &http_tool("{id: {type: string, required: false}}", "{path: \"/o/{id}\"}"),
        "must be required or have a default",
    );
    check(&http_tool("{id: {type: string, required: false, default: x}}", "{path: \"/o/{id}\"}"), "");
    check(&http_tool(id, "{path: /o, query: {q: \"{nope}\"}}"), "tools.t.http.query.q: uses {nope}");
    check(&http_tool(id, "{path: /o, headers: {X-Id: \"{nope}\"}}"), "tools.t.http.headers.X-Id: uses {nope}");
    check(&http_tool(id, "{path: /o, body: {a: \"{id}\"}}"), "tools.t.http.body: a GET request has no body");
    check(&http_tool(id, "{method: POST, path: /o, body: {a: [\"{nope}\"]}}"), "uses {nope}");
    check(&http_tool(id, "{method: POST, path: /o, body: {a: [\"{id}\"]}, timeout_ms: 0}"), "tools.t.http.timeout_ms");
    check(&http_tool(id, "{method: FETCH, path: /o}"), "unknown variant `FETCH`");
    check(&http_tool("{p: {type: path}}", "{path: /o}"), "tools.t.params.p: type path is only for command tools");
    check(
        "sources:\n  db: {kind: sqlite, path: a.db}\ntools:\n  t:\n    description: d\n    source: db\n    http: {path: /o}\n",
        "\"db\" is a sqlite source; an http tool needs an http source",
    );
    check(
        &format!("{API}tools:\n  t:\n    description: d\n    source: api\n    statements: [{{sql: SELECT 1}}]\n"),
        "tools.t.source: \"api\" is an http source, not a database",
    );
    check(
        &format!("{API}tools:\n  t:\n    description: d\n    source: api\n    http: {{path: /o}}\n    command: {{program: x}}\n"),
        "give only one of `statements`, `native`, `http` and `command` (found http, command)",
    );
}

#[test]
fn command_tools_are_checked() {
    let tool = |command: &str| {
        format!("commands:\n  allow: [/bin/echo, /bin/sh]\ntools:\n  t:\n    description: d\n    params: {{n: {{type: integer}}}}\n    command: {command}\n")
    };
    check(&tool("{program: echo, args: [\"{n}\"]}"), "");
    check(&tool("{program: /bin/sh, args: [-c, \"exit {n}\"]}"), "");
    check(
        &tool("{program: rm, args: [-rf, /]}"),
        "tools.t.command.program: \"rm\" is not in commands.allow (allowed: /bin/echo, /bin/sh)",
    );
    check(&tool("{program: /usr/bin/env}"), "\"/usr/bin/env\" is not in commands.allow");
    check(&tool("{program: echo, args: [\"{nope}\"]}"), "tools.t.command.args: uses {nope}");
    check(&tool("{program: echo, cwd: missing}"), "tools.t.command.cwd: missing:");
    check(&tool("{program: echo, cwd: ..}"), "is outside the allowed roots");
    check(&tool("{program: echo, cwd: /}"), "is outside the allowed roots");
    check(&tool("{program: echo, timeout_ms: 0}"), "tools.t.command.timeout_ms: must be at least 1");
    check(&tool("{program: echo, env: {\"A=B\": x}}"), "\"A=B\" is not a valid variable name");
    check(&tool("{program: echo, shell: true}"), "unknown field `shell`");
    check(
        "tools:\n  t:\n    description: d\n    command: {program: echo}\n",
        "\"echo\" is not in commands.allow (commands.allow is empty)",
    );
    check("commands:\n  allow: [/nonexistent/tool]\n", "commands.allow: /nonexistent/tool:");
    check("commands:\n  allow: [/etc/passwd]\n", "is not an executable file");
    check("commands:\n  allow: [/bin/echo]\n  allowed_roots: [/]\ntools:\n  t:\n    description: d\n    command: {program: echo, cwd: /tmp}\n", "");
    check(
        "commands:\n  allow: [/bin/echo]\ntools:\n  t:\n    description: d\n    source: x\n    command: {program: echo}\n",
        "tools.t.source: a command tool takes no source",
    );
}

#[test]
fn problems_name_the_line_and_column_of_the_key() {
    let dir = scratch();
    let text = "commands:\n  allow: [/bin/echo]\ntools:\n  t:\n    description: d\n    command:\n      program: rm\n";
    let e = parse(&dir, text).expect_err("rm is not allowed").to_string();
    assert!(e.contains("gateway.yaml:7:7: tools.t.command.program:"), "{e}");
    let e = parse(&dir, &http_tool("{}", "{path: nope}")).expect_err("bad path").to_string();
    assert!(e.contains("gateway.yaml:8:12: tools.t.http.path:"), "{e}");
}
