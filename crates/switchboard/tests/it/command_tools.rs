//! Command tools through the real binary: allow-listed programs run with an argv built from
//! templates (shell metacharacters stay inside one argument), time and output caps, the process
//! group killed on timeout, confined `path` arguments, and configs that name a program off the
//! allow-list refused at load.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use switchboard_testkit::peer::StdioPeer;

use crate::interop::scratch;
use crate::switchboard_bin;

const CONFIG: &str = r#"
commands:
  allow: [/bin/sh, /bin/echo]
tools:
  show_args:
    description: Prints how many arguments it got, then each on its own line.
    params:
      text: {type: string}
    command:
      program: sh
      args: [-c, 'printf "%s\n" "$#" "$@"', sh, "{text}"]
  echo:
    description: Echoes its words.
    params:
      words: {type: string}
    command: {program: /bin/echo, args: ["{words}"]}
  sleepy:
    description: Starts a background sleep and waits for it.
    command:
      program: sh
      args: [-c, 'sleep 30 & echo $! > sleeper.pid; echo started; wait']
      timeout_ms: 500
  noisy:
    description: Prints far more than it may.
    command:
      program: sh
      args: [-c, 'yes 0123456789 | head -c 200000; echo done >&2']
      max_output_bytes: 1000
  fails:
    description: Exits with status 4.
    command: {program: sh, args: [-c, 'echo oops >&2; exit 4']}
  read_file:
    description: Prints a file of the work directory.
    read_only: true
    params:
      file: {type: path}
    command:
      program: sh
      args: [-c, 'cat -- "$1"', sh, "{file}"]
      cwd: work
"#;

fn serve() -> (StdioPeer, PathBuf) {
    let dir = scratch("command-tools");
    std::fs::create_dir_all(dir.join("work")).expect("dir");
    std::fs::write(dir.join("work/notes.txt"), "inside the work directory\n").expect("file");
    std::fs::write(dir.join("secret.txt"), "outside\n").expect("file");
    let config = dir.join("commands.yaml");
    std::fs::write(&config, CONFIG).expect("config");
    let peer = StdioPeer::spawn(
        &switchboard_bin(),
        &["serve", "--stdio", "--config", &config.to_string_lossy(), "--log-level", "warn"],
    );
    (peer, dir)
}

fn call(peer: &mut StdioPeer, tool: &str, args: Value) -> Value {
    let r = peer.modern("tools/call", json!({"name": tool, "arguments": args}), json!({}));
    r.get("result").cloned().unwrap_or_else(|| panic!("{tool}: protocol error {r}"))
}

fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

#[test]
fn allowed_programs_run_with_one_argument_per_template() {
    let (mut peer, dir) = serve();
    let canary = dir.join("canary");
    std::fs::write(&canary, "").expect("canary");
    let payload = format!("hello; rm -rf {} && echo $(id) `id` | tee /tmp/x > y", canary.display());
    let r = call(&mut peer, "show_args", json!({"text": payload}));
    assert_eq!(r["isError"], Value::Null, "{r}");
    assert_eq!(r["structuredContent"]["stdout"], format!("1\n{payload}\n"), "one argument, verbatim");
    assert_eq!(r["structuredContent"]["exitCode"], 0);
    assert!(canary.exists(), "nothing was interpreted by a shell");

    let r = call(&mut peer, "echo", json!({"words": "-e \\x41"}));
    assert_eq!(r["isError"], true, "a leading dash is refused: {r}");
    assert!(r["content"][0]["text"].as_str().is_some_and(|t| t.contains("would be read as an option")), "{r}");
    let r = call(&mut peer, "echo", json!({"words": "a  b"}));
    assert_eq!(r["structuredContent"]["stdout"], "a  b\n");

    let r = call(&mut peer, "fails", json!({}));
    assert_eq!(r["isError"], true, "{r}");
    assert_eq!(
        (r["structuredContent"]["exitCode"].clone(), r["structuredContent"]["stderr"].clone()),
        (json!(4), json!("oops\n"))
    );
    assert_eq!(r["content"][0]["text"], "sh exited with code 4");
}

