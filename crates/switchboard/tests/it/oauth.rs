//! The OAuth client against an authorization server we did not write (`oauth2-mock-server`,
//! npm): the gateway reaching a protected Switchboard upstream with `client_credentials`, and
//! `switchboard client` doing the browser flow (PKCE, loopback redirect) once, then reusing the
//! stored token.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use switchboard_testkit::http::HttpPeer;
use switchboard_testkit::process::ServerProcess;
use switchboard_testkit::repo_root;

use crate::interop::{free_port, peers, scratch};
use crate::{serve_config, switchboard_bin};

/// `oauth2-mock-server` on a loopback port (see `tests/interop/oauth_server.mjs`); stopped on drop.
struct AuthorizationServer {
    child: Child,
    issuer: String,
}

impl AuthorizationServer {
    fn start() -> Self {
        let mut child = Command::new(peers().join("node22/bin/node"))
            .arg(repo_root().join("tests/interop/oauth_server.mjs"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the authorization server starts (node peer)");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        BufReader::new(stdout).read_line(&mut line).expect("it reports its issuer");
        let issuer = serde_json::from_str::<Value>(&line).ok().and_then(|v| v["issuer"].as_str().map(str::to_owned));
        Self { issuer: issuer.unwrap_or_else(|| panic!("no issuer in {line:?}")), child }
    }
}

impl Drop for AuthorizationServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Switchboard server that accepts only the authorization server's JWTs, for its own URL.
fn protected_upstream(dir: &std::path::Path, issuer: &str) -> (ServerProcess, String) {
    let port = free_port();
    let resource = format!("http://127.0.0.1:{port}/mcp");
    let config = dir.join("upstream.yaml");
    std::fs::write(
        &config,
        format!(
            "server: {{name: protected}}\n\
             auth:\n  oauth:\n    issuer: {issuer}\n    jwks_url: {issuer}/jwks\n    resource: {resource}\n\
             audit: {{enabled: false}}\n\
             tools:\n  echo: {{description: Echoes., native: demo.echo}}\n"
        ),
    )
    .expect("upstream config");
    let data = dir.join("upstream-data");
    let (config, data) = (config.to_string_lossy().into_owned(), data.to_string_lossy().into_owned());
    let listen = format!("127.0.0.1:{port}");
    let server = ServerProcess::spawn(
        &switchboard_bin(),
        &["serve", "--config", &config, "--data-dir", &data, "--listen", &listen],
    );
    (server, resource)
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).map(|m| m.permissions().mode() & 0o777).unwrap_or(0)
}

#[tokio::test]
async fn the_gateway_reaches_a_protected_upstream_with_client_credentials() {
    let authz = AuthorizationServer::start();
    let dir = scratch("oauth-gateway");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let (_upstream, resource) = protected_upstream(&dir, &authz.issuer);

    // Without a token the upstream refuses and points at its metadata.
    let refused = HttpPeer::new(resource.clone()).modern("tools/list", json!({}), json!({})).await;
    assert_eq!(refused.status, 401, "{:?}", refused.messages);

    let config = dir.join("gateway.yaml");
    std::fs::write(
        &config,
        format!(
            "server: {{name: gateway}}\n\
             auth:\n  api_keys:\n    - {{id: alice, key: downstream-key-123}}\n\
             audit: {{enabled: false}}\n\
             upstreams:\n  secure:\n    url: {resource}\n    oauth:\n      grant: client_credentials\n      \
             client_id: switchboard-gateway\n      client_secret: gateway-secret-456\n      \
             credentials_file: creds/oauth.json\n  \
             interactive:\n    url: {resource}\n    oauth: {{client_id: needs-a-person, credentials_file: creds/other.json}}\n"
        ),
    )
    .expect("gateway config");
    let gateway = serve_config(&config, &dir.join("gateway-data"), &[]);
    let mut client = HttpPeer::new(gateway.mcp_url()).with_bearer("downstream-key-123");
    let listed = client.modern("tools/list", json!({}), json!({})).await;
    let names: Vec<&str> =
        listed.last()["result"]["tools"].as_array().into_iter().flatten().filter_map(|t| t["name"].as_str()).collect();
    assert!(names.contains(&"secure_echo"), "{names:?} / {:?}", listed.messages);
    let called = client
        .modern("tools/call", json!({"name": "secure_echo", "arguments": {"message": "through OAuth"}}), json!({}))
        .await;
    assert_eq!(called.last()["result"]["content"][0]["text"], "through OAuth", "{:?}", called.messages);

    // The token is kept per issuer in a file only its owner can read; the downstream caller's
    // key is nowhere in it (it never went upstream: the upstream accepts only JWTs).
    let creds = dir.join("creds/oauth.json");
    let kept: Value = serde_json::from_slice(&std::fs::read(&creds).expect("credentials file")).expect("JSON");
    assert!(kept["issuers"][&authz.issuer]["tokens"][&resource]["access_token"].is_string(), "{kept}");
    let text = kept.to_string();
    assert!(!text.contains("downstream-key-123") && !text.contains("gateway-secret-456"), "{text}");
    #[cfg(unix)]
    assert_eq!(mode(&creds), 0o600);

    // An authorization-code upstream nobody has logged in to is down (the gateway has no
    // browser); the other keeps serving.
    let body = crate::http_client()
        .get(format!("{}/readyz", gateway.base))
        .send()
        .await
        .expect("readyz")
        .text()
        .await
        .expect("a body");
    let ready: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("readyz answered {body}: {e}"));
    assert_eq!(ready["components"]["upstream:secure"], "up", "{ready}");
    assert_eq!(ready["components"]["upstream:interactive"], "down", "{ready}");

