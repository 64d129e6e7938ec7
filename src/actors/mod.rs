//! Every service is an actor. Each file holds one actor with its messages and
//! handlers; `runtime` is what they run on.

pub mod cart;
pub mod mailer;
pub mod order;
pub mod otp;
pub mod payment;
pub mod product;
pub mod user;

pub use crate::domain::ActorKind;
pub use crate::runtime::{
    ActorError, Address, CallError, CheckDependency, DependencyStatus, Handles, Instance, Registry,
    Reply,
};

/// Says which actor type is each kind, once: the registry's typed lookups,
/// the names of the messages a kind answers and the wire test's examples
/// follow from this list.
macro_rules! hosted_kinds {
    ($($variant:ident => $actor:ty;)*) => {
        $(
            impl crate::runtime::KindOf for $actor {
                const KIND: ActorKind = ActorKind::$variant;
            }
        )*

        /// The names of the messages `kind` answers.
        pub fn messages_of(kind: ActorKind) -> &'static [&'static str] {
            match kind {
                $(ActorKind::$variant => <$actor as crate::runtime::Hosted>::MESSAGES),*
            }
        }

        /// The wire test's examples of `kind`'s messages.
        #[cfg(test)]
        fn examples_of(kind: ActorKind) -> Vec<crate::runtime::WireExample> {
            match kind {
                $(ActorKind::$variant => <$actor as crate::runtime::Hosted>::examples()),*
            }
        }
    };
}

hosted_kinds! {
    Otp => otp::OtpActor;
    User => user::UserActor;
    Mailer => mailer::MailerActor;
    Product => product::ProductActor;
    Cart => cart::CartActor;
    Order => order::OrderActor;
    Payment => payment::PaymentActor;
    Bridge => crate::bus::bridge::BridgeActor;
}

/// Asks each actor that owns a dependency to check it; an actor that does
/// not answer is reported as the failing dependency.
pub async fn check_dependencies(registry: &Registry) -> Vec<DependencyStatus> {
    let (kv, database, mail) = futures_util::join!(
        registry.get::<otp::OtpActor>().call(CheckDependency),
        registry.get::<user::UserActor>().call(CheckDependency),
        registry.get::<mailer::MailerActor>().call(CheckDependency),
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

#[cfg(test)]
mod examples;

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Every message and reply, through JSON and back, as they cross nodes:
    /// each handler's `#[example]`s, and they must name every message its
    /// kind answers.
    #[test]
    fn every_message_and_reply_crosses_the_wire() {
        for kind in ActorKind::ALL {
            let examples = examples_of(*kind);
            for example in &examples {
                (example.check)();
            }
            let named: BTreeSet<&str> = examples.iter().map(|example| example.name).collect();
            let answered: BTreeSet<&str> = messages_of(*kind).iter().copied().collect();
            assert_eq!(
                named, answered,
                "{kind}: every message it answers has an example"
            );
        }
        let conflict = ActorError::Conflict("x".into());
        let json = serde_json::to_value(&conflict).unwrap();
        let back: ActorError = serde_json::from_value(json).unwrap();
        assert_eq!(back, conflict);
    }
}
