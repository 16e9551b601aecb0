//! Config checks for HTTP sources and tools and command tools: every bad config is refused with
//! the key path, and the file's line and column. (The command allow-list, checked against the
//! machine, is tested with the command source.)

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{Config, ConfigError, Env, Secret, ToolKind};

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
    Config::parse(text, &dir.join("gateway.yaml"), &Env::new())
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
    assert!(matches!(say.kind(), Ok(ToolKind::Command(c)) if c.program == "echo"));
}

#[test]
fn upstream_limits_are_checked() {
    check("upstreams:\n  x: {command: echo, max_concurrent_calls: 1}\n", "");
    check(
        "upstreams:\n  x: {command: echo, max_concurrent_calls: 0}\n",
        "upstreams.x.max_concurrent_calls: must be at least 1",
    );
    check("upstreams:\n  x: {command: echo, max_concurrent_calls: -2}\n", "expected u32");
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
        format!("tools:\n  t:\n    description: d\n    params: {{n: {{type: integer}}}}\n    command: {command}\n")
    };
    check(&tool("{program: echo, args: [\"{n}\"]}"), "");
    check(&tool("{program: echo, args: [\"{nope}\"]}"), "tools.t.command.args: uses {nope}");
    check(&tool("{program: echo, timeout_ms: 0}"), "tools.t.command.timeout_ms: must be at least 1");
    check(&tool("{program: echo, env: {\"A=B\": x}}"), "\"A=B\" is not a valid variable name");
    check(&tool("{program: echo, shell: true}"), "unknown field `shell`");
    check(
        "tools:\n  t:\n    description: d\n    source: x\n    command: {program: echo}\n",
        "tools.t.source: a command tool takes no source",
    );
}

#[test]
fn problems_name_the_line_and_column_of_the_key() {
    let dir = scratch();
    let text = "tools:\n  t:\n    description: d\n    command:\n      program: rm\n      timeout_ms: 0\n";
    let e = parse(&dir, text).expect_err("a zero timeout").to_string();
    assert!(e.contains("gateway.yaml:6:7: tools.t.command.timeout_ms:"), "{e}");
    let e = parse(&dir, &http_tool("{}", "{path: nope}")).expect_err("bad path").to_string();
    assert!(e.contains("gateway.yaml:8:12: tools.t.http.path:"), "{e}");
}

fn env(pairs: &[(&str, &str)]) -> Env {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn parse_with(text: &str, env: &Env) -> Result<Config, ConfigError> {
    Config::parse(text, &scratch().join("gateway.yaml"), env)
}

/// Interpolation happens inside parsed string values, so YAML syntax in a value (`#`, `: `, a
/// newline, quotes) arrives as text and cannot change the document.
#[test]
fn environment_values_arrive_intact() {
    let secret = "s3cr3t #not-a-comment: still\nnext line 'single' \"double\" ${NOT_EXPANDED} $${}";
    let text = "server:\n  name: pre-${TOKEN}-post  # a comment\n  instructions: ${TOKEN}\n  version: \"${UNSET:-1.0} $${LITERAL}\"\n";
    let config = parse_with(text, &env(&[("TOKEN", secret)])).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.server.instructions.as_deref(), Some(secret));
    assert_eq!(config.server.name, Some(format!("pre-{secret}-post")));
    assert_eq!(config.server.version.as_deref(), Some("1.0 ${LITERAL}"));
    // An empty variable counts as unset for `:-`.
    let config = parse_with("server: {name: \"${EMPTY:-fallback}\"}\n", &env(&[("EMPTY", "")])).expect("parses");
    assert_eq!(config.server.name.as_deref(), Some("fallback"));
}

#[test]
fn an_unset_variable_is_named_with_its_line() {
    let e = parse_with("server:\n  name: x\n  instructions: ${SURELY_UNSET}\n", &Env::new()).expect_err("unset");
    let e = e.to_string();
    assert!(e.contains("gateway.yaml:3: server.instructions: environment variable SURELY_UNSET is not set"), "{e}");
}

