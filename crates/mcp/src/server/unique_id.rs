//! [`unique_id`]: cheap ids unique within the process and, with overwhelming likelihood,
//! across processes — for correlation ids and audit rows, not for secrets.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// 32 hex digits: 64 random bits drawn once per process (so replicas differ) and a counter.
/// No system call after the first.
pub fn unique_id() -> String {
    static PREFIX: OnceLock<u64> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let prefix = *PREFIX.get_or_init(|| {
        let mut bytes = [0u8; 8];
        // Without the OS's randomness the time of the first call will do.
        if getrandom::fill(&mut bytes).is_err() {
            bytes = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)
                .to_le_bytes();
        }
        u64::from_le_bytes(bytes)
    });
    format!("{prefix:016x}{:016x}", NEXT.fetch_add(1, Ordering::Relaxed))
}
