//! [`ToolCatalog`]: an immutable, ordered set of tools, each with its argument and output
//! validators compiled once and the [`ToolService`] that runs it. Part of a
//! [`Catalog`](super::Catalog) snapshot; never edited in place.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;
use switchboard_protocol::tools::Tool;
use switchboard_protocol::JsonObject;

use crate::server::ToolService;

/// The most nested a tool's schema may be, so that validating against it stays cheap.
const MAX_SCHEMA_DEPTH: usize = 32;
/// The largest tool schema accepted, in bytes of JSON.
const MAX_SCHEMA_BYTES: usize = 256 * 1024;

/// Why a tool definition was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ToolDefinitionError {
    /// Two tools share a name.
    #[error("tool {0:?} is defined twice")]
    Duplicate(String),
    /// The name breaks the naming rules.
    #[error("tool name {0:?} is invalid: use 1-128 characters from A-Z a-z 0-9 _ - .")]
    InvalidName(String),
    /// A schema is not an object schema, or does not compile.
    #[error("tool {tool:?}: {which} is invalid: {reason}")]
    InvalidSchema {
        /// The tool.
        tool: String,
        /// `inputSchema` or `outputSchema`.
        which: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// Arguments that passed the tool's `inputSchema`. Only the server runtime can make one, so a
/// tool implementation never sees unvalidated input.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidatedArgs(JsonObject);

impl ValidatedArgs {
    /// The arguments.
    pub fn as_object(&self) -> &JsonObject {
        &self.0
    }

    /// The arguments, owned.
    pub fn into_object(self) -> JsonObject {
        self.0
    }

    /// Deserializes the arguments into `T`; a mismatch is reported with the failing path.
    pub fn parse<T: serde::de::DeserializeOwned>(self) -> Result<T, crate::server::HandlerError> {
        let value = Value::Object(self.0);
        serde_path_to_error::deserialize(value).map_err(|e| {
            crate::server::HandlerError::msg(format!("invalid arguments at `{}`: {}", e.path(), e.inner()))
        })
    }
}

/// One tool: its definition, its compiled validators and the service that runs it.
pub struct ToolEntry {
    tool: Tool,
    input: jsonschema::Validator,
    output: Option<jsonschema::Validator>,
    header_params: Vec<crate::server::HeaderParam>,
    service: ToolService,
}

impl std::fmt::Debug for ToolEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolEntry").field("name", &self.tool.name).finish_non_exhaustive()
    }
}

impl ToolEntry {
    /// The definition, as listed.
    pub fn tool(&self) -> &Tool {
        &self.tool
    }

    /// The arguments mirrored into `Mcp-Param-*` headers on Streamable HTTP.
    pub fn header_params(&self) -> &[crate::server::HeaderParam] {
        &self.header_params
    }

    /// The service that runs the tool (with every layer applied to this snapshot).
    pub fn service(&self) -> &ToolService {
        &self.service
    }

    /// Validates `args` and, when they pass, runs the tool on them: validation and execution
    /// always use this one entry, so they can never come from two different catalogs.
    pub fn call(
        &self,
        args: JsonObject,
        ctx: crate::server::RequestContext,
    ) -> Result<tower::util::Oneshot<ToolService, crate::server::ToolRequest>, String> {
        use tower::ServiceExt as _;
        let args = self.validate_args(args)?;
        let request = crate::server::ToolRequest { name: self.tool.name.clone(), args, ctx };
        Ok(self.service.clone().oneshot(request))
    }

    /// Checks `args` against the input schema; on failure says which paths are wrong.
    pub fn validate_args(&self, args: JsonObject) -> Result<ValidatedArgs, String> {
        let value = Value::Object(args);
        // The common case first: a yes/no check builds no error iterator.
        let problems = if self.input.is_valid(&value) { None } else { describe(&self.input, &value) };
        match (problems, value) {
            (None, Value::Object(map)) => Ok(ValidatedArgs(map)),
            (Some(p), _) => Err(p),
            (None, _) => Err("arguments must be an object".to_owned()),
        }
    }

    /// Checks structured output against the output schema, if the tool has one.
    pub fn validate_output(&self, structured: Option<&Value>) -> Result<(), String> {
        let Some(validator) = &self.output else { return Ok(()) };
        match structured {
            None => Err("the tool declares an outputSchema but returned no structuredContent".to_owned()),
            Some(v) => describe(validator, v).map_or(Ok(()), Err),
        }
    }
}

