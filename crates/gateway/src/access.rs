//! From the config's `auth:` section and its `roles:`/`from_principal:` keys to what the SDK
//! enforces: the principals that keys name ([`Identities`]) and the catalog's [`Policy`].
//!
//! **Invariant:** a key's text is digested here and dropped; nothing downstream holds it.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;
use switchboard_mcp::protocol::JsonObject;
use switchboard_mcp::server::{Access, BoundParam, Catalog, Policy, Principal};

use crate::config::{AuthSection, Config, PrincipalSpec};

/// Who callers can be: the principal each key names, who callers without credentials are (if
/// they are let in at all), and who a stdio connection acts for.
#[derive(Debug, Clone)]
pub struct Identities {
    /// Each key's SHA-256 digest and its principal.
    pub keys: Vec<([u8; 32], Principal)>,
    /// Who a request without credentials acts for: only while no key is configured.
    pub anonymous: Option<Principal>,
    /// Who stdio acts for.
    pub stdio: Principal,
    /// The authorization server whose JWT access tokens are accepted, if any.
    pub oauth: Option<crate::config::OAuthSection>,
}

impl Identities {
    /// Reads the `auth:` section. Keys whose text is empty (an unset `${VAR:-}`) are left out.
    pub fn from_config(auth: &AuthSection) -> Result<Self, String> {
        let mut keys = Vec::new();
        for key in &auth.api_keys {
            if let Some(digest) = key.digest().map_err(|m| format!("auth.api_keys {:?}: {m}", key.id))? {
                keys.push((digest, Principal::new(&key.id, key.roles.clone(), object(&key.attributes))));
            }
        }
        for (i, list) in auth.key_lists.iter().enumerate() {
            for (key, value) in list.pairs().map_err(|m| format!("auth.key_lists[{i}]: {m}"))? {
                let mut attributes = JsonObject::new();
                attributes.insert(list.attribute.clone(), Value::String(value.to_owned()));
                let digest = crate::config::key_digest(key);
                keys.push((digest, Principal::new(value, list.roles.clone(), attributes)));
            }
        }
        let anonymous = auth.anonymous.as_ref().map_or_else(Principal::anonymous, |s| principal(s, "anonymous"));
        let stdio = auth.stdio.as_ref().map_or_else(|| anonymous.clone(), |s| principal(s, "local"));
        // Once any credential is configured, callers must present one.
        let anonymous = (keys.is_empty() && auth.oauth.is_none()).then_some(anonymous);
        Ok(Self { keys, anonymous, stdio, oauth: auth.oauth.clone() })
    }
}

fn principal(spec: &PrincipalSpec, default_id: &str) -> Principal {
    let id = spec.id.clone().unwrap_or_else(|| default_id.to_owned());
    Principal::new(id, spec.roles.clone(), object(&spec.attributes))
}

fn object(map: &BTreeMap<String, Value>) -> JsonObject {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn access(roles: &Option<Vec<String>>) -> Access {
    roles.as_ref().map_or(Access::Anyone, |r| Access::roles(r.iter().cloned()))
}

/// The tools, prompts and resources served from upstream MCP servers: served name (a resource's
/// URI or template) → upstream name. The upstream's `roles:` cover all three.
#[derive(Debug, Default)]
pub struct UpstreamOrigins {
    /// Served tool names.
    pub tools: HashMap<String, String>,
    /// Served prompt names.
    pub prompts: HashMap<String, String>,
    /// Served resource URIs and URI templates.
    pub resources: HashMap<String, String>,
}

/// The catalog's policy from the config's `roles:` and `from_principal:` keys. Every bound
/// parameter must be a parameter of its tool as built (for native tools, of the Rust type).
pub fn policy(config: &Config, catalog: &Catalog, upstream: &UpstreamOrigins) -> Result<Policy, String> {
    let mut policy = Policy::open();
    // An upstream's roles cover everything it offers: its prompts and resources can say as much
    // as its tools.
    let roles = |name: &String| config.upstreams.get(name).map(|spec| access(&spec.roles));
    for (served, from) in &upstream.tools {
        if let Some(access) = roles(from) {
            policy = policy.tool(served, access, Vec::new());
        }
    }
    for (served, from) in &upstream.prompts {
        if let Some(access) = roles(from) {
            policy = policy.prompt(served, access);
        }
    }
    for (served, from) in &upstream.resources {
        if let Some(access) = roles(from) {
            policy = policy.resource(served, access);
        }
    }
    for (name, tool) in config.tools.iter() {
        let mut bound = Vec::new();
        for (param, attribute) in &tool.from_principal {
            let known = catalog
                .tool(name)
                .and_then(|t| t.tool().input_schema.get("properties"))
                .and_then(Value::as_object)
                .is_some_and(|p| p.contains_key(param));
            if !known {
                return Err(format!("tools.{name}.from_principal: the tool has no parameter {param:?}"));
            }
            bound.push(BoundParam { param: param.clone(), attribute: attribute.clone() });
        }
        policy = policy.tool(name, access(&tool.roles), bound);
    }
    for r in &config.resources {
        policy = policy.resource(&r.uri, access(&r.roles));
    }
    for t in &config.resource_templates {
        policy = policy.resource(&t.uri_template, access(&t.roles));
    }
    for (name, p) in config.prompts.iter() {
        policy = policy.prompt(name, access(&p.roles));
    }
    for (set, patterns) in &config.toolsets {
        let names: Vec<String> = catalog
            .tools()
            .entries()
            .iter()
            .map(|e| e.tool().name.clone())
            .filter(|name| patterns.iter().any(|p| crate::config::glob_match(p, name)))
            .collect();
        if names.is_empty() {
            tracing::warn!(target: "switchboard", toolset = %set, "toolsets.{set} matches no tool (yet)");
        }
        policy = policy.toolset(set, names);
    }
    Ok(policy)
}
