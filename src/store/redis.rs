//! Redis: OTP codes, send windows, per-client limits and revoked tokens,
//! shared by every node. Each check-and-change is one Lua script, so it is
//! atomic on the server: two nodes verifying the same code at once cannot
//! both succeed, and concurrent wrong tries cannot push the attempt counter
//! past its limit.

use async_trait::async_trait;
use bb8::{Pool, RunError};
use bb8_redis::RedisConnectionManager;
use chrono::{DateTime, Utc};
use redis::Script;
use std::sync::LazyLock;
use std::time::Duration;

use super::{
    ClientLimit, ClientLimiter, ClientQuotas, OtpCheck, OtpStore, RateDecision, RevocationStore,
    StoreError,
};
use crate::config::{KvSettings, KvUrl};
use crate::domain::ClientKey;

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

/// KEYS[1] = limit key; ARGV = emission interval ms, burst.
/// GCRA as governor computes it, on the server's clock so that nodes with
/// skewed clocks still share one limit. Returns -1 when allowed, else the
/// ms until the next action is allowed.
static GCRA: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local time = redis.call('TIME')
          local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
          local interval = tonumber(ARGV[1])
          local tolerance = interval * (tonumber(ARGV[2]) - 1)
          local tat = tonumber(redis.call('GET', KEYS[1]) or now)
          if tat < now then tat = now end
          local allowed_at = tat - tolerance
          if now < allowed_at then return allowed_at - now end
          local next_tat = tat + interval
          redis.call('SET', KEYS[1], next_tat, 'PX', next_tat - now)
          return -1",
    )
});

pub struct RedisStore {
    pool: Pool<RedisConnectionManager>,
    prefix: String,
    quotas: ClientQuotas,
}

impl RedisStore {
    /// Builds the pool; connections are opened lazily, so a Redis that is
    /// down at start shows in `/readyz` instead of stopping the start.
    pub fn connect(settings: &KvSettings, quotas: ClientQuotas) -> Result<RedisStore, StoreError> {
        let KvUrl::Redis(url) = &settings.url else {
            return Err(StoreError::Failed("not a Redis URL".into()));
        };
        let manager = RedisConnectionManager::new(url.expose_secret())?;
        let pool = Pool::builder()
            .max_size(settings.pool_size.get())
            .connection_timeout(settings.timeout())
            .build_unchecked(manager);
        Ok(RedisStore {
            pool,
            prefix: settings.prefix.clone(),
            quotas,
        })
    }

    fn key(&self, kind: &str, id: &str) -> String {
        format!("{}{kind}:{id}", self.prefix)
    }

    async fn connection(
        &self,
    ) -> Result<bb8::PooledConnection<'_, RedisConnectionManager>, StoreError> {
        self.pool.get().await.map_err(|err| match err {
            RunError::User(err) => err.into(),
            RunError::TimedOut => {
                StoreError::unavailable("Redis", "no connection became free in time")
            }
        })
    }
}

impl RedisStore {
    /// Sets `key` until `until`, when what it revokes has expired anyway.
    async fn revoke_key(&self, key: String, until: DateTime<Utc>) -> Result<(), StoreError> {
        let left = (until - Utc::now()).to_std().unwrap_or_default();
        if left.is_zero() {
            return Ok(());
        }
        let mut connection = self.connection().await?;
        redis::cmd("SET")
            .arg(key)
            .arg(1)
            .arg("PX")
            .arg(millis(left).max(1))
            .query_async::<()>(&mut *connection)
            .await?;
        Ok(())
    }
}

impl From<redis::RedisError> for StoreError {
    fn from(err: redis::RedisError) -> StoreError {
        StoreError::unavailable("Redis", err)
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[async_trait]
impl OtpStore for RedisStore {
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

    async fn forget_hits(&self, key: &str) -> Result<(), StoreError> {
        let mut connection = self.connection().await?;
        redis::cmd("DEL")
            .arg(self.key("limit", key))
            .query_async::<()>(&mut *connection)
            .await?;
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut connection = self.connection().await?;
        redis::cmd("PING")
            .query_async::<()>(&mut *connection)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl RevocationStore for RedisStore {
    async fn revoke(&self, jti: &str, expires_at: DateTime<Utc>) -> Result<(), StoreError> {
        self.revoke_key(self.key("revoked", jti), expires_at).await
    }

    async fn revoke_user(&self, user_id: i64, until: DateTime<Utc>) -> Result<(), StoreError> {
        self.revoke_key(self.key("revoked-user", &user_id.to_string()), until)
            .await
    }

    async fn is_revoked(&self, jti: &str, user_id: i64) -> Result<bool, StoreError> {
        let mut connection = self.connection().await?;
        // One round trip: EXISTS counts the keys of both that exist.
        let exists: u32 = redis::cmd("EXISTS")
            .arg(self.key("revoked", jti))
            .arg(self.key("revoked-user", &user_id.to_string()))
            .query_async(&mut *connection)
            .await?;
        Ok(exists > 0)
    }
}

#[async_trait]
impl ClientLimiter for RedisStore {
    async fn check(
        &self,
        limit: ClientLimit,
        client: &ClientKey,
    ) -> Result<RateDecision, StoreError> {
        let per_minute = self.quotas.per_minute(limit).get();
        let interval_ms = (60_000 / u64::from(per_minute)).max(1);
        let mut connection = self.connection().await?;
        let answer: i64 = GCRA
            .key(self.key(&format!("client:{}", limit.name()), client.as_str()))
            .arg(interval_ms)
            .arg(per_minute)
            .invoke_async(&mut *connection)
            .await?;
        Ok(if answer < 0 {
            RateDecision::Allowed
        } else {
            RateDecision::Limited {
                retry_after: Duration::from_millis(answer.unsigned_abs()),
            }
        })
    }
}
