//! Sealing of MRTR `requestState`: the state a server hands the client between rounds is
//! authenticated with HMAC-SHA256 and bound to the method, a digest of the request's salient
//! params, the principal and an expiry. Anything altered, replayed on another request, used by
//! another principal or used late is rejected with `-32602`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use switchboard_protocol::mrtr::InputResponses;
use switchboard_protocol::ErrorObject;

type HmacSha256 = Hmac<Sha256>;

/// Seals and opens request state. The key is random per process unless set, so state from one
/// process is rejected by another; set a shared key when several replicas serve one client.
#[derive(Clone)]
pub struct StateSealer {
    key: [u8; 32],
    ttl: Duration,
}

impl std::fmt::Debug for StateSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateSealer").field("key", &"***").field("ttl", &self.ttl).finish()
    }
}

/// What a sealed state carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Sealed {
    /// Method.
    pub(crate) m: String,
    /// Hex SHA-256 of the salient params.
    pub(crate) d: String,
    /// Principal ("" when unauthenticated).
    pub(crate) p: String,
    /// Expiry, ms since the epoch.
    pub(crate) e: u64,
    /// Answers gathered in earlier rounds.
    #[serde(default, skip_serializing_if = "InputResponses::is_empty")]
    pub(crate) a: InputResponses,
    /// Application state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) s: Option<serde_json::Value>,
}

impl StateSealer {
    /// A sealer with a random key and a 10-minute lifetime.
    pub fn random() -> Self {
        let mut key = [0u8; 32];
        // Without an OS RNG nothing here is safe; fall back to a time-derived key only so that
        // the server still starts (state then simply fails to verify across restarts).
        if getrandom::fill(&mut key).is_err() {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
            key = Sha256::digest(now.to_le_bytes()).into();
        }
        Self { key, ttl: Duration::from_secs(600) }
    }

    /// A sealer with a fixed key (shared across replicas).
    pub fn with_key(key: [u8; 32], ttl: Duration) -> Self {
        Self { key, ttl }
    }

    /// Digest of the params that identify a request (method-specific, `_meta` excluded).
    pub(crate) fn digest(parts: &[&serde_json::Value]) -> String {
        let mut h = Sha256::new();
        for p in parts {
            h.update(serde_json::to_vec(p).unwrap_or_default());
            h.update([0]);
        }
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(64);
        for b in h.finalize() {
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
        out
    }

    pub(crate) fn seal(
        &self,
        method: &str,
        digest: String,
        principal: &str,
        answers: InputResponses,
        state: Option<serde_json::Value>,
    ) -> String {
        let expires = now_ms().saturating_add(u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX));
        let sealed =
            Sealed { m: method.to_owned(), d: digest, p: principal.to_owned(), e: expires, a: answers, s: state };
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&sealed).unwrap_or_default());
        let tag = URL_SAFE_NO_PAD.encode(self.mac(payload.as_bytes()));
        format!("{payload}.{tag}")
    }

    pub(crate) fn open(&self, token: &str, method: &str, digest: &str, principal: &str) -> Result<Sealed, ErrorObject> {
        let reject = |why: &str| ErrorObject::invalid_params(format!("requestState rejected: {why}"));
        let (payload, tag) = token.split_once('.').ok_or_else(|| reject("malformed"))?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| reject("malformed"))?;
        let mut mac = HmacSha256::new_from_slice(&self.key).map_err(|_| reject("no key"))?;
        mac.update(payload.as_bytes());
        mac.verify_slice(&tag).map_err(|_| reject("it was altered or not issued by this server"))?;
        let bytes = URL_SAFE_NO_PAD.decode(payload).map_err(|_| reject("malformed"))?;
        let sealed: Sealed = serde_json::from_slice(&bytes).map_err(|_| reject("malformed"))?;
        if sealed.m != method {
            return Err(reject(&format!("it was issued for {}, not {method}", sealed.m)));
        }
        if sealed.d != digest {
            return Err(reject("it was issued for a request with different parameters"));
        }
        if sealed.p != principal {
            return Err(reject("it was issued to a different principal"));
        }
        if sealed.e < now_ms() {
            return Err(reject("it has expired; start the request again without requestState"));
        }
        Ok(sealed)
    }

    fn mac(&self, data: &[u8]) -> Vec<u8> {
        // HMAC accepts keys of any length, so this cannot fail for a 32-byte key.
        let mut mac =
            HmacSha256::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!("hmac takes any key length"));
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    }
}

fn now_ms() -> u64 {
    u64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis()).unwrap_or(u64::MAX)
}
