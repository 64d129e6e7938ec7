//! The names of the actor kinds: every layer speaks of them (the
//! configuration's roles, the runtime's registry, the bus's heartbeats, the
//! admin views), so they live at the bottom. Which actor type is a kind is
//! said once, by the actors that implement it (`actors::hosted_kinds!`).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Declares every kind once: its variant, its actor's name, and its key.
/// A role's key names it under `[actors]` and in `node.roles`; the
/// runtime's own kinds run wherever what they serve is configured (the
/// PaymentActor beside the OrderActor, the bridge wherever `bus.url` is)
/// and are no role.
macro_rules! actor_kinds {
    (
        roles { $($role:ident => $role_actor:literal, $role_key:literal;)* }
        runtime { $($own:ident => $own_actor:literal, $own_key:literal;)* }
    ) => {
        /// The kinds of actor a node can host.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum ActorKind {
            $($role,)*
            $($own,)*
        }

        impl ActorKind {
            /// Every kind, the roles first.
            pub const ALL: &'static [ActorKind] = &[$(ActorKind::$role,)* $(ActorKind::$own,)*];

            /// The kinds a node can be given in `node.roles`: the services.
            pub const ROLES: &'static [ActorKind] = &[$(ActorKind::$role),*];

            pub fn actor_name(self) -> &'static str {
                match self {
                    $(ActorKind::$role => $role_actor,)*
                    $(ActorKind::$own => $own_actor,)*
                }
            }

            /// Its key under `[actors]` and in `node.roles` (for a role),
            /// and in the names of its queues.
            pub fn config_key(self) -> &'static str {
                match self {
                    $(ActorKind::$role => $role_key,)*
                    $(ActorKind::$own => $own_key,)*
                }
            }
        }
    };
}

actor_kinds! {
    roles {
        Otp => "OtpActor", "otp";
        User => "UserActor", "user";
        Mailer => "MailerActor", "mailer";
        Product => "ProductActor", "product";
        Cart => "CartActor", "cart";
        Order => "OrderActor", "order";
    }
    runtime {
        Payment => "PaymentActor", "payment";
        Bridge => "BridgeActor", "bridge";
    }
}

impl ActorKind {
    pub fn index(self) -> usize {
        self as usize
    }

    /// The role a runtime kind is hosted beside, on every node that hosts
    /// that role: the payments of orders go where the orders are.
    pub fn hosted_beside(self) -> Option<ActorKind> {
        match self {
            ActorKind::Payment => Some(ActorKind::Order),
            _ => None,
        }
    }

    /// Whether other nodes send it commands: a role, or a kind hosted
    /// beside one (the bridge is how they send, not whom).
    pub fn takes_commands(self) -> bool {
        self.is_role() || self.hosted_beside().is_some()
    }

    /// Whether a node can be given it in `node.roles`.
    pub fn is_role(self) -> bool {
        ActorKind::ROLES.contains(&self)
    }

    /// The role whose config key is `key`; the error lists the roles.
    pub fn from_config_key(key: &str) -> Result<ActorKind, String> {
        ActorKind::ROLES
            .iter()
            .copied()
            .find(|kind| kind.config_key() == key)
            .ok_or_else(|| {
                format!(
                    "`{key}` is no actor kind a node can be given; the kinds are {}",
                    ActorKind::ROLES
                        .iter()
                        .map(|kind| kind.config_key())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
    }

    /// Accepts `OtpActor` as well as `otp`, any case.
    pub fn parse(raw: &str) -> Option<ActorKind> {
        let wanted = raw.to_ascii_lowercase();
        let wanted = wanted.strip_suffix("actor").unwrap_or(&wanted);
        ActorKind::ALL
            .iter()
            .copied()
            .find(|kind| kind.config_key() == wanted)
    }
}

impl fmt::Display for ActorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.actor_name())
    }
}

/// A list of kinds in serde as their config keys (`["otp", "user"]`), as
/// heartbeats carry a node's roles: an unknown key does not decode.
pub mod config_keys {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::ActorKind;

    pub fn serialize<S: Serializer>(kinds: &[ActorKind], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(kinds.iter().map(|kind| kind.config_key()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<ActorKind>, D::Error> {
        Vec::<String>::deserialize(deserializer)?
            .iter()
            .map(|key| ActorKind::from_config_key(key).map_err(serde::de::Error::custom))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::ActorKind;

    #[test]
    fn parses_kind_names() {
        assert_eq!(ActorKind::parse("OtpActor"), Some(ActorKind::Otp));
        assert_eq!(ActorKind::parse("mailer"), Some(ActorKind::Mailer));
        assert_eq!(ActorKind::parse("useractor"), Some(ActorKind::User));
        assert_eq!(ActorKind::parse("actor"), None);
        assert_eq!(ActorKind::parse("nope"), None);
        assert_eq!(ActorKind::parse("BridgeActor"), Some(ActorKind::Bridge));
    }

    #[test]
    fn the_bridge_is_a_kind_but_no_role() {
        assert!(ActorKind::ALL.contains(&ActorKind::Bridge));
        assert!(!ActorKind::ROLES.contains(&ActorKind::Bridge));
        assert!(ActorKind::from_config_key("bridge").is_err());
        assert_eq!(ActorKind::from_config_key("otp"), Ok(ActorKind::Otp));
    }

    #[test]
    fn payments_go_where_orders_are() {
        assert!(!ActorKind::Payment.is_role());
        assert_eq!(ActorKind::Payment.hosted_beside(), Some(ActorKind::Order));
        assert_eq!(ActorKind::Bridge.hosted_beside(), None);
        assert!(ActorKind::Payment.takes_commands());
        assert!(!ActorKind::Bridge.takes_commands());
    }
}
