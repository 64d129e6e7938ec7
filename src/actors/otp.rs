//! OtpActor: issues and verifies one-time codes, enforces send limits, issues
//! session tokens and keeps the list of revoked ones.

use actix::prelude::*;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

use super::user::{Login, UserActor};
use super::{ActorError, CheckDependency, DependencyStatus};
use crate::bus::{Event, EventBus, OtpIssued};
use crate::domain::{
    AdminList, ClientKey, Email, OtpCode, OtpHasher, PhoneNumber, TokenSigner, User,
};
use crate::runtime::{Registry, Reply};
use crate::store::{
    ClientLimit, ClientLimiter, MailBudget, OtpCheck, OtpStore, RateDecision, RevocationStore,
};

/// The rules of codes and sends, from `[auth]`.
#[derive(Debug, Clone)]
pub struct OtpPolicy {
    pub code_ttl: Duration,
    pub max_attempts: u32,
    pub send_interval: Duration,
    pub sends_per_hour: u32,
    pub admins: Arc<AdminList>,
}

/// The key of the short send window of one email.
fn send_interval_key(email: &Email) -> String {
    format!("otp:send:short:{}", email.as_str())
}

fn limited(decision: RateDecision) -> Result<(), ActorError> {
    match decision {
        RateDecision::Allowed => Ok(()),
        RateDecision::Limited { retry_after } => Err(ActorError::RateLimited { retry_after }),
    }
}

/// What every instance shares: the stores, the limits (the node's mail
/// budget is one for all instances), the keys and the rules.
pub struct OtpActor {
    parts: Arc<OtpActorParts>,
}

pub struct OtpActorParts {
    pub store: Arc<dyn OtpStore>,
    pub revocations: Arc<dyn RevocationStore>,
    pub clients: Arc<dyn ClientLimiter>,
    pub mail_budget: MailBudget,
    pub hasher: OtpHasher,
    pub signer: Arc<TokenSigner>,
    /// UserActor is reached through it, wherever it is hosted.
    pub registry: Registry,
    pub bus: EventBus,
    pub policy: OtpPolicy,
}

impl OtpActor {
    pub fn new(parts: Arc<OtpActorParts>) -> Self {
        OtpActor { parts }
    }
}

impl Actor for OtpActor {
    type Context = Context<Self>;
}

/// Sends a fresh code to `email`, replacing any previous one. Answers the
/// same whether or not a user has this email.
#[derive(Debug, Serialize, Deserialize)]
pub struct RequestOtp {
    pub email: Email,
    /// Who asks, for the per-client limit.
    pub client: ClientKey,
}

