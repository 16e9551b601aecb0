//! `conformance-client`: the client the official MCP conformance suite drives
//! (`conformance client --command "conformance-client"`). The scenario comes from
//! `MCP_CONFORMANCE_SCENARIO`, the server URL is the last argument, the era from
//! `MCP_CONFORMANCE_PROTOCOL_VERSION`, and per-scenario inputs from `MCP_CONFORMANCE_CONTEXT`.
//!
//! Every scenario runs the same client runtime as `switchboard client`; the scenario only picks
//! what to exercise: list the tools and call each (with the context's arguments, or arguments
//! made from the schema), then read every resource and get every prompt.

use std::process::ExitCode;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde_json::{json, Map, Value};
use switchboard_mcp::client::oauth::{CredentialStore, FollowRedirect, Grant, OAuth, OAuthOptions, SigningKey};
use switchboard_mcp::client::{full_capabilities, Client, ClientHandler, ClientOptions, EraChoice, HttpTarget, Target};
use switchboard_mcp::protocol::client::{
    CreateMessageParams, CreateMessageResult, ElicitAction, ElicitParams, ElicitResult, ListRootsResult, Root,
    SamplingContent,
};
use switchboard_mcp::protocol::content::{ContentBlock, Role};
use switchboard_mcp::protocol::lifecycle::ClientCapabilities;
use switchboard_mcp::protocol::{ErrorObject, ProtocolVersion};

fn main() -> ExitCode {
    switchboard::logging::init("info", false);
    let Some(url) = std::env::args().skip(1).last() else {
        eprintln!("usage: MCP_CONFORMANCE_SCENARIO=<scenario> conformance-client <server-url>");
        return ExitCode::from(2);
    };
    let scenario = std::env::var("MCP_CONFORMANCE_SCENARIO").unwrap_or_default();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("conformance-client: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(&scenario, &url)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("conformance-client: {scenario}: {e}");
            ExitCode::from(1)
        }
    }
}

async fn run(scenario: &str, url: &str) -> Result<(), Box<dyn std::error::Error>> {
    let era =
        match std::env::var("MCP_CONFORMANCE_PROTOCOL_VERSION").ok().and_then(|v| v.parse::<ProtocolVersion>().ok()) {
            Some(v) if v.is_modern() => EraChoice::Modern(v),
            Some(v) => EraChoice::Legacy(v),
            None => EraChoice::Auto,
        };
    let context: Value = std::env::var("MCP_CONFORMANCE_CONTEXT")
        .ok()
        .and_then(|c| serde_json::from_str(&c).ok())
        .unwrap_or(Value::Null);
    let options = ClientOptions { era, ..ClientOptions::default() };
    let mut target = HttpTarget::new(url);
    if scenario.starts_with("auth/") {
        target.auth = Some(Arc::new(oauth(url, &context)?));
    }
    let client = Client::connect(Target::Http(target), Conformance, options).await?;
    let outcome = exercise(&client, scenario, &context).await;
    client.close().await;
    outcome
}

/// The suite's fixed client metadata document URL, used where the server supports them.
const CIMD_URL: &str = "https://conformance-test.local/client-metadata.json";

/// The OAuth client for `auth/*` scenarios: the suite's authorization servers approve at once,
/// so the redirect is read from the authorization endpoint's answer instead of a browser.
/// Pre-registered credentials come from the scenario's context.
fn oauth(url: &str, context: &Value) -> Result<OAuth, Box<dyn std::error::Error>> {
    let scenario_is = |name: &str| std::env::var("MCP_CONFORMANCE_SCENARIO").is_ok_and(|s| s == name);
    let text = |key: &str| context.get(key).and_then(Value::as_str).map(str::to_owned);
    // The machine-to-machine extensions say which grant they test through their context.
    let grant = if let (Some(endpoint), Some(id_token)) = (text("idp_token_endpoint"), text("idp_id_token")) {
        Grant::IdentityAssertion {
            idp_token_endpoint: endpoint,
            idp_client_id: text("idp_client_id").unwrap_or_default(),
            idp_client_secret: None,
            id_token,
        }
    } else if let Some(assertion) = text("valid_jwt") {
        Grant::JwtBearer { assertion }
    } else if text("private_key_pem").is_some() || scenario_is("auth/client-credentials-basic") {
        Grant::ClientCredentials
    } else {
        Grant::AuthorizationCode
    };
    let private_key = text("private_key_pem")
        .map(|pem| SigningKey { pem, algorithm: text("signing_algorithm").unwrap_or_else(|| "ES256".into()) });
    let options = OAuthOptions {
        grant,
        private_key,
        client_name: "switchboard-conformance".into(),
        client_id: text("client_id"),
        client_secret: text("client_secret"),
        client_metadata_url: Some(CIMD_URL.into()),
        ..OAuthOptions::default()
    };
    let agent = Arc::new(FollowRedirect::new("http://localhost:3000/callback")?);
    Ok(OAuth::new(url, options, Arc::new(CredentialStore::memory()), agent)?)
}