    // A person logs in once with `switchboard client` against the gateway's own config (the
    // same credentials file); the gateway picks the tokens up on its next attempt.
    let config = config.to_string_lossy().into_owned();
    let login = ["client", "--config", &config, "--server", "interactive", "--no-browser"];
    let port = free_port().to_string();
    let out = browser_login(&[&login[..], &["--oauth-port", &port, "ping"]].concat()).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let called = client
            .modern("tools/call", json!({"name": "interactive_echo", "arguments": {"message": "logged in"}}), json!({}))
            .await;
        if called.last()["result"]["content"][0]["text"] == "logged in" {
            break;
        }
        assert!(Instant::now() < deadline, "the gateway never used the stored login: {:?}", called.messages);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Runs `switchboard <args>`, plays the browser for the authorization URL it prints (the
/// authorization server approves at once and redirects to the CLI's loopback listener), and
/// returns how it ended.
async fn browser_login(args: &[&str]) -> std::process::Output {
    let mut child = Command::new(switchboard_bin())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("switchboard client");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    let url = loop {
        assert!(Instant::now() < deadline, "no authorization URL printed");
        let line = lines.next().expect("stderr open").expect("a line");
        if let Some(at) = line.find("http://") {
            let url = line[at..].trim().to_owned();
            if url.contains("/authorize?") {
                break url;
            }
        }
    };
    for key in ["code_challenge_method=S256", "code_challenge=", "state=", "resource=", "redirect_uri="] {
        assert!(url.contains(key), "{key} missing from {url}");
    }
    let page = crate::http_client().get(&url).send().await.expect("following the authorization redirect");
    assert!(page.status().is_success(), "{}", page.status());
    // Drain the rest so the child never blocks on a full pipe.
    let rest = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>().join("\n"));
    let mut out = child.wait_with_output().expect("the login ends");
    out.stderr = rest.join().unwrap_or_default().into_bytes();
    out
}

#[tokio::test]
async fn switchboard_client_authorizes_in_a_browser_once_and_reuses_the_token() {
    let authz = AuthorizationServer::start();
    let dir = scratch("oauth-cli");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let (_upstream, resource) = protected_upstream(&dir, &authz.issuer);
    let creds = dir.join("cli-oauth.json").to_string_lossy().into_owned();
    let port = free_port().to_string();
    // First run: the CLI prints the authorization URL and waits; we are the browser.
    let base = ["client", "--url", &resource, "--oauth", "--oauth-client-id", "switchboard-cli"];
    let first = [&base[..], &["--oauth-credentials", &creds, "--oauth-port", &port, "--no-browser"]].concat();
    let out = browser_login(&[&first[..], &["tools", "call", "echo", "--arg", "message=first"]].concat()).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("first"));

    // A later run that must succeed without a browser: it echoes `message` and prints no URL.
    let unattended = |message: &str, why: &str| {
        let arg = format!("message={message}");
        let out = Command::new(switchboard_bin())
            .args(&first)
            .args(["tools", "call", "echo", "--arg", &arg])
            .output()
            .expect("switchboard client");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(String::from_utf8_lossy(&out.stdout).contains(message));
        assert!(!stderr.contains("/authorize?"), "{why}: {stderr}");
    };

    // Second run: the stored token is used; no browser, no URL.
    unattended("second", "asked to authorize again");

    // Third run, the access token expired meanwhile: it is refreshed with the refresh token,
    // still without a browser.
    let mut kept: Value = serde_json::from_slice(&std::fs::read(&creds).expect("credentials")).expect("JSON");
    let tokens = &mut kept["issuers"][&authz.issuer]["tokens"][&resource];
    assert!(tokens["refresh_token"].is_string(), "the authorization server issued a refresh token: {tokens}");
    tokens["expires_at"] = json!(1);
    std::fs::write(&creds, serde_json::to_vec(&kept).expect("JSON")).expect("rewriting the credentials");
    unattended("third", "asked to authorize instead of refreshing");
    let kept: Value = serde_json::from_slice(&std::fs::read(&creds).expect("credentials")).expect("JSON");
    // (The access token itself may be byte-identical: the server signs the same claims within the
    // same second, deterministically.)
    let renewed = &kept["issuers"][&authz.issuer]["tokens"][&resource];
    assert!(renewed["expires_at"].as_u64().is_some_and(|at| at > 1), "the refreshed token's expiry: {renewed}");
    #[cfg(unix)]
    assert_eq!(mode(std::path::Path::new(&creds)), 0o600);
}
