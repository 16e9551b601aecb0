//! The `auth:` section: the API keys callers authenticate with and the principal each names, who
//! callers without credentials are while no key is configured, and who stdio acts for.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Problem, Secret};

/// Who may call, and as whom.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthSection {
    /// API keys, each naming one principal. A key is sent as `Authorization: Bearer <key>` or
    /// `X-API-Key: <key>`.
    #[serde(default)]
    pub api_keys: Vec<ApiKey>,
    /// Many keys in one string, usually from the environment: `key=VALUE,key2=VALUE2`. Each key
    /// names a principal whose id, and whose attribute `attribute`, is its VALUE (e.g. a
    /// customer's key bound to their `customer_id`).
    #[serde(default)]
    pub key_lists: Vec<KeyList>,
    /// Who callers without credentials are while no key is configured (local development).
    /// Once any key is configured, a request without one is refused with 401.
    #[serde(default)]
    pub anonymous: Option<PrincipalSpec>,
    /// Who a stdio connection acts for (the local user who started the server). Default: the
    /// same as `anonymous`.
    #[serde(default)]
    pub stdio: Option<PrincipalSpec>,
    /// OAuth 2.1: accept JWT access tokens from this authorization server (besides API keys).
    #[serde(default)]
    pub oauth: Option<OAuthSection>,
}

/// An OAuth 2.1 authorization server whose JWT access tokens this server accepts (the MCP
/// authorization spec: this server is a resource server).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OAuthSection {
    /// The issuer: tokens must carry it as `iss`.
    pub issuer: String,
    /// Where the issuer publishes its signing keys (JWKS).
    pub jwks_url: String,
    /// This server's resource URI (e.g. `https://mcp.example.com/mcp`): tokens must carry it in
    /// `aud`, and clients find the metadata at its origin's
    /// `/.well-known/oauth-protected-resource`.
    pub resource: String,
    /// Accepted signature algorithms. Default `[RS256]`.
    #[serde(default)]
    pub algorithms: Vec<String>,
    /// Seconds of clock skew tolerated on `exp` and `nbf`. Default 60.
    #[serde(default)]
    pub leeway_secs: Option<u64>,
    /// The claim that is the principal's id. Default `sub`.
    #[serde(default)]
    pub id_claim: Option<String>,
    /// The claim whose scopes become roles. Default `scope`.
    #[serde(default)]
    pub roles_claim: Option<String>,
    /// Claims copied into the principal's attributes: `claim: attribute`.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// A token must carry one of these scopes, or it gets 403 `insufficient_scope`.
    #[serde(default)]
    pub required_scopes: Vec<String>,
    /// Scopes advertised in the resource metadata.
    #[serde(default)]
    pub scopes_supported: Vec<String>,
}

/// One API key.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKey {
    /// The principal's id (in logs and audit rows; never the key).
    pub id: String,
    /// The key itself, normally `${ENV_VAR}`; empty (an unset `${VAR:-}`) leaves this key out.
    #[serde(default)]
    pub key: Option<Secret>,
    /// Or the key's SHA-256 digest, hex (`switchboard keys new` prints one), so the config
    /// holds no secret at all.
    #[serde(default)]
    pub sha256: Option<String>,
    /// The roles it grants.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Attributes of the principal (e.g. `refund_limit_cents: 20000`), for tools to read and for
    /// parameters bound with `from_principal`.
    #[serde(default)]
    pub attributes: BTreeMap<String, serde_json::Value>,
}

/// Keys listed in one string.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyList {
    /// `key=VALUE` pairs separated by commas, normally `${ENV_VAR:-}` (empty: no keys).
    pub keys: Secret,
    /// The attribute each VALUE becomes (it is also the principal's id).
    pub attribute: String,
    /// The roles every key of the list grants.
    #[serde(default)]
    pub roles: Vec<String>,
}

/// A principal written out in the config.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrincipalSpec {
    /// Its id. Default `anonymous` (`local` for stdio).
    #[serde(default)]
    pub id: Option<String>,
    /// Its roles.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Its attributes.
    #[serde(default)]
    pub attributes: BTreeMap<String, serde_json::Value>,
}

