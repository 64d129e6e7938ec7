//! MailerActor: renders and delivers every mail storefront sends. It consumes
//! events (`notification.otp`, `user.created`); nothing calls it directly.

use actix::prelude::*;
use std::sync::Arc;

use super::mailbox::{Handles, MailboxStats, Reply};
use super::{ActorError, CheckDependency, DependencyStatus};
use crate::bus::{DeliverEvent, Event};
use crate::domain::render;
use crate::mail::{compose, MailTransport};

pub struct MailerActor {
    transport: Arc<dyn MailTransport>,
    from: lettre::message::Mailbox,
    stats: Arc<MailboxStats>,
}

impl MailerActor {
    /// The routing keys this actor consumes.
    pub const SUBSCRIBES_TO: &'static [&'static str] = &[Event::OTP_ISSUED, Event::USER_CREATED];

    pub fn new(
        transport: Arc<dyn MailTransport>,
        from: lettre::message::Mailbox,
        stats: Arc<MailboxStats>,
    ) -> Self {
        MailerActor {
            transport,
            from,
            stats,
        }
    }
}

impl Actor for MailerActor {
    type Context = Context<Self>;
}

impl Supervised for MailerActor {
    fn restarting(&mut self, _: &mut Context<Self>) {
        self.stats.record_restart();
    }
}

crate::instrumented_actor!(MailerActor);

impl Handles<DeliverEvent> for MailerActor {
    fn handle(
        &mut self,
        msg: DeliverEvent,
        _: &mut Context<Self>,
    ) -> Reply<Result<(), ActorError>> {
        let (to, content) = match &msg.0.event {
            Event::OtpIssued(otp) => (&otp.email, render::otp(&otp.otp, otp.expires_at)),
            Event::UserCreated(user) => (&user.email, render::welcome(&user.email)),
        };
        let message = compose(&self.from, to, content);
        let transport = self.transport.clone();
        let message_id = msg.0.message_id;
        Box::pin(async move {
            transport.send(message?).await?;
            tracing::info!(%message_id, "mail delivered");
            Ok(())
        })
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
