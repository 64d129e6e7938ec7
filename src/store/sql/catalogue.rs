use async_trait::async_trait;
use chrono::Utc;
use sqlx::{QueryBuilder, Row};

use super::{dialect, Db, SqlStore};
use crate::domain::{NewProduct, Product, Size, Stock};
use crate::store::rows::{group_variants, to_json, ProductVariantRow};
use crate::store::{
    CatalogueChanges, CatalogueRead, ProductStore, StoreError, VariantsWrite, Written,
};

/// A product's columns and one of its variants (none for a product
/// without variants): products and variants come in one round trip.
const PRODUCT_WITH_VARIANTS: &str = "SELECT p.id, p.title, p.description, p.price, p.currency, \
     p.discount_percentage, p.final_price, p.category, p.dress_type, p.keywords, p.image_urls, \
     p.faq, p.version, p.created_at, p.updated_at, v.size, v.stock \
     FROM products p LEFT JOIN product_variants v ON v.product_id = p.id";

impl SqlStore {
    /// The live products that `condition` (on `p`) selects, by id.
    async fn live_products(
        &self,
        condition: impl FnOnce(&mut QueryBuilder<'_, Db>),
    ) -> Result<Vec<Product>, StoreError> {
        let mut query = QueryBuilder::<Db>::new(PRODUCT_WITH_VARIANTS);
        query.push(" WHERE p.deleted_at IS NULL AND ");
        condition(&mut query);
        query.push(" ORDER BY p.id, v.size");
        let rows: Vec<ProductVariantRow> = query.build_query_as().fetch_all(&self.pool).await?;
        group_variants(rows)
    }

    /// Whether a live product has this id: tells a stale write from a missing one.
    async fn live(&self, id: i64) -> Result<bool, StoreError> {
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT id FROM products WHERE id = $1 AND deleted_at IS NULL")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.is_some())
    }
}

/// The catalogue clock's next tick, taken inside a writing transaction: the
/// product the transaction writes is marked with it.
pub(super) async fn tick(tx: &mut sqlx::Transaction<'static, Db>) -> Result<i64, StoreError> {
    let (tick,): (i64,) =
        sqlx::query_as("UPDATE catalogue_clock SET tick = tick + 1 WHERE id = 1 RETURNING tick")
            .fetch_one(&mut **tx)
            .await?;
    Ok(tick)
}

type Query<'q> = sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments<'q>>;

/// Binds what every write of a product sets, as `$1` to `$10`: title,
/// description, price, discount, final price, category, dress type,
/// keywords, image URLs and FAQ.
fn bind_product<'q>(query: Query<'q>, product: &'q NewProduct) -> Query<'q> {
    query
        .bind(product.title())
        .bind(product.description())
        .bind(product.price())
        .bind(i64::from(product.discount_percentage()))
        .bind(product.final_price())
        .bind(product.category())
        .bind(product.dress_type())
        .bind(to_json(&product.relevant_keywords()))
        .bind(to_json(&product.image_url()))
        .bind(to_json(&product.faq()))
}

async fn write_variants(
    tx: &mut sqlx::Transaction<'static, Db>,
    id: i64,
    product: &NewProduct,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM product_variants WHERE product_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    for variant in product.variants() {
        sqlx::query("INSERT INTO product_variants (product_id, size, stock) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(variant.size.as_str())
            .bind(variant.stock)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

async fn insert_product(
    tx: &mut sqlx::Transaction<'static, Db>,
    product: &NewProduct,
    currency: &str,
) -> Result<i64, StoreError> {
    let tick = tick(tx).await?;
    let inserted = bind_product(
        sqlx::query(
            "INSERT INTO products (title, description, price, discount_percentage, final_price,
                                   category, dress_type, keywords, image_urls, faq, currency,
                                   version, created_at, updated_at, changed_at_tick)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1, $12, $12, $13)
             RETURNING id",
        ),
        product,
    )
    .bind(currency)
    .bind(Utc::now())
    .bind(tick)
    .fetch_one(&mut **tx)
    .await?;
    let id: i64 = inserted.try_get("id")?;
    write_variants(tx, id, product).await?;
    Ok(id)
}

#[async_trait]
impl ProductStore for SqlStore {
    async fn create_product(
        &self,
        product: &NewProduct,
        currency: &str,
    ) -> Result<Product, StoreError> {
        let mut tx = self.begin_write().await?;
        let id = insert_product(&mut tx, product, currency).await?;
        tx.commit().await?;
        self.product(id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("product {id} vanished after its creation")))
    }

    async fn create_products(
        &self,
        products: &[NewProduct],
        currency: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        for product in products {
            insert_product(&mut tx, product, currency).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn product(&self, id: i64) -> Result<Option<Product>, StoreError> {
        Ok(self.products(&[id]).await?.pop())
    }

    async fn products(&self, ids: &[i64]) -> Result<Vec<Product>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.live_products(|query| {
            query.push("p.id IN (");
            let mut list = query.separated(", ");
            for id in ids {
                list.push_bind(*id);
            }
            query.push(")");
        })
        .await
    }

    async fn catalogue(&self) -> Result<CatalogueRead, StoreError> {
        // One transaction, so the tick and the products are of one moment.
        let mut tx = self.pool.begin().await?;
        let (tick,): (i64,) = sqlx::query_as("SELECT tick FROM catalogue_clock WHERE id = 1")
            .fetch_one(&mut *tx)
            .await?;
        let rows: Vec<ProductVariantRow> = sqlx::query_as(&format!(
            "{PRODUCT_WITH_VARIANTS} WHERE p.deleted_at IS NULL ORDER BY p.id, v.size"
        ))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(CatalogueRead {
            tick,
            products: group_variants(rows)?,
        })
    }

    async fn changed_since(&self, tick: i64) -> Result<CatalogueChanges, StoreError> {
        let mut tx = self.pool.begin().await?;
        let (now,): (i64,) = sqlx::query_as("SELECT tick FROM catalogue_clock WHERE id = 1")
            .fetch_one(&mut *tx)
            .await?;
        let ids: Vec<(i64,)> = if now == tick {
            Vec::new()
        } else {
            sqlx::query_as("SELECT id FROM products WHERE changed_at_tick > $1 ORDER BY id")
                .bind(tick)
                .fetch_all(&mut *tx)
                .await?
        };
        tx.commit().await?;
        Ok(CatalogueChanges {
            tick: now,
            ids: ids.into_iter().map(|(id,)| id).collect(),
        })
    }

    async fn replace_product(
        &self,
        id: i64,
        product: &NewProduct,
        variants: VariantsWrite,
        expected_version: Option<i64>,
    ) -> Result<Written<Product>, StoreError> {
        let mut tx = self.begin_write().await?;
        if variants == VariantsWrite::Replace {
            // The stock rows before the clock, as every writer of stock
            // takes them (see `orders::try_place_order`).
            sqlx::query(&format!(
                "SELECT size FROM product_variants WHERE product_id = $1 ORDER BY size{}",
                dialect::FOR_UPDATE
            ))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        let tick = tick(&mut tx).await?;
        let updated = bind_product(
            sqlx::query(
                "UPDATE products SET title = $1, description = $2, price = $3,
                                     discount_percentage = $4, final_price = $5, category = $6,
                                     dress_type = $7, keywords = $8, image_urls = $9, faq = $10,
                                     updated_at = $11, changed_at_tick = $12,
                                     version = version + 1
                 WHERE id = $13 AND deleted_at IS NULL AND ($14 IS NULL OR version = $14)",
            ),
            product,
        )
        .bind(Utc::now())
        .bind(tick)
        .bind(id)
        .bind(expected_version)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            tx.rollback().await?;
            return Ok(if self.live(id).await? {
                Written::Stale
            } else {
                Written::Missing
            });
        }
        if variants == VariantsWrite::Replace {
            write_variants(&mut tx, id, product).await?;
        }
        tx.commit().await?;
        Ok(match self.product(id).await? {
            Some(product) => Written::Done(product),
            None => Written::Missing,
        })
    }

    async fn delete_product(
        &self,
        id: i64,
        expected_version: Option<i64>,
    ) -> Result<Written<()>, StoreError> {
        let mut tx = self.begin_write().await?;
        let tick = tick(&mut tx).await?;
        let deleted = sqlx::query(
            "UPDATE products SET deleted_at = $2, changed_at_tick = $3, version = version + 1
             WHERE id = $1 AND deleted_at IS NULL AND ($4 IS NULL OR version = $4)",
        )
        .bind(id)
        .bind(Utc::now())
        .bind(tick)
        .bind(expected_version)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if deleted == 1 {
            tx.commit().await?;
            return Ok(Written::Done(()));
        }
        tx.rollback().await?;
        Ok(if self.live(id).await? {
            Written::Stale
        } else {
            Written::Missing
        })
    }

    async fn set_stock(
        &self,
        id: i64,
        size: Size,
        stock: Stock,
    ) -> Result<Option<Product>, StoreError> {
        let mut tx = self.begin_write().await?;
        // The stock row first, then the clock and the product, as every
        // writer of stock takes them (see `orders::try_place_order`).
        let written = sqlx::query(
            "INSERT INTO product_variants (product_id, size, stock)
             SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM products
                                             WHERE id = $1 AND deleted_at IS NULL)
             ON CONFLICT (product_id, size) DO UPDATE SET stock = excluded.stock",
        )
        .bind(id)
        .bind(size.as_str())
        .bind(stock.get())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if written == 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        let tick = tick(&mut tx).await?;
        sqlx::query(
            "UPDATE products SET updated_at = $2, changed_at_tick = $3, version = version + 1
             WHERE id = $1",
        )
        .bind(id)
        .bind(Utc::now())
        .bind(tick)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.product(id).await
    }

    async fn live_titles(&self) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT title FROM products WHERE deleted_at IS NULL")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(|(title,)| title).collect())
    }
}
