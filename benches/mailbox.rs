//! What the instrumented mailbox costs: a `call` round trip through
//! `Mailbox` against a bare `Addr::send` to the same actor, in the same run.

use actix::prelude::*;
use criterion::{criterion_group, criterion_main, Criterion};
use std::sync::Arc;
use std::time::{Duration, Instant};

use storefront::actors::mailbox::{Handles, Mailbox, MailboxStats, Reply};
use storefront::actors::{ActorError, ActorKind};

struct Echo {
    stats: Arc<MailboxStats>,
}

impl Actor for Echo {
    type Context = Context<Self>;
}

impl Supervised for Echo {
    fn restarting(&mut self, _: &mut Context<Self>) {
        self.stats.record_restart();
    }
}

storefront::instrumented_actor!(Echo);

#[derive(Message)]
#[rtype(result = "Result<u64, ActorError>")]
struct Ping(u64);

/// The bare path: actix's own handler, answered synchronously.
impl Handler<Ping> for Echo {
    type Result = Result<u64, ActorError>;

    fn handle(&mut self, msg: Ping, _: &mut Context<Self>) -> Self::Result {
        Ok(msg.0)
    }
}

/// The instrumented path: the same answer through `Handles`.
impl Handles<Ping> for Echo {
    fn handle(&mut self, msg: Ping, _: &mut Context<Self>) -> Reply<Result<u64, ActorError>> {
        Box::pin(async move { Ok(msg.0) })
    }
}

fn round_trip(c: &mut Criterion) {
    let system = actix::System::new();
    let mailbox = system.block_on(async {
        Mailbox::start(ActorKind::User, Duration::from_secs(5), |stats| Echo {
            stats,
        })
    });
    let addr = mailbox.addr().clone();

    let mut group = c.benchmark_group("send round trip");
    group.bench_function("bare Addr::send", |b| {
        b.iter_custom(|iters| {
            system.block_on(async {
                let started = Instant::now();
                for i in 0..iters {
                    addr.send(Ping(i)).await.unwrap().unwrap();
                }
                started.elapsed()
            })
        })
    });
    group.bench_function("instrumented Mailbox::call", |b| {
        b.iter_custom(|iters| {
            system.block_on(async {
                let started = Instant::now();
                for i in 0..iters {
                    mailbox.call(Ping(i)).await.unwrap().unwrap();
                }
                started.elapsed()
            })
        })
    });
    group.finish();
}

criterion_group!(benches, round_trip);
criterion_main!(benches);