impl KeyList {
    /// The `(key, value)` pairs of the list; a malformed pair is an error naming its position,
    /// never its text.
    pub fn pairs(&self) -> Result<Vec<(&str, &str)>, String> {
        let text = self.keys.expose().trim();
        if text.is_empty() {
            return Ok(Vec::new());
        }
        text.split(',')
            .map(str::trim)
            .enumerate()
            .map(|(i, pair)| match pair.split_once('=') {
                Some((k, v)) if !k.trim().is_empty() && !v.trim().is_empty() => Ok((k.trim(), v.trim())),
                _ => Err(format!("entry {} is not `key=VALUE`", i + 1)),
            })
            .collect()
    }
}

impl ApiKey {
    /// The key's SHA-256 digest: from `sha256`, or computed from `key`; `None` when the key is
    /// empty (its environment variable unset).
    pub fn digest(&self) -> Result<Option<[u8; 32]>, String> {
        match (&self.key, &self.sha256) {
            (Some(_), Some(_)) => Err("give `key` or `sha256`, not both".into()),
            (None, None) => Err("needs `key` (e.g. ${MY_KEY}) or `sha256`".into()),
            (Some(key), None) if key.expose().trim().is_empty() => Ok(None),
            (Some(key), None) => Ok(Some(sha256(key.expose().trim()))),
            (None, Some(hex)) => parse_hex(hex.trim().trim_start_matches("sha256:")).map(Some),
        }
    }
}

/// The SHA-256 digest of an API key (what `sha256:` holds).
pub fn key_digest(text: &str) -> [u8; 32] {
    sha256(text)
}

fn sha256(text: &str) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(text.as_bytes()).into()
}

fn parse_hex(hex: &str) -> Result<[u8; 32], String> {
    let bad = || "`sha256` must be 64 hexadecimal digits".to_owned();
    if hex.len() != 64 || !hex.is_ascii() {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}

impl AuthSection {
    /// Checks every key's form (not whether any is set).
    pub(super) fn check(&self) -> Result<(), Problem> {
        let mut ids = std::collections::BTreeSet::new();
        for (i, key) in self.api_keys.iter().enumerate() {
            let index = i.to_string();
            let here = ["auth", "api_keys", index.as_str()];
            key.digest().map_err(|m| Problem::new(&here, format!("key {:?}: {m}", key.id)))?;
            if !ids.insert(key.id.as_str()) {
                return Err(Problem::new(&here, format!("two keys are named {:?}", key.id)));
            }
        }
        for (i, list) in self.key_lists.iter().enumerate() {
            let index = i.to_string();
            list.pairs().map_err(|m| Problem::new(&["auth", "key_lists", index.as_str()], m))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_lists_split_into_pairs_and_name_bad_entries_by_position() {
        let list =
            KeyList { keys: Secret::from(" k1=CUST-0001, k2 = CUST-0002 "), attribute: "c".into(), roles: vec![] };
        assert_eq!(list.pairs(), Ok(vec![("k1", "CUST-0001"), ("k2", "CUST-0002")]));
        let empty = KeyList { keys: Secret::from(""), ..list.clone() };
        assert_eq!(empty.pairs(), Ok(vec![]));
        let bad = KeyList { keys: Secret::from("k1=A,secret-without-value"), ..list };
        let message = bad.pairs().expect_err("a malformed pair");
        assert!(message.contains("entry 2") && !message.contains("secret"), "{message}");
    }

    #[test]
    fn keys_are_digested_and_empty_ones_left_out() {
        let key = |k: Option<&str>, h: Option<&str>| ApiKey {
            id: "a".into(),
            key: k.map(Secret::from),
            sha256: h.map(str::to_owned),
            roles: vec![],
            attributes: BTreeMap::new(),
        };
        let digest = sha256("sk-1");
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(key(Some("sk-1"), None).digest(), Ok(Some(digest)));
        assert_eq!(key(None, Some(&format!("sha256:{hex}"))).digest(), Ok(Some(digest)));
        assert_eq!(key(Some(""), None).digest(), Ok(None));
        assert!(key(None, None).digest().is_err());
        assert!(key(None, Some("abc")).digest().is_err());
    }
}
