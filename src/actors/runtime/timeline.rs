//! The recent past of each actor kind, for the operator's page: one sample
//! every `SAMPLE_EVERY` of the queue, the rate handled and the latency of
//! that window, kept for the last `SAMPLES_KEPT` windows in a ring.
//!
//! The node samples its own kinds; other nodes' samples arrive in their
//! heartbeats (`bus::cluster`), which carry each kind's latest one.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use utoipa::ToSchema;

use super::stats::KindStats;
use super::{ActorKind, Registry};

/// How often a kind is sampled: the heartbeat's period, so that another
/// node's history has the same step as this node's.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(2);
/// Five minutes of samples.
pub const SAMPLES_KEPT: usize = 150;

/// One window of a kind on one node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Sample {
    /// Messages waiting at the end of the window.
    pub queued: u64,
    pub in_flight: u64,
    /// Messages handled during the window, per second.
    pub handled_per_sec: f64,
    /// Handling time of the messages of the window (0 when none came).
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// The last `SAMPLES_KEPT` samples, oldest first.
#[derive(Debug, Clone, Default)]
pub struct History(VecDeque<Sample>);

impl History {
    pub fn push(&mut self, sample: Sample) {
        if self.0.len() == SAMPLES_KEPT {
            self.0.pop_front();
        }
        self.0.push_back(sample);
    }

    pub fn samples(&self) -> impl ExactSizeIterator<Item = &Sample> {
        self.0.iter()
    }

    pub fn latest(&self) -> Option<Sample> {
        self.0.back().copied()
    }
}

/// A kind's counters at the previous sample: the window is the difference.
struct Sampled {
    stats: Arc<KindStats>,
    handled: u64,
    latency_us: Histogram<u64>,
    at: Instant,
    history: History,
}

/// The samples of the kinds this node hosts.
pub struct Timeline {
    kinds: Mutex<Vec<Sampled>>,
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

impl Timeline {
    /// A timeline of every kind `registry` hosts, starting now.
    pub fn new(registry: &Registry) -> Arc<Timeline> {
        let now = Instant::now();
        let kinds = ActorKind::ALL
            .iter()
            .filter_map(|kind| registry.stats(*kind))
            .map(|stats| Sampled {
                stats: stats.clone(),
                handled: stats.handled(),
                latency_us: stats.latency_histogram(),
                at: now,
                history: History::default(),
            })
            .collect();
        Arc::new(Timeline {
            kinds: Mutex::new(kinds),
        })
    }

    /// Closes the current window of every kind.
    pub fn sample(&self) {
        let now = Instant::now();
        let mut kinds = self.lock();
        for kind in kinds.iter_mut() {
            let handled = kind.stats.handled();
            let latency_us = kind.stats.latency_histogram();
            let mut window = latency_us.clone();
            // The histograms only grow, so the earlier one is contained in
            // the later one and the difference is this window's.
            let _ = window.subtract(&kind.latency_us);
            let seconds = now.duration_since(kind.at).as_secs_f64().max(0.001);
            let rate = handled.saturating_sub(kind.handled) as f64 / seconds;
            let (queued, in_flight) = kind.stats.load();
            kind.history.push(Sample {
                queued,
                in_flight,
                handled_per_sec: (rate * 10.0).round() / 10.0,
                p50_ms: ms(window.value_at_quantile(0.50)),
                p99_ms: ms(window.value_at_quantile(0.99)),
            });
            kind.handled = handled;
            kind.latency_us = latency_us;
            kind.at = now;
        }
    }

    /// The samples of `kind` so far, oldest first (none when not hosted).
    pub fn history(&self, kind: ActorKind) -> History {
        self.lock()
            .iter()
            .find(|sampled| sampled.stats.kind() == kind)
            .map(|sampled| sampled.history.clone())
            .unwrap_or_default()
    }

    /// Samples every `SAMPLE_EVERY` on the current arbiter, as long as the
    /// timeline is used elsewhere.
    pub fn keep_sampling(self: &Arc<Self>) {
        let timeline = Arc::downgrade(self);
        actix_rt::spawn(async move {
            let mut ticks = tokio::time::interval(SAMPLE_EVERY);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // The first tick is at once: the first window starts now.
            ticks.tick().await;
            loop {
                ticks.tick().await;
                let Some(timeline) = timeline.upgrade() else {
                    return;
                };
                timeline.sample();
            }
        });
    }

    /// Counters stay meaningful after a panic elsewhere, so a poisoned lock
    /// is used as it is.
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Sampled>> {
        self.kinds
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_history_keeps_the_last_samples_oldest_first() {
        let mut history = History::default();
        for queued in 0..(SAMPLES_KEPT as u64 + 10) {
            history.push(Sample {
                queued,
                ..Sample::default()
            });
        }
        assert_eq!(history.samples().len(), SAMPLES_KEPT);
        assert_eq!(history.samples().next().unwrap().queued, 10);
        assert_eq!(history.latest().unwrap().queued, SAMPLES_KEPT as u64 + 9);
    }
}
