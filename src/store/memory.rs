//! In-process OTP store with TTLs, for the embedded mode and for one node.
//! (Revoked tokens go to the database instead, so that a restart keeps them.)

use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use subtle::ConstantTimeEq;
use tokio::time::Instant;

use super::{OtpCheck, OtpStore, RateDecision, StoreError};

struct Code {
    hash: [u8; 32],
    attempts: u32,
    expires_at: Instant,
}

struct Window {
    hits: u32,
    ends_at: Instant,
}

#[derive(Default)]
struct State {
    codes: HashMap<String, Code>,
    windows: HashMap<String, Window>,
    writes_since_sweep: usize,
}

impl State {
    /// Drops expired entries now and then, so memory stays bounded by the
    /// number of live entries rather than growing with every email ever seen.
    fn sweep_sometimes(&mut self, now: Instant) {
        self.writes_since_sweep += 1;
        if self.writes_since_sweep < 1024 {
            return;
        }
        self.writes_since_sweep = 0;
        self.codes.retain(|_, code| code.expires_at > now);
        self.windows.retain(|_, window| window.ends_at > now);
    }
}

#[derive(Default)]
pub struct MemoryOtpStore {
    state: Mutex<State>,
}

impl MemoryOtpStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-written entry
        // (every change is one insert or remove), so a poisoned lock is safe.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl OtpStore for MemoryOtpStore {
    async fn put_code(&self, email: &str, hash: [u8; 32], ttl: Duration) -> Result<(), StoreError> {
        let now = Instant::now();
        let mut state = self.state();
        state.sweep_sometimes(now);
        state.codes.insert(
            email.to_owned(),
            Code {
                hash,
                attempts: 0,
                expires_at: now + ttl,
            },
        );
        Ok(())
    }

    async fn check_code(
        &self,
        email: &str,
        hash: &[u8; 32],
        max_attempts: u32,
    ) -> Result<OtpCheck, StoreError> {
        let now = Instant::now();
        let mut state = self.state();
        let Some(code) = state.codes.get_mut(email) else {
            return Ok(OtpCheck::Missing);
        };
        if code.expires_at <= now || code.attempts >= max_attempts {
            state.codes.remove(email);
            return Ok(OtpCheck::Missing);
        }
        if bool::from(code.hash.ct_eq(hash)) {
            state.codes.remove(email);
            return Ok(OtpCheck::Accepted);
        }
        code.attempts += 1;
        let attempts_left = max_attempts - code.attempts;
        if attempts_left == 0 {
            state.codes.remove(email);
        }
        Ok(OtpCheck::Rejected { attempts_left })
    }

    async fn hit(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
    ) -> Result<RateDecision, StoreError> {
        let now = Instant::now();
        let mut state = self.state();
        state.sweep_sometimes(now);
        let entry = state.windows.entry(key.to_owned()).or_insert(Window {
            hits: 0,
            ends_at: now + window,
        });
        if entry.ends_at <= now {
            *entry = Window {
                hits: 0,
                ends_at: now + window,
            };
        }
        if entry.hits >= limit {
            return Ok(RateDecision::Limited {
                retry_after: entry.ends_at - now,
            });
        }
        entry.hits += 1;
        Ok(RateDecision::Allowed)
    }

    async fn forget_hits(&self, key: &str) -> Result<(), StoreError> {
        self.state().windows.remove(key);
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[tokio::test]
    async fn code_is_single_use() {
        let store = MemoryOtpStore::new();
        store.put_code("a", [1; 32], SECOND).await.unwrap();
        assert_eq!(
            store.check_code("a", &[1; 32], 5).await.unwrap(),
            OtpCheck::Accepted
        );
        assert_eq!(
            store.check_code("a", &[1; 32], 5).await.unwrap(),
            OtpCheck::Missing
        );
    }

    #[tokio::test]
    async fn code_dies_after_max_wrong_tries() {
        let store = MemoryOtpStore::new();
        store.put_code("a", [1; 32], SECOND).await.unwrap();
        for left in (0..3).rev() {
            assert_eq!(
                store.check_code("a", &[2; 32], 3).await.unwrap(),
                OtpCheck::Rejected {
                    attempts_left: left
                }
            );
        }
        assert_eq!(
            store.check_code("a", &[1; 32], 3).await.unwrap(),
            OtpCheck::Missing
        );
    }

    #[tokio::test(start_paused = true)]
    async fn code_expires() {
        let store = MemoryOtpStore::new();
        store.put_code("a", [1; 32], SECOND).await.unwrap();
        tokio::time::advance(SECOND).await;
        assert_eq!(
            store.check_code("a", &[1; 32], 5).await.unwrap(),
            OtpCheck::Missing
        );
    }

    #[tokio::test(start_paused = true)]
    async fn fixed_window_limit() {
        let store = MemoryOtpStore::new();
        assert_eq!(
            store.hit("k", 2, SECOND * 30).await.unwrap(),
            RateDecision::Allowed
        );
        assert_eq!(
            store.hit("k", 2, SECOND * 30).await.unwrap(),
            RateDecision::Allowed
        );
        tokio::time::advance(SECOND * 10).await;
        assert_eq!(
            store.hit("k", 2, SECOND * 30).await.unwrap(),
            RateDecision::Limited {
                retry_after: SECOND * 20
            }
        );
        tokio::time::advance(SECOND * 20).await;
        assert_eq!(
            store.hit("k", 2, SECOND * 30).await.unwrap(),
            RateDecision::Allowed
        );
        store.hit("k", 2, SECOND * 30).await.unwrap();
        store.forget_hits("k").await.unwrap();
        assert_eq!(
            store.hit("k", 2, SECOND * 30).await.unwrap(),
            RateDecision::Allowed
        );
    }
}
