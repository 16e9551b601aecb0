//! The demonstration and conformance server: one of everything the runtime supports, under the
//! tool, prompt and resource names the official conformance suite expects. [`router`] is the
//! whole set (`switchboard serve --demo`, the `conformance-server` binary); [`basic_router`] only
//! `echo` and `add` (`serve --demo-basic`).
//!
//! **Invariant:** built only with `switchboard-mcp`'s public API (no private module, no feature
//! beyond `server`), so it doubles as the SDK's most complete example.
//! **Boundary:** the names and behaviours the conformance suite and our interop tests expect;
//! renaming anything here breaks them.

use std::collections::BTreeMap;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use switchboard_mcp::protocol::client::{
    CreateMessageParams, ElicitAction, ElicitParams, SamplingContent, SamplingMessage,
};
use switchboard_mcp::protocol::content::{ContentBlock, EmbeddedResource, ResourceContents, Role};
use switchboard_mcp::protocol::logging::LoggingLevel;
use switchboard_mcp::protocol::mrtr::{InputRequest, InputRequests, InputResponse};
use switchboard_mcp::protocol::prompts::{GetPromptResult, Prompt, PromptArgument, PromptMessage};
use switchboard_mcp::protocol::resources::{Resource, ResourceTemplate};
use switchboard_mcp::protocol::tools::{CallToolResult, Tool};
use switchboard_mcp::protocol::JsonObject;
use switchboard_mcp::server::{
    HandlerError, Json, NoArgs, Notifier, RequestContext, Router, RouterError, TaskSupport, ToolInfo,
};

/// A 1x1 transparent PNG.
pub const PNG_1X1: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=";
/// A tiny WAV file (44-byte header, no samples).
pub const WAV_EMPTY: &str = "UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YQAAAAA=";

#[derive(Deserialize, JsonSchema)]
struct Echo {
    /// The text to send back.
    message: String,
}

#[derive(Deserialize, JsonSchema)]
struct AddArgs {
    /// First addend.
    a: f64,
    /// Second addend.
    b: f64,
}

#[derive(Serialize, JsonSchema)]
struct Sum {
    /// a + b.
    sum: f64,
}

#[derive(Deserialize, JsonSchema)]
struct SlowArgs {
    /// How long to work, in milliseconds (at most 600000).
    ms: u64,
    /// Report progress this many times while working.
    #[serde(default)]
    steps: Option<u32>,
}

#[derive(Deserialize, JsonSchema)]
struct PromptArg {
    /// What to ask the model.
    prompt: String,
}

#[derive(Deserialize, JsonSchema)]
struct NameArg {
    /// Who to greet.
    name: String,
}

