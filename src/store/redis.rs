//! Redis implementation of the OTP store, shared by every node. Each
//! check-and-change is one Lua script, so it is atomic on the server: two nodes
//! verifying the same code at once cannot both succeed, and concurrent wrong
//! tries cannot push the attempt counter past its limit.

use async_trait::async_trait;
use bb8::{Pool, RunError};
use bb8_redis::RedisConnectionManager;
use redis::Script;
use std::sync::LazyLock;
use std::time::Duration;

use super::{OtpCheck, OtpStore, RateDecision, StoreError};
use crate::config::KvSettings;

/// KEYS[1] = code key; ARGV = hash, ttl ms. Replaces code and counter.
static PUT_CODE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"redis.call('DEL', KEYS[1])
          redis.call('HSET', KEYS[1], 'hash', ARGV[1], 'attempts', 0)
          redis.call('PEXPIRE', KEYS[1], ARGV[2])
          return 1",
    )
});

/// KEYS[1] = code key; ARGV = presented hash, max attempts.
/// Returns -2 accepted (code consumed), -1 missing, n >= 0 wrong with n tries left.
/// The comparison is of keyed hashes: its timing tells nothing about a code.
static CHECK_CODE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local stored = redis.call('HGET', KEYS[1], 'hash')
          if not stored then return -1 end
          local max = tonumber(ARGV[2])
          local attempts = tonumber(redis.call('HGET', KEYS[1], 'attempts'))
          if attempts >= max then
            redis.call('DEL', KEYS[1])
            return -1
          end
          if stored == ARGV[1] then
            redis.call('DEL', KEYS[1])
            return -2
          end
          attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
          if attempts >= max then redis.call('DEL', KEYS[1]) end
          return max - attempts",
    )
});

/// KEYS[1] = window key; ARGV = limit, window ms.
/// Returns -1 when allowed, else the ms left in the window.
static HIT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local hits = redis.call('INCR', KEYS[1])
          local ttl = redis.call('PTTL', KEYS[1])
          if ttl < 0 then
            redis.call('PEXPIRE', KEYS[1], ARGV[2])
            ttl = tonumber(ARGV[2])
          end
          if hits > tonumber(ARGV[1]) then return ttl end
          return -1",
    )
});

pub struct RedisOtpStore {
    pool: Pool<RedisConnectionManager>,
    prefix: String,
}

impl RedisOtpStore {
    /// Builds the pool; connections are opened lazily, so a Redis that is
    /// down at start shows in `/readyz` instead of stopping the start.
    pub fn connect(settings: &KvSettings) -> Result<RedisOtpStore, StoreError> {
        let manager = RedisConnectionManager::new(settings.url.as_str())?;
        let pool = Pool::builder()
            .max_size(settings.pool_size)
            .connection_timeout(Duration::from_millis(settings.timeout_ms))
            .build_unchecked(manager);
        Ok(RedisOtpStore {
            pool,
            prefix: settings.prefix.clone(),
        })
    }

    fn key(&self, kind: &str, id: &str) -> String {
        format!("{}{kind}:{id}", self.prefix)
    }

    async fn connection(
        &self,
    ) -> Result<bb8::PooledConnection<'_, RedisConnectionManager>, StoreError> {
        self.pool.get().await.map_err(|err| match err {
            RunError::User(err) => StoreError::Redis(err),
            RunError::TimedOut => StoreError::RedisPoolTimeout,
        })
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[async_trait]
impl OtpStore for RedisOtpStore {
    async fn put_code(&self, email: &str, hash: [u8; 32], ttl: Duration) -> Result<(), StoreError> {
        let mut connection = self.connection().await?;
        let _: i64 = PUT_CODE
            .key(self.key("otp", email))
            .arg(&hash[..])
            .arg(millis(ttl).max(1))
            .invoke_async(&mut *connection)
            .await?;
        Ok(())
    }

    async fn check_code(
        &self,
        email: &str,
        hash: &[u8; 32],
        max_attempts: u32,
    ) -> Result<OtpCheck, StoreError> {
        let mut connection = self.connection().await?;
        let answer: i64 = CHECK_CODE
            .key(self.key("otp", email))
            .arg(&hash[..])
            .arg(max_attempts)
            .invoke_async(&mut *connection)
            .await?;
        Ok(match answer {
            -2 => OtpCheck::Accepted,
            left if left >= 0 => OtpCheck::Rejected {
                attempts_left: left as u32,
            },
            _ => OtpCheck::Missing,
        })
    }

    async fn hit(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
    ) -> Result<RateDecision, StoreError> {
        if window.is_zero() {
            return Ok(RateDecision::Allowed);
        }
        let mut connection = self.connection().await?;
        let answer: i64 = HIT
            .key(self.key("limit", key))
            .arg(limit)
            .arg(millis(window))
            .invoke_async(&mut *connection)
            .await?;
        Ok(if answer < 0 {
            RateDecision::Allowed
        } else {
            RateDecision::Limited {
                retry_after: Duration::from_millis(answer as u64),
            }
        })
    }

    async fn revoke(&self, jti: &str, ttl: Duration) -> Result<(), StoreError> {
        let mut connection = self.connection().await?;
        redis::cmd("SET")
            .arg(self.key("revoked", jti))
            .arg(1)
            .arg("PX")
            .arg(millis(ttl).max(1))
            .query_async::<()>(&mut *connection)
            .await?;
        Ok(())
    }

    async fn is_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        let mut connection = self.connection().await?;
        let exists: bool = redis::cmd("EXISTS")
            .arg(self.key("revoked", jti))
            .query_async(&mut *connection)
            .await?;
        Ok(exists)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut connection = self.connection().await?;
        redis::cmd("PING")
            .query_async::<()>(&mut *connection)
            .await?;
        Ok(())
    }
}
