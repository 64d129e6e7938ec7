//! The recent past of each actor kind, for the operator's page: one sample
//! every `SAMPLE_EVERY` of the queue, the rate handled and the latency of
//! that window, kept for the last `SAMPLES_KEPT` windows in a ring.
//!
//! The node samples its own kinds; other nodes' samples arrive in their
//! heartbeats (`bus::cluster`), which carry each kind's last few, numbered,
//! so that the two timers (sampling and heartbeat) drifting apart neither
//! repeat nor drop a window of another node's history.

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
/// The samples a heartbeat carries: a window missed between two heartbeats
/// arrives with the next one.
pub const SAMPLES_IN_HEARTBEAT: usize = 3;

/// One window of a kind on one node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Sample {
    /// The window's number, from 1 at the node's start.
    #[serde(default)]
    pub window: u64,
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

    /// The last `count` samples, oldest first.
    pub fn recent(&self, count: usize) -> Vec<Sample> {
        self.0
            .iter()
            .skip(self.0.len().saturating_sub(count))
            .copied()
            .collect()
    }

    /// Appends the samples of `recent` (another node's, oldest first) this
    /// history does not hold yet; starts again from them when their numbers
    /// went back, which only a restart of that node does.
    pub fn merge(&mut self, recent: &[Sample]) {
        let last = self.0.back().map_or(0, |sample| sample.window);
        if recent.last().is_some_and(|newest| newest.window < last) {
            self.0.clear();
        }
        let last = self.0.back().map_or(0, |sample| sample.window);
        for sample in recent.iter().filter(|sample| sample.window > last) {
            self.push(*sample);
        }
    }
}

/// A kind's counters at the previous sample: the window is the difference.
struct Sampled {
    stats: Arc<KindStats>,
    handled: u64,
    latency_us: Histogram<u64>,
    at: Instant,
    windows: u64,
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
                windows: 0,
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
            kind.windows += 1;
            kind.history.push(Sample {
                window: kind.windows,
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
        self.with_history(kind, History::clone)
    }

    /// The last `count` samples of `kind`, oldest first, without copying
    /// the rest.
    pub fn recent(&self, kind: ActorKind, count: usize) -> Vec<Sample> {
        self.with_history(kind, |history| history.recent(count))
    }

    fn with_history<T: Default>(&self, kind: ActorKind, read: impl FnOnce(&History) -> T) -> T {
        self.lock()
            .iter()
            .find(|sampled| sampled.stats.kind() == kind)
            .map_or_else(T::default, |sampled| read(&sampled.history))
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
        let recent: Vec<u64> = history.recent(2).iter().map(|s| s.queued).collect();
        assert_eq!(recent, [SAMPLES_KEPT as u64 + 8, SAMPLES_KEPT as u64 + 9]);
    }

    fn windows(numbers: &[u64]) -> Vec<Sample> {
        numbers
            .iter()
            .map(|&window| Sample {
                window,
                ..Sample::default()
            })
            .collect()
    }

    fn numbers(history: &History) -> Vec<u64> {
        history.samples().map(|sample| sample.window).collect()
    }

    #[test]
    fn another_nodes_windows_are_taken_once_each_in_order() {
        let mut history = History::default();
        history.merge(&windows(&[1]));
        history.merge(&windows(&[1, 2]));
        history.merge(&windows(&[1, 2]));
        // A heartbeat came late: the next one brings the window it missed.
        history.merge(&windows(&[2, 3, 4]));
        assert_eq!(numbers(&history), [1, 2, 3, 4]);
        // The node restarted and counts from 1 again.
        history.merge(&windows(&[1]));
        assert_eq!(numbers(&history), [1]);
        history.merge(&[]);
        assert_eq!(numbers(&history), [1]);
    }
}
