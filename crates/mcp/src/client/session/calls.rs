//! The [`Client`]'s typed calls: one method per MCP request a client makes, each a thin typed
//! wrapper over the session's request path (era, `_meta`, headers, rounds, cache).

use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};
use switchboard_protocol::completion::CompleteResult;
use switchboard_protocol::logging::LoggingLevel;
use switchboard_protocol::methods;
use switchboard_protocol::prompts::{GetPromptResult, Prompt};
use switchboard_protocol::resources::{ReadResourceResult, Resource, ResourceTemplate};
use switchboard_protocol::subscriptions::SubscriptionFilter;
use switchboard_protocol::tools::{CallToolResult, Tool};
use tokio::sync::broadcast;

use super::*;

impl Client {
    /// `server/discover` (modern servers; a legacy server gets the result of `initialize`).
    pub async fn discover(&self) -> Result<Value, ClientError> {
        if self.is_modern() {
            return self.request(methods::SERVER_DISCOVER, json!({})).await;
        }
        let state = self.state();
        Ok(json!({
            "protocolVersion": state.version.as_str(),
            "serverInfo": state.server_info,
            "capabilities": state.capabilities,
            "instructions": state.instructions,
        }))
    }

    /// Checks that the server answers: `ping` in a legacy session; modern servers have no
    /// `ping`, so a `server/discover` that bypasses the cache.
    pub async fn ping(&self) -> Result<(), ClientError> {
        let method = if self.is_modern() { methods::SERVER_DISCOVER } else { methods::PING };
        self.request_rounds(method, json!({}), None, self.inner.options.request_timeout).await.map(|_| ())
    }

    /// One page of `tools/list`; tools with invalid `x-mcp-header` annotations are dropped (and
    /// refused if called), as the spec requires.
    pub async fn list_tools(&self, cursor: Option<&str>) -> Result<(Vec<Tool>, Option<String>), ClientError> {
        let result = self.request(methods::TOOLS_LIST, cursor_params(cursor)).await?;
        let next = next_cursor(&result);
        let raw = result.get("tools").and_then(Value::as_array).cloned().unwrap_or_default();
        let mut tools = Vec::with_capacity(raw.len());
        for item in raw {
            let tool: Tool = serde_json::from_value(item).map_err(|e| ClientError::Protocol {
                server: self.server_name().to_owned(),
                reason: format!("a tool in tools/list does not match the schema: {e}"),
            })?;
            match xmcp::header_params(&tool.input_schema) {
                Ok(params) => {
                    self.inner.invalid_tools.lock().unwrap_or_else(|p| p.into_inner()).remove(&tool.name);
                    self.inner.tool_headers.lock().unwrap_or_else(|p| p.into_inner()).insert(tool.name.clone(), params);
                    let required = tool.execution.as_ref().and_then(|e| e.get("taskSupport")).and_then(Value::as_str)
                        == Some("required");
                    let mut task_tools = self.inner.task_tools.lock().unwrap_or_else(|p| p.into_inner());
                    if required {
                        task_tools.insert(tool.name.clone());
                    } else {
                        task_tools.remove(&tool.name);
                    }
                    tools.push(tool);
                }
                Err(reason) => {
                    tracing::warn!(target: "switchboard::client", server = %self.server_name(), tool = %tool.name, %reason, "ignoring a tool with an invalid definition");
                    self.inner
                        .invalid_tools
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(tool.name.clone(), reason);
                }
            }
        }
        Ok((tools, next))
    }

    /// Every tool, across pages.
    pub async fn list_all_tools(&self) -> Result<Vec<Tool>, ClientError> {
        let mut all = Vec::new();
        let mut cursor = None;
        loop {
            let (page, next) = self.list_tools(cursor.as_deref()).await?;
            all.extend(page);
            match next {
                Some(c) if Some(&c) != cursor.as_ref() => cursor = Some(c),
                _ => return Ok(all),
            }
        }
    }

    /// `tools/call`.
    pub async fn call_tool(&self, name: &str, arguments: Value) -> Result<CallToolResult, ClientError> {
        self.call_tool_with(name, arguments, RequestOptions::default()).await
    }

    /// `tools/call` with options (progress, timeout).
    pub async fn call_tool_with(
        &self,
        name: &str,
        arguments: Value,
        opts: RequestOptions,
    ) -> Result<CallToolResult, ClientError> {
        let value = self.call_tool_raw(name, arguments, opts).await?;
        serde_json::from_value(value).map_err(|e| ClientError::Protocol {
            server: self.server_name().to_owned(),
            reason: format!("the result of tools/call {name} does not match the schema: {e}"),
        })
    }

