//! MailerActor: renders and delivers every mail storefront sends. It consumes
//! events (`notification.otp`, `user.created`); nothing calls it to send.
//!
//! Every mail is written to the durable mail queue (sealed) before its first
//! try, leased to that try, and deleted once delivered. The try runs on its
//! own task: the event is acknowledged once the mail is safe in the queue
//! and the try has had a short while, and a slow server finishing the try
//! later still records its outcome, so no second try starts meanwhile. A
//! failed mail is retried with exponential backoff; after
//! `retry_max_attempts` tries, or at a permanent refusal, it stays marked
//! dead until an operator retries it. A sign-in mail is never delivered
//! after its code expired: it is deleted instead.

use actix::prelude::*;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

use super::{ActorError, CheckDependency, DependencyStatus};
use crate::bus::{DeliverEvent, Event};
use crate::domain::{render, Backoff, PaymentStatus};
use crate::mail::{compose, MailError, MailSealer, MailTransport, OutgoingMail};
use crate::runtime::{Instance, Reply};
use crate::store::{MailQueue, QueuedMailSummary, RetryNow};
use crate::telemetry::error_chain;

/// When to try a mail again.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub base: Duration,
    pub max_attempts: u32,
    pub poll: Duration,
    /// How long the event waits for the first try before it is acknowledged
    /// anyway (the mail is in the queue by then); shorter than the callers'
    /// timeout, so an event is never delivered twice because a try was slow.
    pub first_try: Duration,
    /// How long a mail stays leased to one try: longer than one SMTP
    /// conversation, so no other try starts while it may still succeed.
    pub lease: Duration,
}

impl RetryPolicy {
    /// How long until the next try after `attempts` failed ones, or `None`
    /// when the mail is dead: a permanent refusal, too many tries, or a try
    /// that would come after the mail's content expired.
    fn next_attempt(
        &self,
        attempts: u32,
        error: &MailError,
        expires_at: Option<DateTime<Utc>>,
    ) -> Option<Duration> {
        if !error.is_temporary() || attempts >= self.max_attempts {
            return None;
        }
        let delay = Backoff {
            first: self.base,
            max: Duration::from_secs(3600),
        }
        .after(attempts);
        let next = Utc::now() + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
        match expires_at {
            Some(expires_at) if next >= expires_at => None,
            _ => Some(delay),
        }
    }
}

pub struct MailerParts {
    /// Where first tries run, apart from any actor: on the runtime, so that
    /// an actor's restart or a shutdown cannot cut one off half-way through
    /// recording its outcome, and a shutdown can wait for them.
    pub background: tokio_util::task::TaskTracker,
    pub transport: Arc<dyn MailTransport>,
    pub queue: Arc<dyn MailQueue>,
    pub sealer: MailSealer,
    pub from: lettre::message::Mailbox,
    pub retry: RetryPolicy,
}

pub struct MailerActor {
    parts: Arc<MailerParts>,
    instance: Instance,
    retry_round_running: bool,
}

impl MailerActor {
    /// The routing keys this actor consumes.
    pub const SUBSCRIBES_TO: &'static [&'static str] = &[
        Event::OTP_ISSUED,
        Event::USER_CREATED,
        Event::ORDER_PLACED,
        Event::ORDER_CANCELLED,
        Event::PAYMENT_SUCCEEDED,
        Event::PAYMENT_REFUNDED,
        Event::PAYMENT_EXPIRED,
    ];

    pub fn new(parts: Arc<MailerParts>, instance: Instance) -> Self {
        MailerActor {
            parts,
            instance,
            retry_round_running: false,
        }
    }

    /// Drops what expired, then sends the mails that are due; one round at a time.
    fn retry_round(&mut self, ctx: &mut Context<Self>) {
        if self.retry_round_running {
            return;
        }
        self.retry_round_running = true;
        let parts = self.parts.clone();
        let round = async move {
            let dropped = parts.queue.purge_expired().await?;
            if dropped > 0 {
                tracing::info!(dropped, "expired sign-in mails dropped from the queue");
            }
            // One mail per claim, so the lease only has to outlast one send.
            while let Some(queued) = parts.queue.claim_due(parts.retry.lease, 1).await?.pop() {
                let attempts = queued.attempts + 1;
                match parts.sealer.open(queued.mail) {
                    Ok(mail) => attempt(&parts, queued.id, mail, attempts).await,
                    Err(err) => {
                        let reason = error_chain(&err);
                        tracing::error!(mail_id = queued.id, error = %reason, "queued mail cannot be opened; marked dead");
                        parts
                            .queue
                            .failed(queued.id, attempts, &reason, None)
                            .await?;
                    }
                }
            }
            Ok::<(), ActorError>(())
        };
        let round = async move {
            if let Err(err) = round.await {
                tracing::error!(error = %error_chain(&err), "mail retry round failed");
            }
        };
        ctx.spawn(
            self.instance
                .guard(round)
                .map(|(), actor: &mut Self, _| actor.retry_round_running = false),
        );
    }
}

