//! Upstream MCP servers as catalog entries: each tool, prompt, resource and resource template an
//! upstream lists becomes one service on our `Router`, under the upstream's namespace, that
//! forwards the call through the SDK client (`switchboard_mcp::client`). The guardrails wrap them
//! like any other tool. Modules: `auth` (OAuth for protected upstreams), `runtime` (connections, supervision, discovery), `bridge` (what
//! the upstream sends us: its requests to the right caller, its notifications), `target` (config
//! → client target), `names` (namespacing and tool transformation).

pub mod auth;
mod bridge;
mod names;
mod runtime;
mod target;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Map, Value};
use switchboard_mcp::client::RequestOptions;
use switchboard_mcp::server::{
    CompletionRequest, CompletionService, HandlerError, PromptRequest, PromptService, RequestContext, ResourceRequest,
    ResourceService, Router, ToolRequest, ToolService,
};
use switchboard_protocol::completion::Completion;
use switchboard_protocol::content::ResourceContents;
use switchboard_protocol::prompts::GetPromptResult;
use switchboard_protocol::tools::CallToolResult;
use switchboard_protocol::ErrorObject;
use tower::service_fn;

pub use self::names::{Naming, URI_SCHEME};
pub(crate) use self::runtime::Upstream;
pub use self::runtime::{Discovery, Status, UpstreamError, Upstreams};
pub use self::target::target;
use crate::config::ToolTransform;
use crate::source::RegisterError;

/// What registering an upstream added, by served name (for conflict messages and breakers).
#[derive(Debug, Default)]
pub(crate) struct Offered {
    /// Served tool name → the upstream's own name.
    pub tools: Vec<(String, String)>,
    /// Served prompt names.
    pub prompts: Vec<(String, String)>,
    /// Served resource URIs and URI templates.
    pub resources: Vec<String>,
}

/// Adds everything `discovery` lists for `upstream` to `router`, named by `naming`.
pub(crate) fn register(
    mut router: Router,
    upstream: &Arc<Upstream>,
    discovery: &Discovery,
    naming: &Naming,
) -> Result<(Router, Offered), RegisterError> {
    let mut offered = Offered::default();
    let spec = &upstream.spec;
    let prefix = spec.prefix.as_deref().unwrap_or(&upstream.name);
    for tool in &discovery.tools {
        if !names::included(spec, &tool.name) {
            continue;
        }
        let transform = spec.tools.get(&tool.name).cloned().unwrap_or_default();
        let served = names::transform_tool(tool, naming.tool_name(prefix, &tool.name, &transform), &transform)
            .map_err(|m| RegisterError::Invalid(format!("upstreams.{}.tools.{}: {m}", upstream.name, tool.name)))?;
        let mut served = served;
        // The gateway waits for an upstream task itself, so a client need not follow tasks.
        if let Some(execution) = served.execution.as_mut().filter(|e| e.get("taskSupport") == Some(&json!("required")))
        {
            execution.insert("taskSupport".into(), json!("optional"));
        }
        offered.tools.push((served.name.clone(), tool.name.clone()));
        router = router.tool_service(served, tool_service(upstream.clone(), tool.name.clone(), transform));
    }
    for unknown in spec.tools.keys().filter(|t| !discovery.tools.iter().any(|d| &d.name == *t)) {
        tracing::warn!(target: "switchboard::upstream", upstream = %upstream.name, tool = %unknown, "upstreams.{}.tools names a tool the upstream does not list", upstream.name);
    }
    for prompt in &discovery.prompts {
        let mut served = prompt.clone();
        served.name = naming.name(prefix, &prompt.name);
        offered.prompts.push((served.name.clone(), prompt.name.clone()));
        if discovery.completions {
            let reference = serde_json::json!({"type": "ref/prompt", "name": prompt.name});
            for argument in prompt.arguments.iter().flatten() {
                let service = completion_service(upstream.clone(), reference.clone(), argument.name.clone());
                router = router.prompt_completion_service(&served.name, &argument.name, service);
            }
        }
        router = router.prompt_service(served, prompt_service(upstream.clone(), prompt.name.clone()));
    }
    let uris = naming.uris(prefix);
    upstream.set_uris(uris.clone());
    for resource in &discovery.resources {
        let mut served = resource.clone();
        served.uri = uris.served(&resource.uri);
        offered.resources.push(served.uri.clone());
        router = router.resource_service(served, resource_service(upstream.clone(), uris.clone()));
    }
    for template in &discovery.templates {
        let mut served = template.clone();
        served.uri_template = uris.served(&template.uri_template);
        offered.resources.push(served.uri_template.clone());
        if discovery.completions {
            let reference = serde_json::json!({"type": "ref/resource", "uri": template.uri_template});
            for variable in names::template_variables(&template.uri_template) {
                let service = completion_service(upstream.clone(), reference.clone(), variable.clone());
                router = router.template_completion_service(&served.uri_template, &variable, service);
            }
        }
        router = router.template_service(served, resource_service(upstream.clone(), uris.clone()))?;
    }
    Ok((router, offered))
}

