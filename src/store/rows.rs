//! Row shapes and their conversions, generic over the database: the SQL
//! store reads the same rows from SQLite and PostgreSQL.

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use super::{QueuedMail, QueuedMailSummary, StoreError, StoredMail};
use crate::domain::{
    Address, CartItem, Faq, MailKind, Product, Quantity, Role, Size, User, Variant,
};

#[derive(FromRow)]
pub(super) struct UserRow {
    pub id: i64,
    pub email: String,
    pub phone_number: Option<String>,
    pub name: Option<String>,
    pub role: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;

    fn try_from(row: UserRow) -> Result<User, StoreError> {
        let role = Role::parse(&row.role).ok_or_else(|| {
            StoreError::Corrupt(format!("user {} has role {:?}", row.id, row.role))
        })?;
        Ok(User {
            id: row.id,
            email: row.email,
            phone_number: row.phone_number,
            name: row.name,
            role,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[derive(FromRow)]
pub(super) struct AddressRow {
    pub id: i64,
    pub label: Option<String>,
    pub street: String,
    pub city: String,
    pub state: Option<String>,
    pub zip_code: String,
    pub country: String,
    pub is_default: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<AddressRow> for Address {
    fn from(row: AddressRow) -> Address {
        Address {
            id: row.id,
            label: row.label,
            street: row.street,
            city: row.city,
            state: row.state,
            zip_code: row.zip_code,
            country: row.country,
            is_default: row.is_default,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

pub(super) const USER_COLUMNS: &str = "id, email, phone_number, name, role, created_at, updated_at";
pub(super) const ADDRESS_COLUMNS: &str =
    "id, label, street, city, state, zip_code, country, is_default, created_at, updated_at";

#[derive(FromRow)]
pub(super) struct QueuedRow {
    pub id: i64,
    pub kind: String,
    pub sender: Option<String>,
    pub recipients: String,
    pub subject: String,
    pub raw: Vec<u8>,
    pub attempts: i64,
    pub last_error: String,
    pub next_attempt_at: DateTime<Utc>,
    pub dead: bool,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

fn split_recipients(joined: &str) -> Vec<String> {
    joined
        .split(',')
        .filter(|recipient| !recipient.is_empty())
        .map(str::to_owned)
        .collect()
}

impl QueuedRow {
    fn kind(&self) -> Result<MailKind, StoreError> {
        MailKind::parse(&self.kind).ok_or_else(|| {
            StoreError::Corrupt(format!("queued mail {} has kind {:?}", self.id, self.kind))
        })
    }

    pub(super) fn summary(self) -> Result<QueuedMailSummary, StoreError> {
        Ok(QueuedMailSummary {
            id: self.id,
            kind: self.kind()?,
            recipients: split_recipients(&self.recipients),
            subject: self.subject,
            attempts: u32::try_from(self.attempts).unwrap_or(u32::MAX),
            last_error: self.last_error,
            next_attempt_at: self.next_attempt_at,
            dead: self.dead,
            expires_at: self.expires_at,
            created_at: self.created_at,
        })
    }

    pub(super) fn claimed(self) -> Result<QueuedMail, StoreError> {
        Ok(QueuedMail {
            id: self.id,
            attempts: u32::try_from(self.attempts).unwrap_or(u32::MAX),
            mail: StoredMail {
                kind: self.kind()?,
                sender: self.sender,
                recipients: split_recipients(&self.recipients),
                subject: self.subject,
                sealed: self.raw,
                expires_at: self.expires_at,
            },
        })
    }
}

pub(super) const QUEUE_COLUMNS: &str = "id, kind, sender, recipients, subject, raw, attempts, \
     last_error, next_attempt_at, dead, expires_at, created_at";

/// An order with one of its lines, or none (`LEFT JOIN`).
#[derive(FromRow)]
pub(super) struct OrderLineRow {
    pub id: i64,
    pub user_id: i64,
    pub email: String,
    pub status: String,
    pub currency: String,
    pub subtotal: i64,
    pub shipping_address: String,
    pub created_at: DateTime<Utc>,
    pub payment_status: String,
    pub payment_provider: String,
    pub payment_intent_id: Option<String>,
    pub payment_client_secret: Option<String>,
    pub payment_reference: Option<String>,
    pub payment_failure: Option<String>,
    pub refund_reference: Option<String>,
    pub payment_due_at: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
    pub product_id: Option<i64>,
    pub title: Option<String>,
    pub size: Option<String>,
    pub quantity: Option<i32>,
    pub unit_price: Option<i64>,
    pub restocked: Option<i32>,
}

/// A cart with one of its lines, or none (`LEFT JOIN`).
#[derive(FromRow)]
pub(super) struct CartItemRow {
    pub cart_id: String,
    pub id: Option<i64>,
    pub product_id: Option<i64>,
    pub size: Option<String>,
    pub quantity: Option<i32>,
    pub title: Option<String>,
}

/// A product's columns with one of its variants, or none (`LEFT JOIN`).
#[derive(FromRow)]
pub(super) struct ProductVariantRow {
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
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub size: Option<String>,
    pub stock: Option<i64>,
}

fn json<T: serde::de::DeserializeOwned>(id: i64, column: &str, raw: &str) -> Result<T, StoreError> {
    serde_json::from_str(raw)
        .map_err(|err| StoreError::Corrupt(format!("product {id} has invalid {column}: {err}")))
}

pub(super) fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data serialises")
}

/// Folds rows ordered by product into products: the rows of one product
/// follow each other, one per variant, in size order.
pub(super) fn group_variants(rows: Vec<ProductVariantRow>) -> Result<Vec<Product>, StoreError> {
    let mut products: Vec<Product> = Vec::new();
    for row in rows {
        let variant = match (&row.size, row.stock) {
            (Some(size), Some(stock)) => Some(Variant {
                size: Size::parse(size).map_err(|_| {
                    StoreError::Corrupt(format!("product {} has size {size:?}", row.id))
                })?,
                stock,
            }),
            _ => None,
        };
        match products.last_mut() {
            Some(last) if last.id == row.id => last.variants.extend(variant),
            _ => products.push(Product {
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
                variants: variant.into_iter().collect(),
                version: row.version,
                created_at: row.created_at,
                updated_at: row.updated_at,
            }),
        }
    }
    for product in &mut products {
        product.variants.sort_by_key(|variant| variant.size);
    }
    Ok(products)
}

impl CartItemRow {
    /// The line of a joined cart row; `None` for a cart without lines.
    pub(super) fn into_item(self) -> Result<Option<CartItem>, StoreError> {
        let (Some(id), Some(product_id), Some(size), Some(quantity), Some(title)) = (
            self.id,
            self.product_id,
            self.size,
            self.quantity,
            self.title,
        ) else {
            return Ok(None);
        };
        let corrupt = |what: String| StoreError::Corrupt(format!("cart line {id} has {what}"));
        Ok(Some(CartItem {
            id,
            product_id,
            size: Size::parse(&size).map_err(|_| corrupt(format!("size {size:?}")))?,
            quantity: Quantity::parse(i64::from(quantity))
                .map_err(|_| corrupt(format!("quantity {quantity}")))?,
            title,
        }))
    }
}
