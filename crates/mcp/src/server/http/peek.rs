//! One pass over a POST body before it is decoded: which era it speaks (modern `_meta`, or
//! `initialize`, or neither), and for a modern request the fields its routing headers must
//! mirror (`_meta` protocol version and capabilities, `name`/`uri`/`taskId`, `arguments`), all
//! borrowed from the body. The modern path checks its headers against these instead of parsing
//! the params a second time.
//!
//! The fast peek is stricter than the two parses it replaces (params and `_meta` must be
//! objects, no duplicate members); whatever it refuses goes through [`slow`], which is exactly
//! those two parses, so every body is classified and checked as before.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

/// What a POST body is.
pub(super) enum Body<'a> {
    /// A modern (2026-07-28) request; `None` when the routing fields must be read by
    /// [`Routing::parse`].
    Modern(Option<Routing<'a>>),
    /// `initialize` without modern `_meta`.
    Initialize,
    /// Anything else.
    Other,
}

/// The params fields the modern routing headers are checked against.
#[derive(Default)]
pub(super) struct Routing<'a> {
    /// `params._meta`, if it is present.
    pub(super) meta: Option<Meta<'a>>,
    /// `params.name`, when it is a string.
    pub(super) name: Option<Cow<'a, str>>,
    /// `params.uri`, when it is a string.
    pub(super) uri: Option<Cow<'a, str>>,
    /// `params.taskId`, when it is a string.
    pub(super) task_id: Option<Cow<'a, str>>,
    /// `params.arguments`, unparsed.
    pub(super) arguments: Option<&'a RawValue>,
}

/// What `params._meta` says about the request's revision.
pub(super) struct Meta<'a> {
    /// `io.modelcontextprotocol/protocolVersion`, when it is a string.
    pub(super) version: Option<Cow<'a, str>>,
    /// Whether `io.modelcontextprotocol/clientCapabilities` is present (and not null).
    pub(super) capabilities: bool,
}

impl<'a> Routing<'a> {
    /// Reads the routing fields from a request's params text. A member of the wrong type
    /// leaves every field unset, which later checks report.
    pub(super) fn parse(params: &'a str) -> Self {
        #[derive(Deserialize, Default)]
        struct Strict<'a> {
            #[serde(rename = "_meta", default)]
            meta: Option<StrictMeta>,
            #[serde(borrow, default)]
            name: Option<Cow<'a, str>>,
            #[serde(borrow, default)]
            uri: Option<Cow<'a, str>>,
            #[serde(rename = "taskId", borrow, default)]
            task_id: Option<Cow<'a, str>>,
            #[serde(borrow, default)]
            arguments: Option<&'a RawValue>,
        }
        #[derive(Deserialize)]
        struct StrictMeta {
            #[serde(rename = "io.modelcontextprotocol/protocolVersion", default)]
            version: Option<serde_json::Value>,
            #[serde(rename = "io.modelcontextprotocol/clientCapabilities", default)]
            capabilities: Option<IgnoredAny>,
        }
        let s: Strict<'a> = serde_json::from_str(params).unwrap_or_default();
        Self {
            meta: s.meta.map(|m| Meta {
                version: match m.version {
                    Some(serde_json::Value::String(v)) => Some(Cow::Owned(v)),
                    _ => None,
                },
                capabilities: m.capabilities.is_some(),
            }),
            name: s.name,
            uri: s.uri,
            task_id: s.task_id,
            arguments: s.arguments,
        }
    }
}

/// Classifies a POST body: modern `_meta` wins, then `initialize`.
pub(super) fn classify(body: &[u8]) -> Body<'_> {
    match serde_json::from_slice::<Peek<'_>>(body) {
        Ok(peek) => peek.into_body(),
        Err(_) => slow(body),
    }
}

/// The classification the fast peek stands in for: a lenient peek for the era; routing
/// fields are left to [`Routing::parse`].
pub(super) fn slow(body: &[u8]) -> Body<'_> {
    #[derive(Deserialize)]
    struct Peek<'a> {
        #[serde(borrow, default)]
        method: Option<Cow<'a, str>>,
        #[serde(default)]
        params: Option<PeekParams>,
    }
    #[derive(Deserialize)]
    struct PeekParams {
        #[serde(rename = "_meta", default)]
        meta: Option<PeekMeta>,
    }
    #[derive(Deserialize)]
    struct PeekMeta {
        #[serde(rename = "io.modelcontextprotocol/protocolVersion", default)]
        version: Option<IgnoredAny>,
    }
    let Ok(peek) = serde_json::from_slice::<Peek<'_>>(body) else { return Body::Other };
    if peek.params.and_then(|p| p.meta).is_some_and(|m| m.version.is_some()) {
        Body::Modern(None)
    } else if peek.method.as_deref() == Some("initialize") {
        Body::Initialize
    } else {
        Body::Other
    }
}

