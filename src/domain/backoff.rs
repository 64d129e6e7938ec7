//! How long to wait before the next try of something that failed: one rule
//! for the bus's publishes and deliveries, the broker's reconnections and
//! the mail queue's retries.

use std::time::Duration;

/// Exponential backoff: `first` after the first failure, doubling after
/// each failure in a row, never more than `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Backoff {
    /// What the bus and the broker's link wait: 100 ms, doubling to 10 s.
    pub const BUS: Backoff = Backoff {
        first: Duration::from_millis(100),
        max: Duration::from_secs(10),
    };

    /// The wait after `failures` failures in a row (1 for the first).
    pub fn after(&self, failures: u32) -> Duration {
        self.first
            .saturating_mul(2u32.saturating_pow(failures.saturating_sub(1)))
            .min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_most() {
        let backoff = Backoff {
            first: Duration::from_secs(1),
            max: Duration::from_secs(5),
        };
        let waits: Vec<u64> = (1..=5).map(|n| backoff.after(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 5, 5]);
        assert_eq!(backoff.after(0), Duration::from_secs(1));
        assert_eq!(backoff.after(u32::MAX), Duration::from_secs(5));
    }
}
