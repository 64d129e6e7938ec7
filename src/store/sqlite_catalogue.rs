//! The catalogue on SQLite, searched with FTS5 (porter stemming, bm25 ranking
//! with the title weighted highest).

use async_trait::async_trait;
use chrono::Utc;
use sqlx::{QueryBuilder, Sqlite, Transaction};

use super::catalogue_rows::{assemble, to_json, ProductRow, VariantRow, PRODUCT_COLUMNS};
use super::{
    ProductFilter, ProductPage, ProductSort, ProductStore, SqliteStore, StoreError, VariantsWrite,
};
use crate::domain::{NewProduct, Product, Size};

impl SqliteStore {
    async fn load(&self, ids: &[i64], rows: Vec<ProductRow>) -> Result<Vec<Product>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = QueryBuilder::<Sqlite>::new(
            "SELECT product_id, size, stock FROM product_variants WHERE product_id IN (",
        );
        let mut list = query.separated(", ");
        for id in ids {
            list.push_bind(*id);
        }
        query.push(")");
        let variants: Vec<VariantRow> = query.build_query_as().fetch_all(&self.pool).await?;
        assemble(rows, variants)
    }
}

async fn write_variants_and_index(
    tx: &mut Transaction<'_, Sqlite>,
    id: i64,
    product: &NewProduct,
    variants: VariantsWrite,
) -> Result<(), StoreError> {
    if variants == VariantsWrite::Replace {
        sqlx::query("DELETE FROM product_variants WHERE product_id = ?1")
            .bind(id)
            .execute(&mut **tx)
            .await?;
        for variant in &product.variants {
            sqlx::query(
                "INSERT INTO product_variants (product_id, size, stock) VALUES (?1, ?2, ?3)",
            )
            .bind(id)
            .bind(variant.size.as_str())
            .bind(variant.stock)
            .execute(&mut **tx)
            .await?;
        }
    }
    sqlx::query("DELETE FROM products_fts WHERE rowid = ?1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO products_fts (rowid, title, description, keywords) VALUES (?1, ?2, ?3, ?4)",
    )
    .bind(id)
    .bind(&product.title)
    .bind(&product.description)
    .bind(product.relevant_keywords.join(" "))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// `"word"*` for each term: every word must match, as a prefix.
fn fts_query(terms: &[String]) -> String {
    terms
        .iter()
        .map(|term| format!("\"{term}\"*"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn push_filters(query: &mut QueryBuilder<'_, Sqlite>, filter: &ProductFilter) {
    query.push(" FROM products p");
    if !filter.terms.is_empty() {
        query
            .push(" JOIN products_fts ON products_fts.rowid = p.id AND products_fts MATCH ")
            .push_bind(fts_query(&filter.terms));
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
impl ProductStore for SqliteStore {
    async fn create_product(
        &self,
        product: &NewProduct,
        currency: &str,
    ) -> Result<Product, StoreError> {
        let now = Utc::now();
        let mut tx = self.pool.begin().await?;
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO products (title, description, price, currency, discount_percentage, final_price,
                                   category, dress_type, keywords, image_urls, faq, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)
             RETURNING id",
        )
        .bind(&product.title)
        .bind(&product.description)
        .bind(product.price)
        .bind(currency)
        .bind(i64::from(product.discount_percentage))
        .bind(product.final_price())
        .bind(&product.category)
        .bind(&product.dress_type)
        .bind(to_json(&product.relevant_keywords))
        .bind(to_json(&product.image_url))
        .bind(to_json(&product.faq))
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        write_variants_and_index(&mut tx, id, product, VariantsWrite::Replace).await?;
        tx.commit().await?;
        self.product(id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("product {id} vanished after its creation")))
    }

    async fn product(&self, id: i64) -> Result<Option<Product>, StoreError> {
        let rows: Vec<ProductRow> = sqlx::query_as(&format!(
            "SELECT {PRODUCT_COLUMNS} FROM products p WHERE p.id = ?1 AND p.deleted_at IS NULL"
        ))
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(self.load(&[id], rows).await?.pop())
    }

    async fn replace_product(
        &self,
        id: i64,
        product: &NewProduct,
        variants: VariantsWrite,
    ) -> Result<Option<Product>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE products SET title = ?2, description = ?3, price = ?4, discount_percentage = ?5,
                                 final_price = ?6, category = ?7, dress_type = ?8, keywords = ?9,
                                 image_urls = ?10, faq = ?11, updated_at = ?12
             WHERE id = ?1 AND deleted_at IS NULL",
        )
        .bind(id)
        .bind(&product.title)
        .bind(&product.description)
        .bind(product.price)
        .bind(i64::from(product.discount_percentage))
        .bind(product.final_price())
        .bind(&product.category)
        .bind(&product.dress_type)
        .bind(to_json(&product.relevant_keywords))
        .bind(to_json(&product.image_url))
        .bind(to_json(&product.faq))
        .bind(Utc::now())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            return Ok(None);
        }
        write_variants_and_index(&mut tx, id, product, variants).await?;
        tx.commit().await?;
        self.product(id).await
    }

    async fn delete_product(&self, id: i64) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let deleted =
            sqlx::query("UPDATE products SET deleted_at = ?2 WHERE id = ?1 AND deleted_at IS NULL")
                .bind(id)
                .bind(Utc::now())
                .execute(&mut *tx)
                .await?
                .rows_affected();
        sqlx::query("DELETE FROM products_fts WHERE rowid = ?1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(deleted == 1)
    }

    async fn set_stock(
        &self,
        id: i64,
        size: Size,
        stock: i64,
    ) -> Result<Option<Product>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let touched =
            sqlx::query("UPDATE products SET updated_at = ?2 WHERE id = ?1 AND deleted_at IS NULL")
                .bind(id)
                .bind(Utc::now())
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if touched == 0 {
            return Ok(None);
        }
        sqlx::query(
            "INSERT INTO product_variants (product_id, size, stock) VALUES (?1, ?2, ?3)
             ON CONFLICT (product_id, size) DO UPDATE SET stock = excluded.stock",
        )
        .bind(id)
        .bind(size.as_str())
        .bind(stock)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.product(id).await
    }

    async fn search(&self, filter: &ProductFilter) -> Result<ProductPage, StoreError> {
        let mut count = QueryBuilder::<Sqlite>::new("SELECT COUNT(*)");
        push_filters(&mut count, filter);
        let (total,): (i64,) = count.build_query_as().fetch_one(&self.pool).await?;

        let mut page = QueryBuilder::<Sqlite>::new(format!("SELECT {PRODUCT_COLUMNS}"));
        push_filters(&mut page, filter);
        let ranked = !filter.terms.is_empty();
        page.push(match filter.sort {
            // bm25 is lower for better matches; weights: title, description, keywords.
            ProductSort::Relevance if ranked => {
                " ORDER BY bm25(products_fts, 10.0, 1.0, 4.0), p.id DESC"
            }
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
        let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
        Ok(ProductPage {
            items: self.load(&ids, rows).await?,
            total: total as u64,
        })
    }

    async fn product_id_by_title(&self, title: &str) -> Result<Option<i64>, StoreError> {
        let row: Option<(i64,)> = sqlx::query_as(
            "SELECT id FROM products WHERE title = ?1 AND deleted_at IS NULL LIMIT 1",
        )
        .bind(title)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(id,)| id))
    }
}