impl Actor for MailerActor {
    type Context = Context<Self>;

    /// One retry timer per node is enough: the first instance runs it (a
    /// restart of that instance starts it again).
    fn started(&mut self, ctx: &mut Context<Self>) {
        if self.instance.index() == 0 {
            ctx.run_interval(self.parts.retry.poll, |actor, ctx| actor.retry_round(ctx));
        }
    }
}

/// Tries one mail that holds the lease of queue entry `id` and records the
/// outcome there: deleted when delivered or expired, rescheduled or dead
/// when it failed. Logs name the mail by id, kind and recipients' domains.
async fn attempt(parts: &MailerParts, id: i64, mail: OutgoingMail, attempts: u32) {
    let outcome = async {
        if mail.is_expired(Utc::now()) {
            tracing::info!(
                mail_id = id,
                kind = mail.kind.as_str(),
                "mail expired before it could be sent; dropped"
            );
            return parts.queue.delete(id).await;
        }
        match parts.transport.send(&mail).await {
            Ok(()) => {
                tracing::info!(mail_id = id, kind = mail.kind.as_str(), to_domain = %mail.recipient_domains(), attempts, "mail delivered");
                parts.queue.delete(id).await
            }
            Err(err) => {
                let reason = error_chain(&err);
                let next = parts.retry.next_attempt(attempts, &err, mail.expires_at);
                if next.is_none() && mail.expires_at.is_some() {
                    tracing::warn!(mail_id = id, kind = mail.kind.as_str(), to_domain = %mail.recipient_domains(), attempts, error = %reason, "mail not delivered before it expires; dropped");
                    return parts.queue.delete(id).await;
                }
                tracing::warn!(mail_id = id, kind = mail.kind.as_str(), to_domain = %mail.recipient_domains(), attempts, dead = next.is_none(), error = %reason, "mail not delivered; kept in the mail queue");
                parts.queue.failed(id, attempts, &reason, next).await
            }
        }
    };
    if let Err(err) = outcome.await {
        // The entry keeps its lease and is tried again when it runs out.
        tracing::error!(mail_id = id, error = %error_chain(&err), "cannot record the outcome of a mail");
    }
}

#[storefront_macros::handlers]
impl MailerActor {
    #[answers]
    #[example(delivery() => delivery_timed_out())]
    fn deliver_event(
        &mut self,
        msg: DeliverEvent,
        _: &mut Context<Self>,
    ) -> Reply<Result<(), ActorError>> {
        let (to, content) = match &msg.0.event {
            Event::OtpIssued(otp) => (&otp.email, render::otp(otp.otp.expose(), otp.expires_at)),
            Event::UserCreated(user) => (&user.email, render::welcome(user.email.as_str())),
            Event::OrderPlaced(order) => (
                &order.email,
                render::order_placed(order.order_id, order.total, order.currency.as_str()),
            ),
            // A refund or an expiry has a mail of its own, from its event.
            Event::OrderCancelled(order) if order.payment_status == PaymentStatus::Awaiting => {
                (&order.email, render::order_cancelled(order.order_id))
            }
            Event::PaymentSucceeded(paid) => (
                &paid.email,
                render::payment_received(paid.order_id, paid.total, paid.currency.as_str()),
            ),
            Event::PaymentRefunded(refund) => (
                &refund.email,
                render::payment_refunded(
                    refund.order_id,
                    refund.total,
                    refund.currency.as_str(),
                    refund.provider,
                ),
            ),
            Event::PaymentExpired(expired) => {
                (&expired.email, render::payment_expired(expired.order_id))
            }
            Event::OrderCancelled(_) | Event::ProductChanged(_) => {
                return Box::pin(async { Ok(()) })
            }
        };
        let mail = compose(&self.parts.from, to.as_str(), content);
        let parts = self.parts.clone();
        let event_id = msg.0.message_id.to_string();
        Box::pin(async move {
            let mail = mail?;
            let Some(id) = parts
                .queue
                .enqueue(&event_id, &parts.sealer.seal(&mail), parts.retry.lease)
                .await?
            else {
                tracing::info!(message_id = %event_id, "this event's mail was queued before; not again");
                return Ok(());
            };
            let first_try = parts
                .background
                .spawn(crate::telemetry::in_current_request({
                    let parts = parts.clone();
                    async move { attempt(&parts, id, mail, 1).await }
                }));
            // Past this the try goes on alone and records its own outcome.
            let _ = tokio::time::timeout(parts.retry.first_try, first_try).await;
            Ok(())
        })
    }

    #[wire("mailer.list_queue")]
    #[example(ListQueuedMail => Ok(Vec::new()))]
    fn list_queued_mail(
        &mut self,
        _: ListQueuedMail,
        _: &mut Context<Self>,
    ) -> Reply<Result<Vec<QueuedMailSummary>, ActorError>> {
        let parts = self.parts.clone();
        Box::pin(async move { Ok(parts.queue.queued().await?) })
    }

