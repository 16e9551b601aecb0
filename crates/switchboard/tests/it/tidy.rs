//! The layout rules ARCHITECTURE.md promises, checked on the tree itself: the SDK pulls in no
//! database, cache or LLM code; no crate's top-level modules import each other in a cycle; every
//! source file says what it is on its first line and stays under 800 lines; ARCHITECTURE.md names
//! every crate.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The most lines a non-test source file may have.
const MAX_LINES: usize = 800;

/// Crates whose presence in the SDK's dependency tree would mean it grew database, cache or LLM
/// code (matched as name prefixes).
const FORBIDDEN_IN_SDK: &[&str] =
    &["sqlx", "rusqlite", "libsqlite3", "redis", "fred", "mysql", "postgres", "tokio-postgres", "async-openai"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the workspace root")
}

/// The platform this is built for (what `cargo metadata --filter-platform` takes).
fn host() -> String {
    let out = Command::new("rustc").arg("-vV").output().expect("rustc runs");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().find_map(|l| l.strip_prefix("host: ")).expect("rustc -vV names the host").to_owned()
}

fn metadata(extra: &[&str]) -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--offline", "--filter-platform", &host()])
        .args(extra)
        .current_dir(root())
        .output()
        .expect("cargo metadata runs");
    assert!(out.status.success(), "cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON")
}

/// Every workspace crate: (package name, crate directory).
fn crates() -> Vec<(String, PathBuf)> {
    let meta = metadata(&["--no-deps"]);
    meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| {
            let manifest = PathBuf::from(p["manifest_path"].as_str().expect("a manifest path"));
            let dir = manifest.parent().expect("a crate directory").to_owned();
            (p["name"].as_str().expect("a name").to_owned(), dir)
        })
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_sdk_pulls_in_no_database_cache_or_llm_code() {
    let meta = metadata(&["--all-features"]);
    let packages: BTreeMap<&str, &str> = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| (p["id"].as_str().unwrap_or_default(), p["name"].as_str().unwrap_or_default()))
        .collect();
    let nodes: BTreeMap<&str, Vec<&str>> = meta["resolve"]["nodes"]
        .as_array()
        .expect("a resolved graph")
        .iter()
        .map(|n| {
            // Normal and build dependencies only: dev-dependencies never reach a user.
            let deps = n["deps"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|d| d["dep_kinds"].as_array().into_iter().flatten().any(|k| k["kind"] != "dev"))
                .filter_map(|d| d["pkg"].as_str())
                .collect();
            (n["id"].as_str().unwrap_or_default(), deps)
        })
        .collect();
    let sdk = packages.iter().find(|(_, name)| **name == "switchboard-mcp").map(|(id, _)| *id).expect("the SDK crate");
    let mut seen = BTreeSet::new();
    let mut stack = vec![sdk];
    while let Some(id) = stack.pop() {
        if seen.insert(id) {
            stack.extend(nodes.get(id).into_iter().flatten().copied());
        }
    }
    let names: BTreeSet<&str> = seen.iter().filter_map(|id| packages.get(id).copied()).collect();
    assert!(
        names.contains("tokio") && names.contains("serde_json"),
        "the walk found the SDK's dependencies: {names:?}"
    );
    let forbidden: Vec<&&str> = names.iter().filter(|n| FORBIDDEN_IN_SDK.iter().any(|f| n.starts_with(f))).collect();
    assert!(forbidden.is_empty(), "switchboard-mcp (all features) depends on {forbidden:?}");
}

/// The top-level modules of a crate and which others each names through `crate::`.
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let module_of = |file: &Path| -> Option<String> {
        let rel = file.strip_prefix(src).ok()?;
        let first = rel.components().next()?.as_os_str().to_str()?;
        let name = first.strip_suffix(".rs").unwrap_or(first);
        (!matches!(name, "lib" | "main" | "bin")).then(|| name.to_owned())
    };
    let modules: BTreeSet<String> = files.iter().filter_map(|f| module_of(f)).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = modules.iter().map(|m| (m.clone(), BTreeSet::new())).collect();
    for file in &files {
        let Some(from) = module_of(file) else { continue };
        let text = std::fs::read_to_string(file).unwrap_or_default();
        for (i, _) in text.match_indices("crate::") {
            let to: String = text[i + 7..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if to != from && modules.contains(&to) {
                graph.entry(from.clone()).or_default().insert(to);
            }
        }
    }
    graph
}

/// A cycle in `graph`, if there is one, as the modules along it.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|start| visit(start, graph, &mut Vec::new(), &mut done))
}

#[test]
fn top_level_modules_import_without_cycles() {
    let mut cycles = Vec::new();
    for (name, dir) in crates() {
        if let Some(cycle) = find_cycle(&module_graph(&dir.join("src"))) {
            cycles.push(format!("{name}: {}", cycle.join(" -> ")));
        }
    }
    assert!(cycles.is_empty(), "module import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn the_cycle_check_finds_cycles() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a".to_owned(), BTreeSet::from(["b".to_owned()])),
        ("b".to_owned(), BTreeSet::from(["c".to_owned()])),
        ("c".to_owned(), BTreeSet::from(["a".to_owned()])),
    ]
    .into();
    assert_eq!(find_cycle(&graph), Some(vec!["a".into(), "b".into(), "c".into(), "a".into()]));
    let dag: BTreeMap<String, BTreeSet<String>> =
        [("a".to_owned(), BTreeSet::from(["b".to_owned()])), ("b".to_owned(), BTreeSet::new())].into();
    assert_eq!(find_cycle(&dag), None);
}

fn is_test_file(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    name == "tests.rs"
        || name.ends_with("_tests.rs")
        || path.components().any(|c| c.as_os_str() == "tests" || c.as_os_str() == "benches")
}

#[test]
fn source_files_say_what_they_are_and_stay_small() {
    let mut unlabeled = Vec::new();
    let mut long = Vec::new();
    for (_, dir) in crates() {
        let mut files = Vec::new();
        for sub in ["src", "tests", "benches", "examples"] {
            rust_files(&dir.join(sub), &mut files);
        }
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or_default();
            if !first.starts_with("//!") {
                unlabeled.push(file.display().to_string());
            }
            let lines = text.lines().count();
            if !is_test_file(&file) && lines > MAX_LINES {
                long.push(format!("{} ({lines} lines)", file.display()));
            }
        }
    }
    assert!(
        unlabeled.is_empty(),
        "files whose first line is not a `//!` saying what they are:\n{}",
        unlabeled.join("\n")
    );
    assert!(long.is_empty(), "source files over {MAX_LINES} lines:\n{}", long.join("\n"));
}

#[test]
fn architecture_names_every_crate() {
    let root = root();
    let text = std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let missing: Vec<String> = crates()
        .into_iter()
        .filter_map(|(name, dir)| {
            let rel = dir.strip_prefix(&root).ok()?.to_str()?.to_owned();
            (!text.contains(&format!("### {rel}"))).then(|| format!("{name} (expected a `### {rel}` section)"))
        })
        .collect();
    assert!(missing.is_empty(), "ARCHITECTURE.md has no section for: {}", missing.join(", "));
}
