//! ProductActor: the catalogue, its stock levels and search. Reads of one
//! product come from a bounded, TTL'd in-process cache that every write on
//! this node empties at once; `product.changed` tells other nodes to do the same.

use actix::prelude::*;
use moka::sync::Cache;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::mailbox::{Handles, MailboxStats, Reply};
use super::ActorError;
use crate::bus::{DeliverEvent, Event, EventBus, ProductChanged};
use crate::domain::{NewProduct, Product, ProductFields, Size};
use crate::store::{ProductFilter, ProductPage, ProductStore, VariantsWrite};

/// The cache and a count of writes. A read that started before a write must
/// not put what it read into the cache after the write emptied it, so reads
/// only fill the cache when no write happened while they ran.
#[derive(Clone)]
struct ProductCache {
    entries: Cache<i64, Arc<Product>>,
    writes: Arc<AtomicU64>,
}

impl ProductCache {
    fn invalidate(&self, id: i64) {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.entries.invalidate(&id);
    }
}

pub struct ProductActor {
    store: Arc<dyn ProductStore>,
    cache: ProductCache,
    bus: EventBus,
    currency: String,
    stats: Arc<MailboxStats>,
}

pub struct ProductParts {
    pub store: Arc<dyn ProductStore>,
    pub bus: EventBus,
    pub currency: String,
    pub cache_capacity: u64,
    pub cache_ttl: Duration,
}

impl ProductActor {
    pub const SUBSCRIBES_TO: &'static [&'static str] = &[Event::PRODUCT_CHANGED];

    pub fn new(parts: ProductParts, stats: Arc<MailboxStats>) -> Self {
        ProductActor {
            store: parts.store,
            cache: ProductCache {
                entries: Cache::builder()
                    .max_capacity(parts.cache_capacity)
                    .time_to_live(parts.cache_ttl)
                    .build(),
                writes: Arc::new(AtomicU64::new(0)),
            },
            bus: parts.bus,
            currency: parts.currency,
            stats,
        }
    }

    /// Runs a write, then empties the product's cache entry and tells the
    /// other nodes.
    fn write<T: 'static>(
        &self,
        id: Option<i64>,
        work: impl std::future::Future<Output = Result<T, ActorError>> + 'static,
        id_of: impl Fn(&T) -> i64 + 'static,
    ) -> Reply<Result<T, ActorError>> {
        let cache = self.cache.clone();
        let bus = self.bus.clone();
        Box::pin(async move {
            if let Some(id) = id {
                cache.invalidate(id);
            }
            let result = work.await;
            let changed = match &result {
                Ok(value) => Some(id_of(value)),
                Err(_) => id,
            };
            if let Some(product_id) = changed {
                cache.invalidate(product_id);
                bus.publish(Event::ProductChanged(ProductChanged { product_id }));
            }
            result
        })
    }
}

impl Actor for ProductActor {
    type Context = Context<Self>;
}

impl Supervised for ProductActor {
    fn restarting(&mut self, _: &mut Context<Self>) {
        self.stats.record_restart();
    }
}

crate::instrumented_actor!(ProductActor);

#[derive(Debug, Message)]
#[rtype(result = "Result<Product, ActorError>")]
pub struct CreateProduct {
    pub product: NewProduct,
}

#[derive(Debug, Message)]
#[rtype(result = "Result<Product, ActorError>")]
pub struct ReplaceProduct {
    pub id: i64,
    pub product: NewProduct,
}

/// Changes the fields present; the result is checked as a whole product.
#[derive(Debug, Message)]
#[rtype(result = "Result<Product, ActorError>")]
pub struct PatchProduct {
    pub id: i64,
    pub fields: ProductFields,
}

#[derive(Debug, Message)]
#[rtype(result = "Result<(), ActorError>")]
pub struct DeleteProduct {
    pub id: i64,
}

#[derive(Debug, Message)]
#[rtype(result = "Result<Product, ActorError>")]
pub struct SetStock {
    pub id: i64,
    pub size: Size,
    pub stock: i64,
}

#[derive(Debug, Message)]
#[rtype(result = "Result<Arc<Product>, ActorError>")]
pub struct GetProduct {
    pub id: i64,
}

#[derive(Debug, Message)]
#[rtype(result = "Result<ProductPage, ActorError>")]
pub struct SearchProducts {
    pub filter: ProductFilter,
}

