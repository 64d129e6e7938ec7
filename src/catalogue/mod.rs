//! The catalogue as this node reads it: every live product in memory, with
//! its orders, categories and a full-text index, one per node and shared by
//! every ProductActor instance. Readers take the current snapshot (an
//! `ArcSwap` load) and never wait; a write builds the next snapshot and
//! swaps it in.
//!
//! The store stays the source of truth. A write on this node refreshes the
//! products it wrote before it answers, so this node reads its own writes;
//! writes on other nodes arrive as `product.changed` and, whatever the bus
//! does, by polling the store's catalogue clock every
//! `catalogue.refresh_secs`.

mod text;

use arc_swap::ArcSwap;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::domain::{PriceBands, Product, Size};
use crate::store::{ProductStore, StoreError};
use text::{TextIndex, TextIndexError, TextSearch};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ProductSort {
    /// Best text match first (newest first without a text search).
    Relevance,
    Newest,
    PriceAscending,
    PriceDescending,
}

/// A catalogue query, already checked.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ProductFilter {
    /// Plain words (see `domain::search_terms`); all must match, as prefixes.
    pub terms: Vec<String>,
    pub category: Option<String>,
    pub size: Option<Size>,
    pub min_price: Option<i64>,
    pub max_price: Option<i64>,
    pub in_stock: bool,
    pub sort: ProductSort,
    pub limit: u32,
    pub offset: u64,
}

/// Renders a product as clients receive it.
pub type Render = fn(&Product) -> Bytes;

/// A product as the read model holds it: the product, and its client JSON
/// rendered once for its version, so that a list is copied out, not
/// serialised, on every request (the page a shop serves most).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Listed {
    product: Product,
    /// `None` for a product that came over the wire from another node: its
    /// reader renders it.
    #[serde(skip)]
    json: Option<Bytes>,
}

impl Listed {
    pub fn rendered(product: Product, render: Render) -> Listed {
        Listed {
            json: Some(render(&product)),
            product,
        }
    }

    pub fn json(&self) -> Option<&Bytes> {
        self.json.as_ref()
    }
}

impl std::ops::Deref for Listed {
    type Target = Product;

    fn deref(&self) -> &Product {
        &self.product
    }
}

/// A category of the catalogue and how many products it holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CategoryCount {
    /// As the newest of its products spells it (categories are one in any
    /// case).
    pub name: String,
    pub products: u64,
    /// Of those, the ones with stock in some size.
    pub in_stock: u64,
}

