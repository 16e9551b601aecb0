//! DPoP proofs (RFC 9449): a per-client P-256 key, a fresh signed proof for each request, the
//! access token bound to the key's thumbprint by the authorization server.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::OAuthError;

/// The one algorithm we sign proofs with.
pub(crate) const ALGORITHM: &str = "ES256";

/// A proof-of-possession key.
pub(crate) struct DpopKey {
    pair: EcdsaKeyPair,
    /// PKCS#8, Base64url: how the key is kept beside the tokens bound to it.
    pkcs8: String,
    jwk: serde_json::Value,
    rng: SystemRandom,
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopKey").field("jwk", &self.jwk).finish_non_exhaustive()
    }
}

fn key_error(reason: impl std::fmt::Display) -> OAuthError {
    OAuthError::Interaction(format!("DPoP key: {reason}"))
}

impl DpopKey {
    /// A new random key.
    pub(crate) fn generate() -> Result<Self, OAuthError> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).map_err(key_error)?;
        Self::from_pkcs8(&URL_SAFE_NO_PAD.encode(pkcs8.as_ref()))
    }

    /// A key kept earlier ([`DpopKey::pkcs8`]).
    pub(crate) fn from_pkcs8(encoded: &str) -> Result<Self, OAuthError> {
        let rng = SystemRandom::new();
        let der = URL_SAFE_NO_PAD.decode(encoded).map_err(key_error)?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der, &rng).map_err(key_error)?;
        // An uncompressed point: 0x04 || x || y.
        let point = pair.public_key().as_ref();
        if point.len() != 65 {
            return Err(key_error("unexpected public key encoding"));
        }
        let jwk = json!({
            "kty": "EC",
            "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        });
        Ok(Self { pair, pkcs8: encoded.to_owned(), jwk, rng })
    }

    pub(crate) fn pkcs8(&self) -> &str {
        &self.pkcs8
    }

    /// A proof for one request: `htm` and `htu` (query and fragment removed), the server's
    /// nonce if it gave one, and `ath` binding the access token when one is presented.
    pub(crate) fn proof(
        &self,
        method: &str,
        url: &str,
        nonce: Option<&str>,
        access_token: Option<&str>,
    ) -> Result<String, OAuthError> {
        let htu = url.split(['?', '#']).next().unwrap_or(url);
        let mut jti = [0u8; 16];
        getrandom::fill(&mut jti).map_err(key_error)?;
        let mut claims = json!({
            "jti": URL_SAFE_NO_PAD.encode(jti),
            "htm": method,
            "htu": htu,
            "iat": super::now(),
        });
        if let Some(nonce) = nonce {
            claims["nonce"] = json!(nonce);
        }
        if let Some(token) = access_token {
            claims["ath"] = json!(URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes())));
        }
        let header = json!({"typ": "dpop+jwt", "alg": ALGORITHM, "jwk": self.jwk});
        let signing_input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let signature = self.pair.sign(&self.rng, signing_input.as_bytes()).map_err(key_error)?;
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proofs_are_fresh_signed_and_carry_no_query() {
        let key = DpopKey::generate().expect("test value");
        let a = key.proof("POST", "https://mcp.example/mcp?x=1", Some("n"), Some("tok")).expect("test value");
        let b = key.proof("POST", "https://mcp.example/mcp", None, None).expect("test value");
        assert_ne!(a, b);
        let parts: Vec<&str> = a.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).expect("test value")).expect("test value");
        assert_eq!(header["typ"], "dpop+jwt");
        assert!(header["jwk"].get("d").is_none(), "the private key never leaves");
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("test value")).expect("test value");
        assert_eq!(claims["htu"], "https://mcp.example/mcp");
        assert_eq!(claims["nonce"], "n");
        assert!(claims["ath"].is_string());
        // The same key comes back from its PKCS#8 form.
        let again = DpopKey::from_pkcs8(key.pkcs8()).expect("test value");
        assert_eq!(again.jwk, key.jwk);
    }
}