#[derive(Deserialize, JsonSchema)]
struct ComputeArgs {
    /// How long the computation takes.
    seconds: f64,
    /// A label for the result.
    #[serde(default)]
    label: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
struct FileArg {
    /// The file to delete.
    filename: String,
}

#[derive(Deserialize, JsonSchema)]
struct UriArg {
    /// The resource URI.
    uri: String,
}

#[derive(Deserialize, JsonSchema)]
struct MessageArg {
    /// What to tell the user.
    message: String,
}

fn text_prompt(role: Role, text: impl Into<String>) -> PromptMessage {
    PromptMessage { role, content: ContentBlock::text(text) }
}

fn embedded(uri: &str, text: &str) -> ContentBlock {
    ContentBlock::Resource(EmbeddedResource {
        resource: ResourceContents::text(uri, Some("text/plain"), text),
        annotations: None,
        meta: None,
    })
}

fn elicit_name() -> ElicitParams {
    let schema = json!({"type": "object", "properties": {"name": {"type": "string", "description": "Your name"}}, "required": ["name"]});
    ElicitParams::form("What is your name?", as_object(schema))
}

fn as_object(v: serde_json::Value) -> JsonObject {
    match v {
        serde_json::Value::Object(o) => o,
        _ => JsonObject::new(),
    }
}

fn ask(question: &str) -> CreateMessageParams {
    CreateMessageParams {
        messages: vec![SamplingMessage {
            role: Role::User,
            content: SamplingContent::One(Box::new(ContentBlock::text(question))),
            meta: None,
        }],
        model_preferences: None,
        system_prompt: None,
        include_context: None,
        temperature: None,
        max_tokens: 100,
        stop_sequences: None,
        metadata: None,
        tools: None,
        tool_choice: None,
        task: None,
        meta: None,
    }
}

fn sampled_text(content: &SamplingContent) -> String {
    let blocks: Vec<&ContentBlock> = match content {
        SamplingContent::One(b) => vec![&**b],
        SamplingContent::Many(v) => v.iter().collect(),
    };
    blocks.iter().filter_map(|b| b.as_text()).collect::<Vec<_>>().join(" ")
}

fn elicited_name(r: &switchboard_mcp::protocol::client::ElicitResult) -> Result<String, HandlerError> {
    if r.action != ElicitAction::Accept {
        return Err(HandlerError::msg(format!("the user chose to {:?}", r.action).to_lowercase()));
    }
    Ok(r.content.as_ref().and_then(|c| c.get("name")).and_then(|n| n.as_str()).unwrap_or("stranger").to_owned())
}

/// The two tools every server in `bench/compare.sh` serves, `echo` and `add`, and nothing else:
/// the demonstration's first two tools.
pub fn basic_router() -> Router {
    Router::new()
        .typed_tool(
            ToolInfo::new("echo", "Echoes the message back.").read_only(),
            |a: Echo, _| async move { a.message },
        )
        .typed_tool(ToolInfo::new("add", "Adds two numbers.").title("Add").read_only(), |a: AddArgs, _| async move {
            Json(Sum { sum: a.a + a.b })
        })
}

/// The demonstration's `echo` under another name and description, for configs that serve it
/// as a native tool (`native: demo.echo`, e.g. to measure a gateway's layers around the cheapest
/// possible tool).
pub fn echo_tool(router: Router, name: &str, description: &str) -> Router {
    router.typed_tool(ToolInfo::new(name, description).read_only(), |a: Echo, _| async move { a.message })
}

/// The demonstration router. `notifier` lets the trigger tools announce list changes.
pub fn router(notifier: Notifier) -> Result<Router, RouterError> {
    let tools_notifier = notifier.clone();
    let resources_notifier = notifier.clone();
    let prompts_notifier = notifier;
    let router = basic_router()
        .typed_tool(ToolInfo::new("slow", "Works for `ms` milliseconds, reporting progress; stops when cancelled."), |a: SlowArgs, ctx: RequestContext| async move {
            let ms = a.ms.min(600_000);
            let steps = a.steps.unwrap_or(0).max(1);
            for i in 1..=steps {
                tokio::select! {
                    _ = ctx.cancellation().cancelled() => return Err(HandlerError::msg("cancelled")),
                    _ = tokio::time::sleep(Duration::from_millis(ms / u64::from(steps))) => {}
                }
                if a.steps.is_some() {
                    ctx.progress(f64::from(i), Some(f64::from(steps)), Some("working")).await;
                }
            }
            Ok::<_, HandlerError>(format!("worked {ms} ms"))
        })
        .typed_tool(ToolInfo::new("panic", "Panics, to show that one failing request (or task) does not take the server down.").task_support(TaskSupport::Optional), |_: NoArgs, ctx: RequestContext| async move {
            ctx.run_as_task(|_| async move {
                if std::env::var_os("SWITCHBOARD_NEVER").is_none() {
                    panic!("deliberate panic from the panic tool");
                }
                Ok(CallToolResult::text("unreachable"))
            })
            .await
        })
        .typed_tool(ToolInfo::new("test_simple_text", "Returns simple text content."), |_: NoArgs, _| async move {
            "This is a simple text response for testing."
        })
        .typed_tool(ToolInfo::new("test_image_content", "Returns image content."), |_: NoArgs, _| async move {
            ContentBlock::image(PNG_1X1, "image/png")
        })
        .typed_tool(ToolInfo::new("test_audio_content", "Returns audio content."), |_: NoArgs, _| async move {
            ContentBlock::audio(WAV_EMPTY, "audio/wav")
        })
        .typed_tool(ToolInfo::new("test_embedded_resource", "Returns an embedded resource."), |_: NoArgs, _| async move {
            embedded("test://embedded-resource", "This is an embedded resource content.")
        })
        .typed_tool(ToolInfo::new("test_multiple_content_types", "Returns text, image and resource content."), |_: NoArgs, _| async move {
            vec![
                ContentBlock::text("Multiple content types test:"),
                ContentBlock::image(PNG_1X1, "image/png"),
                embedded("test://mixed-content-resource", "{\"test\":\"data\",\"value\":123}"),
            ]
        })
        .typed_tool(ToolInfo::new("test_error_handling", "Always fails with a tool error."), |_: NoArgs, _| async move {
            Err::<String, _>(HandlerError::msg("This tool intentionally returns an error for testing"))
        })
        .typed_tool(ToolInfo::new("test_tool_with_progress", "Reports progress 0, 50, 100 of 100."), |_: NoArgs, ctx: RequestContext| async move {
            for p in [0.0, 50.0, 100.0] {
                ctx.progress(p, Some(100.0), Some("working")).await;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            "Progress complete"
        })
        .typed_tool(ToolInfo::new("test_tool_with_logging", "Sends three info log messages while it runs."), |_: NoArgs, ctx: RequestContext| async move {
            for msg in ["Tool execution started", "Tool processing data", "Tool execution completed"] {
                ctx.log(LoggingLevel::Info, Some("fixture"), msg).await;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            "Logging complete"
        })
        .typed_tool(ToolInfo::new("test_logging_tool", "Logs at every level; sends nothing unless the request opted in."), |_: NoArgs, ctx: RequestContext| async move {
            for level in [LoggingLevel::Debug, LoggingLevel::Info, LoggingLevel::Warning, LoggingLevel::Error] {
                ctx.log(level, Some("fixture"), format!("a {level:?} message")).await;
            }
            "logged"
        })
        .typed_tool(ToolInfo::new("test_sampling", "Asks the client's model and returns its answer."), |a: PromptArg, ctx: RequestContext| async move {
            let answer = ctx.sample("sampling", ask(&a.prompt)).await?;
            Ok::<_, HandlerError>(format!("LLM response: {}", sampled_text(&answer.content)))
        })
        .typed_tool(ToolInfo::new("test_elicitation", "Asks the user for their name."), |a: MessageArg, ctx: RequestContext| async move {
            let mut params = elicit_name();
            params.message = a.message;
            let r = ctx.elicit("elicitation", params).await?;
            Ok::<_, HandlerError>(format!("User response: action={:?}, content={}", r.action, serde_json::to_string(&r.content).unwrap_or_default()))
        })
        .typed_tool(ToolInfo::new("test_missing_capability", "Needs the client's sampling capability."), |_: NoArgs, ctx: RequestContext| async move {
            let answer = ctx.sample("needs_sampling", ask("Say hello")).await?;
            Ok::<_, HandlerError>(sampled_text(&answer.content))
        })
        .typed_tool(ToolInfo::new("test_input_required_result_elicitation", "Greets the user after asking their name."), |_: NoArgs, ctx: RequestContext| async move {
            let r = ctx.elicit("user_name", elicit_name()).await?;
            Ok::<_, HandlerError>(format!("Hello, {}!", elicited_name(&r)?))
        })
        .typed_tool(ToolInfo::new("test_input_required_result_sampling", "Asks the model a question."), |_: NoArgs, ctx: RequestContext| async move {
            let answer = ctx.sample("capital_question", ask("What is the capital of France?")).await?;
            Ok::<_, HandlerError>(format!("The model said: {}", sampled_text(&answer.content)))
        })
        .typed_tool(ToolInfo::new("test_input_required_result_list_roots", "Lists the client's roots."), |_: NoArgs, ctx: RequestContext| async move {
            let roots = ctx.list_roots("client_roots").await?;
            let uris: Vec<_> = roots.roots.iter().map(|r| r.uri.as_str()).collect();
            Ok::<_, HandlerError>(format!("Client roots: {}", uris.join(", ")))
        })
        .typed_tool(ToolInfo::new("test_input_required_result_request_state", "Confirms, carrying state between rounds."), |_: NoArgs, ctx: RequestContext| async move {
            let mut requests = InputRequests::new();
            let schema = json!({"type": "object", "properties": {"confirm": {"type": "boolean"}}, "required": ["confirm"]});
            requests.insert("confirm".into(), InputRequest::elicit(&ElicitParams::form("Proceed?", as_object(schema))));
            ctx.request_input_with_state(requests, Some(json!({"marker": "state-ok"}))).await?;
            let marker = ctx.state().and_then(|s| s.get("marker")).and_then(|m| m.as_str()).unwrap_or("state-missing");
            Ok::<_, HandlerError>(format!("Confirmed with {marker}"))
        })
        .typed_tool(ToolInfo::new("test_input_required_result_tampered_state", "Carries state that must come back unaltered."), |_: NoArgs, ctx: RequestContext| async move {
            let mut requests = InputRequests::new();
            requests.insert("confirm".into(), InputRequest::elicit(&elicit_name()));
            ctx.request_input_with_state(requests, Some(json!({"marker": "state-ok"}))).await?;
            Ok::<_, HandlerError>("state verified")
        })
        .typed_tool(ToolInfo::new("test_input_required_result_multiple_inputs", "Asks for several inputs at once."), |_: NoArgs, ctx: RequestContext| async move {
            let mut requests = InputRequests::new();
            requests.insert("user_name".into(), InputRequest::elicit(&elicit_name()));
            requests.insert("greeting".into(), InputRequest::create_message(&ask("Write a one-line greeting")));
            requests.insert("client_roots".into(), InputRequest::list_roots());
            let answers = ctx.request_input_with_state(requests, Some(json!({"round": 1}))).await?;
            let name = match answers.get("user_name") {
                Some(InputResponse::Elicit(r)) => elicited_name(r)?,
                _ => "stranger".into(),
            };
            let greeting = match answers.get("greeting") {
                Some(InputResponse::CreateMessage(m)) => sampled_text(&m.content),
                _ => String::new(),
            };
            Ok::<_, HandlerError>(format!("{greeting} {name}"))
        })
        .typed_tool(ToolInfo::new("test_input_required_result_multi_round", "Asks in two rounds."), |_: NoArgs, ctx: RequestContext| async move {
            let first = ctx.elicit("step1", elicit_name()).await?;
            let name = elicited_name(&first)?;
            let mut requests = InputRequests::new();
            let schema = json!({"type": "object", "properties": {"color": {"type": "string"}}, "required": ["color"]});
            requests.insert("step2".into(), InputRequest::elicit(&ElicitParams::form(format!("{name}, favourite colour?"), as_object(schema))));
            let answers = ctx.request_input_with_state(requests, Some(json!({"name": name}))).await?;
            let color = match answers.get("step2") {
                Some(InputResponse::Elicit(r)) => r.content.as_ref().and_then(|c| c.get("color")).and_then(|c| c.as_str()).unwrap_or("none").to_owned(),
                _ => "none".into(),
            };
            Ok::<_, HandlerError>(format!("{name} likes {color}"))
        })
        .typed_tool(ToolInfo::new("test_input_required_result_capabilities", "Asks only for what the client declared."), |_: NoArgs, ctx: RequestContext| async move {
            let caps = ctx.client_capabilities();
            let mut requests = InputRequests::new();
            if caps.elicitation.is_some() {
                requests.insert("user_name".into(), InputRequest::elicit(&elicit_name()));
            }
            if caps.sampling.is_some() {
                requests.insert("greeting".into(), InputRequest::create_message(&ask("Write a greeting")));
            }
            if requests.is_empty() {
                return Ok::<_, HandlerError>("no input capabilities declared".to_owned());
            }
            let answers = ctx.request_input(requests).await?;
            Ok(format!("received {} answers", answers.len()))
        })
        .typed_tool(ToolInfo::new("test_streaming_elicitation", "Elicits through an input-required result, never a server request."), |_: NoArgs, ctx: RequestContext| async move {
            ctx.log(LoggingLevel::Info, Some("fixture"), "about to ask").await;
            let r = ctx.elicit("user_name", elicit_name()).await?;
            Ok::<_, HandlerError>(format!("Hello, {}!", elicited_name(&r)?))
        })
        .typed_tool(ToolInfo::new("test_elicitation_sep1034_defaults", "Elicits a form whose fields have defaults."), |_: NoArgs, ctx: RequestContext| async move {
            let schema = json!({"type": "object", "properties": {
                "name": {"type": "string", "default": "John Doe"},
                "age": {"type": "integer", "default": 30},
                "score": {"type": "number", "default": 95.5},
                "status": {"type": "string", "enum": ["active", "inactive", "pending"], "default": "active"},
                "verified": {"type": "boolean", "default": true}
            }});
            let r = ctx.elicit("defaults", ElicitParams::form("Please review and update the form fields with defaults", as_object(schema))).await?;
            Ok::<_, HandlerError>(format!("Elicitation completed: action={:?}, content={}", r.action, serde_json::to_string(&r.content).unwrap_or_default()))
        })
        .typed_tool(ToolInfo::new("test_elicitation_sep1330_enums", "Elicits every kind of enum field."), |_: NoArgs, ctx: RequestContext| async move {
            let schema = json!({"type": "object", "properties": {
                "untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
                "titledSingle": {"type": "string", "oneOf": [{"const": "value1", "title": "First Option"}, {"const": "value2", "title": "Second Option"}]},
                "legacyEnum": {"type": "string", "enum": ["opt1", "opt2"], "enumNames": ["Option One", "Option Two"]},
                "untitledMulti": {"type": "array", "items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
                "titledMulti": {"type": "array", "items": {"anyOf": [{"const": "value1", "title": "First Choice"}, {"const": "value2", "title": "Second Choice"}]}}
            }});
            let r = ctx.elicit("enums", ElicitParams::form("Please select options from the enum fields", as_object(schema))).await?;
            Ok::<_, HandlerError>(format!("Elicitation completed: action={:?}", r.action))
        })
        .typed_tool(ToolInfo::new("test_trigger_tool_change", "Announces that the tool list changed."), move |_: NoArgs, _| {
            let n = tools_notifier.clone();
            async move {
                n.tools_changed();
                "tool list change announced"
            }
        })
        .typed_tool(ToolInfo::new("test_trigger_prompt_change", "Announces that the prompt list changed."), move |_: NoArgs, _| {
            let n = prompts_notifier.clone();
            async move {
                n.prompts_changed();
                "prompt list change announced"
            }
        })
        .typed_tool(ToolInfo::new("test_trigger_resource_update", "Announces that a resource's contents changed."), move |a: UriArg, _| {
            let n = resources_notifier.clone();
            async move {
                n.resource_updated(&a.uri);
                format!("update of {} announced", a.uri)
            }
        })
        .typed_tool(ToolInfo::new("greet", "Greets someone, synchronously."), |a: NameArg, _| async move { format!("Hello, {}!", a.name) })
        .typed_tool(
            ToolInfo::new("slow_compute", "Computes for a while; runs as a task when the client follows tasks.").task_support(TaskSupport::Optional),
            |a: ComputeArgs, ctx: RequestContext| async move {
                ctx.run_as_task(move |ctx| async move {
                    let label = a.label.unwrap_or_else(|| "result".into());
                    let wait = Duration::from_secs_f64(a.seconds.clamp(0.0, 600.0));
                    tokio::select! {
                        _ = ctx.cancellation().cancelled() => Err(HandlerError::msg("cancelled")),
                        _ = tokio::time::sleep(wait) => Ok(CallToolResult::text(format!("computed {label} in {} s", a.seconds))),
                    }
                })
                .await
            },
        )
        .typed_tool(
            ToolInfo::new("failing_job", "A job that ends in a tool error; it runs only as a task.").task_support(TaskSupport::Required),
            |_: NoArgs, ctx: RequestContext| async move {
                ctx.run_as_task(|_| async move {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    Err(HandlerError::msg("the job failed: the input was rejected"))
                })
                .await
            },
        )
        .typed_tool(
            ToolInfo::new("protocol_error_job", "A job that ends in a protocol error.").task_support(TaskSupport::Optional),
            |_: NoArgs, ctx: RequestContext| async move {
                ctx.run_as_task(|_| async move {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    Err(HandlerError::rpc(switchboard_mcp::protocol::ErrorObject::internal("the job's backend refused the request")))
                })
                .await
            },
        )
        .typed_tool(
            ToolInfo::new("confirm_delete", "Deletes a file after the user confirms.").task_support(TaskSupport::Optional),
            |a: FileArg, ctx: RequestContext| async move {
                ctx.run_as_task(move |ctx| async move {
                    let schema = json!({"type": "object", "properties": {"confirm": {"type": "boolean"}}, "required": ["confirm"]});
                    let r = ctx.elicit("confirm", ElicitParams::form(format!("Delete {}?", a.filename), as_object(schema))).await?;
                    let yes = r.action == ElicitAction::Accept && r.content.as_ref().and_then(|c| c.get("confirm")).and_then(|v| v.as_bool()) == Some(true);
                    Ok(CallToolResult::text(if yes { format!("deleted {}", a.filename) } else { format!("kept {}", a.filename) }))
                })
                .await
            },
        )
        .typed_tool(
            ToolInfo::new("approval_job", "A job that asks the user to approve it while it runs; it runs only as a task.").task_support(TaskSupport::Required),
            |_: NoArgs, ctx: RequestContext| async move {
                ctx.run_as_task(|ctx| async move {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    let schema = json!({"type": "object", "properties": {"approve": {"type": "boolean"}}, "required": ["approve"]});
                    let r = ctx.elicit("approve", ElicitParams::form("Approve the job?", as_object(schema))).await?;
                    let yes = r.action == ElicitAction::Accept && r.content.as_ref().and_then(|c| c.get("approve")).and_then(|v| v.as_bool()) == Some(true);
                    Ok(CallToolResult::text(if yes { "the job ran" } else { "the job was not approved" }))
                })
                .await
            },
        )
        .typed_tool(
            ToolInfo::new("multi_input", "Asks two questions at once while running as a task.").task_support(TaskSupport::Optional),
            |_: NoArgs, ctx: RequestContext| async move {
                ctx.run_as_task(|ctx| async move {
                    let mut requests = InputRequests::new();
                    requests.insert("first".into(), InputRequest::elicit(&elicit_name()));
                    requests.insert("second".into(), InputRequest::elicit(&elicit_name()));
                    let answers = ctx.request_input(requests).await?;
                    Ok(CallToolResult::text(format!("received {} answers", answers.len())))
                })
                .await
            },
        )
        .typed_tool(
            ToolInfo::new("test_tool_with_task", "Asks for a name, then greets as a task.").task_support(TaskSupport::Required),
            |_: NoArgs, ctx: RequestContext| async move {
                let r = ctx.elicit("user_name", elicit_name()).await?;
                let name = elicited_name(&r)?;
                ctx.run_as_task(move |_| async move {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    Ok(CallToolResult::text(format!("Hello, {name}! The task is complete.")))
                })
                .await
            },
        )
        .tool(custom_header_tool(), |args, _| async move {
            let region = args.as_object().get("region").and_then(|v| v.as_str()).unwrap_or("").to_owned();
            Ok(CallToolResult::text(format!("region: {region}")))
        })
        .tool(json_schema_tool(), |args, _| async move { Ok(CallToolResult::text(format!("received {}", serde_json::Value::Object(args.into_object())))) })
        .text_resource(described(Resource::new("test://static-text", "static-text"), "A static text resource", "text/plain"), "This is the content of the static text resource.")
        .resource(described(Resource::new("test://static-binary", "static-binary"), "A static binary resource", "image/png"), |uri, _| async move {
            Ok(vec![ResourceContents::blob(uri, Some("image/png"), PNG_1X1)])
        })
        .text_resource(described(Resource::new("test://watched-resource", "watched-resource"), "A resource to subscribe to", "text/plain"), "Watched resource content")
        .prompt(prompt("test_simple_prompt", "A simple prompt without arguments", &[]), |_, _| async move {
            Ok(GetPromptResult { messages: vec![text_prompt(Role::User, "This is a simple prompt for testing.")], ..Default::default() })
        })
        .prompt(prompt("test_prompt_with_arguments", "A prompt with arguments", &[("arg1", "First test argument"), ("arg2", "Second test argument")]), |args, _| async move {
            let get = |k: &str| args.get(k).cloned().unwrap_or_default();
            Ok(GetPromptResult {
                messages: vec![text_prompt(Role::User, format!("Prompt with arguments: arg1='{}', arg2='{}'", get("arg1"), get("arg2")))],
                ..Default::default()
            })
        })
        .prompt(prompt("test_prompt_with_embedded_resource", "A prompt that embeds a resource", &[("resourceUri", "URI of the resource to embed")]), |args, _| async move {
            let uri = args.get("resourceUri").cloned().unwrap_or_default();
            Ok(GetPromptResult {
                messages: vec![
                    PromptMessage { role: Role::User, content: embedded(&uri, "Embedded resource content for testing.") },
                    text_prompt(Role::User, "Please process the embedded resource above."),
                ],
                ..Default::default()
            })
        })
        .prompt(prompt("test_prompt_with_image", "A prompt with an image", &[]), |_, _| async move {
            Ok(GetPromptResult {
                messages: vec![
                    PromptMessage { role: Role::User, content: ContentBlock::image(PNG_1X1, "image/png") },
                    text_prompt(Role::User, "Please analyze the image above."),
                ],
                ..Default::default()
            })
        })
        .prompt(prompt("test_input_required_result_prompt", "A prompt that asks for context first", &[]), |_, ctx| async move {
            let r = ctx.elicit("user_context", elicit_name()).await?;
            Ok(GetPromptResult { messages: vec![text_prompt(Role::User, format!("Context from {}", elicited_name(&r)?))], ..Default::default() })
        })
        .prompt_completion("test_prompt_with_arguments", "arg1", |value, _| async move {
            Ok(["paris", "park", "parrot", "london"].iter().filter(|c| c.starts_with(&value)).map(|c| c.to_string()).collect())
        });
    router.resource_template(
        ResourceTemplate {
            uri_template: "test://template/{id}/data".into(),
            name: "template".into(),
            title: None,
            description: Some("A resource template with an id".into()),
            mime_type: Some("application/json".into()),
            icons: None,
            annotations: None,
            meta: None,
        },
        |uri, vars: BTreeMap<String, String>, _| async move {
            let id = vars.get("id").cloned().unwrap_or_default();
            let body = json!({"id": id, "templateTest": true, "data": format!("Data for ID: {id}")});
            Ok(Some(vec![ResourceContents::text(uri, Some("application/json"), body.to_string())]))
        },
    )
}

fn described(mut r: Resource, description: &str, mime: &str) -> Resource {
    r.description = Some(description.into());
    r.mime_type = Some(mime.into());
    r
}

fn prompt(name: &str, description: &str, args: &[(&str, &str)]) -> Prompt {
    Prompt {
        name: name.into(),
        title: None,
        description: Some(description.into()),
        arguments: (!args.is_empty()).then(|| {
            args.iter()
                .map(|(n, d)| PromptArgument {
                    name: (*n).into(),
                    title: None,
                    description: Some((*d).into()),
                    required: Some(true),
                })
                .collect()
        }),
        icons: None,
        meta: None,
    }
}

/// A tool with an argument mirrored into the `Mcp-Param-Region` header on Streamable HTTP.
fn custom_header_tool() -> Tool {
    let schema = json!({
        "type": "object",
        "properties": {"region": {"type": "string", "description": "Where to run.", "x-mcp-header": "Region"}},
        "required": ["region"]
    });
    Tool::new("test_custom_header", "Echoes an argument that travels in a header too.", as_object(schema))
}

/// A tool whose schema uses JSON Schema 2020-12 features, passed through verbatim.
fn json_schema_tool() -> Tool {
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "$defs": {"address": {"$anchor": "addr", "type": "object", "properties": {"street": {"type": "string"}, "city": {"type": "string"}}}},
        "properties": {
            "name": {"type": "string"},
            "address": {"$ref": "#/$defs/address"},
            "contact": {"oneOf": [{"type": "string", "format": "email"}, {"type": "string", "pattern": "^\\+?[0-9 ]+$"}]},
            "email": {"type": "string", "format": "email"},
            "phone": {"type": "string"},
            "kind": {"type": "string", "enum": ["person", "org"]},
            "orgId": {"type": "string"}
        },
        "allOf": [{"required": ["name"]}, {"anyOf": [{"required": ["email"]}, {"required": ["phone"]}, {"required": ["contact"]}]}],
        "if": {"properties": {"kind": {"const": "org"}}, "required": ["kind"]},
        "then": {"required": ["orgId"]},
        "else": {"not": {"required": ["orgId"]}},
        "additionalProperties": false
    });
    Tool::new(
        "json_schema_2020_12_tool",
        "Accepts arguments described with JSON Schema 2020-12 features.",
        as_object(schema),
    )
}
