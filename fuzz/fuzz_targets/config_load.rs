//! The config loader (`Config::parse`: YAML, `${ENV}` interpolation, the typed shape, every
//! check) on arbitrary text. Parsing only: nothing is connected, spawned or read.
//!
//! Invariants: nothing panics (deep nesting, aliases and odd scalars included), and no error
//! message quotes a value that came from the environment — in any form: the same text is parsed
//! with two environments whose secrets differ, and a secret's marker may appear in an error only
//! if the text itself wrote it (as is, or with YAML escapes: then it appears whatever the
//! environment says).

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use switchboard_gateway::config::{Config, Env};

/// Every value is built from chunks that each carry the marker, and holds the characters that
/// quoting and escaping change (quotes, backslashes, line breaks, braces, colons, `%`).
const MARKER: &str = "Zq8";
const SECRETS: [&str; 4] =
    ["Zq8plainZq8secret", "Zq8\"quoted\\Zq8back'Zq8", "Zq8 line\nZq8break\tZq8\r", "Zq8:Zq8/{Zq8}%Zq8,Zq8#Zq8"];
const NAMES: [&str; 4] = ["API_TOKEN", "DB_URL", "SECRET", "KEY"];

fn env(secrets: &[&str]) -> Env {
    let mut env: Env = NAMES.iter().zip(secrets).map(|(n, s)| ((*n).to_owned(), (*s).to_owned())).collect();
    env.insert("EMPTY".into(), String::new());
    env.insert("PLAIN".into(), "plain".into());
    env
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let path = Path::new("/fuzz/config.yaml");
    let real = Config::parse(text, path, &env(&SECRETS));
    let Err(error) = real else { return };
    let message = error.to_string();
    if !message.contains(MARKER) || text.contains(MARKER) {
        return;
    }
    // The same text with harmless values: is the marker the text's own (written with escapes)?
    let harmless = Config::parse(text, path, &env(&["a", "b", "c", "d"]));
    let own = harmless.as_ref().err().is_some_and(|e| e.to_string().contains(MARKER));
    assert!(own, "an error quotes a value from the environment: {message}");
});