#[test]
fn time_and_output_are_capped() {
    let (mut peer, dir) = serve();
    let started = Instant::now();
    let r = call(&mut peer, "sleepy", json!({}));
    assert!(started.elapsed() < Duration::from_secs(10), "the call ended at its timeout");
    assert_eq!(r["isError"], true, "{r}");
    let s = &r["structuredContent"];
    assert_eq!(
        (s["timedOut"].clone(), s["exitCode"].clone(), s["stdout"].clone()),
        (json!(true), Value::Null, json!("started\n"))
    );
    let pid = std::fs::read_to_string(dir.join("sleeper.pid")).expect("pid file").trim().to_owned();
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(&pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!alive(&pid), "the background sleep {pid} died with its process group");

    let r = call(&mut peer, "noisy", json!({}));
    assert_eq!(r["isError"], Value::Null, "{r}");
    let s = &r["structuredContent"];
    assert_eq!(s["stdout"].as_str().map(str::len), Some(1000));
    assert_eq!((s["truncated"].clone(), s["stderr"].clone()), (json!(true), json!("done\n")), "drained to the end");
}

#[test]
fn path_arguments_stay_in_the_working_directory() {
    let (mut peer, _) = serve();
    let r = call(&mut peer, "read_file", json!({"file": "notes.txt"}));
    assert_eq!(r["structuredContent"]["stdout"], "inside the work directory\n", "{r}");
    for escape in ["../secret.txt", "/etc/passwd", "./../../secret.txt"] {
        let r = call(&mut peer, "read_file", json!({"file": escape}));
        assert_eq!(r["isError"], true, "{escape}: {r}");
        assert!(
            r["content"][0]["text"].as_str().is_some_and(|t| t.contains("outside the tool's working directory")),
            "{r}"
        );
    }
}

fn check(dir: &Path, name: &str, text: &str) -> (bool, String) {
    let file = dir.join(name);
    std::fs::write(&file, text).expect("write");
    let out = Command::new(switchboard_bin()).args(["config", "check"]).arg(&file).output().expect("config check");
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn programs_off_the_allow_list_are_refused_at_load() {
    let dir = scratch("bad-commands");
    std::fs::create_dir_all(&dir).expect("dir");
    let (ok, err) = check(&dir, "rm.yaml", "commands:\n  allow: [/bin/echo]\ntools:\n  wipe:\n    description: d\n    command:\n      program: rm\n      args: [-rf, /]\n");
    assert!(
        !ok && err
            .contains("rm.yaml:7:7: tools.wipe.command.program: \"rm\" is not in commands.allow (allowed: /bin/echo)"),
        "{err}"
    );
    let (ok, err) = check(
        &dir,
        "path.yaml",
        "commands:\n  allow: [/bin/echo]\ntools:\n  t:\n    description: d\n    command: {program: /bin/sh}\n",
    );
    assert!(!ok && err.contains("\"/bin/sh\" is not in commands.allow"), "{err}");
    let (ok, err) = check(
        &dir,
        "cwd.yaml",
        "commands:\n  allow: [/bin/echo]\ntools:\n  t:\n    description: d\n    command: {program: echo, cwd: /etc}\n",
    );
    assert!(!ok && err.contains("cwd.yaml:6:") && err.contains("/etc is outside the allowed roots"), "{err}");
    let (ok, err) = check(&dir, "empty.yaml", "tools:\n  t:\n    description: d\n    command: {program: echo}\n");
    assert!(!ok && err.contains("commands.allow is empty"), "{err}");
    // And `serve` refuses it the same way, before serving anything.
    let out = Command::new(switchboard_bin())
        .args(["serve", "--stdio", "--config"])
        .arg(dir.join("rm.yaml"))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("serve");
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("is not in commands.allow"));
}

/// `examples/http-and-commands.yaml` checks, lists its tools, and its command tools run.
#[test]
fn the_example_config_checks_and_serves() {
    let example = switchboard_testkit::repo_root().join("examples/http-and-commands.yaml");
    let out = Command::new(switchboard_bin()).args(["config", "check"]).arg(&example).output().expect("config check");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let data = scratch("example-data");
    let mut peer = StdioPeer::spawn(
        &switchboard_bin(),
        &[
            "serve",
            "--stdio",
            "--config",
            &example.to_string_lossy(),
            "--data-dir",
            &data.to_string_lossy(),
            "--log-level",
            "warn",
        ],
    );
    let list = peer.modern("tools/list", json!({}), json!({}));
    let names: Vec<&str> = list
        .pointer("/result/tools")
        .and_then(Value::as_array)
        .map(|t| t.iter().filter_map(|t| t["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, ["get_order", "search_orders", "open_ticket", "recent_commits", "count_lines"]);
    let r = call(&mut peer, "count_lines", json!({"file": "http-and-commands.yaml"}));
    let stdout = r["structuredContent"]["stdout"].as_str().unwrap_or_default();
    assert!(stdout.trim_end().ends_with(" http-and-commands.yaml"), "{r}");
    let r = call(&mut peer, "recent_commits", json!({"file": "../../etc"}));
    assert_eq!(r["isError"], true, "{r}");
}
