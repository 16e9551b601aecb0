//! What every result shares: `resultType`, `_meta` and, on cacheable results, `ttlMs` and
//! `cacheScope`; and the [`Shape`] trait that fits a message to a revision.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::meta::ResultMeta;
use crate::ProtocolVersion;

/// The kind of a modern result.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ResultType {
    /// The request finished; the result holds its content.
    Complete,
    /// The server needs input first (an `InputRequiredResult`).
    InputRequired,
    /// The tasks extension: the request continues as a task.
    Task,
    /// A value this crate does not know, kept as it came.
    Other(String),
}

impl ResultType {
    /// The wire string.
    pub fn as_str(&self) -> &str {
        match self {
            ResultType::Complete => "complete",
            ResultType::InputRequired => "input_required",
            ResultType::Task => "task",
            ResultType::Other(s) => s,
        }
    }
}

impl Serialize for ResultType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ResultType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<str>::deserialize(d)?;
        Ok(match &*s {
            "complete" => ResultType::Complete,
            "input_required" => ResultType::InputRequired,
            "task" => ResultType::Task,
            other => ResultType::Other(other.to_owned()),
        })
    }
}

/// Who may cache a result: like HTTP `Cache-Control: public` vs `private`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheScope {
    /// Holds no user-specific data; shared caches may keep it.
    Public,
    /// Only caches within the same authorization context may keep it.
    Private,
}

/// A caching hint for a cacheable result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheHint {
    /// How long the result stays fresh, in milliseconds.
    pub ttl_ms: u64,
    /// Who may cache it.
    pub scope: CacheScope,
}

/// Access to the fields every result shares, so a runtime can stamp them uniformly.
pub trait ResultFields {
    /// `resultType`.
    fn result_type_mut(&mut self) -> &mut Option<ResultType>;
    /// `_meta`.
    fn meta_mut(&mut self) -> &mut Option<ResultMeta>;
    /// `ttlMs` and `cacheScope`, for cacheable results only.
    fn cache_mut(&mut self) -> Option<(&mut Option<u64>, &mut Option<CacheScope>)> {
        None
    }
}

/// Fits a message to a protocol revision before it is encoded: fields the revision does not
/// define are dropped, and values it cannot express are replaced by the nearest it can.
pub trait Shape {
    /// Shapes `self` for `version`.
    fn shape(&mut self, version: ProtocolVersion);
}

/// Drops what legacy revisions do not know from any result: `resultType`, the cache hints and
/// `_meta.serverInfo`.
pub fn shape_common<R: ResultFields + ?Sized>(r: &mut R, version: ProtocolVersion) {
    if version.is_modern() {
        return;
    }
    *r.result_type_mut() = None;
    if let Some((ttl, scope)) = r.cache_mut() {
        *ttl = None;
        *scope = None;
    }
    let meta = r.meta_mut();
    if let Some(m) = meta {
        m.server_info = None;
        if m.is_empty() {
            *meta = None;
        }
    }
}

/// Implements [`ResultFields`] for a struct with `result_type` and `meta` fields (and
/// `ttl_ms`/`cache_scope` when marked `cacheable`).
#[macro_export]
#[doc(hidden)]
macro_rules! impl_result_fields {
    ($t:ty) => {
        impl $crate::result::ResultFields for $t {
            fn result_type_mut(&mut self) -> &mut Option<$crate::ResultType> {
                &mut self.result_type
            }
            fn meta_mut(&mut self) -> &mut Option<$crate::meta::ResultMeta> {
                &mut self.meta
            }
        }
    };
    ($t:ty, cacheable) => {
        impl $crate::result::ResultFields for $t {
            fn result_type_mut(&mut self) -> &mut Option<$crate::ResultType> {
                &mut self.result_type
            }
            fn meta_mut(&mut self) -> &mut Option<$crate::meta::ResultMeta> {
                &mut self.meta
            }
            fn cache_mut(&mut self) -> Option<(&mut Option<u64>, &mut Option<$crate::CacheScope>)> {
                Some((&mut self.ttl_ms, &mut self.cache_scope))
            }
        }
    };
}

/// A result with no content of its own (`ping`, `logging/setLevel`, subscribe, ...).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmptyResult {
    /// The result kind (modern era).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_type: Option<ResultType>,
    /// Result metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<ResultMeta>,
}

impl_result_fields!(EmptyResult);

impl Shape for EmptyResult {
    fn shape(&mut self, version: ProtocolVersion) {
        shape_common(self, version);
    }
}
