//! The counters operators read, one type per thing counted: a `Count` only
//! goes up, a `Gauge` is what is there now (each thing holds it up while it
//! lasts), a `Latency` keeps how long things took. Each serialises as the
//! number it holds, so a struct of them is its own JSON view.

use hdrhistogram::Histogram;
use serde::{Serialize, Serializer};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::stats::{latency, lock, new_histogram, record_took};
use super::LatencyMs;

/// How many times something happened since start.
#[derive(Debug, Default)]
pub struct Count(AtomicU64);

impl Count {
    pub fn add(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Serialize for Count {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(self.get())
    }
}

/// How many things are in some state now.
#[derive(Debug, Default)]
pub struct Gauge(Arc<AtomicU64>);

/// One thing counted by a gauge, for as long as it is held.
#[derive(Debug)]
pub struct Held(Arc<AtomicU64>);

impl Gauge {
    pub fn hold(&self) -> Held {
        self.0.fetch_add(1, Ordering::Relaxed);
        Held(self.0.clone())
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Serialize for Gauge {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(self.get())
    }
}

/// How long something took, since start: serialised as its 50th and 99th
/// percentiles and its maximum, in milliseconds.
#[derive(Debug)]
pub struct Latency(Mutex<Histogram<u64>>);

impl Default for Latency {
    fn default() -> Self {
        Latency(Mutex::new(new_histogram()))
    }
}

impl Latency {
    pub fn record(&self, took: Duration) {
        record_took(&mut lock(&self.0), took);
    }

    pub fn get(&self) -> LatencyMs {
        latency(&lock(&self.0))
    }
}

impl Serialize for Latency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.get().serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_counter_serialises_as_what_it_holds() {
        let count = Count::default();
        count.add();
        count.add();
        let gauge = Gauge::default();
        let first = gauge.hold();
        let second = gauge.hold();
        drop(first);
        let latency = Latency::default();
        latency.record(Duration::from_millis(2));
        assert_eq!(serde_json::to_value(&count).unwrap(), 2);
        assert_eq!(serde_json::to_value(&gauge).unwrap(), 1);
        drop(second);
        assert_eq!(gauge.get(), 0);
        let p50 = latency.get().p50;
        assert!((1.99..2.01).contains(&p50), "{p50}");
    }
}