fn tool_service(upstream: Arc<Upstream>, name: String, transform: ToolTransform) -> ToolService {
    let (name, transform) = (Arc::<str>::from(name), Arc::new(transform));
    ToolService::new(service_fn(move |request: ToolRequest| {
        let (upstream, name, transform) = (upstream.clone(), name.clone(), transform.clone());
        let ToolRequest { args, ctx, .. } = request;
        // A client that follows tasks gets one of ours (the call to the upstream, itself a task
        // there if the tool needs one, runs inside it); others wait for the result.
        let task_ctx = ctx.clone();
        async move {
            task_ctx
                .run_as_task(move |ctx| async move {
                    let mut args = args.into_object();
                    names::apply_arguments(&transform, &mut args);
                    let result = forward(&upstream, &ctx, |client, options| {
                        let name = name.clone();
                        async move { client.call_tool_raw(&name, Value::Object(args), options).await }
                    })
                    .await?;
                    serde_json::from_value::<CallToolResult>(result).map_err(|e| {
                        HandlerError::msg(format!(
                            "upstream {}: its result of {name} does not match the schema: {e}",
                            upstream.name
                        ))
                    })
                })
                .await
        }
    }))
}

fn prompt_service(upstream: Arc<Upstream>, name: String) -> PromptService {
    let name = Arc::<str>::from(name);
    PromptService::new(service_fn(move |request: PromptRequest| {
        let (upstream, name) = (upstream.clone(), name.clone());
        async move {
            let arguments: Map<String, Value> =
                request.arguments.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
            let result = forward(&upstream, &request.ctx, |client, options| {
                let params = serde_json::json!({"name": &*name, "arguments": arguments});
                async move { client.request_with(switchboard_protocol::methods::PROMPTS_GET, params, options).await }
            })
            .await?;
            serde_json::from_value::<GetPromptResult>(result).map_err(|e| {
                HandlerError::msg(format!(
                    "upstream {}: its prompt {name} does not match the schema: {e}",
                    upstream.name
                ))
            })
        }
    }))
}

/// Completes one argument of an upstream prompt or template variable by asking the upstream
/// (`reference` names its own prompt or template); the other arguments go along as context.
fn completion_service(upstream: Arc<Upstream>, reference: Value, argument: String) -> CompletionService {
    CompletionService::new(service_fn(move |request: CompletionRequest| {
        let (upstream, reference, argument) = (upstream.clone(), reference.clone(), argument.clone());
        async move {
            let result =
                forward(&upstream, &request.ctx, |client, options| {
                    let mut params = serde_json::json!({
                        "ref": reference,
                        "argument": {"name": argument, "value": request.value},
                    });
                    if !request.context.is_empty() {
                        params["context"] = serde_json::json!({ "arguments": request.context });
                    }
                    async move {
                        client.request_with(switchboard_protocol::methods::COMPLETION_COMPLETE, params, options).await
                    }
                })
                .await?;
            // Values, and the upstream's own total and hasMore, as it gave them.
            let completion = result.get("completion").cloned().unwrap_or(Value::Object(Map::new()));
            serde_json::from_value::<Completion>(completion).map_err(|e| {
                HandlerError::msg(format!("upstream {}: its completion does not match the schema: {e}", upstream.name))
            })
        }
    }))
}

