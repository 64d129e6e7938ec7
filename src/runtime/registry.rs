//! Hands out actor addresses by kind. Callers (handlers and actors alike)
//! ask for `registry.get::<UserActor>()` and get an `Address`: the local pool
//! when this node hosts the kind, a remote route when another node does.
//! Addresses are registered once, at start; actors that call each other
//! hold the registry and look the address up when they call.

use actix::prelude::*;
use futures_util::future::LocalBoxFuture;
use std::any::Any;
use std::sync::{Arc, OnceLock};

use super::hosting::{DispatchError, Hosted};
use super::pool::{enter_worker, Placed};
use super::stats::KindStats;
use super::{ActorKind, Address};

/// An actor type's kind; implemented by `actor_kinds!`.
pub trait KindOf: Actor<Context = Context<Self>> + Hosted {
    const KIND: ActorKind;
}

type Dispatch = Box<
    dyn Fn(&str, &[u8]) -> LocalBoxFuture<'static, Result<Vec<u8>, DispatchError>> + Send + Sync,
>;

struct Entry {
    address: Box<dyn Any + Send + Sync>,
    stats: Option<Arc<KindStats>>,
    dispatch: Dispatch,
    /// The local pool, when its instances move onto the HTTP workers.
    on_workers: Option<Arc<dyn Placed>>,
}

/// Where a hosted kind's instances run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// On the HTTP workers, next to the requests that call them.
    Workers,
    /// On the node's own threads, for work off the request path that must
    /// go on after the server's workers stop (mail still being sent).
    Own,
}

#[derive(Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

struct Inner {
    node_id: String,
    entries: Vec<OnceLock<Entry>>,
}

impl Registry {
    pub fn new(node_id: String) -> Registry {
        Registry {
            inner: Arc::new(Inner {
                node_id,
                entries: ActorKind::ALL.iter().map(|_| OnceLock::new()).collect(),
            }),
        }
    }

    pub fn node_id(&self) -> &str {
        &self.inner.node_id
    }

    /// Registers the address of `A`'s kind; a kind is registered once.
    pub fn register<A: KindOf>(&self, address: Address<A>, placement: Placement) {
        let stats = address.local_stats().cloned();
        let on_workers = match placement {
            Placement::Workers => address
                .local_pool()
                .map(|pool| pool.clone() as Arc<dyn Placed>),
            Placement::Own => None,
        };
        let dispatcher = address.clone();
        let entry = Entry {
            address: Box::new(address),
            stats,
            dispatch: Box::new(move |name, body| A::dispatch(&dispatcher, name, body)),
            on_workers,
        };
        if self.inner.entries[A::KIND.index()].set(entry).is_err() {
            panic!("{} is registered twice", A::KIND);
        }
    }

    fn entry(&self, kind: ActorKind) -> &Entry {
        self.inner.entries[kind.index()]
            .get()
            .unwrap_or_else(|| panic!("{kind} is used before the system registered it"))
    }

    /// The address of `A`'s kind.
    pub fn get<A: KindOf>(&self) -> &Address<A> {
        self.entry(A::KIND)
            .address
            .downcast_ref()
            .expect("an entry holds the address of its own kind")
    }

    /// Whether this node runs instances of `kind`.
    pub fn hosts(&self, kind: ActorKind) -> bool {
        self.stats(kind).is_some()
    }

    /// The counters of `kind`'s instances on this node; `None` when another
    /// node hosts it, or nothing does (the bridge without `bus.url`).
    pub fn stats(&self, kind: ActorKind) -> Option<&Arc<KindStats>> {
        self.inner.entries[kind.index()].get()?.stats.as_ref()
    }

    /// The kinds this node knows, hosted here or elsewhere, in their order.
    pub fn kinds(&self) -> impl Iterator<Item = ActorKind> + '_ {
        ActorKind::ALL
            .iter()
            .copied()
            .filter(|kind| self.inner.entries[kind.index()].get().is_some())
    }

    /// Called on HTTP worker `worker` of `workers` as it starts: the
    /// instances placed on workers that belong to it move onto its thread,
    /// and calls made on it go to them.
    pub fn settle_on_worker(&self, worker: usize, workers: usize) {
        enter_worker(worker);
        for pool in self.placed_on_workers() {
            pool.settle_on_worker(worker, workers);
        }
    }

    /// Moves every instance back from the HTTP workers to the node's own
    /// threads, once the server has stopped them.
    pub fn go_home(&self) {
        for pool in self.placed_on_workers() {
            pool.go_home();
        }
    }

    fn placed_on_workers(&self) -> impl Iterator<Item = &Arc<dyn Placed>> {
        self.inner
            .entries
            .iter()
            .filter_map(|entry| entry.get()?.on_workers.as_ref())
    }

    /// Answers a call that came from another node for `kind`, by message
    /// name, with the reply as JSON.
    pub fn dispatch(
        &self,
        kind: ActorKind,
        name: &str,
        body: &[u8],
    ) -> LocalBoxFuture<'static, Result<Vec<u8>, DispatchError>> {
        (self.entry(kind).dispatch)(name, body)
    }
}