#[derive(Deserialize)]
struct Peek<'a> {
    #[serde(borrow, default)]
    method: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    params: Option<Params<'a>>,
}

impl<'a> Peek<'a> {
    fn into_body(self) -> Body<'a> {
        let Some(params) = self.params else {
            return if self.method.as_deref() == Some("initialize") { Body::Initialize } else { Body::Other };
        };
        let modern = params.meta.as_ref().is_some_and(|m| !matches!(m.version, Field::Absent));
        if !modern {
            return if self.method.as_deref() == Some("initialize") { Body::Initialize } else { Body::Other };
        }
        // A routing member of the wrong type makes the whole strict parse fail: nothing is set.
        let wrong = [&params.name, &params.uri, &params.task_id].into_iter().any(|f| matches!(f, Field::Other));
        if wrong {
            return Body::Modern(Some(Routing::default()));
        }
        Body::Modern(Some(Routing {
            meta: params.meta.map(|m| Meta { version: m.version.into_str(), capabilities: m.capabilities }),
            name: params.name.into_str(),
            uri: params.uri.into_str(),
            task_id: params.task_id.into_str(),
            arguments: params.arguments,
        }))
    }
}

/// A member read whatever its type: absent or `null`, a string, or anything else.
#[derive(Default)]
enum Field<'a> {
    #[default]
    Absent,
    Str(Cow<'a, str>),
    Other,
}

impl<'a> Field<'a> {
    fn into_str(self) -> Option<Cow<'a, str>> {
        match self {
            Field::Str(s) => Some(s),
            _ => None,
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Field<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Field<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Field::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Field::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Field::Str(Cow::Owned(v)))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Field::Absent)
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(Field::Absent)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Field::Other)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Field::Other)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Field::Other)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Field::Other)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Field::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Field::Other)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// `params`, read only from an object, with no duplicate routing members.
#[derive(Default)]
struct Params<'a> {
    meta: Option<PeekMeta<'a>>,
    name: Field<'a>,
    uri: Field<'a>,
    task_id: Field<'a>,
    arguments: Option<&'a RawValue>,
}

/// `params._meta`, read only from an object, with no duplicate members it looks at.
struct PeekMeta<'a> {
    version: Field<'a>,
    capabilities: bool,
}

use switchboard_protocol::meta::{CLIENT_CAPABILITIES as CAPABILITIES, PROTOCOL_VERSION as VERSION};

/// The member names the peek looks at, matched without allocating (escaped names included).
enum Key {
    Meta,
    Name,
    Uri,
    TaskId,
    Arguments,
    Version,
    Capabilities,
    Ignored,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_str<E>(self, v: &str) -> Result<Key, E> {
                Ok(match v {
                    "_meta" => Key::Meta,
                    "name" => Key::Name,
                    "uri" => Key::Uri,
                    "taskId" => Key::TaskId,
                    "arguments" => Key::Arguments,
                    VERSION => Key::Version,
                    CAPABILITIES => Key::Capabilities,
                    _ => Key::Ignored,
                })
            }
        }
        d.deserialize_identifier(V)
    }
}

/// Sets `slot` once; a second occurrence of the member is an error (the fast peek gives up).
fn once<'de, A: MapAccess<'de>, T: Deserialize<'de>>(
    map: &mut A,
    seen: &mut bool,
    slot: &mut T,
    name: &'static str,
) -> Result<(), A::Error> {
    if std::mem::replace(seen, true) {
        return Err(serde::de::Error::duplicate_field(name));
    }
    *slot = map.next_value()?;
    Ok(())
}

impl<'de: 'a, 'a> Deserialize<'de> for Params<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Params<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("params object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut p = Params::default();
                let mut seen = [false; 5];
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::Meta => once(&mut map, &mut seen[0], &mut p.meta, "_meta")?,
                        Key::Name => once(&mut map, &mut seen[1], &mut p.name, "name")?,
                        Key::Uri => once(&mut map, &mut seen[2], &mut p.uri, "uri")?,
                        Key::TaskId => once(&mut map, &mut seen[3], &mut p.task_id, "taskId")?,
                        Key::Arguments => once(&mut map, &mut seen[4], &mut p.arguments, "arguments")?,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(p)
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for PeekMeta<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = PeekMeta<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("_meta object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut version = Field::Absent;
                let mut capabilities: Option<IgnoredAny> = None;
                let mut seen = [false; 2];
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::Version => once(&mut map, &mut seen[0], &mut version, VERSION)?,
                        Key::Capabilities => once(&mut map, &mut seen[1], &mut capabilities, CAPABILITIES)?,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(PeekMeta { version, capabilities: capabilities.is_some() })
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests;