fn resource_service(upstream: Arc<Upstream>, uris: names::Uris) -> ResourceService {
    ResourceService::new(service_fn(move |request: ResourceRequest| {
        let (upstream, uris) = (upstream.clone(), uris.clone());
        async move {
            let Some(original) = uris.original(&request.uri).map(str::to_owned) else { return Ok(None) };
            let result = forward(&upstream, &request.ctx, |client, options| {
                let params = serde_json::json!({"uri": original});
                async move { client.request_with(switchboard_protocol::methods::RESOURCES_READ, params, options).await }
            })
            .await;
            let result = match result {
                Ok(r) => r,
                // Nothing at that URI upstream: nothing at ours either.
                Err(e) if e.error_code() == Some(switchboard_protocol::ErrorCode::RESOURCE_NOT_FOUND) => {
                    return Ok(None)
                }
                Err(e) => return Err(e),
            };
            let contents = result.get("contents").cloned().unwrap_or(Value::Array(Vec::new()));
            let mut contents: Vec<ResourceContents> = serde_json::from_value(contents).map_err(|e| {
                HandlerError::msg(format!(
                    "upstream {}: its contents of {original} do not match the schema: {e}",
                    upstream.name
                ))
            })?;
            for c in &mut contents {
                let uri = match c {
                    ResourceContents::Text(t) => &mut t.uri,
                    ResourceContents::Blob(b) => &mut b.uri,
                };
                *uri = uris.served(uri);
            }
            Ok(Some(contents))
        }
    }))
}

/// Sends one request to the upstream for the downstream call `ctx`: the upstream started if it
/// is not running, progress passed back, the time limit the smaller of the upstream's and the
/// caller's, its input requests routed to this caller, and failures named after the upstream.
async fn forward<F, Fut>(upstream: &Arc<Upstream>, ctx: &RequestContext, send: F) -> Result<Value, HandlerError>
where
    F: FnOnce(Arc<switchboard_mcp::client::Client>, RequestOptions) -> Fut,
    Fut: std::future::Future<Output = Result<Value, switchboard_mcp::client::ClientError>>,
{
    let _busy = upstream.begin();
    let client = upstream.client().await.map_err(handler_error)?;
    let _turn = upstream.turn(ctx.deadline()).await.map_err(handler_error)?;
    let (_registered, slot) = upstream.calls.enter(ctx.clone());
    let left = ctx.deadline().saturating_duration_since(tokio::time::Instant::now());
    let timeout = upstream.request_timeout().min(left.max(std::time::Duration::from_millis(1)));
    // Progress is relayed only for a caller that asked for it (no task per call otherwise).
    let mut relay = None;
    let mut options = RequestOptions { timeout: Some(timeout), on_progress: None };
    if ctx.wants_progress() {
        let (progress_tx, mut progress_rx) = tokio::sync::mpsc::unbounded_channel();
        options.on_progress = Some(Box::new(move |p: switchboard_protocol::notifications::ProgressParams| {
            let _ = progress_tx.send(p);
        }));
        let relay_ctx = ctx.clone();
        relay = Some(tokio::spawn(async move {
            while let Some(p) = progress_rx.recv().await {
                let progress = p.progress.as_f64().unwrap_or_default();
                relay_ctx.progress(progress, p.total.and_then(|t| t.as_f64()), p.message.as_deref()).await;
            }
        }));
    }
    let call = slot.clone().scope(send(client.clone(), options));
    let outcome = tokio::select! {
        input = slot.needs_input() => Err(input),
        // The call may have failed on the very answer that asked the downstream client first.
        outcome = call => slot.take_input().map_or(Ok(outcome), Err),
    };
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(input) => {
            if let Some(relay) = relay {
                relay.abort();
            }
            return Err(input);
        }
    };
    // The client delivered every progress notification before the result: pass them on first.
    if let Some(relay) = relay {
        let _ = relay.await;
    }
    outcome.map_err(|e| handler_error(upstream.error(&client, e)))
}

fn handler_error(e: UpstreamError) -> HandlerError {
    match &e {
        UpstreamError::Unavailable { .. } => HandlerError::unavailable(e.to_string()),
        UpstreamError::Timeout { .. } => HandlerError::timed_out(e.to_string()),
        UpstreamError::Failed { rpc: Some(error), name, .. } => {
            let mut error: ErrorObject = error.clone();
            error.message = format!("upstream {name}: {}", error.message);
            HandlerError::rpc(error)
        }
        UpstreamError::Failed { rpc: None, .. } => HandlerError::msg(e.to_string()),
    }
}

/// The served names of `offered`, for checking conflicts: name → where it came from.
pub(crate) fn origins(upstream: &str, offered: &Offered) -> BTreeMap<String, String> {
    offered
        .tools
        .iter()
        .map(|(served, original)| (served.clone(), format!("upstream {upstream} (its tool {original:?})")))
        .collect()
}
