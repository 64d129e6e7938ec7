//! The broker is a trust boundary. Whoever holds the broker's credentials
//! can publish to every exchange and bind queues of their own, so a node
//! believes nothing it reads there unless a node of the cluster wrote it,
//! and writes nothing secret there that such a reader could use.
//!
//! Every message a node publishes carries `x-signature`: HMAC-SHA256, under
//! a key derived from `bus.secret`, over a length-prefixed encoding of the
//! exchange, the routing key, the properties that route and identify it and
//! the body. A consumer checks it, in constant time, before it decodes
//! anything. Bodies that carry secrets (a sign-in code, the code a user
//! typed, a session token: `notification.otp`, every command and reply) are
//! sealed with ChaCha20-Poly1305 under a second derived key, the signed
//! properties being the associated data; the others stay readable JSON for
//! operators. A signature stops forgery and changes, not replay: events are
//! refused once older than their ids are remembered, commands once expired.

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};
use lapin::message::Delivery;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::BasicProperties;
use sha2::Sha256;
use std::borrow::Cow;
use std::time::Duration;

/// The header that carries a message's signature, as 64 hex digits.
pub const SIGNATURE_HEADER: &str = "x-signature";
/// The header that names the node that published a message.
pub const ORIGIN_HEADER: &str = "x-origin-node";
/// The content encoding of a sealed body: a nonce, then the ciphertext of
/// what `content_type` says.
pub const SEALED: &str = "x-storefront-sealed";

/// How long after its timestamp an event is still taken. Its id is
/// remembered a week after it was first handled (`store::MESSAGES_KEPT`),
/// so a copy replayed later could be handled again; a day less leaves room
/// for the publisher's clock to run ahead of the database's.
pub const EVENTS_TAKEN_FOR: Duration =
    Duration::from_secs(crate::store::MESSAGES_KEPT.as_secs() - 24 * 3600);
/// How far nodes' clocks may disagree before a command looks expired to the
/// node that hosts its kind.
pub const CLOCK_SLACK: Duration = Duration::from_secs(30);

const NONCE_LEN: usize = 12;
const SIGNATURE_LEN: usize = 32;

/// Why a message read from the broker is not believed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("not signed by a node of the cluster: no x-signature header")]
    Unsigned,
    #[error("not signed by a node of the cluster: x-signature is not 64 hex digits")]
    MalformedSignature,
    #[error(
        "not signed by a node of the cluster: the signature does not match (another bus.secret, or changed on the way)"
    )]
    WrongSignature,
    #[error("the sealed body does not open")]
    Unsealable,
    #[error("the message carries no timestamp")]
    NoTimestamp,
    #[error("signed {age_secs} s ago: an event is taken for {limit_secs} s")]
    TooOld { age_secs: u64, limit_secs: u64 },
    #[error("the command carries no expiration")]
    NoExpiration,
    #[error("the command expired {secs} s ago")]
    Expired { secs: u64 },
}

/// Whether a body is sealed or left readable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sealing {
    Readable,
    Sealed,
}

/// The keys derived from `bus.secret`, one per use.
#[derive(Clone)]
pub struct BusKeys {
    mac: Hmac<Sha256>,
    cipher: ChaCha20Poly1305,
}

fn derive(secret: &[u8], purpose: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(purpose);
    mac.finalize().into_bytes().into()
}

impl BusKeys {
    pub fn new(secret: &[u8]) -> BusKeys {
        BusKeys {
            mac: <Hmac<Sha256> as Mac>::new_from_slice(&derive(secret, b"storefront-bus-mac"))
                .expect("HMAC takes any key length"),
            cipher: ChaCha20Poly1305::new(&Key::from(derive(secret, b"storefront-bus-seal"))),
        }
    }

    /// A message as a node publishes it: the body sealed when asked (and
    /// `content_encoding` saying so), then `x-signature` added to the
    /// headers. `properties` must hold everything else the message carries.
    pub fn outgoing(
        &self,
        exchange: &str,
        routing_key: &str,
        mut properties: BasicProperties,
        body: &[u8],
        sealing: Sealing,
    ) -> (BasicProperties, Vec<u8>) {
        let body = match sealing {
            Sealing::Readable => body.to_vec(),
            Sealing::Sealed => {
                properties = properties.with_content_encoding(ShortString::from(SEALED));
                let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
                let aad = routing(exchange, routing_key, &properties);
                let ciphertext = self
                    .cipher
                    .encrypt(
                        &nonce,
                        Payload {
                            msg: body,
                            aad: &aad,
                        },
                    )
                    .expect("sealing a message in memory cannot fail");
                let mut sealed = Vec::with_capacity(NONCE_LEN + ciphertext.len());
                sealed.extend_from_slice(&nonce);
                sealed.extend_from_slice(&ciphertext);
                sealed
            }
        };
        let signature = hex::encode(
            self.mac_of(exchange, routing_key, &properties, &body)
                .finalize()
                .into_bytes(),
        );
        let mut headers = properties.headers().clone().unwrap_or_default();
        headers.insert(
            SIGNATURE_HEADER.into(),
            AMQPValue::LongString(LongString::from(signature)),
        );
        (properties.with_headers(headers), body)
    }

