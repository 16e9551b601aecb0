//! Unit tests of the flow's decisions: scope selection and the token endpoint method.

use super::token::auth_method;
use super::*;

fn oauth(options: OAuthOptions) -> OAuth {
    let agent = Arc::new(FollowRedirect::new("http://127.0.0.1:1/callback").expect("test value"));
    OAuth::new("http://127.0.0.1:9/mcp", options, Arc::new(CredentialStore::memory()), agent).expect("test value")
}

fn current(scope: &str) -> Current {
    Current {
        issuer: "http://as".into(),
        resource: "http://127.0.0.1:9/mcp".into(),
        tokens: Tokens {
            access_token: "t".into(),
            refresh_token: None,
            expires_at: None,
            scope: Some(scope.into()),
            dpop_key: None,
        },
        token_endpoint: None,
        dpop: None,
        nonce: None,
    }
}

#[test]
fn scope_selection_follows_the_challenge_then_the_resource() {
    let o = oauth(OAuthOptions::default());
    let none = ServerMetadata::default();
    let challenge = Challenge { scope: Some("mcp:write".into()), ..Challenge::default() };
    // A step-up keeps what was granted.
    assert_eq!(o.scope(&challenge, Some(&current("mcp:basic")), None, &none).as_deref(), Some("mcp:basic mcp:write"));
    // No challenge scope: everything the resource supports.
    let supported = Some(vec!["a".to_owned(), "b".to_owned()]);
    assert_eq!(o.scope(&Challenge::default(), None, supported.clone(), &none).as_deref(), Some("a b"));
    // Nothing known: the parameter is omitted.
    assert_eq!(o.scope(&Challenge::default(), None, None, &none), None);
    // offline_access only where the authorization server lists it.
    let offline =
        ServerMetadata { scopes_supported: Some(vec!["a".into(), "offline_access".into()]), ..Default::default() };
    assert_eq!(o.scope(&Challenge::default(), None, supported, &offline).as_deref(), Some("a b offline_access"));
}

#[test]
fn the_token_endpoint_method_follows_registration_then_metadata() {
    let mut reg = Registration {
        client_id: "c".into(),
        client_secret: Some("s".into()),
        token_endpoint_auth_method: None,
        redirect_uri: String::new(),
    };
    let post = ServerMetadata {
        token_endpoint_auth_methods_supported: Some(vec!["client_secret_post".into()]),
        ..Default::default()
    };
    assert_eq!(auth_method(&reg, &post), "client_secret_post");
    assert_eq!(auth_method(&reg, &ServerMetadata::default()), "client_secret_basic");
    reg.token_endpoint_auth_method = Some("none".into());
    assert_eq!(auth_method(&reg, &post), "none");
    reg.token_endpoint_auth_method = None;
    reg.client_secret = None;
    assert_eq!(auth_method(&reg, &post), "none");
}
