//! [`ListCache`]: encoded `tools/list` pages of one catalog snapshot, so a listing is shaped
//! and serialized once per snapshot instead of once per request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use serde_json::value::RawValue;
use switchboard_protocol::ProtocolVersion;

use super::Catalog;

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
    catalog: Weak<Catalog>,
    pages: HashMap<(ProtocolVersion, usize), Arc<RawValue>>,
}

impl ListCache {
    /// The page of `catalog` for `key`, encoding it with `encode` the first time.
    pub(crate) fn get_or_encode<E>(
        &self,
        catalog: &Arc<Catalog>,
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
