//! Hands out actor addresses by kind. Callers ask for "the user actor" and
//! get a `Mailbox`; today every kind is hosted on this node, and the bridge
//! issue makes the same accessors resolve a kind hosted elsewhere to a remote
//! address without changing a caller.

use std::sync::Arc;

use super::mailbox::{Mailbox, MailboxStats};
use super::mailer::MailerActor;
use super::otp::OtpActor;
use super::product::ProductActor;
use super::user::UserActor;
use super::{ActorKind, CheckDependency, DependencyStatus};

#[derive(Clone)]
pub struct Registry {
    node_id: String,
    otp: Mailbox<OtpActor>,
    user: Mailbox<UserActor>,
    mailer: Mailbox<MailerActor>,
    product: Mailbox<ProductActor>,
}

/// The mailbox of every actor kind, to build a registry from.
pub struct Mailboxes {
    pub otp: Mailbox<OtpActor>,
    pub user: Mailbox<UserActor>,
    pub mailer: Mailbox<MailerActor>,
    pub product: Mailbox<ProductActor>,
}

impl Registry {
    pub fn new(node_id: String, mailboxes: Mailboxes) -> Registry {
        Registry {
            node_id,
            otp: mailboxes.otp,
            user: mailboxes.user,
            mailer: mailboxes.mailer,
            product: mailboxes.product,
        }
    }

    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    pub fn otp(&self) -> &Mailbox<OtpActor> {
        &self.otp
    }

    pub fn user(&self) -> &Mailbox<UserActor> {
        &self.user
    }

    pub fn mailer(&self) -> &Mailbox<MailerActor> {
        &self.mailer
    }

    pub fn product(&self) -> &Mailbox<ProductActor> {
        &self.product
    }

    /// The counters of the mailbox of `kind` on this node.
    pub fn stats(&self, kind: ActorKind) -> &Arc<MailboxStats> {
        match kind {
            ActorKind::Otp => self.otp.stats(),
            ActorKind::User => self.user.stats(),
            ActorKind::Mailer => self.mailer.stats(),
            ActorKind::Product => self.product.stats(),
        }
    }

    /// Asks each actor to check the dependency it owns; an actor that does
    /// not answer is reported as the failing dependency.
    pub async fn check_dependencies(&self) -> Vec<DependencyStatus> {
        let (kv, database, mail) = futures_util::join!(
            self.otp.call(CheckDependency),
            self.user.call(CheckDependency),
            self.mailer.call(CheckDependency),
        );
        [("kv", kv), ("database", database), ("mail", mail)]
            .into_iter()
            .map(|(name, answer)| match answer {
                Ok(Ok(status)) => status,
                Ok(Err(err)) => DependencyStatus::from_result(name, Err(err)),
                Err(err) => DependencyStatus::from_result(name, Err(err)),
            })
            .collect()
    }
}