    /// `tools/call`, the raw result.
    pub async fn call_tool_raw(
        &self,
        name: &str,
        arguments: Value,
        opts: RequestOptions,
    ) -> Result<Value, ClientError> {
        let mut params = json!({"name": name, "arguments": arguments});
        let as_task = self.inner.task_tools.lock().unwrap_or_else(|p| p.into_inner()).contains(name);
        if self.is_modern() {
            if as_task {
                return self.call_as_modern_task(name, params, opts).await;
            }
            let offers_tasks = self
                .inner
                .state
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .capabilities
                .extensions
                .as_ref()
                .is_some_and(|e| e.contains_key(switchboard_protocol::tasks::EXTENSION));
            if !offers_tasks {
                return self.request_with(methods::TOOLS_CALL, params, opts).await;
            }
            // Modern listings do not say which tools need a task: the server's refusal does.
            let RequestOptions { timeout, on_progress } = opts;
            let progress: Option<std::sync::Arc<dyn Fn(ProgressParams) + Send + Sync>> = on_progress.map(Into::into);
            let options = || RequestOptions {
                timeout,
                on_progress: progress
                    .clone()
                    .map(|p| Box::new(move |x| p(x)) as Box<dyn Fn(ProgressParams) + Send + Sync>),
            };
            return match self.request_with(methods::TOOLS_CALL, params.clone(), options()).await {
                Err(ClientError::Rpc { error, .. }) if needs_tasks(&error) => {
                    self.inner.task_tools.lock().unwrap_or_else(|p| p.into_inner()).insert(name.to_owned());
                    self.call_as_modern_task(name, params, options()).await
                }
                other => other,
            };
        }
        if !as_task {
            return self.request_with(methods::TOOLS_CALL, params, opts).await;
        }
        // A legacy tool that only runs as a task (SEP-1686): create it, then wait for its result
        // with `tasks/result`, which also carries the task's requests (elicitation, sampling) to
        // the handler.
        params["task"] = json!({});
        let timeout = opts.timeout.unwrap_or(self.inner.options.request_timeout);
        let created = self.request_with(methods::TOOLS_CALL, params, opts).await?;
        let Some(task_id) = created.pointer("/task/taskId").and_then(Value::as_str) else {
            return Ok(created); // The server ran it directly after all.
        };
        let wait = RequestOptions { timeout: Some(timeout), on_progress: None };
        let mut abandon = CancelOnDrop(Some((self.clone(), task_id.to_owned(), json!({ "taskId": task_id }))));
        let result = self.request_with(methods::TASKS_RESULT, json!({ "taskId": task_id }), wait).await;
        if !matches!(result, Err(ClientError::Timeout { .. })) {
            abandon.0 = None; // The task ended (or cannot be reached any more).
        }
        result
    }

