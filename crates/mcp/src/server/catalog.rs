//! [`ToolCatalog`]: an immutable, ordered set of tools with their argument and output
//! validators compiled once. A server swaps whole catalogs; it never edits one in place.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use serde_json::value::RawValue;
use serde_json::Value;
use switchboard_protocol::tools::Tool;
use switchboard_protocol::{JsonObject, ProtocolVersion};

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

/// One tool with its compiled validators.
#[derive(Debug)]
pub struct ToolEntry {
    tool: Tool,
    input: jsonschema::Validator,
    output: Option<jsonschema::Validator>,
    header_params: Vec<super::HeaderParam>,
}

impl ToolEntry {
    /// The definition, as listed.
    pub fn tool(&self) -> &Tool {
        &self.tool
    }

    /// The arguments mirrored into `Mcp-Param-*` headers on Streamable HTTP.
    pub fn header_params(&self) -> &[super::HeaderParam] {
        &self.header_params
    }

    /// Checks `args` against the input schema; on failure says which paths are wrong.
    pub fn validate_args(&self, args: JsonObject) -> Result<ValidatedArgs, String> {
        let value = Value::Object(args);
        let problems = describe(&self.input, &value);
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
    pub fn new(tools: impl IntoIterator<Item = Tool>) -> Result<Self, ToolDefinitionError> {
        let mut catalog = ToolCatalog::default();
        for tool in tools {
            catalog.push(tool)?;
        }
        Ok(catalog)
    }

    fn push(&mut self, tool: Tool) -> Result<(), ToolDefinitionError> {
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
        self.entries.push(ToolEntry { tool, input, output, header_params });
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

    /// How many tools there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Encoded `tools/list` results of one catalog, one per protocol revision and page start, so a
/// listing is shaped and serialized once per catalog instead of once per request. The catalog is
/// held weakly and compared by identity: when the handler's catalog is swapped, the next lookup
/// finds a different one and starts over, so no request sees a page of an older catalog.
#[derive(Debug, Default)]
pub(crate) struct ListCache {
    state: Mutex<Option<CachedPages>>,
}

#[derive(Debug)]
struct CachedPages {
    catalog: Weak<ToolCatalog>,
    pages: HashMap<(ProtocolVersion, usize), Arc<RawValue>>,
}

impl ListCache {
    /// The page of `catalog` for `key`, encoding it with `encode` the first time.
    pub(crate) fn get_or_encode<E>(
        &self,
        catalog: &Arc<ToolCatalog>,
        key: (ProtocolVersion, usize),
        encode: impl FnOnce() -> Result<Box<RawValue>, E>,
    ) -> Result<Arc<RawValue>, E> {
        // The weak reference keeps the old catalog's allocation, so its address is never reused
        // by a newer one while it is cached: address equality is identity.
        let same = |c: &CachedPages| std::ptr::eq(c.catalog.as_ptr(), Arc::as_ptr(catalog));
        if let Some(page) = self.lock().as_ref().filter(|c| same(c)).and_then(|c| c.pages.get(&key)) {
            return Ok(page.clone());
        }
        // Encoded outside the lock; two requests racing for the same page both encode it.
        let page: Arc<RawValue> = Arc::from(encode()?);
        let mut state = self.lock();
        if !state.as_ref().is_some_and(same) {
            *state = Some(CachedPages { catalog: Arc::downgrade(catalog), pages: HashMap::new() });
        }
        if let Some(c) = state.as_mut() {
            c.pages.insert(key, page.clone());
        }
        Ok(page)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<CachedPages>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
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
