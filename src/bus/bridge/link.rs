//! The connection to the broker and what the bridge keeps across
//! reconnections: the topology's names, the setup steps to replay, the
//! claims, the keys, the calls waiting for replies and the counters.

use arc_swap::ArcSwap;
use lapin::options::{
    BasicConsumeOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use super::counters::{BridgeCounters, BrokerState, QueueDepth};
use super::names::Names;
use crate::bus::trust::{BusKeys, Sealing, ORIGIN_HEADER};
use crate::store::MessageLog;

/// RabbitMQ's pseudo-queue for direct replies: a caller consumes it on the
/// channel it sends its commands on, and each reply comes straight back on
/// that channel, with no queue of its own.
pub(super) const DIRECT_REPLY_TO: &str = "amq.rabbitmq.reply-to";

/// A reply's type: the handler's answer, or why there is none.
pub(crate) const REPLY_OK: &str = "reply";
pub(crate) const REPLY_FAILED: &str = "failed";

#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    #[error("RabbitMQ refused or failed")]
    Broker(#[from] lapin::Error),
    #[error("RabbitMQ did not confirm the message")]
    NotConfirmed,
    #[error("the BridgeActor did not answer")]
    Actor(#[from] crate::runtime::CallError),
}

/// The handled-message log, and how long a claim in it holds: a node that
/// took a message and died lets another delivery of it be handled once
/// this has passed since the claim.
#[derive(Clone)]
pub struct Claims {
    pub(super) log: Arc<dyn MessageLog>,
    pub(super) lease: Duration,
}

impl Claims {
    /// Claims that outlast a local handler running for up to
    /// `handler_timeout`, with room for the database round trips around it.
    pub fn new(log: Arc<dyn MessageLog>, handler_timeout: Duration) -> Claims {
        Claims {
            log,
            lease: handler_timeout + Duration::from_secs(5),
        }
    }
}

/// One connection to the broker and its channels; replaced as a whole
/// when the bridge reconnects.
pub struct Link {
    pub connection: Connection,
    /// In confirm mode: a publish resolves once the broker has the message.
    pub publisher: Channel,
    /// Without confirms, for commands and replies (a caller that hears
    /// nothing times out and retries), and the one that consumes the direct
    /// replies to this node's commands.
    pub calls: Channel,
}

/// A step that sets up part of the topology or a consumer on a fresh link;
/// run at once, and again after every reconnection.
pub type Setup = Arc<
    dyn Fn(Arc<Bridge>) -> futures_util::future::LocalBoxFuture<'static, Result<(), BridgeError>>
        + Send
        + Sync,
>;

/// A caller's way back: the reply as JSON, or why the hosting node gave none.
pub(super) type Waiting = tokio::sync::oneshot::Sender<Result<Vec<u8>, String>>;

pub struct Bridge {
    pub(super) names: Names,
    pub(super) node_id: String,
    url: String,
    /// Shown by the broker (`rabbitmqctl list_connections client_properties`).
    connection_name: String,
    link: ArcSwap<Link>,
    /// Replayed in order on every new link.
    setups: Mutex<Vec<Setup>>,
    pub(super) claims: Claims,
    /// Sign what this node publishes, check and open what it reads.
    keys: BusKeys,
    /// The callers of commands sent and not answered, by correlation id.
    pub(super) waiting: Mutex<HashMap<String, Waiting>>,
    pub(super) counters: Arc<BridgeCounters>,
}

impl Bridge {
    /// Connects and declares the exchanges and the dead-letter queue. It
    /// does not reconnect by itself: the BridgeActor watches it and
    /// reconnects it (`reconnect`).
    pub async fn connect(
        url: &str,
        namespace: &str,
        node_id: &str,
        claims: Claims,
        keys: BusKeys,
    ) -> Result<Arc<Bridge>, BridgeError> {
        let names = Names::new(namespace);
        let name = format!("storefront {node_id} {namespace}");
        let (link, replies) = open(url, &names, &name, node_id).await?;
        let bridge = Arc::new(Bridge {
            names,
            node_id: node_id.to_owned(),
            url: url.to_owned(),
            connection_name: name,
            link: ArcSwap::from_pointee(link),
            setups: Mutex::new(Vec::new()),
            claims,
            keys,
            waiting: Mutex::new(HashMap::new()),
            counters: Arc::default(),
        });
        answer_replies(Arc::downgrade(&bridge), replies);
        Ok(bridge)
    }

    /// Opens a new connection in place of a lost one and replays every
    /// setup step on it. The callers still waiting on the old one are told
    /// at once that their call failed.
    pub async fn reconnect(self: &Arc<Self>) -> Result<(), BridgeError> {
        let (link, replies) =
            open(&self.url, &self.names, &self.connection_name, &self.node_id).await?;
        self.link.store(Arc::new(link));
        answer_replies(Arc::downgrade(self), replies);
        let lost: Vec<Waiting> = lock(&self.waiting)
            .drain()
            .map(|(_, caller)| caller)
            .collect();
        for caller in lost {
            let _ = caller.send(Err("the connection to RabbitMQ was lost".to_owned()));
        }
        let setups = lock(&self.setups).clone();
        for setup in setups {
            setup(self.clone()).await?;
        }
        self.counters.reconnections.add();
        Ok(())
    }

    /// The current link.
    pub fn link(&self) -> Arc<Link> {
        self.link.load_full()
    }

    /// Runs `setup` now and after every reconnection.
    pub async fn on_connect(self: &Arc<Self>, setup: Setup) -> Result<(), BridgeError> {
        setup(self.clone()).await?;
        lock(&self.setups).push(setup);
        Ok(())
    }

    pub fn names(&self) -> &Names {
        &self.names
    }

    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// The keys the cluster shares: what signs this node's messages.
    pub fn keys(&self) -> &BusKeys {
        &self.keys
    }

    pub fn counters(&self) -> &Arc<BridgeCounters> {
        &self.counters
    }

    /// The depth of `queue`; `None` when it does not exist or the broker
    /// cannot be asked now.
    pub async fn queue_depth(&self, queue: &str) -> Option<QueueDepth> {
        // A passive declare of a missing queue closes its channel: one of
        // its own, then.
        let channel = self.link().connection.create_channel().await.ok()?;
        let declared = channel
            .queue_declare(
                queue.into(),
                QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .ok();
        let _ = channel.close(200, "done".into()).await;
        declared.map(|queue| QueueDepth {
            messages: queue.message_count(),
            consumers: queue.consumer_count(),
        })
    }

    pub fn is_connected(&self) -> bool {
        let link = self.link.load();
        link.connection.status().connected()
            && link.publisher.status().connected()
            && link.calls.status().connected()
    }

    pub fn state(&self) -> BrokerState {
        BrokerState {
            connected: self.is_connected(),
            namespace: self.names.namespace().to_owned(),
            counters: self.counters.clone(),
        }
    }

    /// Declares the queue of an actor kind, bound to its routing keys, with
    /// the broker dead-lettering a message delivered `attempts` times.
    pub async fn declare_kind_queue(
        &self,
        kind: &str,
        routing_keys: &[&str],
        attempts: u32,
    ) -> Result<String, BridgeError> {
        let queue = self.names.kind_queue(kind);
        let mut arguments = FieldTable::default();
        arguments.insert(
            "x-queue-type".into(),
            AMQPValue::LongString(LongString::from("quorum")),
        );
        arguments.insert(
            "x-delivery-limit".into(),
            AMQPValue::LongInt(attempts as i32),
        );
        arguments.insert(
            "x-dead-letter-exchange".into(),
            AMQPValue::LongString(LongString::from(self.names.dead())),
        );
        let link = self.link();
        link.publisher
            .queue_declare(
                queue.clone().into(),
                QueueDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                arguments,
            )
            .await?;
        for key in routing_keys {
            link.publisher
                .queue_bind(
                    queue.clone().into(),
                    self.names.events().into(),
                    (*key).into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
        Ok(queue)
    }

    /// A message as this node publishes it to `exchange` with `routing_key`:
    /// named as from this node (`x-origin-node`), sealed when asked, and
    /// signed. `properties` must hold everything else it carries.
    pub fn prepare(
        &self,
        exchange: &str,
        routing_key: &str,
        properties: BasicProperties,
        body: &[u8],
        sealing: Sealing,
    ) -> (BasicProperties, Vec<u8>) {
        let mut headers = properties.headers().clone().unwrap_or_default();
        headers.insert(
            ORIGIN_HEADER.into(),
            AMQPValue::LongString(LongString::from(self.node_id.clone())),
        );
        self.keys.outgoing(
            exchange,
            routing_key,
            properties.with_headers(headers),
            body,
            sealing,
        )
    }

    /// Answers the caller waiting for `reply`, once its signature holds: a
    /// forged reply neither answers a caller nor makes one give up.
    fn answer(&self, reply: lapin::message::Delivery) {
        let body = match self.keys.delivered(&reply) {
            Ok(body) => body,
            Err(refusal) => {
                self.ignore_refused(DIRECT_REPLY_TO, &refusal);
                return;
            }
        };
        let Some(id) = reply.properties.correlation_id().as_ref() else {
            return;
        };
        let waiting = lock(&self.waiting).remove(id.as_str());
        let answer = match reply.properties.kind().as_ref().map(|kind| kind.as_str()) {
            Some(REPLY_OK) => Ok(body.into_owned()),
            _ => Err(String::from_utf8_lossy(&body).into_owned()),
        };
        match waiting {
            Some(caller) => {
                let _ = caller.send(answer);
            }
            None => {
                self.counters.late_replies.add();
                tracing::warn!(correlation_id = %id, "a reply came after its caller gave up; dropped");
            }
        }
    }

    /// Counts and logs a message from `queue`, which nobody acks, that is
    /// not believed; the caller drops it.
    pub(crate) fn ignore_refused(&self, queue: &str, refusal: &crate::bus::trust::Refusal) {
        self.counters.refused.add();
        tracing::warn!(queue, reason = %refusal, "a message is not believed; dropped");
    }
}

/// Locks used only for short updates: a poisoned one is used as it is.
pub(super) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Hands the direct replies of one link to their callers until it closes.
fn answer_replies(bridge: Weak<Bridge>, mut replies: lapin::Consumer) {
    use futures_util::StreamExt;
    actix_rt::spawn(async move {
        while let Some(Ok(reply)) = replies.next().await {
            let Some(bridge) = bridge.upgrade() else {
                return;
            };
            bridge.answer(reply);
        }
    });
}

/// Opens a connection and its channels, declares the exchanges and the
/// dead-letter queue, and consumes the direct replies on the calls channel
/// (before any command is sent on it, as the broker requires).
async fn open(
    url: &str,
    names: &Names,
    name: &str,
    node_id: &str,
) -> Result<(Link, lapin::Consumer), BridgeError> {
    let connection = Connection::connect(
        url,
        ConnectionProperties::default().with_connection_name(name.into()),
    )
    .await?;
    let publisher = connection.create_channel().await?;
    publisher
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..Default::default()
    };
    for (exchange, kind) in [
        (names.events(), ExchangeKind::Topic),
        (names.broadcast(), ExchangeKind::Fanout),
        (names.dead(), ExchangeKind::Fanout),
        (names.commands(), ExchangeKind::Direct),
    ] {
        publisher
            .exchange_declare(exchange.into(), kind, durable, FieldTable::default())
            .await?;
    }
    publisher
        .queue_declare(
            names.dead().into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    publisher
        .queue_bind(
            names.dead().into(),
            names.dead().into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let calls = connection.create_channel().await?;
    let replies = calls
        .basic_consume(
            DIRECT_REPLY_TO.into(),
            format!("{node_id}-replies").into(),
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    Ok((
        Link {
            connection,
            publisher,
            calls,
        },
        replies,
    ))
}
