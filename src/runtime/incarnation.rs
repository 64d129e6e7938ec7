//! One start of an instance, shared by the pool that made it and by every
//! message in its mailbox, so a panic retires exactly the incarnation that
//! panicked.

use actix::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::stats::InstanceStats;

/// One start of an instance. A restart makes a new one in the same slot.
pub struct Incarnation {
    /// Messages sent to this incarnation and not answered yet.
    pub(super) live: AtomicU64,
    pub(super) stats: Arc<InstanceStats>,
    retired: AtomicBool,
    /// Puts a fresh incarnation in this one's slot.
    replace: Box<dyn Fn() + Send + Sync>,
}

/// How often a retired incarnation looks whether its last message is done.
const DRAIN_CHECK: Duration = Duration::from_millis(10);

impl Incarnation {
    pub(super) fn new(stats: Arc<InstanceStats>, replace: Box<dyn Fn() + Send + Sync>) -> Self {
        Incarnation {
            live: AtomicU64::new(0),
            stats,
            retired: AtomicBool::new(false),
            replace,
        }
    }

    /// The first panic retires an incarnation: a new one takes its slot, and
    /// this one stops once the messages it holds are answered.
    pub(super) fn retire<A: Actor<Context = Context<A>>>(self: &Arc<Self>, ctx: &mut Context<A>) {
        if self.retired.swap(true, Ordering::SeqCst) {
            return;
        }
        (self.replace)();
        let incarnation = self.clone();
        ctx.run_interval(DRAIN_CHECK, move |_, ctx| {
            if incarnation.live.load(Ordering::SeqCst) == 0 {
                ctx.stop();
            }
        });
    }
}