/// Checks a code; on success signs the user in (creating them on first login).
#[derive(Debug, Serialize, Deserialize)]
pub struct VerifyOtp {
    pub email: Email,
    pub code: OtpCode,
    pub phone_number: Option<PhoneNumber>,
    /// Who asks, for the per-client limit.
    pub client: ClientKey,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Session {
    pub user: User,
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// Revokes a token id until the token would have expired anyway.
#[derive(Debug, Serialize, Deserialize)]
pub struct RevokeToken {
    pub jti: String,
    pub expires_at: DateTime<Utc>,
}

/// Whether a token is signed out, by itself or with every session of its user.
#[derive(Debug, Serialize, Deserialize)]
pub struct IsRevoked {
    pub jti: String,
    pub user_id: i64,
}

#[storefront_macros::handlers]
impl OtpActor {
    #[wire("otp.request_code")]
    #[example(RequestOtp {
        email: email(),
        client: client(),
    } => refused())]
    fn request_otp(
        &mut self,
        msg: RequestOtp,
        _: &mut Context<Self>,
    ) -> Reply<Result<(), ActorError>> {
        let parts = self.parts.clone();
        Box::pin(async move {
            let policy = &parts.policy;
            // Before any limit is spent: a code that could not be mailed
            // must not hold the address's send interval.
            if !parts.bus.has_room() {
                return Err(ActorError::Unavailable(
                    "the broker has not taken the last events; try again shortly".into(),
                ));
            }
            limited(
                parts
                    .clients
                    .check(ClientLimit::OtpRequest, &msg.client)
                    .await?,
            )?;
            let email = &msg.email;
            let windows = [
                (send_interval_key(email), 1, policy.send_interval),
                (
                    format!("otp:send:hour:{}", email.as_str()),
                    policy.sends_per_hour,
                    Duration::from_secs(3600),
                ),
            ];
            for (key, limit, window) in windows {
                limited(parts.store.hit(&key, limit, window).await?)?;
            }
            // Last, so that refusals above do not spend the node's budget.
            limited(parts.mail_budget.spend())?;
            let code = OtpCode::generate();
            parts
                .store
                .put_code(
                    email.as_str(),
                    parts.hasher.hash(email, &code),
                    policy.code_ttl,
                )
                .await?;
            let expires_at = Utc::now()
                + chrono::Duration::from_std(policy.code_ttl).unwrap_or(chrono::Duration::MAX);
            parts
                .bus
                .publish(Event::OtpIssued(OtpIssued {
                    email: email.clone(),
                    otp: code,
                    expires_at,
                }))
                .map_err(|full| ActorError::Unavailable(full.to_string()))?;
            Ok(())
        })
    }

    #[wire("otp.verify_code")]
    #[example(VerifyOtp {
        email: email(),
        code: OtpCode::parse("042917").unwrap(),
        phone_number: Some(PhoneNumber::parse("+1 555 0100").unwrap()),
        client: client(),
    } => Ok(Session {
        user: user(),
        token: "a.b.c".into(),
        expires_at: Utc::now(),
    }))]
    fn verify_otp(
        &mut self,
        msg: VerifyOtp,
        _: &mut Context<Self>,
    ) -> Reply<Result<Session, ActorError>> {
        let parts = self.parts.clone();
        Box::pin(async move {
            let policy = &parts.policy;
            limited(
                parts
                    .clients
                    .check(ClientLimit::OtpVerify, &msg.client)
                    .await?,
            )?;
            let hash = parts.hasher.hash(&msg.email, &msg.code);
            match parts
                .store
                .check_code(msg.email.as_str(), &hash, policy.max_attempts)
                .await?
            {
                OtpCheck::Accepted => {}
                OtpCheck::Rejected { attempts_left } => {
                    tracing::info!(attempts_left, "wrong code");
                    if attempts_left == 0 {
                        // The code died of someone's wrong tries: its owner
                        // may ask for a new one at once.
                        parts
                            .store
                            .forget_hits(&send_interval_key(&msg.email))
                            .await?;
                    }
                    return Err(ActorError::InvalidCode);
                }
                OtpCheck::Missing => return Err(ActorError::InvalidCode),
            }
            let role = policy.admins.role_for(msg.email.as_str());
            let user = parts
                .registry
                .get::<UserActor>()
                .call(Login {
                    email: msg.email,
                    phone_number: msg.phone_number,
                    role,
                })
                .await??;
            let issued = parts.signer.issue(&user);
            Ok(Session {
                expires_at: issued.claims.expires_at(),
                token: issued.token,
                user,
            })
        })
    }

    #[wire("otp.revoke_token")]
    #[example(RevokeToken {
        jti: "j".into(),
        expires_at: Utc::now(),
    } => Ok(()))]
    fn revoke_token(
        &mut self,
        msg: RevokeToken,
        _: &mut Context<Self>,
    ) -> Reply<Result<(), ActorError>> {
        let parts = self.parts.clone();
        Box::pin(async move { Ok(parts.revocations.revoke(&msg.jti, msg.expires_at).await?) })
    }

    #[wire("otp.is_revoked")]
    #[example(IsRevoked {
        jti: "j".into(),
        user_id: 7,
    } => Ok(true))]
    fn is_revoked(
        &mut self,
        msg: IsRevoked,
        _: &mut Context<Self>,
    ) -> Reply<Result<bool, ActorError>> {
        let parts = self.parts.clone();
        Box::pin(async move { Ok(parts.revocations.is_revoked(&msg.jti, msg.user_id).await?) })
    }

    #[answers]
    #[example(CheckDependency => dependency_up())]
    fn check_dependency(
        &mut self,
        _: CheckDependency,
        _: &mut Context<Self>,
    ) -> Reply<Result<DependencyStatus, ActorError>> {
        let parts = self.parts.clone();
        Box::pin(async move {
            Ok(DependencyStatus::from_result(
                "kv",
                parts.store.ping().await,
            ))
        })
    }
}
