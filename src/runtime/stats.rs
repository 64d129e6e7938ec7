//! What operators see inside the actors: per instance, the messages waiting,
//! running, handled and failed, the restarts and the handling time; per
//! kind, the sums and the last messages.
//!
//! actix exposes no queue length, so the counts come from here: a message is
//! `queued` from `call` until its handler starts, `in flight` until its reply
//! is ready.

use chrono::{DateTime, Utc};
use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};
use utoipa::ToSchema;

use super::ActorKind;

/// How many past messages each kind remembers for operators.
pub const RECENT_MESSAGES: usize = 50;

/// How a handled message ended, as shown to operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Answered normally (domain refusals such as "not found" included).
    Ok,
    /// Answered with a fault of ours or of a dependency.
    Failed,
    /// The handler panicked; its instance was restarted.
    Panicked,
    /// The instance stopped before the handler finished.
    Cancelled,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageRecord {
    #[serde(rename = "type")]
    pub message_type: &'static str,
    /// The instance that handled it.
    pub instance: usize,
    #[schema(value_type = Option<String>)]
    pub correlation_id: Option<crate::telemetry::RequestId>,
    #[serde(serialize_with = "as_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub received_at: SystemTime,
    pub took_ms: f64,
    pub outcome: Outcome,
}

fn as_rfc3339<S: serde::Serializer>(time: &SystemTime, serializer: S) -> Result<S::Ok, S::Error> {
    DateTime::<Utc>::from(*time).serialize(serializer)
}

/// The wall-clock time of `instant`, from both clocks read once per
/// process: a message's times then cost one clock read instead of two. A
/// wall clock stepped later shows here as the time since start added to the
/// time at start, which is what an operator comparing messages wants.
pub(super) fn wall_time(instant: Instant) -> SystemTime {
    static ANCHOR: std::sync::OnceLock<(Instant, SystemTime)> = std::sync::OnceLock::new();
    let (at, wall) = ANCHOR.get_or_init(|| (Instant::now(), SystemTime::now()));
    match instant.checked_duration_since(*at) {
        Some(since) => *wall + since,
        None => *wall - at.duration_since(instant),
    }
}

#[derive(Debug, Clone, Copy, Default, Serialize, serde::Deserialize, ToSchema)]
pub struct LatencyMs {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

/// A point-in-time copy of one instance's counters.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstanceSnapshot {
    pub id: usize,
    /// The HTTP worker whose thread it runs on; `null` on the node's own
    /// threads.
    pub worker: Option<usize>,
    pub queued: u64,
    pub in_flight: u64,
    pub handled: u64,
    pub failed: u64,
    pub restarts: u64,
    pub latency_ms: LatencyMs,
}

/// A point-in-time copy of a kind's counters: the sums over its instances.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KindSnapshot {
    pub name: &'static str,
    pub queued: u64,
    pub in_flight: u64,
    pub handled: u64,
    pub failed: u64,
    pub restarts: u64,
    pub latency_ms: LatencyMs,
    pub last_message_at: Option<DateTime<Utc>>,
    pub instances: Vec<InstanceSnapshot>,
}

impl KindSnapshot {
    /// What this node knows of a kind another node hosts: nothing ran here.
    pub fn unhosted(kind: ActorKind) -> KindSnapshot {
        KindSnapshot {
            name: kind.actor_name(),
            queued: 0,
            in_flight: 0,
            handled: 0,
            failed: 0,
            restarts: 0,
            latency_ms: LatencyMs::default(),
            last_message_at: None,
            instances: Vec::new(),
        }
    }
}

pub(super) fn new_histogram() -> Histogram<u64> {
    // Microseconds, 1 µs to 1 h at 3 significant figures.
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

/// Records `took` in a histogram of `new_histogram`'s.
pub(super) fn record_took(histogram: &mut Histogram<u64>, took: Duration) {
    let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX).max(1);
    histogram.saturating_record(micros);
}

pub(super) fn latency(histogram: &Histogram<u64>) -> LatencyMs {
    let ms = |us: u64| us as f64 / 1000.0;
    LatencyMs {
        p50: ms(histogram.value_at_quantile(0.50)),
        p99: ms(histogram.value_at_quantile(0.99)),
        max: ms(histogram.max()),
    }
}

