//! Rate limits per client on the sign-in routes, and the per-node budget of
//! sign-in mails. Both use GCRA (a client may spend a minute's worth at
//! once, then one more every `60 / n` seconds): governor's in this process,
//! the same algorithm in a Redis script when nodes must share one limit.

use async_trait::async_trait;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};

use super::{RateDecision, StoreError};
use crate::domain::ClientKey;

/// What a per-client limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientLimit {
    /// Asking for a sign-in code.
    OtpRequest,
    /// Checking a sign-in code.
    OtpVerify,
    /// Starting a guest cart: each is a row until it idles out.
    GuestCart,
}

impl ClientLimit {
    pub fn name(self) -> &'static str {
        match self {
            ClientLimit::OtpRequest => "otp-request",
            ClientLimit::OtpVerify => "otp-verify",
            ClientLimit::GuestCart => "guest-cart",
        }
    }
}

/// How many of each a client may do per minute (also the burst).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientQuotas {
    pub otp_requests_per_minute: NonZeroU32,
    pub otp_verifies_per_minute: NonZeroU32,
    pub guest_carts_per_minute: NonZeroU32,
}

impl ClientQuotas {
    pub fn per_minute(&self, limit: ClientLimit) -> NonZeroU32 {
        match limit {
            ClientLimit::OtpRequest => self.otp_requests_per_minute,
            ClientLimit::OtpVerify => self.otp_verifies_per_minute,
            ClientLimit::GuestCart => self.guest_carts_per_minute,
        }
    }
}

#[async_trait]
pub trait ClientLimiter: Send + Sync {
    /// Counts one `limit` action of `client`; limited when it has none left.
    async fn check(
        &self,
        limit: ClientLimit,
        client: &ClientKey,
    ) -> Result<RateDecision, StoreError>;
}

/// Per-client limits in this process.
pub struct LocalClientLimiter {
    otp_request: DefaultKeyedRateLimiter<ClientKey>,
    otp_verify: DefaultKeyedRateLimiter<ClientKey>,
    guest_cart: DefaultKeyedRateLimiter<ClientKey>,
    clock: DefaultClock,
    checks_since_sweep: AtomicU32,
}

/// Clients not seen for a while are forgotten every this many checks, so
/// memory follows the clients of the last minutes, not every client ever.
const SWEEP_EVERY: u32 = 4096;

impl LocalClientLimiter {
    pub fn new(quotas: ClientQuotas) -> LocalClientLimiter {
        let keyed =
            |limit| DefaultKeyedRateLimiter::keyed(Quota::per_minute(quotas.per_minute(limit)));
        LocalClientLimiter {
            otp_request: keyed(ClientLimit::OtpRequest),
            otp_verify: keyed(ClientLimit::OtpVerify),
            guest_cart: keyed(ClientLimit::GuestCart),
            clock: DefaultClock::default(),
            checks_since_sweep: AtomicU32::new(0),
        }
    }

    fn limiter(&self, limit: ClientLimit) -> &DefaultKeyedRateLimiter<ClientKey> {
        match limit {
            ClientLimit::OtpRequest => &self.otp_request,
            ClientLimit::OtpVerify => &self.otp_verify,
            ClientLimit::GuestCart => &self.guest_cart,
        }
    }

    const LIMITS: [ClientLimit; 3] = [
        ClientLimit::OtpRequest,
        ClientLimit::OtpVerify,
        ClientLimit::GuestCart,
    ];

    /// Clients currently remembered, across limits.
    pub fn remembered(&self) -> usize {
        Self::LIMITS
            .iter()
            .map(|limit| self.limiter(*limit).len())
            .sum()
    }

    fn sweep_sometimes(&self) {
        if self.checks_since_sweep.fetch_add(1, Ordering::Relaxed) + 1 >= SWEEP_EVERY {
            self.checks_since_sweep.store(0, Ordering::Relaxed);
            for limit in Self::LIMITS {
                self.limiter(limit).retain_recent();
            }
        }
    }
}

#[async_trait]
impl ClientLimiter for LocalClientLimiter {
    async fn check(
        &self,
        limit: ClientLimit,
        client: &ClientKey,
    ) -> Result<RateDecision, StoreError> {
        self.sweep_sometimes();
        Ok(match self.limiter(limit).check_key(client) {
            Ok(()) => RateDecision::Allowed,
            Err(not_until) => RateDecision::Limited {
                retry_after: not_until.wait_time_from(self.clock.now()),
            },
        })
    }
}

/// Sign-in mails this node may send, whoever asks: a flood spread over many
/// clients still cannot turn the node into a mail cannon.
pub struct MailBudget {
    limiter: DefaultDirectRateLimiter,
    clock: DefaultClock,
}

impl MailBudget {
    pub fn per_minute(mails: NonZeroU32) -> MailBudget {
        MailBudget {
            limiter: DefaultDirectRateLimiter::direct(Quota::per_minute(mails)),
            clock: DefaultClock::default(),
        }
    }

    /// Spends one mail of the budget, if there is one left.
    pub fn spend(&self) -> RateDecision {
        match self.limiter.check() {
            Ok(()) => RateDecision::Allowed,
            Err(not_until) => RateDecision::Limited {
                retry_after: not_until.wait_time_from(self.clock.now()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quotas(n: u32) -> ClientQuotas {
        ClientQuotas {
            otp_requests_per_minute: NonZeroU32::new(n).unwrap(),
            otp_verifies_per_minute: NonZeroU32::new(n + 1).unwrap(),
            guest_carts_per_minute: NonZeroU32::new(n + 2).unwrap(),
        }
    }

    #[tokio::test]
    async fn each_client_has_its_own_allowance() {
        let limiter = LocalClientLimiter::new(quotas(3));
        let a = ClientKey::from_ip("192.0.2.1".parse().unwrap());
        let b = ClientKey::from_ip("192.0.2.2".parse().unwrap());
        for _ in 0..3 {
            assert_eq!(
                limiter.check(ClientLimit::OtpRequest, &a).await.unwrap(),
                RateDecision::Allowed
            );
        }
        match limiter.check(ClientLimit::OtpRequest, &a).await.unwrap() {
            RateDecision::Limited { retry_after } => {
                assert!(retry_after.as_secs_f64() > 15.0 && retry_after.as_secs() <= 20)
            }
            RateDecision::Allowed => panic!("the fourth request in a minute was allowed"),
        }
        assert_eq!(
            limiter.check(ClientLimit::OtpRequest, &b).await.unwrap(),
            RateDecision::Allowed
        );
        assert_eq!(
            limiter.check(ClientLimit::OtpVerify, &a).await.unwrap(),
            RateDecision::Allowed,
            "limits are counted apart"
        );
    }

    #[test]
    fn the_mail_budget_runs_out() {
        let budget = MailBudget::per_minute(NonZeroU32::new(2).unwrap());
        assert_eq!(budget.spend(), RateDecision::Allowed);
        assert_eq!(budget.spend(), RateDecision::Allowed);
        assert!(matches!(budget.spend(), RateDecision::Limited { .. }));
    }
}
