//! ProductActor: the catalogue, its stock levels and search. Reads come
//! from the node's in-memory catalogue (`crate::catalogue`), shared by every
//! instance; writes go to the store, then refresh the catalogue before they
//! answer, and tell other nodes with `product.changed`.

use actix::prelude::*;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use super::ActorError;
use crate::bus::{DeliverEvent, Event, EventBus, ProductChanged};
use crate::catalogue::{
    Catalogue, CatalogueVersion, CategoryCount, Facets, Listed, ProductFilter, ProductPage,
};
use crate::domain::{Currency, NewProduct, Product, ProductDraft, Size, Stock};
use crate::runtime::Reply;
use crate::store::{ProductStore, VariantsWrite, Written};

/// How often a PATCH is re-applied to a product that another write changed
/// under it before giving up.
const PATCH_TRIES: usize = 8;

/// The answer to a write that named `id`.
fn written<T>(outcome: Written<T>) -> Result<T, ActorError> {
    match outcome {
        Written::Done(value) => Ok(value),
        Written::Missing => Err(ActorError::NotFound),
        Written::Stale => Err(ActorError::Stale),
    }
}

pub struct ProductActor {
    store: Arc<dyn ProductStore>,
    catalogue: Arc<Catalogue>,
    bus: EventBus,
    currency: Currency,
    node_id: String,
}

/// What every instance shares, the catalogue included.
#[derive(Clone)]
pub struct ProductParts {
    pub store: Arc<dyn ProductStore>,
    pub catalogue: Arc<Catalogue>,
    pub bus: EventBus,
    pub currency: Currency,
    pub node_id: String,
}

impl ProductActor {
    pub const SUBSCRIBES_TO: &'static [&'static str] = &[Event::PRODUCT_CHANGED];

    pub fn new(parts: ProductParts) -> Self {
        ProductActor {
            store: parts.store,
            catalogue: parts.catalogue,
            bus: parts.bus,
            currency: parts.currency,
            node_id: parts.node_id,
        }
    }

    /// Runs a write, then brings this node's catalogue up to date with the
    /// product before answering (a failed write may still have changed it:
    /// it is read again either way), and tells the other nodes. A refresh
    /// that fails does not undo the write, so it does not fail the answer:
    /// the catalogue's poll reads the product at its next round.
    fn write<T: 'static>(
        &self,
        id: Option<i64>,
        work: impl std::future::Future<Output = Result<T, ActorError>> + 'static,
        id_of: impl Fn(&T) -> i64 + 'static,
    ) -> Reply<Result<T, ActorError>> {
        let catalogue = self.catalogue.clone();
        let bus = self.bus.clone();
        Box::pin(async move {
            let result = work.await;
            let changed = match &result {
                Ok(value) => Some(id_of(value)),
                Err(_) => id,
            };
            if let Some(product_id) = changed {
                if let Err(err) = catalogue.refresh(&[product_id]).await {
                    tracing::warn!(product_id, error = %crate::telemetry::error_chain(&err), "the catalogue could not read a product it wrote; its poll will");
                }
                // Other nodes' polls catch up without it.
                if let Err(full) = bus.publish(Event::ProductChanged(ProductChanged { product_id }))
                {
                    tracing::warn!(product_id, error = %full, "product.changed not published");
                }
            }
            result
        })
    }
}

impl Actor for ProductActor {
    type Context = Context<Self>;
}

#[derive(Debug, Serialize, Deserialize)]
pub struct CreateProduct {
    pub product: NewProduct,
}

/// Replaces a whole product; with `expected_version`, only if it still has it.
#[derive(Debug, Serialize, Deserialize)]
pub struct ReplaceProduct {
    pub id: i64,
    pub product: NewProduct,
    pub expected_version: Option<i64>,
}

/// Changes the fields present; the result is checked as a whole product.
/// Without `expected_version` a PATCH that raced another write is applied
/// again to the newer product (it names only what it changes, so both
/// changes stick); with it, a product that moved on is `Stale`.
#[derive(Debug, Serialize, Deserialize)]
pub struct PatchProduct {
    pub id: i64,
    pub patch: ProductDraft,
    pub expected_version: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct DeleteProduct {
    pub id: i64,
    pub expected_version: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct SetStock {
    pub id: i64,
    pub size: Size,
    pub stock: Stock,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct GetProduct {
    pub id: i64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct SearchProducts {
    pub filter: ProductFilter,
    /// Count what each category, size and price band would give too.
    pub facets: bool,
}

/// A page of a search, with its facets when they were asked for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Found {
    pub page: ProductPage,
    pub facets: Option<Arc<Facets>>,
    /// The catalogue's version the answer was read from.
    pub version: CatalogueVersion,
}

/// Every category of the catalogue with its counts.
#[derive(Debug, Serialize, Deserialize)]
pub struct ListCategories;

#[storefront_macros::handlers]
impl ProductActor {
    #[wire("product.create")]
    #[example(CreateProduct {
        product: new_product(),
    } => Ok(product()))]
    fn create_product(
        &mut self,
        msg: CreateProduct,
        _: &mut Context<Self>,
    ) -> Reply<Result<Product, ActorError>> {
        let store = self.store.clone();
        let currency = self.currency.clone();
        self.write(
            None,
            async move {
                Ok(store
                    .create_product(&msg.product, currency.as_str())
                    .await?)
            },
            |product| product.id,
        )
    }

