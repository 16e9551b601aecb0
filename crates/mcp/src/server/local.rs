//! [`LocalClient`]: calling a server in-process, as a given principal.
//!
//! An application living beside the server (the agent host) must reach tools exactly as a remote
//! client does — the same dispatch, access policy, bound arguments, validation and layers — so it
//! sends real modern requests through the server's stateless connection. Only the transport is
//! skipped: no bytes cross a socket, and the principal comes from the caller of
//! [`Server::local_client`], never from the request.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};
use switchboard_protocol::jsonrpc::{self, DecodeLimits, Decoded, Inbound, RawRequest, RequestId};
use switchboard_protocol::meta::{CLIENT_CAPABILITIES, CLIENT_INFO, PROTOCOL_VERSION};
use switchboard_protocol::prompts::GetPromptResult;
use switchboard_protocol::resources::ReadResourceResult;
use switchboard_protocol::tools::{CallToolResult, ListToolsResult, Tool};
use switchboard_protocol::{methods, ErrorObject, ProtocolVersion};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Principal, Server, StatelessConnection};
use crate::engine::{run_request, RequestHandle};

/// A client of one [`Server`] in the same process, acting for one principal. Cheap to clone.
#[derive(Debug, Clone)]
pub struct LocalClient {
    connection: Arc<StatelessConnection>,
    server: Server,
    principal: Arc<Principal>,
    client_name: Arc<str>,
    next_id: Arc<AtomicI64>,
}

impl Server {
    /// A client that calls this server in-process as `principal`; `client_name` is the
    /// `clientInfo.name` its requests carry (audit rows and logs show it).
    pub fn local_client(&self, principal: Principal, client_name: &str) -> LocalClient {
        LocalClient {
            connection: Arc::new(self.stateless_connection()),
            server: self.clone(),
            principal: Arc::new(principal),
            client_name: client_name.into(),
            next_id: Arc::new(AtomicI64::new(1)),
        }
    }
}

impl LocalClient {
    /// Who the calls act for.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// Sends one request and waits for its result; `cancel` abandons it (the handler sees the
    /// cancellation, as with `notifications/cancelled`).
    pub async fn request<T: DeserializeOwned>(
        &self,
        method: &str,
        params: Map<String, Value>,
        cancel: &CancellationToken,
    ) -> Result<T, ErrorObject> {
        let raw = self.request_raw(method, params, cancel).await?;
        serde_json::from_str(raw.get())
            .map_err(|e| ErrorObject::internal(format!("the server's {method} result does not parse: {e}")))
    }

    async fn request_raw(
        &self,
        method: &str,
        mut params: Map<String, Value>,
        cancel: &CancellationToken,
    ) -> Result<Box<serde_json::value::RawValue>, ErrorObject> {
        let meta = json!({
            PROTOCOL_VERSION: ProtocolVersion::LATEST.as_str(),
            CLIENT_CAPABILITIES: {},
            CLIENT_INFO: {"name": &*self.client_name, "version": env!("CARGO_PKG_VERSION")},
        });
        params.insert("_meta".into(), meta);
        let params = serde_json::value::to_raw_value(&params)
            .map_err(|e| ErrorObject::internal(format!("encoding {method} params: {e}")))?;
        let id = RequestId::Number(self.next_id.fetch_add(1, Ordering::Relaxed));
        let request = RawRequest { id: id.clone(), method: method.to_owned(), params: Some(params) };
        // Progress and logs have nobody to reach; a small buffer that is never read is enough
        // because scoped sends give up once the request ends.
        let (tx, rx) = mpsc::channel(16);
        drop(rx);
        let token = cancel.child_token();
        let _cancel_on_drop = token.clone().drop_guard();
        let mut handle = RequestHandle::detached(id, self.server.limits(), tx, token, None);
        handle.set_caller(self.principal.clone());
        let reply = run_request(self.connection.clone(), request, handle)
            .await
            .ok_or_else(|| ErrorObject::internal(format!("{method} was cancelled")))?;
        match jsonrpc::decode(&reply.frame, &DecodeLimits::new(usize::MAX, usize::MAX)) {
            Ok(Decoded::Single(Inbound::Response(response))) => response.outcome,
            _ => Err(ErrorObject::internal(format!("the server's answer to {method} does not decode"))),
        }
    }

    /// Every tool the principal may use (following pagination).
    pub async fn list_tools(&self, cancel: &CancellationToken) -> Result<Vec<Tool>, ErrorObject> {
        let mut tools = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut params = Map::new();
            if let Some(c) = cursor.take() {
                params.insert("cursor".into(), Value::String(c));
            }
            let page: ListToolsResult = self.request(methods::TOOLS_LIST, params, cancel).await?;
            tools.extend(page.tools);
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(tools),
            }
        }
    }

    /// Calls a tool. A tool's own failure is `Ok` with `isError`; `Err` is a protocol error
    /// (unknown tool, refused, rate limited, ...).
    pub async fn call_tool(
        &self,
        name: &str,
        arguments: Map<String, Value>,
        cancel: &CancellationToken,
    ) -> Result<CallToolResult, ErrorObject> {
        let mut params = Map::new();
        params.insert("name".into(), Value::String(name.to_owned()));
        params.insert("arguments".into(), Value::Object(arguments));
        self.request(methods::TOOLS_CALL, params, cancel).await
    }

    /// Checks arguments for a tool the way a call would (after binding the principal's
    /// attributes), without running it: for asking a user to confirm only what can run.
    pub fn check_arguments(&self, name: &str, arguments: &Map<String, Value>) -> Result<(), String> {
        let catalog = self.server.catalog();
        let entry = catalog
            .tool(name)
            .filter(|_| catalog.policy().allows_tool(name, &self.principal))
            .ok_or_else(|| format!("unknown tool: {name}"))?;
        let mut arguments = arguments.clone();
        catalog.policy().bind_arguments(name, &self.principal, &mut arguments);
        entry
            .validate_args(arguments)
            .map(|_| ())
            .map_err(|problems| format!("invalid arguments for tool {name}: {problems}"))
    }

    /// Reads a resource.
    pub async fn read_resource(
        &self,
        uri: &str,
        cancel: &CancellationToken,
    ) -> Result<ReadResourceResult, ErrorObject> {
        let mut params = Map::new();
        params.insert("uri".into(), Value::String(uri.to_owned()));
        self.request(methods::RESOURCES_READ, params, cancel).await
    }

    /// Renders a prompt.
    pub async fn get_prompt(
        &self,
        name: &str,
        arguments: Map<String, Value>,
        cancel: &CancellationToken,
    ) -> Result<GetPromptResult, ErrorObject> {
        let mut params = Map::new();
        params.insert("name".into(), Value::String(name.to_owned()));
        params.insert("arguments".into(), Value::Object(arguments));
        self.request(methods::PROMPTS_GET, params, cancel).await
    }
}
