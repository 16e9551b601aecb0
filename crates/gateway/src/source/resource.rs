//! Fixed resources: inline text, a file read when the catalog is built, or a SQL query's rows.

use std::collections::BTreeMap;

use switchboard_mcp::protocol::resources::Resource;
use switchboard_mcp::server::Router;

use super::common::RegisterError;
use super::sql::{self, Database};
use crate::config::{self, Config};

/// Registers the fixed resource `r`: inline `text`, a `file` (read now, relative to the config),
/// or the rows of a `sql` query on a database `source`.
pub fn register(
    router: Router,
    r: &config::Resource,
    config: &Config,
    dbs: &BTreeMap<String, Database>,
) -> Result<Router, RegisterError> {
    let mut def = Resource::new(r.uri.clone(), r.name.clone());
    def.description = r.description.clone();
    let is_md = r.file.as_ref().is_some_and(|f| f.extension().is_some_and(|e| e == "md"));
    let mime = r.mime_type.clone().unwrap_or_else(|| {
        if r.sql.is_some() {
            "application/json"
        } else if is_md {
            "text/markdown"
        } else {
            "text/plain"
        }
        .into()
    });
    def.mime_type = Some(mime.clone());
    if let Some(text) = &r.text {
        return Ok(router.text_resource(def, text.clone()));
    }
    if let Some(file) = &r.file {
        let path = config.resolve(file);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| RegisterError::Invalid(format!("resource {}: cannot read {}: {e}", r.uri, path.display())))?;
        return Ok(router.text_resource(def, text));
    }
    sql::query_resource(router, def, r, dbs)
}