    /// The body of a message read from the broker, once its signature holds:
    /// opened when it is sealed. Nothing of it is read before.
    pub fn incoming<'a>(
        &self,
        exchange: &str,
        routing_key: &str,
        properties: &BasicProperties,
        body: &'a [u8],
    ) -> Result<Cow<'a, [u8]>, Refusal> {
        let signature = match header(properties.headers(), SIGNATURE_HEADER) {
            Header::Absent => return Err(Refusal::Unsigned),
            Header::Text(text) => hex::decode(text)
                .ok()
                .filter(|bytes| bytes.len() == SIGNATURE_LEN)
                .ok_or(Refusal::MalformedSignature)?,
            Header::Other => return Err(Refusal::MalformedSignature),
        };
        self.mac_of(exchange, routing_key, properties, body)
            .verify_slice(&signature)
            .map_err(|_| Refusal::WrongSignature)?;
        if properties.content_encoding().as_ref().map(|e| e.as_str()) != Some(SEALED) {
            return Ok(Cow::Borrowed(body));
        }
        if body.len() < NONCE_LEN {
            return Err(Refusal::Unsealable);
        }
        let (nonce, ciphertext) = body.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| Refusal::Unsealable)?;
        let aad = routing(exchange, routing_key, properties);
        self.cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map(Cow::Owned)
            .map_err(|_| Refusal::Unsealable)
    }

    /// `incoming`, for a message as lapin delivered it.
    pub fn delivered<'a>(&self, delivery: &'a Delivery) -> Result<Cow<'a, [u8]>, Refusal> {
        self.incoming(
            delivery.exchange.as_str(),
            delivery.routing_key.as_str(),
            &delivery.properties,
            &delivery.data,
        )
    }

    /// The MAC of a message, to finish or to compare.
    fn mac_of(
        &self,
        exchange: &str,
        routing_key: &str,
        properties: &BasicProperties,
        body: &[u8],
    ) -> Hmac<Sha256> {
        let mut mac = self.mac.clone();
        mac.update(&routing(exchange, routing_key, properties));
        field(&mut mac, body);
        mac
    }
}

/// Refuses an event signed longer ago than `EVENTS_TAKEN_FOR`, by this
/// node's clock (`now`, seconds since 1970).
pub fn check_event_age(properties: &BasicProperties, now: u64) -> Result<(), Refusal> {
    let timestamp = properties.timestamp().ok_or(Refusal::NoTimestamp)?;
    let age_secs = now.saturating_sub(timestamp);
    let limit_secs = EVENTS_TAKEN_FOR.as_secs();
    if age_secs > limit_secs {
        return Err(Refusal::TooOld {
            age_secs,
            limit_secs,
        });
    }
    Ok(())
}

/// Refuses a command whose signed timestamp and expiration (milliseconds,
/// as the broker reads it) ended more than `CLOCK_SLACK` before `now`.
pub fn check_command_expiry(properties: &BasicProperties, now: u64) -> Result<(), Refusal> {
    let timestamp = properties.timestamp().ok_or(Refusal::NoTimestamp)?;
    let expiration_ms: u64 = properties
        .expiration()
        .as_ref()
        .and_then(|expiration| expiration.as_str().parse().ok())
        .ok_or(Refusal::NoExpiration)?;
    let ends = timestamp
        .saturating_add(expiration_ms.div_ceil(1000))
        .saturating_add(CLOCK_SLACK.as_secs());
    if now > ends {
        return Err(Refusal::Expired { secs: now - ends });
    }
    Ok(())
}

/// Seconds since 1970 by this node's clock, as AMQP timestamps count.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

enum Header<'a> {
    Absent,
    Text(&'a [u8]),
    Other,
}

fn header<'a>(headers: &'a Option<FieldTable>, name: &str) -> Header<'a> {
    match headers
        .as_ref()
        .and_then(|headers| headers.inner().get(name))
    {
        None => Header::Absent,
        Some(AMQPValue::LongString(text)) => Header::Text(text.as_bytes()),
        Some(_) => Header::Other,
    }
}

