//! OtpActor: issues and verifies one-time codes, enforces send limits, issues
//! session tokens and keeps the list of revoked ones.

use actix::prelude::*;
use chrono::{DateTime, Utc};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use super::mailbox::{Handles, Mailbox, MailboxStats, Reply};
use super::user::{Login, UserActor};
use super::{ActorError, CheckDependency, DependencyStatus};
use crate::bus::{Event, EventBus, OtpIssued};
use crate::domain::{Email, OtpCode, OtpHasher, PhoneNumber, Role, TokenSigner, User};
use crate::store::{OtpCheck, OtpStore, RateDecision};

/// The rules of codes and sends, from `[auth]`.
#[derive(Debug, Clone)]
pub struct OtpPolicy {
    pub code_ttl: Duration,
    pub max_attempts: u32,
    pub send_interval: Duration,
    pub sends_per_hour: u32,
    pub admin_emails: HashSet<String>,
}

impl OtpPolicy {
    fn role_for(&self, email: &Email) -> Role {
        if self.admin_emails.contains(email.as_str()) {
            Role::Admin
        } else {
            Role::Customer
        }
    }
}

pub struct OtpActor {
    store: Arc<dyn OtpStore>,
    hasher: OtpHasher,
    signer: Arc<TokenSigner>,
    users: Mailbox<UserActor>,
    bus: EventBus,
    policy: Arc<OtpPolicy>,
    stats: Arc<MailboxStats>,
}

pub struct OtpActorParts {
    pub store: Arc<dyn OtpStore>,
    pub hasher: OtpHasher,
    pub signer: Arc<TokenSigner>,
    pub users: Mailbox<UserActor>,
    pub bus: EventBus,
    pub policy: OtpPolicy,
}

impl OtpActor {
    pub fn new(parts: OtpActorParts, stats: Arc<MailboxStats>) -> Self {
        OtpActor {
            store: parts.store,
            hasher: parts.hasher,
            signer: parts.signer,
            users: parts.users,
            bus: parts.bus,
            policy: Arc::new(parts.policy),
            stats,
        }
    }
}

impl Actor for OtpActor {
    type Context = Context<Self>;
}

impl Supervised for OtpActor {
    fn restarting(&mut self, _: &mut Context<Self>) {
        self.stats.record_restart();
    }
}

crate::instrumented_actor!(OtpActor);

/// Sends a fresh code to `email`, replacing any previous one. Answers the
/// same whether or not a user has this email.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), ActorError>")]
pub struct RequestOtp {
    pub email: Email,
}

/// Checks a code; on success signs the user in (creating them on first login).
#[derive(Debug, Message)]
#[rtype(result = "Result<Session, ActorError>")]
pub struct VerifyOtp {
    pub email: Email,
    pub code: OtpCode,
    pub phone_number: Option<PhoneNumber>,
}

#[derive(Debug)]
pub struct Session {
    pub user: User,
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// Revokes a token id until the token would have expired anyway.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), ActorError>")]
pub struct RevokeToken {
    pub jti: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Message)]
#[rtype(result = "Result<bool, ActorError>")]
pub struct IsRevoked {
    pub jti: String,
}

impl Handles<RequestOtp> for OtpActor {
    fn handle(&mut self, msg: RequestOtp, _: &mut Context<Self>) -> Reply<Result<(), ActorError>> {
        let store = self.store.clone();
        let hasher = self.hasher.clone();
        let bus = self.bus.clone();
        let policy = self.policy.clone();
        Box::pin(async move {
            let email = msg.email.as_str();
            let limits = [
                ("otp:send:short:", 1, policy.send_interval),
                (
                    "otp:send:hour:",
                    policy.sends_per_hour,
                    Duration::from_secs(3600),
                ),
            ];
            for (prefix, limit, window) in limits {
                let key = format!("{prefix}{email}");
                if let RateDecision::Limited { retry_after } =
                    store.hit(&key, limit, window).await?
                {
                    return Err(ActorError::RateLimited { retry_after });
                }
            }
            let code = OtpCode::generate();
            store
                .put_code(email, hasher.hash(&msg.email, &code), policy.code_ttl)
                .await?;
            let expires_at = Utc::now()
                + chrono::Duration::from_std(policy.code_ttl).unwrap_or(chrono::Duration::MAX);
            bus.publish(Event::OtpIssued(OtpIssued {
                email: email.to_owned(),
                otp: code.expose().to_owned(),
                expires_at,
            }));
            Ok(())
        })
    }
}

impl Handles<VerifyOtp> for OtpActor {
    fn handle(
        &mut self,
        msg: VerifyOtp,
        _: &mut Context<Self>,
    ) -> Reply<Result<Session, ActorError>> {
        let store = self.store.clone();
        let hash = self.hasher.hash(&msg.email, &msg.code);
        let signer = self.signer.clone();
        let users = self.users.clone();
        let policy = self.policy.clone();
        Box::pin(async move {
            match store
                .check_code(msg.email.as_str(), &hash, policy.max_attempts)
                .await?
            {
                OtpCheck::Accepted => {}
                OtpCheck::Rejected { attempts_left } => {
                    tracing::info!(attempts_left, "wrong code");
                    return Err(ActorError::InvalidCode);
                }
                OtpCheck::Missing => return Err(ActorError::InvalidCode),
            }
            let role = policy.role_for(&msg.email);
            let user = users
                .call(Login {
                    email: msg.email,
                    phone_number: msg.phone_number,
                    role,
                })
                .await??;
            let issued = signer.issue(&user);
            Ok(Session {
                expires_at: issued.claims.expires_at(),
                token: issued.token,
                user,
            })
        })
    }
}

impl Handles<RevokeToken> for OtpActor {
    fn handle(&mut self, msg: RevokeToken, _: &mut Context<Self>) -> Reply<Result<(), ActorError>> {
        let store = self.store.clone();
        Box::pin(async move {
            let left = (msg.expires_at - Utc::now()).to_std().unwrap_or_default();
            if !left.is_zero() {
                store.revoke(&msg.jti, left).await?;
            }
            Ok(())
        })
    }
}

impl Handles<IsRevoked> for OtpActor {
    fn handle(&mut self, msg: IsRevoked, _: &mut Context<Self>) -> Reply<Result<bool, ActorError>> {
        let store = self.store.clone();
        Box::pin(async move { Ok(store.is_revoked(&msg.jti).await?) })
    }
}

impl Handles<CheckDependency> for OtpActor {
    fn handle(
        &mut self,
        _: CheckDependency,
        _: &mut Context<Self>,
    ) -> Reply<Result<DependencyStatus, ActorError>> {
        let store = self.store.clone();
        Box::pin(async move { Ok(DependencyStatus::from_result("kv", store.ping().await)) })
    }
}
