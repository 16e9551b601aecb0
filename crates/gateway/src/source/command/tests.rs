//! Command tools: argv building (no splitting, no option injection), path confinement, and
//! whole calls through `/bin/sh` (exit codes, caps, timeouts that kill the process group, a
//! cleared environment).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use super::argv::{compile, confine, render};
use super::{run, CommandCall};
use crate::config::{Config, ConfigError, Env, Scalar, ToolKind};

fn args(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn scratch() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "switchboard-command-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    std::fs::canonicalize(&dir).expect("canonical")
}

fn argv(templates: &[&str], a: Value) -> Result<Vec<String>, String> {
    let templates: Vec<Scalar> = templates.iter().map(|t| Scalar((*t).to_owned())).collect();
    render(&compile(&templates), &args(a)).map_err(|e| e.to_string())
}

#[test]
fn each_template_is_one_argument_and_values_never_become_options() {
    let injected = "x; rm -rf / && echo $(id) `id` | cat > /tmp/y";
    assert_eq!(
        argv(&["log", "-n", "{n}", "{msg}"], json!({"n": 5, "msg": injected})),
        Ok(vec!["log".into(), "-n".into(), "5".into(), injected.into()])
    );
    assert_eq!(argv(&["--author={who}", "{opt}"], json!({"who": "-x"})), Ok(vec!["--author=-x".to_owned()]));
    assert_eq!(
        argv(&["{msg}"], json!({"msg": "--upload-pack=touch /tmp/pwned"})),
        Err("argument msg: \"--upload-pack=touch /tmp/pwned\" starts with '-' and would be read as an option".into())
    );
    assert_eq!(argv(&["{n}"], json!({"n": -3})).map_err(|e| e.contains("would be read as an option")), Err(true));
    assert_eq!(argv(&["--", "{f}"], json!({"f": "-rf"})), Ok(vec!["--".to_owned(), "-rf".to_owned()]));
    assert_eq!(argv(&["{s}"], json!({"s": "a\u{0}b"})), Err("argument s contains a NUL byte".into()));
}

#[test]
fn path_arguments_stay_inside_the_working_directory() {
    let root = scratch();
    let cwd = root.join("cwd");
    std::fs::create_dir_all(cwd.join("sub")).expect("dirs");
    std::fs::write(cwd.join("sub/file.txt"), "hi").expect("file");
    std::fs::write(cwd.join("-rf"), "").expect("file");
    std::fs::write(root.join("outside.txt"), "secret").expect("file");
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(root.join("outside.txt"), cwd.join("link")).expect("symlink");
        std::os::unix::fs::symlink(root.join("nothing"), cwd.join("dangling")).expect("symlink");
    }
    let ok = |v: &str| confine("f", &cwd, v).map_err(|e| e.to_string());
    assert_eq!(ok("sub/file.txt").as_deref(), Ok("sub/file.txt"));
    assert_eq!(ok("sub/../sub/./file.txt").as_deref(), Ok("sub/file.txt"));
    assert_eq!(ok(".").as_deref(), Ok("."));
    assert_eq!(ok("-rf").as_deref(), Ok("./-rf"));
    assert_eq!(ok("sub/new.txt").as_deref(), Ok("sub/new.txt"), "a file that does not exist yet");
    assert_eq!(ok(&cwd.join("sub").to_string_lossy()).as_deref(), Ok("sub"), "an absolute path inside");
    for bad in ["../outside.txt", "sub/../../outside.txt", "/etc/passwd", "..", "nope/new.txt"] {
        assert!(ok(bad).is_err(), "{bad} must be refused");
    }
    assert_eq!(
        ok("../outside.txt"),
        Err("argument f: \"../outside.txt\" is outside the tool's working directory".into())
    );
    #[cfg(unix)]
    {
        assert!(ok("link").is_err_and(|e| e.contains("outside")), "a symlink out is followed and refused");
        assert!(ok("dangling").is_err_and(|e| e.contains("symbolic link to nothing")));
    }
}

/// The one tool of a config whose `commands.allow` is `/bin/sh`, in `dir`.
fn sh_tool(dir: &Path, params: &str, command: &str) -> CommandCall {
    let text = format!(
        "commands:\n  allow: [/bin/sh]\ntools:\n  t:\n    description: d\n    params: {params}\n    command: {command}\n"
    );
    let config = load(dir, &text).unwrap_or_else(|e| panic!("{e}"));
    let tool = config.tools.get("t").expect("tool");
    let Ok(ToolKind::Command(spec)) = tool.kind() else { panic!("a command tool") };
    CommandCall::new(&config, "t", tool, spec).unwrap_or_else(|e| panic!("{e}"))
}

async fn call(tool: &CommandCall, a: Value) -> (bool, Value, String) {
    match run(tool, args(a)).await {
        Ok(r) => {
            let text = serde_json::to_value(&r.content).map(|c| c[0]["text"].as_str().unwrap_or_default().to_owned());
            (r.is_error == Some(true), r.structured_content.unwrap_or(Value::Null), text.unwrap_or_default())
        }
        Err(e) => (true, Value::Null, e.message()),
    }
}

#[tokio::test]
async fn commands_run_with_argv_a_cleared_environment_and_report_their_exit() {
    let dir = scratch();
    let t = sh_tool(
        &dir,
        "{text: {type: string}, code: {type: integer, default: 0}}",
        "{program: sh, args: [-c, 'printf \"%s|\" \"$#\" \"$1\" \"$PWD\" \"$${HOME:-unset}\" \"$GREETING\"; exit \"$2\"', sh, \"{text}\", \"{code}\"], env: {GREETING: hello}}",
    );
    let (failed, out, _) = call(&t, json!({"text": "a b; rm -rf /"})).await;
    assert!(!failed, "{out}");
    let cwd = dir.display().to_string();
    assert_eq!(out["stdout"], format!("2|a b; rm -rf /|{cwd}|unset|hello|"));
    assert_eq!(
        (out["exitCode"].clone(), out["timedOut"].clone(), out["truncated"].clone()),
        (json!(0), json!(false), json!(false))
    );
    let (failed, out, text) = call(&t, json!({"text": "x", "code": 3})).await;
    assert!(failed && out["exitCode"] == 3, "{out}");
    assert_eq!(text, "sh exited with code 3");
}