/// RabbitMQ's direct reply-to, as signed: the broker gives each command
/// that names `amq.rabbitmq.reply-to` an address of the caller's channel
/// (`amq.rabbitmq.reply-to.<opaque>`) on its way, so the caller cannot sign
/// what the host will read. Signed as the pseudo-queue's name, it can be
/// turned only into another direct address, where the reply, sealed, is of
/// no use to whoever took it.
fn direct_reply_to(name: &[u8]) -> &[u8] {
    const DIRECT: &[u8] = b"amq.rabbitmq.reply-to";
    if name.starts_with(DIRECT) {
        DIRECT
    } else {
        name
    }
}

/// What routes and identifies a message, each part length-prefixed (and
/// optional ones marked present or absent), so that no two messages encode
/// alike: the associated data of a seal, and the start of a signature.
fn routing(exchange: &str, routing_key: &str, properties: &BasicProperties) -> Vec<u8> {
    let mut out = b"storefront-bus-v1".to_vec();
    field(&mut out, exchange.as_bytes());
    field(&mut out, direct_reply_to(routing_key.as_bytes()));
    for value in [
        short(properties.kind()),
        short(properties.message_id()),
        short(properties.correlation_id()),
        short(properties.reply_to()).map(direct_reply_to),
        short(properties.expiration()),
        short(properties.content_type()),
        short(properties.content_encoding()),
    ] {
        optional(&mut out, value);
    }
    optional(
        &mut out,
        properties
            .timestamp()
            .map(u64::to_be_bytes)
            .as_ref()
            .map(|bytes| &bytes[..]),
    );
    match header(properties.headers(), ORIGIN_HEADER) {
        Header::Absent => out.push(0),
        Header::Text(origin) => {
            out.push(1);
            field(&mut out, origin);
        }
        Header::Other => out.push(2),
    }
    out
}

/// Where the encoding of a message goes: a buffer, or straight into a MAC.
trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

impl Sink for Hmac<Sha256> {
    fn put(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }
}

fn field(out: &mut impl Sink, bytes: &[u8]) {
    let length = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    out.put(&length.to_be_bytes());
    out.put(bytes);
}

fn short(value: &Option<ShortString>) -> Option<&[u8]> {
    value.as_ref().map(|value| value.as_str().as_bytes())
}

