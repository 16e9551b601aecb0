//! The checks a config must pass once it has its shape: references between sections, what each
//! kind of source and tool allows, params that placeholders name. Pure: nothing here touches the
//! filesystem or the network (the command allow-list is checked against the machine by the
//! command source).

use super::{command, http, Config, ParamType, Problem, Source, SourceKind, Tool, ToolKind};
use crate::syntax::placeholders::placeholders;

impl Config {
    pub(super) fn validate(&self) -> Result<(), Problem> {
        for (name, source) in &self.sources {
            self.check_source(name, source)?;
        }
        for (name, tool) in self.tools.iter() {
            self.check_tool(name, tool)?;
            if let Some(r) = &tool.rate_limit {
                r.quota().map_err(|m| Problem::new(&["tools", name, "rate_limit"], m))?;
            }
            if tool.timeout_ms == Some(0) {
                return Err(Problem::new(&["tools", name, "timeout_ms"], "must be at least 1".into()));
            }
        }
        for t in &self.resource_templates {
            self.database(&t.source)
                .map_err(|m| Problem::new(&["resource_templates"], format!("{}: {m}", t.uri_template)))?;
        }
        for (name, prompt) in self.prompts.iter() {
            for (q, query) in prompt.context.iter() {
                self.database(&query.source).map_err(|m| Problem::new(&["prompts", name, "context", q], m))?;
            }
        }
        self.check_redis()?;
        self.auth.check()?;
        self.guardrails.check()?;
        self.audit.check()?;
        if let Some(agent) = &self.agent {
            agent.check(self)?;
        }
        self.check_upstreams()?;
        Ok(())
    }

    fn check_redis(&self) -> Result<(), Problem> {
        // The URL may hold a password: the message never quotes it.
        if let Some(url) = self.server.redis_url.as_deref().filter(|u| !u.is_empty()) {
            super::check_redis_url(url).map_err(|m| Problem::new(&["server", "redis_url"], m))?;
        }
        if self.server.redis_timeout_ms == Some(0) {
            return Err(Problem::new(&["server", "redis_timeout_ms"], "must be at least 1".into()));
        }
        if self.server.redis_key_prefix.as_deref().is_some_and(|p| p.is_empty() || p.contains(char::is_whitespace)) {
            let message = "must be a non-empty word without spaces".into();
            return Err(Problem::new(&["server", "redis_key_prefix"], message));
        }
        Ok(())
    }

    /// Checks that `name` is a database source (not unknown, not an HTTP API).
    fn database(&self, name: &str) -> Result<(), String> {
        match self.sources.get(name) {
            None => Err(format!("unknown source {name:?}")),
            Some(s) if s.kind == SourceKind::Http => Err(format!("{name:?} is an http source, not a database")),
            Some(_) => Ok(()),
        }
    }

    fn check_source(&self, name: &str, source: &Source) -> Result<(), Problem> {
        let here = &["sources", name][..];
        if source.kind == SourceKind::Http {
            return http::check_source(name, source);
        }
        if source.base_url.is_some()
            || !source.headers.is_empty()
            || source.max_response_bytes.is_some()
            || !source.allow_networks.is_empty()
        {
            let message = "`base_url`, `headers`, `max_response_bytes` and `allow_networks` are for http sources";
            return Err(Problem::new(here, message.into()));
        }
        if source.kind == SourceKind::Sqlite && source.timeout_ms.is_some() {
            let message = "`timeout_ms` is for http, postgres and mysql sources (a sqlite tool's own `timeout_ms` limits its calls)";
            return Err(Problem::new(here, message.into()));
        }
        if source.timeout_ms == Some(0) {
            return Err(Problem::new(&["sources", name, "timeout_ms"], "must be at least 1".into()));
        }
        match source.kind {
            SourceKind::Sqlite if source.path.is_none() => {
                Err(Problem::new(here, "a sqlite source needs `path`".into()))
            }
            SourceKind::Postgres | SourceKind::Mysql if source.url.as_deref().unwrap_or("").is_empty() => {
                Err(Problem::new(here, format!("a {} source needs `url`", source.kind.as_str())))
            }
            _ => Ok(()),
        }
    }

    fn check_tool(&self, name: &str, tool: &Tool) -> Result<(), Problem> {
        let kind = tool.kind().map_err(|m| Problem::new(&["tools", name], m))?;
        if !matches!(kind, ToolKind::Command(_)) {
            if let Some((param, _)) = tool.params.iter().find(|(_, p)| p.kind == ParamType::Path) {
                return Err(Problem::new(
                    &["tools", name, "params", param],
                    "type path is only for command tools".into(),
                ));
            }
        }
        if !matches!(kind, ToolKind::Sql) && (tool.max_rows.is_some() || tool.not_found.is_some()) {
            return Err(Problem::new(&["tools", name], "`max_rows` and `not_found` are for SQL tools".into()));
        }
        match kind {
            ToolKind::Sql => {
                let Some(source) = &tool.source else {
                    return Err(Problem::new(&["tools", name], "SQL statements need `source`, a database".into()));
                };
                self.database(source).map_err(|m| Problem::new(&["tools", name, "source"], m))?;
                for st in &tool.statements {
                    for p in placeholders(&st.sql) {
                        if tool.params.get(&p).is_none() {
                            return Err(Problem::new(
                                &["tools", name, "statements"],
                                format!("the SQL uses :{p}, which is not a declared param"),
                            ));
                        }
                    }
                }
                Ok(())
            }
            ToolKind::Native(_) => match &tool.source {
                Some(s) => self.database(s).map_err(|m| Problem::new(&["tools", name, "source"], m)),
                None => Ok(()),
            },
            ToolKind::Http(h) => http::check_tool(name, tool, h, &self.sources),
            ToolKind::Command(c) => command::check_tool(name, tool, c),
        }
    }
}
