//! MailerActor: renders and delivers every mail storefront sends. It consumes
//! events (`notification.otp`, `user.created`); nothing calls it to send.
//!
//! A mail that cannot be delivered at once is not dropped: it goes into the
//! durable mail queue (a database table) and is retried with exponential
//! backoff; after `retry_max_attempts` tries, or at a permanent refusal, it
//! stays there marked dead until an operator retries it.

use actix::prelude::*;
use chrono::Utc;
use std::sync::Arc;
use std::time::Duration;

use super::mailbox::{Handles, MailboxStats, Reply};
use super::{ActorError, CheckDependency, DependencyStatus};
use crate::bus::{DeliverEvent, Event};
use crate::domain::render;
use crate::mail::{compose, MailError, MailTransport};
use crate::store::{MailQueue, ParkedMail, QueuedMailSummary};
use crate::telemetry::error_chain;

/// When to try a mail again.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub base: Duration,
    pub max_attempts: u32,
    pub poll: Duration,
    /// How long the first try may take before the mail is queued instead;
    /// shorter than the callers' timeout, so an event is never delivered
    /// twice because its first try was slow.
    pub first_try: Duration,
    /// How long a claimed mail stays hidden from other nodes' retry rounds;
    /// longer than one SMTP conversation.
    pub lease: Duration,
}

impl RetryPolicy {
    /// The next try after `attempts` failed ones, or `None` when the mail is dead.
    fn next_attempt(&self, attempts: u32, error: &MailError) -> Option<chrono::DateTime<Utc>> {
        if !error.is_temporary() || attempts >= self.max_attempts {
            return None;
        }
        let delay = self
            .base
            .saturating_mul(2u32.saturating_pow(attempts.saturating_sub(1)))
            .min(Duration::from_secs(3600));
        Some(Utc::now() + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX))
    }
}

pub struct MailerActor {
    transport: Arc<dyn MailTransport>,
    queue: Arc<dyn MailQueue>,
    from: lettre::message::Mailbox,
    retry: RetryPolicy,
    retry_round_running: bool,
    stats: Arc<MailboxStats>,
}

pub struct MailerParts {
    pub transport: Arc<dyn MailTransport>,
    pub queue: Arc<dyn MailQueue>,
    pub from: lettre::message::Mailbox,
    pub retry: RetryPolicy,
}

impl MailerActor {
    /// The routing keys this actor consumes.
    pub const SUBSCRIBES_TO: &'static [&'static str] = &[Event::OTP_ISSUED, Event::USER_CREATED];

    pub fn new(parts: MailerParts, stats: Arc<MailboxStats>) -> Self {
        MailerActor {
            transport: parts.transport,
            queue: parts.queue,
            from: parts.from,
            retry: parts.retry,
            retry_round_running: false,
            stats,
        }
    }

    /// Sends the mails that are due; one round at a time.
    fn retry_round(&mut self, ctx: &mut Context<Self>) {
        if self.retry_round_running {
            return;
        }
        self.retry_round_running = true;
        let transport = self.transport.clone();
        let queue = self.queue.clone();
        let retry = self.retry;
        let round = async move {
            // One mail per claim, so the lease only has to outlast one send.
            while let Some(queued) = queue.claim_due(Utc::now(), retry.lease, 1).await?.pop() {
                let attempts = queued.attempts + 1;
                match transport.send(&queued.mail).await {
                    Ok(()) => {
                        tracing::info!(mail_id = queued.id, attempts, "queued mail delivered");
                        queue.delivered(queued.id).await?;
                    }
                    Err(err) => {
                        let next = retry.next_attempt(attempts, &err);
                        let reason = error_chain(&err);
                        tracing::warn!(mail_id = queued.id, attempts, dead = next.is_none(), error = %reason, "queued mail not delivered");
                        queue.failed(queued.id, attempts, &reason, next).await?;
                    }
                }
            }
            Ok::<(), ActorError>(())
        };
        ctx.spawn(round.into_actor(self).map(|result, actor, _| {
            actor.retry_round_running = false;
            if let Err(err) = result {
                tracing::error!(error = %error_chain(&err), "mail retry round failed");
            }
        }));
    }
}

impl Actor for MailerActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // Runs again after a restart, with a fresh context and timer.
        self.retry_round_running = false;
        ctx.run_interval(self.retry.poll, |actor, ctx| actor.retry_round(ctx));
    }
}

impl Supervised for MailerActor {
    fn restarting(&mut self, _: &mut Context<Self>) {
        self.stats.record_restart();
    }
}

