//! Opaque pagination cursors. A cursor encodes an offset into a list snapshot plus a check
//! value, so a hand-made or corrupted cursor is rejected with `-32602` instead of paging wrong.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use switchboard_protocol::ErrorObject;

/// Encodes the position `offset` of a list of `kind`.
pub(crate) fn encode(kind: &str, offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("{kind}:{offset}:{}", check(kind, offset)))
}

/// Decodes a cursor for a list of `kind` with `len` items.
pub(crate) fn decode(kind: &str, cursor: &str, len: usize) -> Result<usize, ErrorObject> {
    let invalid = || {
        ErrorObject::invalid_params(format!(
            "invalid cursor {cursor:?}: pass back a nextCursor from a previous {kind} page"
        ))
    };
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let text = std::str::from_utf8(&bytes).map_err(|_| invalid())?;
    let mut parts = text.splitn(3, ':');
    let (Some(k), Some(offset), Some(sum)) = (parts.next(), parts.next(), parts.next()) else { return Err(invalid()) };
    let offset: usize = offset.parse().map_err(|_| invalid())?;
    if k != kind || sum != check(kind, offset).to_string() || offset > len {
        return Err(invalid());
    }
    Ok(offset)
}

/// A small keyed checksum (FNV-1a): not a secret, only a guard against typos and truncation.
fn check(kind: &str, offset: usize) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in kind.bytes().chain(offset.to_le_bytes()) {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// One page of `items` starting at `cursor`, and the cursor of the next page.
pub(crate) fn page<T: Clone>(
    kind: &str,
    items: &[T],
    cursor: Option<&str>,
    page_size: usize,
) -> Result<(Vec<T>, Option<String>), ErrorObject> {
    let start = match cursor {
        Some(c) => decode(kind, c, items.len())?,
        None => 0,
    };
    let end = (start + page_size).min(items.len());
    let next = (end < items.len()).then(|| encode(kind, end));
    Ok((items[start..end].to_vec(), next))
}