/// Counters stay meaningful after a panic elsewhere, so a poisoned lock is
/// used as it is.
pub(super) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The counters of one instance (a slot of its kind's pool: a restarted
/// instance keeps counting in the same slot).
pub struct InstanceStats {
    id: usize,
    kind: Arc<KindStats>,
    pub(super) queued: AtomicU64,
    pub(super) in_flight: AtomicU64,
    handled: AtomicU64,
    failed: AtomicU64,
    restarts: AtomicU64,
    /// One lock per instance, not one per kind that every core would wait
    /// on, taken once per message.
    history: Mutex<History>,
    worker: AtomicUsize,
}

/// What an instance remembers of the messages it handled.
struct History {
    latency_us: Histogram<u64>,
    recent: VecDeque<MessageRecord>,
}

/// `worker` of an instance on the node's own threads.
const AT_HOME: usize = usize::MAX;

impl InstanceStats {
    pub fn id(&self) -> usize {
        self.id
    }

    pub fn kind(&self) -> ActorKind {
        self.kind.kind
    }

    /// Messages waiting or running: how busy the instance is.
    pub fn load(&self) -> u64 {
        self.queued.load(Ordering::Relaxed) + self.in_flight.load(Ordering::Relaxed)
    }

    /// The HTTP worker it runs on, if any.
    pub fn worker(&self) -> Option<usize> {
        Some(self.worker.load(Ordering::Relaxed)).filter(|worker| *worker != AT_HOME)
    }

    pub(super) fn set_worker(&self, worker: Option<usize>) {
        self.worker
            .store(worker.unwrap_or(AT_HOME), Ordering::Relaxed);
    }

    pub(super) fn record_restart(&self) {
        self.restarts.fetch_add(1, Ordering::Relaxed);
    }

    /// A background round of the actor (a timer) that failed.
    pub(super) fn record_failure(&self) {
        self.failed.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn record(&self, record: MessageRecord, took: Duration) {
        self.handled.fetch_add(1, Ordering::Relaxed);
        if record.outcome != Outcome::Ok {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
        let mut history = lock(&self.history);
        record_took(&mut history.latency_us, took);
        if history.recent.len() == RECENT_MESSAGES {
            history.recent.pop_front();
        }
        history.recent.push_back(record);
    }

    fn snapshot(&self) -> InstanceSnapshot {
        InstanceSnapshot {
            id: self.id,
            worker: self.worker(),
            queued: self.queued.load(Ordering::Relaxed),
            in_flight: self.in_flight.load(Ordering::Relaxed),
            handled: self.handled.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            restarts: self.restarts.load(Ordering::Relaxed),
            latency_ms: latency(&lock(&self.history).latency_us),
        }
    }
}

/// The counters of one actor kind on this node: its instances' and the last
/// messages any of them handled.
pub struct KindStats {
    kind: ActorKind,
    instances: RwLock<Vec<Arc<InstanceStats>>>,
}

impl KindStats {
    pub fn new(kind: ActorKind) -> Arc<KindStats> {
        Arc::new(KindStats {
            kind,
            instances: RwLock::new(Vec::new()),
        })
    }

    pub fn kind(&self) -> ActorKind {
        self.kind
    }

    /// Counters for one more instance.
    pub fn add_instance(self: &Arc<Self>) -> Arc<InstanceStats> {
        let mut instances = self
            .instances
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let stats = Arc::new(InstanceStats {
            id: instances.len(),
            kind: self.clone(),
            queued: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            handled: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            restarts: AtomicU64::new(0),
            history: Mutex::new(History {
                latency_us: new_histogram(),
                recent: VecDeque::with_capacity(RECENT_MESSAGES),
            }),
            worker: AtomicUsize::new(AT_HOME),
        });
        instances.push(stats.clone());
        stats
    }

    /// The last messages of all instances, oldest first.
    pub fn recent(&self) -> Vec<MessageRecord> {
        let instances = self.instances();
        let mut recent: Vec<MessageRecord> = instances
            .iter()
            .flat_map(|instance| {
                lock(&instance.history)
                    .recent
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .collect();
        recent.sort_by_key(|record| record.received_at);
        let surplus = recent.len().saturating_sub(RECENT_MESSAGES);
        recent.drain(..surplus);
        recent
    }

    fn instances(&self) -> std::sync::RwLockReadGuard<'_, Vec<Arc<InstanceStats>>> {
        self.instances
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Messages handled by all instances so far.
    pub fn handled(&self) -> u64 {
        self.instances()
            .iter()
            .map(|instance| instance.handled.load(Ordering::Relaxed))
            .sum()
    }

    /// Messages waiting and running now, over all instances.
    pub fn load(&self) -> (u64, u64) {
        self.instances()
            .iter()
            .fold((0, 0), |(queued, in_flight), instance| {
                (
                    queued + instance.queued.load(Ordering::Relaxed),
                    in_flight + instance.in_flight.load(Ordering::Relaxed),
                )
            })
    }

    /// The handling times of all instances so far, in µs.
    pub fn latency_histogram(&self) -> Histogram<u64> {
        let mut merged = new_histogram();
        for instance in self.instances().iter() {
            // Same bounds on both sides: adding cannot fail.
            let _ = merged.add(&lock(&instance.history).latency_us);
        }
        merged
    }

    pub fn snapshot(&self) -> KindSnapshot {
        let merged = self.latency_histogram();
        let instances = self.instances();
        let snapshots: Vec<InstanceSnapshot> = instances
            .iter()
            .map(|instance| instance.snapshot())
            .collect();
        let sum = |field: fn(&InstanceSnapshot) -> u64| snapshots.iter().map(field).sum();
        KindSnapshot {
            name: self.kind.actor_name(),
            queued: sum(|s| s.queued),
            in_flight: sum(|s| s.in_flight),
            handled: sum(|s| s.handled),
            failed: sum(|s| s.failed),
            restarts: sum(|s| s.restarts),
            latency_ms: latency(&merged),
            last_message_at: instances
                .iter()
                .filter_map(|instance| {
                    lock(&instance.history)
                        .recent
                        .back()
                        .map(|record| record.received_at)
                })
                .max()
                .map(DateTime::from),
            instances: snapshots,
        }
    }
}
