//! Carts and orders: quantities, prices as the catalogue has them now, the
//! states an order goes through.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Address, Payment, Product, Size, ValidationError};

/// How many of one product and size a cart line holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct Quantity(u8);

impl Quantity {
    pub const MAX: i64 = 99;

    pub fn parse(quantity: i64) -> Result<Quantity, ValidationError> {
        if (1..=Quantity::MAX).contains(&quantity) {
            Ok(Quantity(quantity as u8))
        } else {
            Err(ValidationError::new(
                "quantity",
                format!("must be between 1 and {}", Quantity::MAX),
            ))
        }
    }

    pub fn get(self) -> i64 {
        i64::from(self.0)
    }
}

impl TryFrom<i64> for Quantity {
    type Error = ValidationError;

    fn try_from(quantity: i64) -> Result<Self, Self::Error> {
        Quantity::parse(quantity)
    }
}

impl From<Quantity> for i64 {
    fn from(quantity: Quantity) -> i64 {
        quantity.get()
    }
}

/// Whose cart: a signed-in user's, or a guest's, named by the id in the
/// guest's cookie.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CartOwner {
    User(i64),
    Guest(String),
}

/// A cart line as stored: what and how many, not what it costs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartItem {
    pub id: i64,
    pub product_id: i64,
    pub size: Size,
    pub quantity: Quantity,
    /// The title when it was added, for a product deleted since.
    pub title: String,
}

/// A cart line priced at the product's current final price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricedLine {
    pub id: i64,
    pub product_id: i64,
    pub title: String,
    pub size: Size,
    pub quantity: Quantity,
    pub unit_price: i64,
    pub line_total: i64,
    /// Whether the product is still sold and has this many in this size.
    pub available: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cart {
    /// `None` until the first item is added.
    pub id: Option<String>,
    pub items: Vec<PricedLine>,
    /// The available lines' totals.
    pub subtotal: i64,
    pub currency: String,
}

/// A product and size as the catalogue has them now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnSale {
    pub title: String,
    pub final_price: i64,
    /// `None` when the product has no such size.
    pub stock: Option<i64>,
}

impl OnSale {
    pub fn of(product: &Product, size: Size) -> OnSale {
        OnSale {
            title: product.title.clone(),
            final_price: product.final_price,
            stock: product.stock(size),
        }
    }
}

/// Prices `items` with the catalogue as it is now (`on_sale` finds a live
/// product's size). A line of a deleted product costs nothing and is
/// unavailable.
pub fn price_cart(
    id: Option<String>,
    items: Vec<CartItem>,
    currency: &str,
    on_sale: impl Fn(i64, Size) -> Option<OnSale>,
) -> Cart {
    let items: Vec<PricedLine> = items
        .into_iter()
        .map(|item| match on_sale(item.product_id, item.size) {
            Some(current) => PricedLine {
                id: item.id,
                product_id: item.product_id,
                title: current.title,
                size: item.size,
                quantity: item.quantity,
                unit_price: current.final_price,
                line_total: current.final_price * item.quantity.get(),
                available: current
                    .stock
                    .is_some_and(|stock| stock >= item.quantity.get()),
            },
            None => PricedLine {
                id: item.id,
                product_id: item.product_id,
                title: item.title,
                size: item.size,
                quantity: item.quantity,
                unit_price: 0,
                line_total: 0,
                available: false,
            },
        })
        .collect();
    Cart {
        id,
        subtotal: items
            .iter()
            .filter(|line| line.available)
            .map(|line| line.line_total)
            .sum(),
        items,
        currency: currency.to_owned(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderStatus {
    Placed,
    Cancelled,
    Fulfilled,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 3] = [
        OrderStatus::Placed,
        OrderStatus::Cancelled,
        OrderStatus::Fulfilled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Placed => "placed",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Fulfilled => "fulfilled",
        }
    }

    pub fn parse(raw: &str) -> Option<OrderStatus> {
        OrderStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == raw)
    }
}

/// A line of an order: what was bought, at the price it was bought at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub product_id: i64,
    pub title: String,
    pub size: Size,
    pub quantity: i64,
    pub unit_price: i64,
    /// Of a cancelled order: how many units went back to stock (fewer than
    /// `quantity` when the size was removed or its stock is at the maximum).
    pub restocked: Option<i64>,
}

impl OrderLine {
    pub fn total(&self) -> i64 {
        self.unit_price * self.quantity
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: i64,
    pub user_id: i64,
    pub email: String,
    pub status: OrderStatus,
    pub items: Vec<OrderLine>,
    pub subtotal: i64,
    pub currency: String,
    /// The address as it was when the order was placed.
    pub shipping_address: Address,
    pub created_at: DateTime<Utc>,
    pub payment: Payment,
}

impl Order {
    /// The key that makes a payment provider's request `what` for this
    /// order happen once however often it is sent (a retried checkout, two
    /// nodes at once). The creation time keeps two databases' order 7
    /// apart on one Stripe account.
    pub fn payment_idempotency_key(&self, what: &str) -> String {
        format!(
            "storefront-order-{}-{}-{what}",
            self.id,
            self.created_at.timestamp_micros()
        )
    }

    /// Whether a provider's word that `amount` of `currency` was paid is
    /// this order's payment: the exact total, in its currency.
    pub fn is_paid_in_full_by(&self, amount: i64, currency: &str) -> bool {
        amount == self.subtotal && currency.eq_ignore_ascii_case(&self.currency)
    }
}

/// A client's key for one checkout: the same key gives the same order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub const MAX_LEN: usize = 200;

    pub fn parse(raw: &str) -> Result<IdempotencyKey, ValidationError> {
        if raw.is_empty()
            || raw.len() > IdempotencyKey::MAX_LEN
            || !raw.bytes().all(|byte| byte.is_ascii_graphic())
        {
            return Err(ValidationError::new(
                "Idempotency-Key",
                format!(
                    "must be 1 to {} visible ASCII characters",
                    IdempotencyKey::MAX_LEN
                ),
            ));
        }
        Ok(IdempotencyKey(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

super::string_newtype!(IdempotencyKey);

/// A line of a checkout that cannot be had, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shortage {
    /// The cart line.
    pub item_id: i64,
    pub product_id: i64,
    pub title: String,
    pub size: Size,
    /// How many the line asks for.
    pub asked: i64,
    /// How many there are now; `None` when the product is no longer sold.
    pub left: Option<i64>,
}

impl std::fmt::Display for Shortage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.left {
            Some(left) => write!(
                f,
                "item {} ({}, {}): {} asked, {left} left",
                self.item_id,
                self.title,
                self.size.as_str(),
                self.asked
            ),
            None => write!(f, "item {} ({}): no longer sold", self.item_id, self.title),
        }
    }
}

impl Product {
    /// The stock of `size`; `None` when the product has no such size.
    pub fn stock(&self, size: Size) -> Option<i64> {
        self.variants
            .iter()
            .find(|variant| variant.size == size)
            .map(|variant| variant.stock)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_are_one_to_ninety_nine() {
        assert!(Quantity::parse(0).is_err());
        assert!(Quantity::parse(-1).is_err());
        assert!(Quantity::parse(100).is_err());
        assert_eq!(Quantity::parse(99).unwrap().get(), 99);
    }

    #[test]
    fn idempotency_keys_are_visible_ascii() {
        assert!(IdempotencyKey::parse("").is_err());
        assert!(IdempotencyKey::parse("a b").is_err());
        assert!(IdempotencyKey::parse(&"k".repeat(201)).is_err());
        assert!(IdempotencyKey::parse("order-2026-11-26-0001").is_ok());
    }
}