fn describe(validator: &jsonschema::Validator, value: &Value) -> Option<String> {
    let mut problems: Vec<String> = validator
        .iter_errors(value)
        .take(5)
        .map(|e| {
            let path = e.instance_path().to_string();
            let path = if path.is_empty() { "/".to_owned() } else { path };
            format!("{path}: {e}")
        })
        .collect();
    if problems.is_empty() {
        return None;
    }
    problems.dedup();
    Some(problems.join("; "))
}

/// An ordered set of tools. Listing order is the order they were added: deterministic.
#[derive(Debug, Default)]
pub struct ToolCatalog {
    entries: Vec<ToolEntry>,
    index: HashMap<String, usize>,
}

impl ToolCatalog {
    /// Builds a catalog, compiling every schema. Fails on the first bad definition.
    pub(crate) fn new(tools: impl IntoIterator<Item = (Tool, ToolService)>) -> Result<Self, ToolDefinitionError> {
        let mut catalog = ToolCatalog::default();
        for (tool, service) in tools {
            catalog.push(tool, service)?;
        }
        Ok(catalog)
    }

    fn push(&mut self, tool: Tool, service: ToolService) -> Result<(), ToolDefinitionError> {
        if !valid_name(&tool.name) {
            return Err(ToolDefinitionError::InvalidName(tool.name));
        }
        if self.index.contains_key(&tool.name) {
            return Err(ToolDefinitionError::Duplicate(tool.name));
        }
        let input = compile(&tool.name, "inputSchema", &tool.input_schema)?;
        let header_params = crate::xmcp::header_params(&tool.input_schema).map_err(|reason| {
            ToolDefinitionError::InvalidSchema { tool: tool.name.clone(), which: "inputSchema", reason }
        })?;
        let output = match &tool.output_schema {
            Some(schema) => Some(compile(&tool.name, "outputSchema", schema)?),
            None => None,
        };
        self.index.insert(tool.name.clone(), self.entries.len());
        self.entries.push(ToolEntry { tool, input, output, header_params, service });
        Ok(())
    }

    /// The tool called `name`.
    pub fn get(&self, name: &str) -> Option<&ToolEntry> {
        self.index.get(name).map(|&i| &self.entries[i])
    }

    /// Every tool, in listing order.
    pub fn entries(&self) -> &[ToolEntry] {
        &self.entries
    }

    /// Replaces every tool's service with `f(tool, service)`.
    pub(crate) fn map_services(&mut self, mut f: impl FnMut(&Tool, ToolService) -> ToolService) {
        for entry in &mut self.entries {
            let service = std::mem::replace(&mut entry.service, placeholder());
            entry.service = f(&entry.tool, service);
        }
    }

    /// How many tools there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A service that is never called: it only fills a slot while the real one is being wrapped.
fn placeholder() -> ToolService {
    ToolService::new(tower::service_fn(|_: crate::server::ToolRequest| async {
        Err(crate::server::HandlerError::msg("tool unavailable"))
    }))
}

/// Names: 1-128 characters of `A-Za-z0-9_-.`, as the spec recommends.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

fn compile(
    tool: &str,
    which: &'static str,
    schema: &Arc<JsonObject>,
) -> Result<jsonschema::Validator, ToolDefinitionError> {
    let invalid = |reason: String| ToolDefinitionError::InvalidSchema { tool: tool.to_owned(), which, reason };
    if schema.get("type").and_then(Value::as_str) != Some("object") {
        return Err(invalid("the root must have \"type\": \"object\"".to_owned()));
    }
    let value = Value::Object((**schema).clone());
    if depth(&value) > MAX_SCHEMA_DEPTH {
        return Err(invalid(format!("it nests deeper than {MAX_SCHEMA_DEPTH} levels")));
    }
    let size = serde_json::to_vec(&value).map(|v| v.len()).unwrap_or(usize::MAX);
    if size > MAX_SCHEMA_BYTES {
        return Err(invalid(format!("it is {size} bytes; the limit is {MAX_SCHEMA_BYTES}")));
    }
    // No retriever is configured: a `$ref` to a network or file URI fails to compile rather
    // than being fetched.
    jsonschema::options().build(&value).map_err(|e| invalid(e.to_string()))
}

fn depth(v: &Value) -> usize {
    match v {
        Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}