/// Neither a shape error (YAML that does not fit the config) nor a validation error ever shows a
/// value that came from the environment.
#[test]
fn environment_values_never_reach_error_messages() {
    let secret = "hunter2-s3cr3t";
    let env = env(&[("SECRET", secret), ("URL", "ftp://user:hunter2-s3cr3t@host/x")]);
    let cases = [
        ("sources:\n  db:\n    kind: ${SECRET}\n", "gateway.yaml:3:5: sources.db.kind: unknown variant `***`"),
        ("server:\n  stdio: ${SECRET}\n", "gateway.yaml:2:3: server.stdio: invalid type: string \"***\""),
        ("sources:\n  api: {kind: http, base_url: \"${URL}\"}\n", "the scheme must be http or https, not ftp"),
        (
            "sources:\n  api:\n    kind: http\n    base_url: http://x\n    headers: {Authorization: \"Bearer ${SECRET}\\u0001\"}\n",
            "sources.api.headers.Authorization: the value is not a valid header value",
        ),
    ];
    for (text, want) in cases {
        let e = parse_with(text, &env).expect_err("refused").to_string();
        assert!(e.contains(want), "{e}\nshould mention {want:?}");
        assert!(!e.contains("s3cr3t"), "{e}");
    }
}

#[test]
fn duplicate_keys_are_refused() {
    let text = "tools:\n  t:\n    description: a\n    native: x\n  t:\n    description: b\n    native: y\n";
    let e = parse_with(text, &Env::new()).expect_err("duplicate").to_string();
    assert!(e.contains("gateway.yaml:2:3: tools: duplicate entry with key \"t\""), "{e}");
}

#[test]
fn maps_keep_the_order_of_the_file() {
    let text = "tools:\n  zeta: {description: z, native: x}\n  alpha: {description: a, native: x}\n  mid: {description: m, native: x}\n";
    let config = parse_with(text, &Env::new()).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = config.tools.keys().map(String::as_str).collect();
    assert_eq!(names, ["zeta", "alpha", "mid"]);
}

#[test]
fn shape_errors_name_the_line_and_column_of_the_key() {
    let cases = [
        ("server:\n  name: x\n  colour: blue\n", "gateway.yaml:3:3: server.colour: unknown field `colour`"),
        ("sources: [1, 2]\n", "gateway.yaml:1:1: sources: invalid type: sequence, expected a map"),
        ("tools:\n  t:\n    description: d\n    max_rows: many\n", "gateway.yaml:4:5: tools.t.max_rows: invalid type"),
    ];
    for (text, want) in cases {
        let e = parse_with(text, &Env::new()).expect_err("refused").to_string();
        assert!(e.contains(want), "{e}\nshould mention {want:?}");
    }
}

#[test]
fn the_example_configs_parse() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    for file in ["http-and-commands.yaml", "shop/shop.yaml"] {
        let path = examples.join(file);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let config = Config::parse(&text, &path, &Env::new()).unwrap_or_else(|e| panic!("{e}"));
        assert!(!config.tools.is_empty(), "{file}");
    }
}

#[test]
fn environment_values_are_redacted_however_an_error_quotes_them() {
    // Found by fuzzing (fuzz/, target config_load): messages quote values with `{:?}`, which
    // escapes quotes, backslashes and line breaks, so the value as written was not found in them.
    let secret = "Zq8\"quoted\\back'\nline";
    let env: Env = [("VALUE".to_owned(), secret.to_owned())].into_iter().collect();
    for text in [
        "sources:\n  api:\n    kind: http\n    base_url: ${VALUE}\n",
        "sources:\n  db:\n    kind: sqlite\n    path: a.db\n    max_connections: ${VALUE}\n",
        "sources:\n  db: {kind: sqlite, path: a.db}\nresource_templates:\n  - {uri_template: \"x://{id}\", name: x, source: \"${VALUE}\", sql: SELECT 1}\n",
    ] {
        let message = Config::parse(text, Path::new("/x/gateway.yaml"), &env).expect_err("refused").to_string();
        assert!(!message.contains("Zq8") && message.contains("***"), "{message}");
    }
}