/// How many products of a search each choice of a filter would give: for
/// each dimension, the same search with that dimension's own filter set to
/// the choice instead of the one given (so a front end shows the other
/// categories' counts beside the chosen one).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Facets {
    /// Per category, by name.
    pub categories: Vec<(String, u64)>,
    /// Per size, S to XXL: the products with stock in it.
    pub sizes: Vec<(Size, u64)>,
    /// Per price band (by final price), cheapest first.
    pub prices: Vec<PriceBandCount>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PriceBandCount {
    pub min: i64,
    /// The first price above the band; `None` for the last.
    pub below: Option<i64>,
    pub products: u64,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ProductPage {
    pub items: Vec<Arc<Listed>>,
    pub total: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Text(#[from] TextIndexError),
    #[error("the catalogue's update task failed")]
    Task(#[from] tokio::task::JoinError),
}

/// Products in the two orders lists use; `PriceDescending` and newest-last
/// are these read backwards.
#[derive(Default)]
struct Orders {
    /// Newest first (`created_at` then id, descending).
    newest: Vec<Arc<Listed>>,
    /// Cheapest first (final price then id, ascending).
    cheapest: Vec<Arc<Listed>>,
}

impl Orders {
    fn of(products: Vec<Arc<Listed>>) -> Orders {
        let mut newest = products.clone();
        newest.sort_unstable_by_key(|product| std::cmp::Reverse((product.created_at, product.id)));
        let mut cheapest = products;
        cheapest.sort_unstable_by_key(|product| (product.final_price, product.id));
        Orders { newest, cheapest }
    }
}

/// Which snapshot of which catalogue an answer was read from: an answer
/// built from the same version is the same. Each catalogue (one per node
/// that hosts the ProductActor) has an id of its own, so that versions of
/// two nodes never pass for each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct CatalogueVersion {
    pub catalogue: u64,
    pub generation: u64,
}

/// A product as facets count it, in a few bytes: a count goes over every
/// product a search matches (all of them, without words), so it reads
/// these packed rows, not the products.
#[derive(Debug, Clone, Copy)]
struct FacetRow {
    /// Its category's place in `Snapshot::category_counts`.
    category: u32,
    final_price: i64,
    /// A bit per size it comes in (`1 << size`), and per size in stock.
    offered: u8,
    stocked: u8,
}

impl FacetRow {
    fn of(product: &Product, category: u32) -> FacetRow {
        let (offered, stocked) = size_masks(product);
        FacetRow {
            category,
            final_price: product.final_price,
            offered,
            stocked,
        }
    }
}

fn size_bit(size: Size) -> u8 {
    1 << size as u8
}

/// A bit per size `product` comes in, and per size it has in stock.
fn size_masks(product: &Product) -> (u8, u8) {
    product
        .variants
        .iter()
        .fold((0, 0), |(offered, stocked), variant| {
            let bit = size_bit(variant.size);
            (
                offered | bit,
                if variant.stock > 0 {
                    stocked | bit
                } else {
                    stocked
                },
            )
        })
}

/// A filter's conditions besides its words and category, the one rule
/// both a search and its facets apply.
struct Conditions {
    min_price: i64,
    max_price: i64,
    /// The filter's size as a mask (every size without one).
    sizes: u8,
    any_size: bool,
    in_stock: bool,
}

impl Conditions {
    fn of(filter: &ProductFilter) -> Conditions {
        Conditions {
            min_price: filter.min_price.unwrap_or(i64::MIN),
            max_price: filter.max_price.unwrap_or(i64::MAX),
            sizes: filter.size.map_or(u8::MAX, size_bit),
            any_size: filter.size.is_none() && !filter.in_stock,
            in_stock: filter.in_stock,
        }
    }

    /// Within the filter's price bounds.
    fn priced(&self, final_price: i64) -> bool {
        (self.min_price..=self.max_price).contains(&final_price)
    }

    /// Of the filter's size, in stock if it asks so, by the product's
    /// `size_masks`.
    fn sized(&self, offered: u8, stocked: u8) -> bool {
        let sizes = if self.in_stock { stocked } else { offered };
        self.any_size || sizes & self.sizes != 0
    }
}

/// The catalogue at one moment. Never changed: the next write makes another.
struct Snapshot {
    version: CatalogueVersion,
    /// `all.newest` as facet rows, in the same order.
    rows: Vec<FacetRow>,
    /// The facet row of each of the searcher's documents, by segment and
    /// number (`u32::MAX` for a document no product has).
    document_rows: Vec<Vec<u32>>,
    /// Each category's place in `category_counts`, by lower-cased name.
    category_places: HashMap<String, u32>,
    products: HashMap<i64, Arc<Listed>>,
    all: Orders,
    /// By lower-cased category.
    categories: HashMap<String, Orders>,
    /// Every category with its counts, by name.
    category_counts: Arc<Vec<CategoryCount>>,
    searcher: tantivy::Searcher,
    /// The searcher's documents as products, by segment and number.
    documents: Vec<Vec<Option<Arc<Listed>>>>,
    /// The store's catalogue clock this snapshot has caught up with.
    tick: i64,
}

impl Snapshot {
    fn build(
        version: CatalogueVersion,
        products: HashMap<i64, Arc<Listed>>,
        index: &TextIndex,
        tick: i64,
    ) -> Result<Snapshot, TextIndexError> {
        let searcher = index.searcher();
        let documents: Vec<Vec<Option<Arc<Listed>>>> = index
            .ids(&searcher)?
            .into_iter()
            .map(|segment| {
                segment
                    .into_iter()
                    .map(|id| id.and_then(|id| products.get(&id).cloned()))
                    .collect()
            })
            .collect();
        let mut by_category: HashMap<String, Vec<Arc<Listed>>> = HashMap::new();
        for product in products.values() {
            by_category
                .entry(product.category.to_lowercase())
                .or_default()
                .push(product.clone());
        }
        let categories: HashMap<String, Orders> = by_category
            .into_iter()
            .map(|(category, products)| (category, Orders::of(products)))
            .collect();
        let mut category_counts: Vec<CategoryCount> = categories
            .values()
            .filter_map(|orders| {
                let newest = orders.newest.first()?;
                Some(CategoryCount {
                    name: newest.category.clone(),
                    products: orders.newest.len() as u64,
                    in_stock: orders
                        .newest
                        .iter()
                        .filter(|product| product.variants.iter().any(|v| v.stock > 0))
                        .count() as u64,
                })
            })
            .collect();
        category_counts.sort_unstable_by_key(|category| category.name.to_lowercase());
        let category_places: HashMap<String, u32> = category_counts
            .iter()
            .enumerate()
            .map(|(place, category)| (category.name.to_lowercase(), place as u32))
            .collect();
        let all = Orders::of(products.values().cloned().collect());
        let mut row_of: HashMap<i64, u32> = HashMap::with_capacity(all.newest.len());
        let rows = all
            .newest
            .iter()
            .enumerate()
            .map(|(place, product)| {
                row_of.insert(product.id, place as u32);
                // Every product's category is one of `category_counts`,
                // which were counted from them.
                let category = category_places[&product.category.to_lowercase()];
                FacetRow::of(product, category)
            })
            .collect();
        let document_rows = documents
            .iter()
            .map(|segment| {
                segment
                    .iter()
                    .map(|product| {
                        product
                            .as_ref()
                            .and_then(|product| row_of.get(&product.id).copied())
                            .unwrap_or(u32::MAX)
                    })
                    .collect()
            })
            .collect();
        Ok(Snapshot {
            version,
            rows,
            document_rows,
            category_places,
            all,
            categories,
            category_counts: Arc::new(category_counts),
            products,
            searcher,
            documents,
            tick,
        })
    }
}

pub struct Catalogue {
    current: ArcSwap<Snapshot>,
    /// Taken by a write only, never by a read.
    index: Mutex<TextIndex>,
    text: TextSearch,
    /// Orders refreshes: a store read and the swap it leads to happen under
    /// it, so an older read never replaces a newer one.
    refreshing: tokio::sync::Mutex<()>,
    store: Arc<dyn ProductStore>,
    render: Render,
    /// The generation the next snapshot gets.
    next_generation: std::sync::atomic::AtomicU64,
    /// The bands of the price facet.
    bands: PriceBands,
    /// Facets by snapshot generation and search (sort and page aside: the
    /// pages of one search, in any order, share them).
    facets_memo: moka::sync::Cache<(u64, ProductFilter), Arc<Facets>>,
}

/// Searches whose facets are kept; those of an older snapshot are never
/// asked for again and leave first.
const FACETS_KEPT: u64 = 10_000;

impl Catalogue {
    /// Reads every live product from the store and indexes it.
    pub async fn load(
        store: Arc<dyn ProductStore>,
        render: Render,
        bands: PriceBands,
    ) -> Result<Arc<Catalogue>, CatalogueError> {
        let read = store.catalogue().await?;
        let (index, text, snapshot) = tokio::task::spawn_blocking(move || {
            let (mut index, text) = TextIndex::new()?;
            index.write(&read.products, [])?;
            let products = read
                .products
                .into_iter()
                .map(|product| (product.id, Arc::new(Listed::rendered(product, render))))
                .collect();
            let version = CatalogueVersion {
                catalogue: rand::random(),
                generation: 0,
            };
            let snapshot = Snapshot::build(version, products, &index, read.tick)?;
            Ok::<_, CatalogueError>((index, text, snapshot))
        })
        .await??;
        Ok(Arc::new(Catalogue {
            current: ArcSwap::from_pointee(snapshot),
            index: Mutex::new(index),
            text,
            refreshing: tokio::sync::Mutex::new(()),
            store,
            render,
            next_generation: std::sync::atomic::AtomicU64::new(1),
            bands,
            facets_memo: moka::sync::Cache::new(FACETS_KEPT),
        }))
    }

    /// Every category with its counts, by name.
    pub fn categories(&self) -> Arc<Vec<CategoryCount>> {
        self.current.load().category_counts.clone()
    }

    pub fn product(&self, id: i64) -> Option<Arc<Listed>> {
        self.current.load().products.get(&id).cloned()
    }

    /// A page of the products `filter` selects, in its order, with the
    /// facets of its search if asked, both read from one snapshot, whose
    /// version they carry.
    pub fn find(
        &self,
        filter: &ProductFilter,
        with_facets: bool,
    ) -> Result<(ProductPage, Option<Arc<Facets>>, CatalogueVersion), CatalogueError> {
        let snapshot = self.current.load();
        let page = self.search(&snapshot, filter)?;
        if !with_facets {
            return Ok((page, None, snapshot.version));
        }
        let search = ProductFilter {
            sort: ProductSort::Relevance,
            limit: 0,
            offset: 0,
            ..filter.clone()
        };
        let key = (snapshot.version.generation, search);
        if let Some(facets) = self.facets_memo.get(&key) {
            return Ok((page, Some(facets), snapshot.version));
        }
        let facets = Arc::new(self.facets(&snapshot, filter)?);
        self.facets_memo.insert(key, facets.clone());
        Ok((page, Some(facets), snapshot.version))
    }

    /// The facets of `filter`'s search: one pass over the facet rows of
    /// what its text matches (or the whole catalogue), each checked against
    /// the filters of the other dimensions.
    fn facets(
        &self,
        snapshot: &Snapshot,
        filter: &ProductFilter,
    ) -> Result<Facets, CatalogueError> {
        let bands = &self.bands;
        let chosen_category = filter.category.as_deref().map(|category| {
            snapshot
                .category_places
                .get(&category.to_lowercase())
                .copied()
        });
        let in_category = |row: &FacetRow| match chosen_category {
            None => true,
            Some(place) => place == Some(row.category),
        };
        let conditions = Conditions::of(filter);
        let in_price = |row: &FacetRow| conditions.priced(row.final_price);
        let in_size = |row: &FacetRow| conditions.sized(row.offered, row.stocked);
        let mut categories = vec![0u64; snapshot.category_counts.len()];
        // Rows by the sizes they have in stock, as a mask: spread over the
        // sizes once at the end, not per row.
        let mut stocked = [0u64; 256];
        let mut prices = vec![0u64; bands.bands().count()];
        let mut count = |row: &FacetRow| {
            let (category, price, size) = (in_category(row), in_price(row), in_size(row));
            categories[row.category as usize] += u64::from(size && price);
            stocked[row.stocked as usize] += u64::from(category && price);
            if category && size {
                prices[bands.band_of(row.final_price)] += 1;
            }
        };
        if filter.terms.is_empty() {
            snapshot.rows.iter().for_each(&mut count);
        } else {
            for (segment, doc, _) in self.text.matches(&filter.terms, &snapshot.searcher)? {
                let row = snapshot
                    .document_rows
                    .get(segment as usize)
                    .and_then(|segment| segment.get(doc as usize))
                    .and_then(|place| snapshot.rows.get(*place as usize));
                if let Some(row) = row {
                    count(row);
                }
            }
        }
        Ok(Facets {
            categories: snapshot
                .category_counts
                .iter()
                .zip(categories)
                .filter(|(_, products)| *products > 0)
                .map(|(category, products)| (category.name.clone(), products))
                .collect(),
            sizes: Size::ALL
                .into_iter()
                .map(|size| {
                    let rows = stocked
                        .iter()
                        .enumerate()
                        .filter(|(mask, _)| *mask as u8 & size_bit(size) != 0)
                        .map(|(_, rows)| rows)
                        .sum();
                    (size, rows)
                })
                .collect(),
            prices: bands
                .bands()
                .zip(prices)
                .map(|((min, below), products)| PriceBandCount {
                    min,
                    below,
                    products,
                })
                .collect(),
        })
    }

    fn search(
        &self,
        snapshot: &Snapshot,
        filter: &ProductFilter,
    ) -> Result<ProductPage, CatalogueError> {
        let category = filter.category.as_deref().map(str::to_lowercase);
        let orders = match &category {
            Some(category) => match snapshot.categories.get(category) {
                Some(orders) => orders,
                None => {
                    return Ok(ProductPage {
                        items: Vec::new(),
                        total: 0,
                    })
                }
            },
            None => &snapshot.all,
        };
        let conditions = Conditions::of(filter);
        let keeps = |product: &Product| {
            let (offered, stocked) = size_masks(product);
            conditions.priced(product.final_price) && conditions.sized(offered, stocked)
        };
        if filter.terms.is_empty() {
            let ordered: Box<dyn Iterator<Item = &Arc<Listed>>> = match filter.sort {
                ProductSort::Relevance | ProductSort::Newest => Box::new(orders.newest.iter()),
                ProductSort::PriceAscending => Box::new(orders.cheapest.iter()),
                ProductSort::PriceDescending => Box::new(orders.cheapest.iter().rev()),
            };
            return Ok(page(ordered.filter(|product| keeps(product)), filter));
        }

        let matches = self.text.matches(&filter.terms, &snapshot.searcher)?;
        let mut found: Vec<(&Arc<Listed>, f32)> = matches
            .into_iter()
            .filter_map(|(segment, doc, score)| {
                let product = snapshot
                    .documents
                    .get(segment as usize)?
                    .get(doc as usize)?
                    .as_ref()?;
                Some((product, score))
            })
            .filter(|(product, _)| {
                category.as_deref().is_none_or(|category| {
                    product
                        .category
                        .chars()
                        .flat_map(char::to_lowercase)
                        .eq(category.chars())
                }) && keeps(product)
            })
            .collect();
        let total = found.len() as u64;
        let order =
            |(a, a_score): &(&Arc<Listed>, f32), (b, b_score): &(&Arc<Listed>, f32)| match filter
                .sort
            {
                ProductSort::Relevance => b_score.total_cmp(a_score).then(b.id.cmp(&a.id)),
                ProductSort::Newest => (b.created_at, b.id).cmp(&(a.created_at, a.id)),
                ProductSort::PriceAscending => (a.final_price, a.id).cmp(&(b.final_price, b.id)),
                ProductSort::PriceDescending => (b.final_price, b.id).cmp(&(a.final_price, a.id)),
            };
        // Only the page and what comes before it need an order.
        let offset = usize::try_from(filter.offset).unwrap_or(usize::MAX);
        let end = offset
            .saturating_add(filter.limit as usize)
            .min(found.len());
        if offset >= found.len() {
            return Ok(ProductPage {
                items: Vec::new(),
                total,
            });
        }
        if end < found.len() {
            found.select_nth_unstable_by(end, order);
            found.truncate(end);
        }
        found.sort_unstable_by(order);
        Ok(ProductPage {
            items: found[offset..]
                .iter()
                .map(|(product, _)| Arc::clone(product))
                .collect(),
            total,
        })
    }

    /// Reads `ids` from the store again and puts what it finds in the next
    /// snapshot: the live ones as they are now, the others out.
    pub async fn refresh(self: &Arc<Self>, ids: &[i64]) -> Result<(), CatalogueError> {
        let _one_at_a_time = self.refreshing.lock().await;
        let live = self.store.products(ids).await?;
        let tick = self.current.load().tick;
        self.apply(ids.to_vec(), live, tick).await
    }

    /// Asks the store which products changed since the snapshot's tick (on
    /// any node) and refreshes those.
    pub async fn catch_up(self: &Arc<Self>) -> Result<usize, CatalogueError> {
        let _one_at_a_time = self.refreshing.lock().await;
        let since = self.current.load().tick;
        let changes = self.store.changed_since(since).await?;
        if changes.tick == since {
            return Ok(0);
        }
        let live = self.store.products(&changes.ids).await?;
        let count = changes.ids.len();
        self.apply(changes.ids, live, changes.tick).await?;
        Ok(count)
    }

    /// Builds and swaps in the snapshot where `ids` are as `live` says.
    async fn apply(
        self: &Arc<Self>,
        ids: Vec<i64>,
        live: Vec<Product>,
        tick: i64,
    ) -> Result<(), CatalogueError> {
        let catalogue = self.clone();
        // Indexing and sorting take milliseconds at shop scale: off the
        // actor's thread, which serves requests meanwhile.
        tokio::task::spawn_blocking(move || {
            let mut index = catalogue
                .index
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let render = catalogue.render;
            let live: Vec<Arc<Listed>> = live
                .into_iter()
                .map(|product| Arc::new(Listed::rendered(product, render)))
                .collect();
            let mut products = catalogue.current.load().products.clone();
            for id in &ids {
                products.remove(id);
            }
            for product in &live {
                products.insert(product.id, product.clone());
            }
            index.write(live.iter().map(|listed| &***listed), ids.iter().copied())?;
            let version = CatalogueVersion {
                generation: catalogue
                    .next_generation
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed),
                ..catalogue.current.load().version
            };
            let next = Snapshot::build(version, products, &index, tick)?;
            catalogue.current.store(Arc::new(next));
            Ok(())
        })
        .await?
    }
}

fn page<'a>(ordered: impl Iterator<Item = &'a Arc<Listed>>, filter: &ProductFilter) -> ProductPage {
    let offset = usize::try_from(filter.offset).unwrap_or(usize::MAX);
    let limit = filter.limit as usize;
    let mut total = 0u64;
    let mut items = Vec::with_capacity(limit.min(100));
    for product in ordered {
        let position = total as usize;
        if position >= offset && items.len() < limit {
            items.push(product.clone());
        }
        total += 1;
    }
    ProductPage { items, total }
}
