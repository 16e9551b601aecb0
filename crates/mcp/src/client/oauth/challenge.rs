//! `WWW-Authenticate: Bearer ...` challenges (RFC 6750 §3, RFC 9728 §5.1).

/// What a `Bearer` (or `DPoP`, RFC 9449 §7.1) challenge asks of the client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Challenge {
    /// Where the protected resource metadata is (RFC 9728 `resource_metadata`).
    pub resource_metadata: Option<String>,
    /// The scopes the request needs.
    pub scope: Option<String>,
    /// `invalid_token`, `insufficient_scope`, ...
    pub error: Option<String>,
    /// The server's explanation, for error messages.
    pub error_description: Option<String>,
}

impl Challenge {
    /// Reads the `Bearer` challenge out of a `WWW-Authenticate` value that may hold several
    /// challenges (`Basic realm="x", Bearer scope="a b", error="insufficient_scope"`). No
    /// `Bearer` challenge gives the default (nothing known).
    pub(crate) fn parse(header: &str) -> Challenge {
        let mut challenge = Challenge::default();
        let mut in_bearer = false;
        let mut rest = header.trim();
        while !rest.is_empty() {
            rest = rest.trim_start_matches([',', ' ', '\t']);
            // A token followed by whitespace (not `=`) starts a new challenge: its scheme.
            let token_end = rest.find(|c: char| c == '=' || c == ',' || c.is_whitespace()).unwrap_or(rest.len());
            let (token, after) = rest.split_at(token_end);
            let after_trimmed = after.trim_start();
            if token.is_empty() {
                break;
            }
            if !after_trimmed.starts_with('=') || after_trimmed.starts_with("==") {
                // A scheme name (or a token68 we do not use).
                in_bearer = token.eq_ignore_ascii_case("bearer") || token.eq_ignore_ascii_case("dpop");
                rest = after;
                continue;
            }
            let value_start = after_trimmed[1..].trim_start();
            let (value, remaining) = if let Some(quoted) = value_start.strip_prefix('"') {
                let mut value = String::new();
                let mut chars = quoted.char_indices();
                let mut end = quoted.len();
                while let Some((i, c)) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some((_, escaped)) = chars.next() {
                                value.push(escaped);
                            }
                        }
                        '"' => {
                            end = i + 1;
                            break;
                        }
                        c => value.push(c),
                    }
                }
                (value, &quoted[end.min(quoted.len())..])
            } else {
                let end = value_start.find(|c: char| c == ',' || c.is_whitespace()).unwrap_or(value_start.len());
                (value_start[..end].to_owned(), &value_start[end..])
            };
            if in_bearer {
                let slot = match token.to_ascii_lowercase().as_str() {
                    "resource_metadata" => Some(&mut challenge.resource_metadata),
                    "scope" => Some(&mut challenge.scope),
                    "error" => Some(&mut challenge.error),
                    "error_description" => Some(&mut challenge.error_description),
                    _ => None,
                };
                if let Some(slot) = slot {
                    *slot = Some(value);
                }
            }
            rest = remaining;
        }
        challenge
    }

    /// Whether the server only wants a DPoP proof with its nonce (RFC 9449 §9).
    pub(crate) fn wants_dpop_nonce(&self) -> bool {
        self.error.as_deref() == Some("use_dpop_nonce")
    }

    /// Whether the server wants more scopes than the token has (a step-up).
    pub(crate) fn is_insufficient_scope(&self) -> bool {
        self.error.as_deref() == Some("insufficient_scope")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_bearer_parameters_among_other_challenges() {
        let c = Challenge::parse(
            r#"Basic realm="x", Bearer error="insufficient_scope", scope="mcp:basic mcp:write", resource_metadata="https://a.example/.well-known/oauth-protected-resource/mcp", error_description="needs \"write\"""#,
        );
        assert_eq!(c.scope.as_deref(), Some("mcp:basic mcp:write"));
        assert_eq!(c.resource_metadata.as_deref(), Some("https://a.example/.well-known/oauth-protected-resource/mcp"));
        assert!(c.is_insufficient_scope());
        assert_eq!(c.error_description.as_deref(), Some(r#"needs "write""#));
    }

    #[test]
    fn parameters_of_other_schemes_are_ignored() {
        let c = Challenge::parse(r#"Basic scope="nope", realm=x"#);
        assert_eq!(c, Challenge::default());
        let c = Challenge::parse(r#"Bearer realm="mcp", scope=read"#);
        assert_eq!(c.scope.as_deref(), Some("read"));
        assert_eq!(Challenge::parse(""), Challenge::default());
    }
}