    /// A modern tool that only runs as a task (the tasks extension): the call declares the
    /// extension, and a task it is answered with is polled (`tasks/get`, at the server's interval)
    /// until it ends; its result is the call's. Past the timeout the task is cancelled.
    async fn call_as_modern_task(
        &self,
        name: &str,
        mut params: Value,
        opts: RequestOptions,
    ) -> Result<Value, ClientError> {
        let mut caps = serde_json::to_value(self.inner.inbound.handler().capabilities()).unwrap_or_default();
        caps["extensions"][switchboard_protocol::tasks::EXTENSION] = json!({});
        let with_caps = |mut params: Value| {
            params["_meta"][switchboard_protocol::meta::CLIENT_CAPABILITIES] = caps.clone();
            params
        };
        let timeout = opts.timeout.unwrap_or(self.inner.options.request_timeout);
        let deadline = tokio::time::Instant::now() + timeout;
        params = with_caps(params);
        let created = self.request_with(methods::TOOLS_CALL, params, opts).await?;
        if created.get("resultType").and_then(Value::as_str) != Some("task") {
            return Ok(created); // The server ran it directly after all.
        }
        let Some(task_id) = created.get("taskId").and_then(Value::as_str).map(str::to_owned) else {
            return Err(ClientError::Protocol {
                server: self.server_name().to_owned(),
                reason: format!("tools/call {name} answered a task without a taskId"),
            });
        };
        let mut task = created;
        // A call dropped before its task ends (the caller gave up, or must ask its own client
        // first and will call again) cancels the task rather than leave it running.
        let mut abandon = CancelOnDrop(Some((self.clone(), task_id.clone(), with_caps(json!({"taskId": task_id})))));
        let mut rounds = 0;
        loop {
            match task.get("status").and_then(Value::as_str) {
                Some("completed") => {
                    abandon.0 = None;
                    return Ok(task.get("result").cloned().unwrap_or_else(|| json!({"content": []})));
                }
                Some("failed") => {
                    abandon.0 = None;
                    let error = task.get("error").cloned().and_then(|e| serde_json::from_value(e).ok());
                    return Err(ClientError::Rpc {
                        server: self.server_name().to_owned(),
                        method: methods::TOOLS_CALL.to_owned(),
                        error: error.unwrap_or_else(|| {
                            switchboard_protocol::ErrorObject::internal(format!("the task running {name} failed"))
                        }),
                        http_status: None,
                    });
                }
                Some("cancelled") => {
                    abandon.0 = None;
                    return Err(ClientError::Refused(format!("the server cancelled the task running {name}")));
                }
                Some("input_required") => {
                    // Answered through the handler like an `InputRequiredResult`, then handed
                    // to the task with `tasks/update`; it goes on running.
                    rounds += 1;
                    if rounds > self.inner.options.max_input_rounds {
                        return Err(self.too_many_rounds(
                            &format!("the task running {name} still needs input"),
                            "it was cancelled",
                        ));
                    }
                    let responses = self.answer_inputs(methods::TOOLS_CALL, &task).await?;
                    let update = json!({"taskId": task_id, "inputResponses": responses});
                    self.request(methods::TASKS_UPDATE, with_caps(update)).await?;
                    task = self.request(methods::TASKS_GET, with_caps(json!({"taskId": task_id}))).await?;
                    continue;
                }
                _ => {}
            }
            let pause = task.get("pollIntervalMs").and_then(Value::as_u64).unwrap_or(500).clamp(50, 5000);
            if tokio::time::Instant::now() + Duration::from_millis(pause) > deadline {
                return Err(ClientError::Timeout {
                    server: self.server_name().to_owned(),
                    method: methods::TOOLS_CALL.to_owned(),
                    timeout,
                });
            }
            tokio::time::sleep(Duration::from_millis(pause)).await;
            task = self.request(methods::TASKS_GET, with_caps(json!({"taskId": task_id}))).await?;
        }
    }

    /// Every resource, across pages.
    pub async fn list_all_resources(&self) -> Result<Vec<Resource>, ClientError> {
        self.list_all(methods::RESOURCES_LIST, "resources").await
    }

    /// Every resource template, across pages.
    pub async fn list_all_resource_templates(&self) -> Result<Vec<ResourceTemplate>, ClientError> {
        self.list_all(methods::RESOURCES_TEMPLATES_LIST, "resourceTemplates").await
    }

    /// `resources/read`.
    pub async fn read_resource(&self, uri: &str) -> Result<ReadResourceResult, ClientError> {
        self.request_typed(methods::RESOURCES_READ, json!({ "uri": uri }), RequestOptions::default()).await
    }

    /// Every prompt, across pages.
    pub async fn list_all_prompts(&self) -> Result<Vec<Prompt>, ClientError> {
        self.list_all(methods::PROMPTS_LIST, "prompts").await
    }

    /// `prompts/get`.
    pub async fn get_prompt(&self, name: &str, arguments: Map<String, Value>) -> Result<GetPromptResult, ClientError> {
        self.request_typed(
            methods::PROMPTS_GET,
            json!({"name": name, "arguments": arguments}),
            RequestOptions::default(),
        )
        .await
    }

    /// `completion/complete` for a prompt argument (`ref/prompt`) or a template variable
    /// (`ref/resource`).
    pub async fn complete(
        &self,
        reference: Value,
        argument: &str,
        value: &str,
        context: Option<Value>,
    ) -> Result<CompleteResult, ClientError> {
        let mut params = json!({"ref": reference, "argument": {"name": argument, "value": value}});
        if let Some(context) = context {
            params["context"] = context;
        }
        self.request_typed(methods::COMPLETION_COMPLETE, params, RequestOptions::default()).await
    }

    /// `resources/subscribe` (legacy servers).
    pub async fn subscribe_resource(&self, uri: &str) -> Result<(), ClientError> {
        self.request(methods::RESOURCES_SUBSCRIBE, json!({ "uri": uri })).await.map(|_| ())
    }

    /// `resources/unsubscribe` (legacy servers).
    pub async fn unsubscribe_resource(&self, uri: &str) -> Result<(), ClientError> {
        self.request(methods::RESOURCES_UNSUBSCRIBE, json!({ "uri": uri })).await.map(|_| ())
    }

