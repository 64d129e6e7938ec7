use async_trait::async_trait;
use chrono::Utc;
use sqlx::{QueryBuilder, Row};

use super::{dialect, Db, SqlStore};
use crate::domain::{NewProduct, Product, Size, Stock};
use crate::store::rows::{assemble, to_json, ProductRow, VariantRow, PRODUCT_COLUMNS};
use crate::store::{
    ProductFilter, ProductPage, ProductSort, ProductStore, StoreError, VariantsWrite, Written,
};

impl SqlStore {
    /// The products of `rows` with their variants, in the order of `rows`.
    async fn with_variants(&self, rows: Vec<ProductRow>) -> Result<Vec<Product>, StoreError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = QueryBuilder::<Db>::new(
            "SELECT product_id, size, stock FROM product_variants WHERE product_id IN (",
        );
        let mut list = query.separated(", ");
        for row in &rows {
            list.push_bind(row.id);
        }
        query.push(")");
        let variants: Vec<VariantRow> = query.build_query_as().fetch_all(&self.pool).await?;
        assemble(rows, variants)
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

type Query<'q> = sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments<'q>>;

/// Binds what every write of a product sets, as `$1` to `$11`: title,
/// description, price, discount, final price, category, dress type,
/// keywords (JSON and text), image URLs and FAQ.
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
        .bind(product.relevant_keywords().join(" "))
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

fn push_filters(query: &mut QueryBuilder<'_, Db>, filter: &ProductFilter) {
    query.push(" FROM products p");
    if !filter.terms.is_empty() {
        dialect::push_text_match(query, &filter.terms);
    }
    query.push(" WHERE p.deleted_at IS NULL");
    if let Some(category) = &filter.category {
        query
            .push(" AND lower(p.category) = lower(")
            .push_bind(category.clone())
            .push(")");
    }
    if let Some(min) = filter.min_price {
        query.push(" AND p.final_price >= ").push_bind(min);
    }
    if let Some(max) = filter.max_price {
        query.push(" AND p.final_price <= ").push_bind(max);
    }
    if filter.size.is_some() || filter.in_stock {
        query.push(" AND EXISTS (SELECT 1 FROM product_variants v WHERE v.product_id = p.id");
        if let Some(size) = filter.size {
            query.push(" AND v.size = ").push_bind(size.as_str());
        }
        if filter.in_stock {
            query.push(" AND v.stock > 0");
        }
        query.push(")");
    }
}

#[async_trait]
impl ProductStore for SqlStore {
    async fn create_product(
        &self,
        product: &NewProduct,
        currency: &str,
    ) -> Result<Product, StoreError> {
        let now = Utc::now();
        let mut tx = self.begin_write().await?;
        let inserted = bind_product(
            sqlx::query(
                "INSERT INTO products (title, description, price, discount_percentage, final_price,
                                       category, dress_type, keywords, keywords_text, image_urls,
                                       faq, currency, version, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 1, $13, $13)
                 RETURNING id",
            ),
            product,
        )
        .bind(currency)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = inserted.try_get("id")?;
        write_variants(&mut tx, id, product).await?;
        tx.commit().await?;
        self.product(id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("product {id} vanished after its creation")))
    }

    async fn product(&self, id: i64) -> Result<Option<Product>, StoreError> {
        let rows: Vec<ProductRow> = sqlx::query_as(&format!(
            "SELECT {PRODUCT_COLUMNS} FROM products p WHERE p.id = $1 AND p.deleted_at IS NULL"
        ))
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(self.with_variants(rows).await?.pop())
    }

    async fn replace_product(
        &self,
        id: i64,
        product: &NewProduct,
        variants: VariantsWrite,
        expected_version: Option<i64>,
    ) -> Result<Written<Product>, StoreError> {
        let mut tx = self.begin_write().await?;
        let updated = bind_product(
            sqlx::query(
                "UPDATE products SET title = $1, description = $2, price = $3,
                                     discount_percentage = $4, final_price = $5, category = $6,
                                     dress_type = $7, keywords = $8, keywords_text = $9,
                                     image_urls = $10, faq = $11, updated_at = $12,
                                     version = version + 1
                 WHERE id = $13 AND deleted_at IS NULL AND ($14 IS NULL OR version = $14)",
            ),
            product,
        )
        .bind(Utc::now())
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
        let deleted = sqlx::query(
            "UPDATE products SET deleted_at = $2, version = version + 1
             WHERE id = $1 AND deleted_at IS NULL AND ($3 IS NULL OR version = $3)",
        )
        .bind(id)
        .bind(Utc::now())
        .bind(expected_version)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(if deleted == 1 {
            Written::Done(())
        } else if self.live(id).await? {
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
        let touched = sqlx::query(
            "UPDATE products SET updated_at = $2, version = version + 1
             WHERE id = $1 AND deleted_at IS NULL",
        )
        .bind(id)
        .bind(Utc::now())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if touched == 0 {
            return Ok(None);
        }
        sqlx::query(
            "INSERT INTO product_variants (product_id, size, stock) VALUES ($1, $2, $3)
             ON CONFLICT (product_id, size) DO UPDATE SET stock = excluded.stock",
        )
        .bind(id)
        .bind(size.as_str())
        .bind(stock.get())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.product(id).await
    }

    async fn search(&self, filter: &ProductFilter) -> Result<ProductPage, StoreError> {
        let mut count = QueryBuilder::<Db>::new("SELECT COUNT(*)");
        push_filters(&mut count, filter);
        let (total,): (i64,) = count.build_query_as().fetch_one(&self.pool).await?;

        let mut page = QueryBuilder::<Db>::new(format!("SELECT {PRODUCT_COLUMNS}"));
        push_filters(&mut page, filter);
        page.push(match filter.sort {
            ProductSort::Relevance if !filter.terms.is_empty() => dialect::RELEVANCE_ORDER,
            ProductSort::Relevance | ProductSort::Newest => {
                " ORDER BY p.created_at DESC, p.id DESC"
            }
            ProductSort::PriceAscending => " ORDER BY p.final_price ASC, p.id ASC",
            ProductSort::PriceDescending => " ORDER BY p.final_price DESC, p.id DESC",
        });
        page.push(" LIMIT ").push_bind(i64::from(filter.limit));
        page.push(" OFFSET ")
            .push_bind(i64::try_from(filter.offset).unwrap_or(i64::MAX));
        let rows: Vec<ProductRow> = page.build_query_as().fetch_all(&self.pool).await?;
        Ok(ProductPage {
            items: self.with_variants(rows).await?,
            total: u64::try_from(total).unwrap_or_default(),
        })
    }

    async fn product_id_by_title(&self, title: &str) -> Result<Option<i64>, StoreError> {
        let row: Option<(i64,)> = sqlx::query_as(
            "SELECT id FROM products WHERE title = $1 AND deleted_at IS NULL LIMIT 1",
        )
        .bind(title)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(id,)| id))
    }
}