impl Handles<CreateProduct> for ProductActor {
    fn handle(
        &mut self,
        msg: CreateProduct,
        _: &mut Context<Self>,
    ) -> Reply<Result<Product, ActorError>> {
        let store = self.store.clone();
        let currency = self.currency.clone();
        self.write(
            None,
            async move { Ok(store.create_product(&msg.product, &currency).await?) },
            |product| product.id,
        )
    }
}

impl Handles<ReplaceProduct> for ProductActor {
    fn handle(
        &mut self,
        msg: ReplaceProduct,
        _: &mut Context<Self>,
    ) -> Reply<Result<Product, ActorError>> {
        let store = self.store.clone();
        self.write(
            Some(msg.id),
            async move {
                store
                    .replace_product(msg.id, &msg.product, VariantsWrite::Replace)
                    .await?
                    .ok_or(ActorError::NotFound)
            },
            |product| product.id,
        )
    }
}

impl Handles<PatchProduct> for ProductActor {
    fn handle(
        &mut self,
        msg: PatchProduct,
        _: &mut Context<Self>,
    ) -> Reply<Result<Product, ActorError>> {
        let store = self.store.clone();
        self.write(
            Some(msg.id),
            async move {
                let current = store.product(msg.id).await?.ok_or(ActorError::NotFound)?;
                let variants = if msg.fields.variants.is_some() {
                    VariantsWrite::Replace
                } else {
                    VariantsWrite::Keep
                };
                let patched = msg
                    .fields
                    .apply_to(NewProduct::from(current))
                    .map_err(ActorError::Invalid)?;
                store
                    .replace_product(msg.id, &patched, variants)
                    .await?
                    .ok_or(ActorError::NotFound)
            },
            |product| product.id,
        )
    }
}

impl Handles<DeleteProduct> for ProductActor {
    fn handle(
        &mut self,
        msg: DeleteProduct,
        _: &mut Context<Self>,
    ) -> Reply<Result<(), ActorError>> {
        let store = self.store.clone();
        let id = msg.id;
        self.write(
            Some(id),
            async move {
                if store.delete_product(id).await? {
                    Ok(())
                } else {
                    Err(ActorError::NotFound)
                }
            },
            move |_| id,
        )
    }
}

impl Handles<SetStock> for ProductActor {
    fn handle(
        &mut self,
        msg: SetStock,
        _: &mut Context<Self>,
    ) -> Reply<Result<Product, ActorError>> {
        let store = self.store.clone();
        self.write(
            Some(msg.id),
            async move {
                store
                    .set_stock(msg.id, msg.size, msg.stock)
                    .await?
                    .ok_or(ActorError::NotFound)
            },
            |product| product.id,
        )
    }
}

impl Handles<GetProduct> for ProductActor {
    fn handle(
        &mut self,
        msg: GetProduct,
        _: &mut Context<Self>,
    ) -> Reply<Result<Arc<Product>, ActorError>> {
        if let Some(product) = self.cache.entries.get(&msg.id) {
            return Box::pin(async move { Ok(product) });
        }
        let store = self.store.clone();
        let cache = self.cache.clone();
        Box::pin(async move {
            let writes_before = cache.writes.load(Ordering::SeqCst);
            let product = Arc::new(store.product(msg.id).await?.ok_or(ActorError::NotFound)?);
            if cache.writes.load(Ordering::SeqCst) == writes_before {
                cache.entries.insert(msg.id, product.clone());
            }
            Ok(product)
        })
    }
}

impl Handles<SearchProducts> for ProductActor {
    fn handle(
        &mut self,
        msg: SearchProducts,
        _: &mut Context<Self>,
    ) -> Reply<Result<ProductPage, ActorError>> {
        let store = self.store.clone();
        Box::pin(async move { Ok(store.search(&msg.filter).await?) })
    }
}

impl Handles<DeliverEvent> for ProductActor {
    fn handle(
        &mut self,
        msg: DeliverEvent,
        _: &mut Context<Self>,
    ) -> Reply<Result<(), ActorError>> {
        if let Event::ProductChanged(changed) = &msg.0.event {
            self.cache.invalidate(changed.product_id);
        }
        Box::pin(async { Ok(()) })
    }
}