    #[wire("product.replace")]
    #[example(ReplaceProduct {
        id: 1,
        product: new_product(),
        expected_version: Some(1),
    } => Err(ActorError::Stale))]
    fn replace_product(
        &mut self,
        msg: ReplaceProduct,
        _: &mut Context<Self>,
    ) -> Reply<Result<Product, ActorError>> {
        let store = self.store.clone();
        self.write(
            Some(msg.id),
            async move {
                written(
                    store
                        .replace_product(
                            msg.id,
                            &msg.product,
                            VariantsWrite::Replace,
                            msg.expected_version,
                        )
                        .await?,
                )
            },
            |product| product.id,
        )
    }

    #[wire("product.patch")]
    #[example(PatchProduct {
        id: 1,
        patch: ProductDraft {
            price: Some(5000),
            ..Default::default()
        },
        expected_version: None,
    } => Ok(product()))]
    fn patch_product(
        &mut self,
        msg: PatchProduct,
        _: &mut Context<Self>,
    ) -> Reply<Result<Product, ActorError>> {
        let store = self.store.clone();
        self.write(
            Some(msg.id),
            async move {
                let variants = if msg.patch.variants.is_some() {
                    VariantsWrite::Replace
                } else {
                    VariantsWrite::Keep
                };
                for _ in 0..PATCH_TRIES {
                    let current = store.product(msg.id).await?.ok_or(ActorError::NotFound)?;
                    if msg
                        .expected_version
                        .is_some_and(|expected| expected != current.version)
                    {
                        return Err(ActorError::Stale);
                    }
                    let patched = NewProduct::patch(&current, msg.patch.clone())
                        .map_err(ActorError::Invalid)?;
                    match store
                        .replace_product(msg.id, &patched, variants, Some(current.version))
                        .await?
                    {
                        Written::Stale if msg.expected_version.is_none() => continue,
                        outcome => return written(outcome),
                    }
                }
                Err(ActorError::Conflict(
                    "the product kept changing while the patch was applied; try again".into(),
                ))
            },
            |product| product.id,
        )
    }

    #[wire("product.delete")]
    #[example(DeleteProduct {
        id: 1,
        expected_version: None,
    } => Ok(()))]
    fn delete_product(
        &mut self,
        msg: DeleteProduct,
        _: &mut Context<Self>,
    ) -> Reply<Result<(), ActorError>> {
        let store = self.store.clone();
        let id = msg.id;
        self.write(
            Some(id),
            async move { written(store.delete_product(id, msg.expected_version).await?) },
            move |_| id,
        )
    }

    #[wire("product.set_stock")]
    #[example(SetStock {
        id: 1,
        size: Size::M,
        stock: Stock::parse(3).unwrap(),
    } => Ok(product()))]
    fn set_stock(
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

    #[wire("product.get")]
    #[example(GetProduct { id: 1 } => Ok(Arc::new(Listed::rendered(product(), |_| {
        bytes::Bytes::new()
    }))))]
    fn get_product(
        &mut self,
        msg: GetProduct,
        _: &mut Context<Self>,
    ) -> Reply<Result<Arc<Listed>, ActorError>> {
        let product = self.catalogue.product(msg.id).ok_or(ActorError::NotFound);
        Box::pin(async move { product })
    }

    #[wire("product.categories")]
    #[example(ListCategories => Ok(vec![CategoryCount {
        name: "Dresses".into(),
        products: 12,
        in_stock: 9,
    }]))]
    fn list_categories(
        &mut self,
        _: ListCategories,
        _: &mut Context<Self>,
    ) -> Reply<Result<Vec<CategoryCount>, ActorError>> {
        let categories = self.catalogue.categories().as_ref().clone();
        Box::pin(async move { Ok(categories) })
    }

    #[wire("product.search")]
    #[example(SearchProducts {
        filter: ProductFilter {
            terms: vec!["linen".into()],
            category: None,
            size: Some(Size::S),
            min_price: None,
            max_price: Some(10_000),
            in_stock: true,
            sort: ProductSort::PriceAscending,
            limit: 20,
            offset: 0,
        },
        facets: true,
    } => Ok(Found {
        page: ProductPage {
            items: vec![Arc::new(Listed::rendered(product(), |_| bytes::Bytes::new()))],
            total: 1,
        },
        facets: Some(Arc::new(Facets {
            categories: vec![("Dresses".into(), 1)],
            sizes: vec![(Size::S, 1), (Size::M, 0)],
            prices: vec![PriceBandCount { min: 0, below: Some(2500), products: 1 }],
        })),
        version: CatalogueVersion { catalogue: 7, generation: 3 },
    }))]
    fn search_products(
        &mut self,
        msg: SearchProducts,
        _: &mut Context<Self>,
    ) -> Reply<Result<Found, ActorError>> {
        let found = self
            .catalogue
            .find(&msg.filter, msg.facets)
            .map(|(page, facets, version)| Found {
                page,
                facets,
                version,
            })
            .map_err(ActorError::from);
        Box::pin(async move { found })
    }

    /// Another node wrote a product: read it again. This node's own writes
    /// refreshed it already.
    #[answers]
    #[example(delivery() => delivery_timed_out())]
    fn deliver_event(
        &mut self,
        msg: DeliverEvent,
        _: &mut Context<Self>,
    ) -> Reply<Result<(), ActorError>> {
        let catalogue = self.catalogue.clone();
        let from_elsewhere = msg.0.origin_node != self.node_id;
        Box::pin(async move {
            if let Event::ProductChanged(changed) = &msg.0.event {
                if from_elsewhere {
                    catalogue.refresh(&[changed.product_id]).await?;
                }
            }
            Ok(())
        })
    }
}
