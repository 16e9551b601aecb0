//! `switchboard keys new`: a fresh API key from the OS's randomness, and the config entry that
//! accepts it by its SHA-256 digest (so the config file holds no secret).

use anyhow::Context;
use base64::Engine as _;

/// Prints a new key (256 random bits) and its `auth.api_keys` entry for principal `id`.
pub fn print_new(id: &str) -> anyhow::Result<()> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("{e}")).context("reading the OS's randomness")?;
    let key = format!("sb_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes));
    let digest: String = switchboard_gateway::config::key_digest(&key).iter().map(|b| format!("{b:02x}")).collect();
    let text = format!(
        "key:    {key}\n        (give it to the caller; it is shown once and stored nowhere)\n\n\
         In the config's auth section:\n  api_keys:\n    - id: {id}\n      sha256: {digest}\n      roles: []   # e.g. [admin]\n"
    );
    use std::io::Write as _;
    std::io::stdout().lock().write_all(text.as_bytes()).context("writing the key")
}