crate::instrumented_actor!(MailerActor);

/// Sends a mail now; parks it in the queue if that fails.
async fn deliver_or_park(
    transport: &dyn MailTransport,
    queue: &dyn MailQueue,
    retry: RetryPolicy,
    mail: ParkedMail,
) -> Result<(), ActorError> {
    let sent = tokio::time::timeout(retry.first_try, transport.send(&mail))
        .await
        .unwrap_or(Err(MailError::SendTimedOut));
    match sent {
        Ok(()) => {
            tracing::info!(subject = %mail.subject, "mail delivered");
            Ok(())
        }
        Err(err) => {
            let next = retry.next_attempt(1, &err);
            let reason = error_chain(&err);
            let id = queue.park(&mail, 1, &reason, next).await?;
            tracing::warn!(mail_id = id, dead = next.is_none(), error = %reason, "mail not delivered; kept in the mail queue");
            Ok(())
        }
    }
}

impl Handles<DeliverEvent> for MailerActor {
    fn handle(
        &mut self,
        msg: DeliverEvent,
        _: &mut Context<Self>,
    ) -> Reply<Result<(), ActorError>> {
        let (to, content) = match &msg.0.event {
            Event::OtpIssued(otp) => (&otp.email, render::otp(&otp.otp, otp.expires_at)),
            Event::UserCreated(user) => (&user.email, render::welcome(&user.email)),
            Event::ProductChanged(_) => return Box::pin(async { Ok(()) }),
        };
        let mail = compose(&self.from, to, content);
        let transport = self.transport.clone();
        let queue = self.queue.clone();
        let retry = self.retry;
        Box::pin(async move { deliver_or_park(&*transport, &*queue, retry, mail?).await })
    }
}

/// The mails waiting in the queue, dead ones included.
#[derive(Debug, Message)]
#[rtype(result = "Result<Vec<QueuedMailSummary>, ActorError>")]
pub struct ListQueuedMail;

/// Makes a queued mail due now, with a fresh count of tries.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), ActorError>")]
pub struct RetryQueuedMail {
    pub id: i64,
}

impl Handles<ListQueuedMail> for MailerActor {
    fn handle(
        &mut self,
        _: ListQueuedMail,
        _: &mut Context<Self>,
    ) -> Reply<Result<Vec<QueuedMailSummary>, ActorError>> {
        let queue = self.queue.clone();
        Box::pin(async move { Ok(queue.queued().await?) })
    }
}

impl Handles<RetryQueuedMail> for MailerActor {
    fn handle(
        &mut self,
        msg: RetryQueuedMail,
        ctx: &mut Context<Self>,
    ) -> Reply<Result<(), ActorError>> {
        let queue = self.queue.clone();
        let address = ctx.address();
        Box::pin(async move {
            if !queue.retry_now(msg.id).await? {
                return Err(ActorError::NotFound);
            }
            // Start a round now rather than at the next tick.
            address.do_send(RunRetryRound);
            Ok(())
        })
    }
}

/// Internal nudge: run a retry round now.
#[derive(Message)]
#[rtype(result = "()")]
struct RunRetryRound;

impl Handler<RunRetryRound> for MailerActor {
    type Result = ();

    fn handle(&mut self, _: RunRetryRound, ctx: &mut Context<Self>) {
        self.retry_round(ctx);
    }
}

impl Handles<CheckDependency> for MailerActor {
    fn handle(
        &mut self,
        _: CheckDependency,
        _: &mut Context<Self>,
    ) -> Reply<Result<DependencyStatus, ActorError>> {
        let transport = self.transport.clone();
        Box::pin(async move {
            Ok(DependencyStatus::from_result(
                "mail",
                transport.check().await,
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_ends() {
        let policy = RetryPolicy {
            base: Duration::from_secs(1),
            max_attempts: 3,
            poll: Duration::from_secs(1),
            first_try: Duration::from_secs(1),
            lease: Duration::from_secs(60),
        };
        let temporary = MailError::SmtpUnreachable;
        let in_secs = |attempts| {
            policy
                .next_attempt(attempts, &temporary)
                .map(|at| (at - Utc::now()).num_milliseconds())
        };
        assert!(matches!(in_secs(1), Some(ms) if (900..=1000).contains(&ms)));
        assert!(matches!(in_secs(2), Some(ms) if (1900..=2000).contains(&ms)));
        assert_eq!(in_secs(3), None);
        let permanent = MailError::Address("no-at-sign".parse::<lettre::Address>().unwrap_err());
        assert_eq!(policy.next_attempt(1, &permanent), None);
    }
}
