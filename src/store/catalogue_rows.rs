//! Row shapes shared by the SQLite and PostgreSQL catalogues.

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use super::StoreError;
use crate::domain::{Faq, Product, Size, Variant};

pub(super) const PRODUCT_COLUMNS: &str = "p.id, p.title, p.description, p.price, p.currency, \
     p.discount_percentage, p.final_price, p.category, p.dress_type, p.keywords, p.image_urls, \
     p.faq, p.created_at, p.updated_at";

#[derive(FromRow)]
pub(super) struct ProductRow {
    pub id: i64,
    pub title: String,
    pub description: String,
    pub price: i64,
    pub currency: String,
    pub discount_percentage: i64,
    pub final_price: i64,
    pub category: String,
    pub dress_type: Option<String>,
    pub keywords: String,
    pub image_urls: String,
    pub faq: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(FromRow)]
pub(super) struct VariantRow {
    pub product_id: i64,
    pub size: String,
    pub stock: i64,
}

fn json<T: serde::de::DeserializeOwned>(id: i64, column: &str, raw: &str) -> Result<T, StoreError> {
    serde_json::from_str(raw)
        .map_err(|err| StoreError::Corrupt(format!("product {id} has invalid {column}: {err}")))
}

pub(super) fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data serialises")
}

/// Joins rows with their variants (rows ordered as the caller wants them).
pub(super) fn assemble(
    rows: Vec<ProductRow>,
    variants: Vec<VariantRow>,
) -> Result<Vec<Product>, StoreError> {
    rows.into_iter()
        .map(|row| {
            let mut own: Vec<Variant> = variants
                .iter()
                .filter(|variant| variant.product_id == row.id)
                .map(|variant| {
                    let size = Size::parse(&variant.size).map_err(|_| {
                        StoreError::Corrupt(format!(
                            "product {} has size {:?}",
                            row.id, variant.size
                        ))
                    })?;
                    Ok(Variant {
                        size,
                        stock: variant.stock,
                    })
                })
                .collect::<Result<_, StoreError>>()?;
            own.sort_by_key(|variant| variant.size);
            Ok(Product {
                relevant_keywords: json(row.id, "keywords", &row.keywords)?,
                image_url: json(row.id, "image_urls", &row.image_urls)?,
                faq: json::<Vec<Faq>>(row.id, "faq", &row.faq)?,
                id: row.id,
                title: row.title,
                description: row.description,
                price: row.price,
                currency: row.currency,
                discount_percentage: u8::try_from(row.discount_percentage).unwrap_or(0),
                final_price: row.final_price,
                category: row.category,
                dress_type: row.dress_type,
                variants: own,
                created_at: row.created_at,
                updated_at: row.updated_at,
            })
        })
        .collect()
}