fn optional(out: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        None => out.push(0),
        Some(bytes) => {
            out.push(1);
            field(out, bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"a bus secret of at least thirty-two bytes";

    fn properties() -> BasicProperties {
        let mut headers = FieldTable::default();
        headers.insert(
            ORIGIN_HEADER.into(),
            AMQPValue::LongString(LongString::from("node-a")),
        );
        BasicProperties::default()
            .with_type("order.cancel".into())
            .with_message_id("m-1".into())
            .with_timestamp(1_000)
            .with_headers(headers)
    }

    #[test]
    fn a_signed_message_is_believed_and_any_change_is_refused() {
        let keys = BusKeys::new(SECRET);
        let (signed, body) = keys.outgoing(
            "ns.commands",
            "order",
            properties(),
            b"{\"id\":1}",
            Sealing::Readable,
        );
        assert_eq!(
            keys.incoming("ns.commands", "order", &signed, &body)
                .unwrap()
                .as_ref(),
            b"{\"id\":1}"
        );
        let refused = |exchange: &str, key: &str, properties: &BasicProperties, body: &[u8]| {
            keys.incoming(exchange, key, properties, body).unwrap_err()
        };
        assert_eq!(
            refused("ns.commands", "order", &signed, b"{\"id\":2}"),
            Refusal::WrongSignature
        );
        assert_eq!(
            refused("ns.events", "order", &signed, &body),
            Refusal::WrongSignature
        );
        assert_eq!(
            refused("ns.commands", "product", &signed, &body),
            Refusal::WrongSignature
        );
        let mut changed = signed.clone().with_timestamp(1_001);
        assert_eq!(
            refused("ns.commands", "order", &changed, &body),
            Refusal::WrongSignature
        );
        let mut headers = signed.headers().clone().unwrap();
        headers.insert(
            ORIGIN_HEADER.into(),
            AMQPValue::LongString(LongString::from("node-b")),
        );
        changed = signed.clone().with_headers(headers);
        assert_eq!(
            refused("ns.commands", "order", &changed, &body),
            Refusal::WrongSignature
        );
        // A field moved from one property to the next encodes differently.
        let moved = signed
            .clone()
            .with_message_id("m".into())
            .with_correlation_id("-1".into());
        assert_eq!(
            refused("ns.commands", "order", &moved, &body),
            Refusal::WrongSignature
        );
        assert_eq!(
            refused("ns.commands", "order", &properties(), &body),
            Refusal::Unsigned
        );
        let other = BusKeys::new(b"another bus secret of thirty-two bytes!!");
        assert_eq!(
            other
                .incoming("ns.commands", "order", &signed, &body)
                .unwrap_err(),
            Refusal::WrongSignature
        );
        let mut headers = FieldTable::default();
        headers.insert(
            SIGNATURE_HEADER.into(),
            AMQPValue::LongString(LongString::from("abc")),
        );
        assert_eq!(
            refused(
                "ns.commands",
                "order",
                &BasicProperties::default().with_headers(headers),
                &body
            ),
            Refusal::MalformedSignature
        );
    }

    #[test]
    fn a_command_for_a_direct_reply_is_believed_with_the_address_the_broker_gave_it() {
        let keys = BusKeys::new(SECRET);
        let asked = properties().with_reply_to("amq.rabbitmq.reply-to".into());
        let (signed, body) = keys.outgoing("ns.commands", "order", asked, b"{}", Sealing::Sealed);
        let delivered = signed
            .clone()
            .with_reply_to("amq.rabbitmq.reply-to.g1h2AA5yZXBseUAx.Ay5Ftg".into());
        assert!(keys
            .incoming("ns.commands", "order", &delivered, &body)
            .is_ok());
        let elsewhere = signed.with_reply_to("ns.attackers-queue".into());
        assert_eq!(
            keys.incoming("ns.commands", "order", &elsewhere, &body)
                .unwrap_err(),
            Refusal::WrongSignature
        );
        // The reply, sent to the address, is believed where it arrives.
        let (reply, body) = keys.outgoing(
            "",
            "amq.rabbitmq.reply-to.g1h2AA5yZXBseUAx.Ay5Ftg",
            properties(),
            b"{}",
            Sealing::Sealed,
        );
        assert!(keys
            .incoming(
                "",
                "amq.rabbitmq.reply-to.g1h2AA5yZXBseUAx.Ay5Ftg",
                &reply,
                &body
            )
            .is_ok());
        assert_eq!(
            keys.incoming("", "ns.other", &reply, &body).unwrap_err(),
            Refusal::WrongSignature
        );
    }

    #[test]
    fn a_sealed_body_hides_its_bytes_and_opens_only_where_it_was_sent() {
        let keys = BusKeys::new(SECRET);
        let (sealed, body) = keys.outgoing(
            "ns.events",
            "notification.otp",
            properties(),
            b"{\"otp\":\"123456\"}",
            Sealing::Sealed,
        );
        assert!(!body.windows(6).any(|window| window == b"123456"));
        assert_eq!(
            keys.incoming("ns.events", "notification.otp", &sealed, &body)
                .unwrap()
                .as_ref(),
            b"{\"otp\":\"123456\"}"
        );
        assert!(keys
            .incoming("ns.events", "user.created", &sealed, &body)
            .is_err());
        let short = keys.outgoing("x", "y", properties(), b"", Sealing::Readable);
        let claimed = short
            .0
            .clone()
            .with_content_encoding(ShortString::from(SEALED));
        let (resigned, body) = keys.outgoing("x", "y", claimed, b"tiny", Sealing::Readable);
        assert_eq!(
            keys.incoming("x", "y", &resigned, &body).unwrap_err(),
            Refusal::Unsealable
        );
    }

    #[test]
    fn old_events_and_expired_commands_are_refused() {
        let week = crate::store::MESSAGES_KEPT.as_secs();
        let now = 10 * week;
        let at = |timestamp: u64| BasicProperties::default().with_timestamp(timestamp);
        assert_eq!(check_event_age(&at(now - 3600), now), Ok(()));
        assert_eq!(check_event_age(&at(now + 3600), now), Ok(()));
        assert!(matches!(
            check_event_age(&at(now - week), now),
            Err(Refusal::TooOld { .. })
        ));
        assert_eq!(
            check_event_age(&BasicProperties::default(), now),
            Err(Refusal::NoTimestamp)
        );
        let command = |timestamp: u64| at(timestamp).with_expiration("5000".into());
        assert_eq!(check_command_expiry(&command(now - 20), now), Ok(()));
        assert_eq!(
            check_command_expiry(&command(now - 36), now),
            Err(Refusal::Expired { secs: 1 })
        );
        assert_eq!(
            check_command_expiry(&at(now), now),
            Err(Refusal::NoExpiration)
        );
    }
}
