//! [`Policy`]: who may see and use each tool, resource and prompt of a catalog, and which tool
//! parameters are taken from the caller's identity instead of the arguments.
//!
//! Hidden entries are left out of every list and answer exactly as unknown ones do, so a caller
//! cannot learn that they exist. A bound parameter ([`BoundParam`]) is filled from the caller's
//! [`Principal`] attribute whatever the arguments say, and disappears from the `inputSchema` that
//! caller is shown; a caller without that attribute (staff, say) gives it as an argument.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;
use switchboard_protocol::tools::Tool;
use switchboard_protocol::JsonObject;

use crate::server::Principal;

/// Who may see and use one entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Access {
    /// Every caller, the anonymous one included.
    #[default]
    Anyone,
    /// Callers with at least one of these roles.
    Roles(Arc<[String]>),
}

impl Access {
    /// Callers with at least one of `roles` (none at all: nobody).
    pub fn roles<S: Into<String>>(roles: impl IntoIterator<Item = S>) -> Self {
        Self::Roles(roles.into_iter().map(Into::into).collect())
    }

    /// Whether `principal` may see and use the entry.
    pub fn allows(&self, principal: &Principal) -> bool {
        match self {
            Self::Anyone => true,
            Self::Roles(roles) => roles.iter().any(|r| principal.has_role(r)),
        }
    }
}

/// A tool parameter whose value comes from the caller's identity: the principal's attribute
/// `attribute` becomes the argument `param`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundParam {
    /// The parameter, as named in the tool's `inputSchema`.
    pub param: String,
    /// The principal's attribute it is taken from.
    pub attribute: String,
}

#[derive(Debug, Clone, Default)]
struct ToolRule {
    access: Access,
    bound: Vec<BoundParam>,
}

/// The access rules of a catalog. The default policy lets everyone see and use everything.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    tools: HashMap<String, ToolRule>,
    /// By concrete URI or by URI template, as listed.
    resources: HashMap<String, Access>,
    prompts: HashMap<String, Access>,
    /// Named subsets of the tools; a caller that came through one sees only its tools.
    toolsets: HashMap<String, std::collections::HashSet<String>>,
}

impl Policy {
    /// Everyone sees and uses everything.
    pub fn open() -> Self {
        Self::default()
    }

    /// Sets who may use the tool `name`, and which of its parameters come from the caller.
    pub fn tool(mut self, name: impl Into<String>, access: Access, bound: Vec<BoundParam>) -> Self {
        self.tools.insert(name.into(), ToolRule { access, bound });
        self
    }

    /// Sets who may read the resource `uri` (a concrete URI or a template's `uriTemplate`).
    pub fn resource(mut self, uri: impl Into<String>, access: Access) -> Self {
        self.resources.insert(uri.into(), access);
        self
    }

    /// Sets who may get the prompt `name`.
    pub fn prompt(mut self, name: impl Into<String>, access: Access) -> Self {
        self.prompts.insert(name.into(), access);
        self
    }

    /// Names a subset of the tools: a caller whose principal carries this toolset
    /// ([`Principal::with_toolset`]) sees and calls only these (and what its roles allow).
    pub fn toolset(mut self, name: impl Into<String>, tools: impl IntoIterator<Item = String>) -> Self {
        self.toolsets.insert(name.into(), tools.into_iter().collect());
        self
    }

    /// Whether a toolset of that name exists.
    pub fn has_toolset(&self, name: &str) -> bool {
        self.toolsets.contains_key(name)
    }

    /// The toolsets' names, sorted.
    pub fn toolset_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.toolsets.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// Whether every entry is open to everyone and no parameter is bound: then what a caller
    /// sees does not depend on who it is, and listings can be shared.
    pub fn is_open(&self) -> bool {
        self.toolsets.is_empty()
            && self.tools.values().all(|r| r.access == Access::Anyone && r.bound.is_empty())
            && self.resources.values().all(|a| *a == Access::Anyone)
            && self.prompts.values().all(|a| *a == Access::Anyone)
    }

    /// Whether `principal` may see and call the tool `name`.
    pub fn allows_tool(&self, name: &str, principal: &Principal) -> bool {
        let in_toolset = principal.toolset().is_none_or(|t| self.toolsets.get(t).is_some_and(|set| set.contains(name)));
        in_toolset && self.tools.get(name).is_none_or(|r| r.access.allows(principal))
    }