#[tokio::test]
async fn output_is_capped_and_the_rest_drained() {
    let dir = scratch();
    let t = sh_tool(
        &dir,
        "{}",
        "{program: sh, args: [-c, 'i=0; while [ $i -lt 2000 ]; do echo 0123456789012345678901234567890123456789; i=$((i+1)); done; echo done >&2'], max_output_bytes: 100}",
    );
    let (failed, out, _) = call(&t, json!({})).await;
    assert!(!failed, "{out}");
    assert_eq!(out["stdout"].as_str().map(str::len), Some(100));
    assert_eq!((out["stderr"].clone(), out["truncated"].clone()), (json!("done\n"), json!(true)));
}

fn alive(pid: &str) -> bool {
    // A zombie has exited; only a running process counts.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

#[tokio::test]
async fn a_timeout_kills_the_whole_process_group() {
    let dir = scratch();
    let t = sh_tool(
        &dir,
        "{}",
        "{program: sh, args: [-c, 'sleep 30 & echo $! > bg.pid; echo started; wait'], timeout_ms: 300}",
    );
    let started = Instant::now();
    let (failed, out, text) = call(&t, json!({})).await;
    assert!(started.elapsed() < Duration::from_secs(5), "returned at the deadline");
    assert!(failed && out["timedOut"] == true && out["exitCode"].is_null(), "{out}");
    assert_eq!(out["stdout"], "started\n");
    assert_eq!(text, "sh timed out after 300 ms; the command's process group was killed");
    let pid = std::fs::read_to_string(dir.join("bg.pid")).expect("pid file").trim().to_owned();
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(&pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!alive(&pid), "the background sleep {pid} was killed too");
}

#[tokio::test]
async fn children_left_behind_do_not_hold_the_call_open() {
    let dir = scratch();
    let t =
        sh_tool(&dir, "{}", "{program: sh, args: [-c, 'sleep 30 & echo $! > bg.pid; echo quick'], timeout_ms: 10000}");
    let started = Instant::now();
    let (failed, out, _) = call(&t, json!({})).await;
    assert!(!failed && out["stdout"] == "quick\n" && out["timedOut"] == false, "{out}");
    assert!(started.elapsed() < Duration::from_secs(3), "did not wait for the background sleep");
    let pid = std::fs::read_to_string(dir.join("bg.pid")).expect("pid file").trim().to_owned();
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(&pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!alive(&pid), "the straggler {pid} was killed");
}

#[tokio::test]
async fn path_params_are_confined_before_the_command_runs() {
    let dir = scratch();
    std::fs::write(dir.join("notes.txt"), "inside").expect("file");
    let t = sh_tool(&dir, "{file: {type: path}}", "{program: sh, args: [-c, 'cat -- \"$1\"', sh, \"{file}\"]}");
    let (failed, out, _) = call(&t, json!({"file": "notes.txt"})).await;
    assert!(!failed && out["stdout"] == "inside", "{out}");
    let (failed, _, text) = call(&t, json!({"file": "../../../../etc/passwd"})).await;
    assert!(failed && text.contains("is outside the tool's working directory"), "{text}");
}

/// Parses `text` as `dir/gateway.yaml` and checks its command allow-list, as `crate::check` does.
fn load(dir: &Path, text: &str) -> Result<Config, ConfigError> {
    let path = dir.join("gateway.yaml");
    let config = Config::parse(text, &path, &Env::new())?;
    super::check(&config).map_err(|p| ConfigError::invalid(text, &path, &config.substituted, &p))?;
    Ok(config)
}

/// Loads `text` in a fresh directory (with a `work` subdirectory); `Ok` when `error` is empty,
/// else an error mentioning it.
fn check(text: &str, error: &str) {
    let dir = scratch();
    std::fs::create_dir_all(dir.join("work")).expect("work dir");
    match (load(&dir, text), error) {
        (Ok(_), "") => {}
        (Ok(_), want) => panic!("should fail with {want:?}:\n{text}"),
        (Err(e), "") => panic!("should load, but: {e}"),
        (Err(e), want) => assert!(e.to_string().contains(want), "{e}\nshould mention {want:?}"),
    }
}

#[test]
fn command_tools_are_checked_against_the_allow_list() {
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
fn allow_list_problems_name_the_line_and_column_of_the_key() {
    let dir = scratch();
    let text = "commands:\n  allow: [/bin/echo]\ntools:\n  t:\n    description: d\n    command:\n      program: rm\n";
    let e = load(&dir, text).expect_err("rm is not allowed").to_string();
    assert!(e.contains("gateway.yaml:7:7: tools.t.command.program:"), "{e}");
    let text =
        "commands:\n  allow: [/bin/echo]\ntools:\n  say:\n    description: d\n    command: {program: echo, cwd: .}\n";
    let config = load(&dir, text).unwrap_or_else(|e| panic!("{e}"));
    let Ok(ToolKind::Command(c)) = config.tools.get("say").expect("say").kind() else { panic!("a command tool") };
    let resolved = super::allow::resolve(&config, "say", c).expect("resolves");
    assert_eq!(resolved.program, Path::new("/bin/echo"));
    assert_eq!(resolved.cwd, dir);
}
