//! The in-process replay guard: remembers signatures seen in Slack's 5-minute window, in bounded memory.
//!
//! Every signed request passes here first (a hash-map lookup, no I/O). Requests that can change
//! something (pause and resume commands, clicks) are also checked against the store, which is
//! what catches a replay sent to another process sharing the database.

use std::collections::{BTreeMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Mutex;

use super::verify::Signature;

/// Most signatures remembered at once: 1M × ~9 bytes. At 2,000 requests/s the 5-minute window
/// holds 600k. Past this, the guard forgets the soonest-expiring ones first.
pub const DEFAULT_CAPACITY: usize = 1 << 20;

type Keys = HashSet<u64, BuildHasherDefault<KeyHasher>>;

/// Seen signatures (64 bits of each), grouped by their expiry (unix seconds, as u32 until 2106).
///
/// The expiry follows from the signed timestamp, so a replay of a request always lands in the
/// group its first delivery went to: a lookup is one small set, and forgetting expired
/// signatures drops whole groups instead of visiting every entry.
pub struct ReplayGuard {
    seen: Mutex<Seen>,
    capacity: usize,
}

#[derive(Default)]
struct Seen {
    by_expiry: BTreeMap<u32, Keys>,
    len: usize,
}

impl Seen {
    /// Drops the groups that expired before `now`.
    fn forget_expired(&mut self, now: u32) {
        let live = self.by_expiry.split_off(&now);
        let expired = std::mem::replace(&mut self.by_expiry, live);
        self.len -= expired.values().map(HashSet::len).sum::<usize>();
    }
}

impl Default for ReplayGuard {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

impl ReplayGuard {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            seen: Mutex::default(),
            capacity: capacity.max(1),
        }
    }

    /// Records `signature` (valid until `expires_at`, which must follow from its signed
    /// timestamp) and says whether it was new.
    pub fn first_seen(&self, signature: &Signature, expires_at: u64, now: u64) -> bool {
        let key = key_of(&signature.value);
        let (expires_at, now) = (clamp(expires_at), clamp(now));
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if expires_at >= now
            && seen
                .by_expiry
                .get(&expires_at)
                .is_some_and(|keys| keys.contains(&key))
        {
            return false;
        }
        if seen.len >= self.capacity {
            seen.forget_expired(now);
            // Still full of live entries: forget the soonest-expiring. The store's check
            // still covers every request that can change something.
            while seen.len >= self.capacity {
                let Some((_, dropped)) = seen.by_expiry.pop_first() else {
                    break;
                };
                seen.len -= dropped.len();
            }
        }
        if seen.by_expiry.entry(expires_at).or_default().insert(key) {
            seen.len += 1;
        }
        true
    }

    /// Forgets expired signatures (the sweeper calls this).
    pub fn prune(&self, now: u64) {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .forget_expired(clamp(now));
    }

    /// How many signatures are remembered now.
    pub fn len(&self) -> usize {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).len
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The keys are already uniform (bits of a verified HMAC, see [`key_of`]): hashing them again
/// would be wasted work, so the table uses them as they are.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

fn clamp(t: u64) -> u32 {
    u32::try_from(t).unwrap_or(u32::MAX)
}

/// 64 bits of the signature (it is an HMAC that already verified, so these bits are uniform;
/// a false "seen before" needs a 2^-64 collision).
fn key_of(value: &str) -> u64 {
    let hex = value.strip_prefix("v0=").unwrap_or(value);
    let mut bytes = [0u8; 8];
    if hex.len() >= 16 && hex::decode_to_slice(&hex[..16], &mut bytes).is_ok() {
        return u64::from_le_bytes(bytes);
    }
    // Not hex (cannot happen after verification): hash the text instead.
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    value.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(n: u32) -> Signature {
        Signature {
            value: format!(
                "v0={:016x}{:048x}",
                u64::from(n).wrapping_mul(0x9e37_79b9_7f4a_7c15),
                0
            ),
            timestamp: 1_000,
        }
    }

    #[test]
    fn a_signature_is_new_once_until_it_expires() {
        let guard = ReplayGuard::default();
        assert!(guard.first_seen(&sig(1), 1_360, 1_000));
        assert!(!guard.first_seen(&sig(1), 1_360, 1_001));
        assert!(guard.first_seen(&sig(2), 1_360, 1_001));
        guard.prune(1_361);
        assert!(guard.is_empty());
    }

    #[test]
    fn memory_stays_bounded_and_live_entries_win_over_expired_ones() {
        let guard = ReplayGuard::with_capacity(100);
        for n in 0..100 {
            assert!(guard.first_seen(&sig(n), 1_010, 1_000));
        }
        // Expired ones are dropped first when full.
        assert!(guard.first_seen(&sig(1_000), 2_000, 1_500));
        assert_eq!(guard.len(), 1);
        for n in 2_000..5_000 {
            guard.first_seen(&sig(n), 2_000 + u64::from(n), 1_500);
        }
        assert!(guard.len() <= 100);
        // The latest ones are still remembered.
        assert!(!guard.first_seen(&sig(4_999), 6_999, 1_500));
    }
}
