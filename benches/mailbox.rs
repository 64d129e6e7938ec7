//! What the runtime costs a message: a `call` round trip through an
//! `Address` (a one-instance pool) against a bare `Addr::send` to the same
//! kind of actor, in the same run, twice: with the actor on another thread
//! (a kind on the node's own threads, or a worker without an instance of
//! its own), and on the caller's thread (an instance settled on the HTTP
//! worker that calls it, the common case).

use actix::prelude::*;
use criterion::{criterion_group, criterion_main, Criterion};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};

use storefront::actors::{ActorError, ActorKind};
use storefront::runtime::{Address, Arbiters, Handles, KindStats, Pool, Reply};

struct Echo;

impl Actor for Echo {
    type Context = Context<Self>;
}

storefront::instrumented_actor!(Echo);

#[derive(Message, Serialize, Deserialize)]
#[rtype(result = "Result<u64, ActorError>")]
struct Ping(u64);

storefront::wire_name!(Ping => "bench.ping");

/// The bare path: actix's own handler, answered synchronously.
impl Handler<Ping> for Echo {
    type Result = Result<u64, ActorError>;

    fn handle(&mut self, msg: Ping, _: &mut Context<Self>) -> Self::Result {
        Ok(msg.0)
    }
}

/// The runtime's path: the same answer through `Handles`.
impl Handles<Ping> for Echo {
    fn handle(&mut self, msg: Ping, _: &mut Context<Self>) -> Reply<Result<u64, ActorError>> {
        Box::pin(async move { Ok(msg.0) })
    }
}

fn pool(arbiters: &Arbiters) -> Pool<Echo> {
    Pool::start(
        KindStats::new(ActorKind::User),
        1,
        arbiters,
        Duration::from_secs(5),
        Arc::new(|_| Echo),
    )
}

fn round_trip(c: &mut Criterion) {
    let system = actix::System::new();
    let (_threads, across, here) = system.block_on(async {
        let bare = Arbiter::new();
        let arbiters = Arbiters::new(1);
        let across = (
            Echo::start_in_arbiter(&bare.handle(), |_| Echo),
            Address::local(pool(&arbiters)),
        );
        let settled = pool(&arbiters);
        settled.settle_on_worker(0, 1);
        let here = (Echo::start(Echo), Address::local(settled));
        ((bare, arbiters), across, here)
    });
    compare(c, &system, "across threads", across);
    compare(c, &system, "on the caller's thread", here);
}

fn compare(
    c: &mut Criterion,
    system: &actix::SystemRunner,
    name: &str,
    (addr, address): (Addr<Echo>, Address<Echo>),
) {
    let mut group = c.benchmark_group(format!("round trip {name}"));
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
    group.bench_function("runtime Address::call", |b| {
        b.iter_custom(|iters| {
            system.block_on(async {
                let started = Instant::now();
                for i in 0..iters {
                    address.call(Ping(i)).await.unwrap().unwrap();
                }
                started.elapsed()
            })
        })
    });
    group.finish();
}

criterion_group!(benches, round_trip);
criterion_main!(benches);