    /// `logging/setLevel` (legacy sessions); modern servers take the level per request, so set
    /// [`ClientOptions::log_level`] instead.
    pub async fn set_log_level(&self, level: LoggingLevel) -> Result<(), ClientError> {
        self.request(methods::LOGGING_SET_LEVEL, json!({ "level": level })).await.map(|_| ())
    }

    /// `tasks/get`: a task's status.
    pub async fn get_task(&self, task_id: &str) -> Result<Value, ClientError> {
        self.request(methods::TASKS_GET, json!({ "taskId": task_id })).await
    }

    /// `tasks/result`: a finished task's result (waits for it on servers that block).
    pub async fn task_result(&self, task_id: &str) -> Result<Value, ClientError> {
        self.request(methods::TASKS_RESULT, json!({ "taskId": task_id })).await
    }

    /// `tasks/cancel`.
    pub async fn cancel_task(&self, task_id: &str) -> Result<Value, ClientError> {
        self.request(methods::TASKS_CANCEL, json!({ "taskId": task_id })).await
    }

    async fn list_all<T: DeserializeOwned>(&self, method: &str, field: &str) -> Result<Vec<T>, ClientError> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let result = self.request(method, cursor_params(cursor.as_deref())).await?;
            let items = result.get(field).cloned().unwrap_or(Value::Array(Vec::new()));
            let page: Vec<T> = serde_json::from_value(items).map_err(|e| ClientError::Protocol {
                server: self.server_name().to_owned(),
                reason: format!("the result of {method} does not match the schema: {e}"),
            })?;
            all.extend(page);
            match next_cursor(&result) {
                Some(c) if Some(&c) != cursor.as_ref() => cursor = Some(c),
                _ => return Ok(all),
            }
        }
    }

    // ---------------------------------------------------------------- notifications

    /// Every notification from the server from now on (list changes, resource updates, logs,
    /// progress).
    pub fn notifications(&self) -> broadcast::Receiver<ServerNotification> {
        self.inner.inbound.subscribe()
    }

    /// Asks the server to push the notifications in `filter`: a `subscriptions/listen` stream
    /// for modern servers; for legacy ones, the standalone HTTP stream and `resources/subscribe`
    /// (stdio sessions receive notifications anyway). The stream lives until the [`Listener`] is
    /// dropped.
    pub async fn listen(&self, filter: SubscriptionFilter) -> Result<Listener, ClientError> {
        let receiver = self.notifications();
        if self.is_modern() {
            let client = self.clone();
            let params = json!({ "notifications": filter });
            let task = tokio::spawn(async move {
                let opts = RequestOptions { timeout: Some(Duration::from_secs(365 * 24 * 3600)), on_progress: None };
                match client.request_with(methods::SUBSCRIPTIONS_LISTEN, params, opts).await {
                    Ok(_) => {
                        tracing::info!(target: "switchboard::client", server = %client.server_name(), "the server ended the listen stream")
                    }
                    Err(e) => {
                        tracing::warn!(target: "switchboard::client", server = %client.server_name(), error = %e, "listen stream failed")
                    }
                }
            });
            return Ok(Listener { receiver, _task: Some(AbortOnDrop(task)) });
        }
        self.inner.channel.open_notification_stream().await?;
        for uri in filter.resource_subscriptions.unwrap_or_default() {
            self.subscribe_resource(&uri).await?;
        }
        Ok(Listener { receiver, _task: None })
    }

    /// Ends the connection: a legacy HTTP session is deleted; a stdio server is stopped (stdin
    /// closed, then SIGTERM, then SIGKILL to its process group).
    pub async fn close(&self) {
        self.inner.channel.close().await;
    }
}

/// Whether `error` refuses a call for want of the tasks extension.
fn needs_tasks(error: &switchboard_protocol::ErrorObject) -> bool {
    error.code == switchboard_protocol::ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY
        && error
            .data
            .as_ref()
            .and_then(|d| d.pointer("/requiredCapabilities/extensions"))
            .and_then(Value::as_object)
            .is_some_and(|e| e.contains_key(switchboard_protocol::tasks::EXTENSION))
}

/// Cancels a task (`tasks/cancel`, sent from a tokio task of its own) unless disarmed.
struct CancelOnDrop(Option<(Client, String, Value)>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        let Some((client, task_id, params)) = self.0.take() else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        runtime.spawn(async move {
            if let Err(e) = client.request(methods::TASKS_CANCEL, params).await {
                tracing::debug!(target: "switchboard::client", server = %client.server_name(), task = %task_id, error = %e, "could not cancel an abandoned task");
            }
        });
    }
}