    #[wire("mailer.retry_queued")]
    #[example(RetryQueuedMail { id: 9 } => Err(ActorError::Unavailable("database".into())))]
    fn retry_queued_mail(
        &mut self,
        msg: RetryQueuedMail,
        ctx: &mut Context<Self>,
    ) -> Reply<Result<(), ActorError>> {
        let parts = self.parts.clone();
        let address = ctx.address();
        Box::pin(async move {
            match parts.queue.retry_now(msg.id).await? {
                RetryNow::Due => {
                    // Start a round now rather than at the next tick.
                    address.do_send(RunRetryRound);
                    Ok(())
                }
                RetryNow::Sending => Err(ActorError::Conflict(
                    "the mail is being sent now; it is retried if this try fails".to_owned(),
                )),
                RetryNow::Missing => Err(ActorError::NotFound),
            }
        })
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
                "mail",
                parts.transport.check().await,
            ))
        })
    }
}

/// The mails waiting in the queue, dead ones included.
#[derive(Debug, Serialize, Deserialize)]
pub struct ListQueuedMail;

/// Makes a queued mail due now, with a fresh count of tries; refused while
/// a try is sending it.
#[derive(Debug, Serialize, Deserialize)]
pub struct RetryQueuedMail {
    pub id: i64,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actors::ActorKind;
    use crate::runtime::{Arbiters, KindStats, Pool};
    use crate::store::{QueuedMail, StoreError, StoredMail};
    use async_trait::async_trait;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A queue whose first retry round panics; it counts the rounds.
    #[derive(Default)]
    struct PanickyQueue {
        rounds: AtomicU32,
    }

    #[async_trait]
    impl MailQueue for PanickyQueue {
        async fn enqueue(
            &self,
            _: &str,
            _: &StoredMail,
            _: Duration,
        ) -> Result<Option<i64>, StoreError> {
            Ok(Some(1))
        }
        async fn claim_due(&self, _: Duration, _: u32) -> Result<Vec<QueuedMail>, StoreError> {
            Ok(Vec::new())
        }
        async fn delete(&self, _: i64) -> Result<(), StoreError> {
            Ok(())
        }
        async fn failed(
            &self,
            _: i64,
            _: u32,
            _: &str,
            _: Option<Duration>,
        ) -> Result<(), StoreError> {
            Ok(())
        }
        async fn purge_expired(&self) -> Result<u64, StoreError> {
            if self.rounds.fetch_add(1, Ordering::SeqCst) == 0 {
                panic!("the first retry round breaks");
            }
            Ok(0)
        }
        async fn queued(&self) -> Result<Vec<QueuedMailSummary>, StoreError> {
            Ok(Vec::new())
        }
        async fn retry_now(&self, _: i64) -> Result<RetryNow, StoreError> {
            Ok(RetryNow::Missing)
        }
    }

    #[actix_rt::test]
    async fn a_panic_in_the_retry_timer_is_caught_counted_and_the_timer_runs_again() {
        let outbox = tempfile::tempdir().unwrap();
        let queue = Arc::new(PanickyQueue::default());
        let parts = Arc::new(MailerParts {
            background: tokio_util::task::TaskTracker::new(),
            transport: Arc::new(crate::mail::FileOutbox::new(outbox.path().to_owned()).unwrap()),
            queue: queue.clone(),
            sealer: MailSealer::new(b"a secret of at least thirty-two bytes"),
            from: "shop <no-reply@localhost>".parse().unwrap(),
            retry: RetryPolicy {
                base: Duration::from_millis(10),
                max_attempts: 3,
                poll: Duration::from_millis(10),
                first_try: Duration::from_secs(1),
                lease: Duration::from_secs(60),
            },
        });
        let arbiters = Arbiters::new(1);
        let pool = Pool::start(
            KindStats::new(ActorKind::Mailer),
            1,
            &arbiters,
            Duration::from_secs(5),
            Arc::new(move |instance| MailerActor::new(parts.clone(), instance)),
        );
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while queue.rounds.load(Ordering::SeqCst) < 3 {
            assert!(
                std::time::Instant::now() < deadline,
                "the timer stopped for good"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let snapshot = pool.stats().snapshot();
        assert_eq!((snapshot.restarts, snapshot.failed), (1, 1));
    }

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
        let delay = |attempts| policy.next_attempt(attempts, &temporary, None);
        assert_eq!(delay(1), Some(Duration::from_secs(1)));
        assert_eq!(delay(2), Some(Duration::from_secs(2)));
        assert_eq!(delay(3), None);
        let permanent = MailError::Address("no-at-sign".parse::<lettre::Address>().unwrap_err());
        assert_eq!(policy.next_attempt(1, &permanent, None), None);
        let expiring = Some(Utc::now() + chrono::Duration::milliseconds(500));
        assert_eq!(
            policy.next_attempt(1, &temporary, expiring),
            None,
            "a try after the code expired is no try"
        );
    }
}