/// Lists and calls the tools, then reads resources and gets prompts the server offers.
async fn exercise(client: &Client, scenario: &str, context: &Value) -> Result<(), Box<dyn std::error::Error>> {
    if client.is_modern() {
        client.discover().await?;
    }
    let tools = client.list_all_tools().await?;
    let planned: Vec<(String, Value)> = match context.get("toolCalls").and_then(Value::as_array) {
        Some(calls) => calls
            .iter()
            .filter_map(|c| {
                Some((c.get("name")?.as_str()?.to_owned(), c.get("arguments").cloned().unwrap_or(json!({}))))
            })
            .collect(),
        None => tools
            .iter()
            .filter(|t| t.name != "json_schema_echo")
            .map(|t| {
                let args = if tools.iter().any(|e| e.name == "json_schema_echo") {
                    // The schema-preservation scenario: echo the schema back exactly as listed.
                    json!({ "schema": t.input_schema })
                } else {
                    arguments_for(&Value::Object((*t.input_schema).clone()))
                };
                let name =
                    if tools.iter().any(|e| e.name == "json_schema_echo") { "json_schema_echo" } else { &t.name };
                (name.to_owned(), args)
            })
            .collect(),
    };
    for (name, args) in planned {
        // A tool error is the server's answer, not a client failure.
        if let Err(e) = client.call_tool_raw(&name, args, Default::default()).await {
            tracing::warn!(scenario, tool = %name, error = %e, "tool call failed");
        }
    }
    let caps = client.capabilities();
    if caps.resources.is_some() {
        for resource in client.list_all_resources().await? {
            client.read_resource(&resource.uri).await?;
        }
    }
    if caps.prompts.is_some() {
        for prompt in client.list_all_prompts().await? {
            let mut args = Map::new();
            for arg in prompt.arguments.iter().flatten() {
                args.insert(arg.name.clone(), json!("test"));
            }
            client.get_prompt(&prompt.name, args).await?;
        }
    }
    Ok(())
}

/// Arguments that satisfy a schema's types: defaults first, then a plain value per type.
fn arguments_for(schema: &Value) -> Value {
    let mut args = Map::new();
    for (name, prop) in schema.get("properties").and_then(Value::as_object).into_iter().flatten() {
        args.insert(name.clone(), value_for(prop));
    }
    Value::Object(args)
}

fn value_for(prop: &Value) -> Value {
    if let Some(d) = prop.get("default") {
        return d.clone();
    }
    if let Some(first) = prop.get("enum").and_then(Value::as_array).and_then(|e| e.first()) {
        return first.clone();
    }
    match prop.get("type").and_then(Value::as_str) {
        Some("number") => json!(2),
        Some("integer") => json!(3),
        Some("boolean") => json!(true),
        Some("array") => json!([]),
        Some("object") => arguments_for(prop),
        _ => json!("test"),
    }
}

/// Answers everything: sampling with a fixed reply, elicitation accepted (the runtime fills in
/// the schema's defaults; other fields get plain values), roots with one directory.
struct Conformance;

impl ClientHandler for Conformance {
    fn capabilities(&self) -> ClientCapabilities {
        full_capabilities()
    }

    fn create_message(
        &self,
        _params: CreateMessageParams,
    ) -> BoxFuture<'static, Result<CreateMessageResult, ErrorObject>> {
        Box::pin(async {
            Ok(CreateMessageResult {
                role: Role::Assistant,
                content: SamplingContent::One(Box::new(ContentBlock::text("This is a test response from the client"))),
                model: "switchboard-conformance".into(),
                stop_reason: Some("endTurn".into()),
                meta: None,
            })
        })
    }

    fn elicit(&self, params: ElicitParams) -> BoxFuture<'static, Result<ElicitResult, ErrorObject>> {
        Box::pin(async move {
            let mut content = Map::new();
            let props = params.requested_schema.as_ref().and_then(|s| s.get("properties")).and_then(Value::as_object);
            for (name, prop) in props.into_iter().flatten() {
                if prop.get("default").is_none() {
                    content.insert(name.clone(), value_for(prop));
                }
            }
            Ok(ElicitResult { action: ElicitAction::Accept, content: Some(content), meta: None })
        })
    }

    fn list_roots(&self) -> BoxFuture<'static, Result<ListRootsResult, ErrorObject>> {
        Box::pin(async {
            Ok(ListRootsResult {
                roots: vec![Root { uri: "file:///tmp".into(), name: Some("tmp".into()), meta: None }],
                meta: None,
            })
        })
    }
}