    /// Whether `principal` may see and read the resource or template `uri`.
    pub fn allows_resource(&self, uri: &str, principal: &Principal) -> bool {
        self.resources.get(uri).is_none_or(|a| a.allows(principal))
    }

    /// Whether `principal` may see and get the prompt `name`.
    pub fn allows_prompt(&self, name: &str, principal: &Principal) -> bool {
        self.prompts.get(name).is_none_or(|a| a.allows(principal))
    }

    /// The tool's parameters bound to the caller's identity.
    pub fn bound_params(&self, name: &str) -> &[BoundParam] {
        self.tools.get(name).map_or(&[], |r| &r.bound)
    }

    /// Overwrites the bound arguments of a call to `name` with `principal`'s attributes (those
    /// it has), whatever the caller sent.
    pub fn bind_arguments(&self, name: &str, principal: &Principal, arguments: &mut JsonObject) {
        for b in self.bound_params(name) {
            if let Some(value) = principal.attributes().get(&b.attribute) {
                arguments.insert(b.param.clone(), value.clone());
            }
        }
    }

    /// The tool as `principal` sees it: parameters filled from its identity are not shown.
    pub fn shape_tool<'t>(&self, tool: &'t Tool, principal: &Principal) -> Cow<'t, Tool> {
        let hidden: Vec<&str> = self
            .bound_params(&tool.name)
            .iter()
            .filter(|b| principal.attributes().contains_key(&b.attribute))
            .map(|b| b.param.as_str())
            .collect();
        if hidden.is_empty() {
            return Cow::Borrowed(tool);
        }
        let mut schema = (*tool.input_schema).clone();
        if let Some(Value::Object(properties)) = schema.get_mut("properties") {
            properties.retain(|k, _| !hidden.contains(&k.as_str()));
        }
        if let Some(Value::Array(required)) = schema.get_mut("required") {
            required.retain(|r| r.as_str().is_none_or(|r| !hidden.contains(&r)));
        }
        let mut shaped = tool.clone();
        shaped.input_schema = Arc::new(schema);
        Cow::Owned(shaped)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn customer() -> Principal {
        let attributes = json!({"customer_id": "CUST-0001"}).as_object().cloned().unwrap_or_default();
        Principal::new("CUST-0001", vec!["customer".into()], attributes)
    }

    fn staff() -> Principal {
        Principal::new("support", vec!["support".into()], JsonObject::new())
    }

    fn policy() -> Policy {
        let bound = vec![BoundParam { param: "customer_id".into(), attribute: "customer_id".into() }];
        Policy::open().tool("history", Access::roles(["customer", "support"]), bound).tool(
            "refund",
            Access::roles(["support"]),
            Vec::new(),
        )
    }

    #[test]
    fn roles_decide_visibility_and_unlisted_entries_are_open() {
        let p = policy();
        assert!(!p.is_open());
        assert!(p.allows_tool("history", &customer()));
        assert!(!p.allows_tool("refund", &customer()));
        assert!(p.allows_tool("refund", &staff()));
        assert!(!p.allows_tool("refund", &Principal::anonymous()));
        assert!(p.allows_tool("anything_else", &Principal::anonymous()));
        assert!(Policy::open().is_open());
    }

    #[test]
    fn bound_arguments_come_from_the_identity_whatever_was_sent() {
        let p = policy();
        let mut args = json!({"customer_id": "CUST-0002"}).as_object().cloned().unwrap_or_default();
        p.bind_arguments("history", &customer(), &mut args);
        assert_eq!(args["customer_id"], "CUST-0001");
        // Staff have no customer_id of their own: what they send stands.
        let mut args = json!({"customer_id": "CUST-0002"}).as_object().cloned().unwrap_or_default();
        p.bind_arguments("history", &staff(), &mut args);
        assert_eq!(args["customer_id"], "CUST-0002");
    }

    #[test]
    fn a_bound_parameter_is_hidden_only_from_callers_it_is_bound_for() {
        let schema = json!({"type": "object", "properties": {"customer_id": {"type": "string"}, "n": {"type": "integer"}}, "required": ["customer_id"]});
        let tool = Tool::new("history", "history", schema.as_object().cloned().unwrap_or_default());
        let p = policy();
        let shaped = p.shape_tool(&tool, &customer());
        assert!(shaped.input_schema["properties"].get("customer_id").is_none());
        assert_eq!(shaped.input_schema["required"], json!([]));
        assert!(matches!(p.shape_tool(&tool, &staff()), Cow::Borrowed(_)));
    }
}
