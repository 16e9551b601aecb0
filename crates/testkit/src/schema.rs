//! Validation of wire messages against `shared/mcp-schema/<revision>/schema.json`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{json, Value};
use switchboard_protocol::ProtocolVersion;

/// Validates messages against the published schemas. Compiled validators are cached.
pub struct SchemaValidator {
    docs: HashMap<ProtocolVersion, Value>,
    compiled: Mutex<HashMap<(ProtocolVersion, String), Arc<jsonschema::Validator>>>,
}

impl std::fmt::Debug for SchemaValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaValidator").finish_non_exhaustive()
    }
}

impl SchemaValidator {
    /// The process-wide validator.
    pub fn global() -> &'static SchemaValidator {
        static V: OnceLock<SchemaValidator> = OnceLock::new();
        V.get_or_init(|| {
            let root = crate::shared_dir().join("mcp-schema");
            let docs = ProtocolVersion::ALL
                .iter()
                .map(|v| {
                    let path = root.join(v.as_str()).join("schema.json");
                    let text =
                        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
                    let doc: Value =
                        serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()));
                    (*v, doc)
                })
                .collect();
            SchemaValidator { docs, compiled: Mutex::new(HashMap::new()) }
        })
    }

    fn defs(&self, v: ProtocolVersion) -> (&'static str, &serde_json::Map<String, Value>) {
        let doc = &self.docs[&v];
        if let Some(Value::Object(d)) = doc.get("$defs") {
            ("$defs", d)
        } else if let Some(Value::Object(d)) = doc.get("definitions") {
            ("definitions", d)
        } else {
            panic!("schema {v} has no definitions")
        }
    }

    /// Whether revision `v` defines `name`.
    pub fn has(&self, v: ProtocolVersion, name: &str) -> bool {
        self.defs(v).1.contains_key(name)
    }

    /// Validates `instance` against definition `name` of revision `v`.
    pub fn validate_def(&self, v: ProtocolVersion, name: &str, instance: &Value) -> Result<(), String> {
        let validator = {
            let mut cache = self.compiled.lock().unwrap_or_else(|p| p.into_inner());
            cache
                .entry((v, name.to_owned()))
                .or_insert_with(|| {
                    let (key, _) = self.defs(v);
                    let mut doc = self.docs[&v].clone();
                    if let Value::Object(o) = &mut doc {
                        o.insert("$ref".into(), json!(format!("#/{key}/{name}")));
                    }
                    Arc::new(jsonschema::options().build(&doc).unwrap_or_else(|e| panic!("compiling {v} {name}: {e}")))
                })
                .clone()
        };
        let errors: Vec<String> =
            validator.iter_errors(instance).take(5).map(|e| format!("{}: {e}", e.instance_path())).collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!("{name} ({v}): {}", errors.join("; ")))
        }
    }

    /// The definition whose `method` is the constant `method`, for a message that has an id
    /// (request) or not (notification).
    pub fn def_for_method(&self, v: ProtocolVersion, method: &str, with_id: bool) -> Option<String> {
        let (_, defs) = self.defs(v);
        let mut candidates: Vec<&String> = defs
            .iter()
            .filter(|(_, d)| d.pointer("/properties/method/const").and_then(Value::as_str) == Some(method))
            .map(|(k, _)| k)
            .collect();
        candidates.sort();
        candidates
            .iter()
            .find(|k| defs[k.as_str()].pointer("/properties/id").is_some() == with_id)
            .or_else(|| candidates.first())
            .map(|k| (*k).clone())
    }

    /// The result definition for a request of `method`.
    pub fn result_def(&self, v: ProtocolVersion, method: &str) -> String {
        let request = self.def_for_method(v, method, true).unwrap_or_default();
        let guess = request.strip_suffix("Request").map(|s| format!("{s}Result")).unwrap_or_default();
        if !guess.is_empty() && self.has(v, &guess) {
            guess
        } else if self.has(v, "EmptyResult") {
            "EmptyResult".into()
        } else {
            "Result".into()
        }
    }

    /// Validates one message a server sent, speaking `v`. `answered` is the method of the
    /// request a response answers.
    pub fn check_message(&self, v: ProtocolVersion, msg: &Value, answered: Option<&str>) -> Result<(), String> {
        if let Value::Array(items) = msg {
            if !v.allows_batches() {
                return Err(format!("a batch was sent in {v}, which has no batches"));
            }
            return items.iter().try_for_each(|m| self.check_message(v, m, answered));
        }
        if msg.get("jsonrpc") != Some(&json!("2.0")) {
            return Err(format!("not a JSON-RPC 2.0 message: {msg}"));
        }
        if let Some(method) = msg.get("method").and_then(Value::as_str) {
            let with_id = msg.get("id").is_some();
            let def = self
                .def_for_method(v, method, with_id)
                .ok_or_else(|| format!("{v} defines no message with method {method}"))?;
            return self.validate_def(v, &def, msg);
        }
        if let Some(result) = msg.get("result") {
            let envelope = ["JSONRPCResultResponse", "JSONRPCResponse"]
                .into_iter()
                .find(|d| self.has(v, d))
                .unwrap_or("JSONRPCResponse");
            self.validate_def(v, envelope, msg)?;
            let method = answered.ok_or_else(|| format!("a response to an unknown request: {msg}"))?;
            let def = if result.get("resultType") == Some(&json!("input_required")) {
                "InputRequiredResult".to_owned()
            } else if result.get("resultType") == Some(&json!("task")) {
                // The tasks extension is not in the base schema: check what the base defines.
                "Result".to_owned()
            } else if result.get("task").is_some_and(Value::is_object) && self.has(v, "CreateTaskResult") {
                "CreateTaskResult".to_owned()
            } else {
                self.result_def(v, method)
            };
            return self.validate_def(v, &def, result);
        }
        if let Some(error) = msg.get("error") {
            let envelope =
                ["JSONRPCErrorResponse", "JSONRPCError"].into_iter().find(|d| self.has(v, d)).unwrap_or("JSONRPCError");
            let mut copy = msg.clone();
            // JSON-RPC 2.0 requires `"id": null` when the request's id could not be read; the MCP
            // schemas type ids as string|integer (2025-11-25+: optional). Check everything else.
            if copy.get("id") == Some(&Value::Null) {
                if let Value::Object(o) = &mut copy {
                    o.remove("id");
                }
                if v < ProtocolVersion::V2025_11_25 {
                    return self.validate_def(v, "Error", error).or_else(|_| {
                        if error.get("code").is_some_and(Value::is_i64)
                            && error.get("message").is_some_and(Value::is_string)
                        {
                            Ok(())
                        } else {
                            Err(format!("malformed error object: {error}"))
                        }
                    });
                }
            }
            self.validate_def(v, envelope, &copy)?;
            let specific = match error.get("code").and_then(Value::as_i64) {
                Some(-32022) => Some("UnsupportedProtocolVersionError"),
                Some(-32021) => Some("MissingRequiredClientCapabilityError"),
                Some(-32020) => Some("HeaderMismatchError"),
                _ => None,
            };
            if let Some(def) = specific.filter(|d| self.has(v, d)) {
                self.validate_def(v, def, &copy)?;
            }
            return Ok(());
        }
        Err(format!("neither request, notification, result nor error: {msg}"))
    }
}
