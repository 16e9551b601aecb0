//! Protocol revisions and the two eras they fall into.
//!
//! The modern era (2026-07-28 and later) is stateless: every request carries its protocol version
//! and client capabilities in `_meta`, and `server/discover` replaces `initialize`. The legacy era
//! (2025-11-25 and earlier) negotiates once per session with `initialize`.

use std::fmt;
use std::str::FromStr;

/// A published MCP revision this crate can speak.
///
/// Ordered oldest to newest, so `v >= ProtocolVersion::V2025_06_18` asks "does `v` have the
/// features introduced in 2025-06-18".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum ProtocolVersion {
    /// 2024-11-05: the HTTP+SSE era.
    V2024_11_05,
    /// 2025-03-26: Streamable HTTP, audio content, tool annotations, JSON-RPC batches.
    V2025_03_26,
    /// 2025-06-18: structured tool output, titles, resource links, elicitation; no batches.
    V2025_06_18,
    /// 2025-11-25: icons, URL elicitation, sampling with tools, tasks.
    V2025_11_25,
    /// 2026-07-28: the modern, stateless era.
    V2026_07_28,
}

/// The two eras of the protocol; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Era {
    /// 2026-07-28 and later: stateless, `server/discover`, per-request `_meta`.
    Modern,
    /// 2025-11-25 and earlier: `initialize` and sessions.
    Legacy,
}

impl ProtocolVersion {
    /// Every revision, oldest first.
    pub const ALL: [ProtocolVersion; 5] =
        [Self::V2024_11_05, Self::V2025_03_26, Self::V2025_06_18, Self::V2025_11_25, Self::V2026_07_28];
    /// The newest revision.
    pub const LATEST: ProtocolVersion = Self::V2026_07_28;
    /// The newest revision of the legacy era, offered when a client asks `initialize` for a
    /// version we do not know.
    pub const LATEST_LEGACY: ProtocolVersion = Self::V2025_11_25;

    /// The wire string, e.g. `"2025-06-18"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::V2024_11_05 => "2024-11-05",
            Self::V2025_03_26 => "2025-03-26",
            Self::V2025_06_18 => "2025-06-18",
            Self::V2025_11_25 => "2025-11-25",
            Self::V2026_07_28 => "2026-07-28",
        }
    }

    /// Which era this revision belongs to.
    pub const fn era(self) -> Era {
        match self {
            Self::V2026_07_28 => Era::Modern,
            _ => Era::Legacy,
        }
    }

    /// Whether this is a modern-era revision.
    pub const fn is_modern(self) -> bool {
        matches!(self.era(), Era::Modern)
    }

    /// Only 2025-03-26 allowed JSON-RPC batches.
    pub const fn allows_batches(self) -> bool {
        matches!(self, Self::V2025_03_26)
    }

    /// The wire strings of the revisions of one era, newest first.
    pub fn strings_of(era: Era) -> Vec<&'static str> {
        Self::ALL.iter().rev().filter(|v| v.era() == era).map(|v| v.as_str()).collect()
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing a version string we do not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown protocol version {0:?}")]
pub struct UnknownVersion(pub String);

impl FromStr for ProtocolVersion {
    type Err = UnknownVersion;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.iter().copied().find(|v| v.as_str() == s).ok_or_else(|| UnknownVersion(s.to_owned()))
    }
}

impl serde::Serialize for ProtocolVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}
