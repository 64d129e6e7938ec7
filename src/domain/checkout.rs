//! A checkout's rules, apart from the statements that carry them out: what
//! the cart's lines cost now, whether that is the price the customer saw,
//! and how much of a cancelled line the stock takes back.

use super::{price_cart, rules, Cart, CartItem, OnSale, OrderLine, Shortage};

/// A cart line as a checkout reads it: the line, and its product as the
/// shop sells it now (`None`: no longer sold).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutLine {
    pub item: CartItem,
    pub on_sale: Option<OnSale>,
}

/// The lines of a checkout at today's prices, and their sum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedCheckout {
    pub items: Vec<OrderLine>,
    pub subtotal: i64,
}

/// Prices every line at its product's final price now; the lines whose
/// product is no longer sold are the answer instead. Whether the stock
/// holds is for the store to find out, with the conditional update that
/// takes it.
pub fn price_checkout(lines: &[CheckoutLine]) -> Result<PricedCheckout, Vec<Shortage>> {
    let gone: Vec<Shortage> = lines
        .iter()
        .filter(|line| line.on_sale.is_none())
        .map(|line| Shortage {
            item_id: line.item.id,
            product_id: line.item.product_id,
            title: line.item.title.clone(),
            size: line.item.size,
            asked: line.item.quantity.get(),
            left: None,
        })
        .collect();
    if !gone.is_empty() {
        return Err(gone);
    }
    let items: Vec<OrderLine> = lines
        .iter()
        .filter_map(|line| {
            let on_sale = line.on_sale.as_ref()?;
            Some(OrderLine {
                product_id: line.item.product_id,
                title: on_sale.title.clone(),
                size: line.item.size,
                quantity: line.item.quantity.get(),
                unit_price: on_sale.final_price,
                restocked: None,
            })
        })
        .collect();
    Ok(PricedCheckout {
        subtotal: items.iter().map(OrderLine::total).sum(),
        items,
    })
}

/// Whether the customer agreed to pay `subtotal`: they named no subtotal
/// (an older client), or named exactly this one.
pub fn price_was_seen(expected_subtotal: Option<i64>, subtotal: i64) -> bool {
    expected_subtotal.is_none_or(|expected| expected == subtotal)
}

/// The cart as the checkout found it, for a customer who must look again.
pub fn cart_as_checked(cart_id: Option<String>, lines: &[CheckoutLine], currency: &str) -> Cart {
    price_cart(
        cart_id,
        lines.iter().map(|line| line.item.clone()).collect(),
        currency,
        |product_id, size| {
            lines
                .iter()
                .find(|line| line.item.product_id == product_id && line.item.size == size)
                .and_then(|line| line.on_sale.clone())
        },
    )
}

/// How many of `quantity` cancelled units go back to a size that holds
/// `stock` now (`None`: the size, or its product, is gone): all of them,
/// but never past the most stock a product may hold, and none to a size
/// that was removed, which a restock must not bring back.
pub fn units_restocked(stock: Option<i64>, quantity: i64) -> i64 {
    match stock {
        Some(stock) => quantity.min(rules::STOCK_MAX - stock).max(0),
        None => 0,
    }
}

/// What a retried checkout must match to be the same request: the same
/// address. (The cart is not part of it: a replay finds the cart already
/// emptied by the first try.)
pub fn checkout_fingerprint(address_id: i64) -> String {
    format!("address:{address_id}")
}

/// How a checkout is answered whose idempotency key an order already holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// The same request again: the first order is the answer.
    Replay,
    /// Another request under a used key: refused, nothing changes.
    KeyReused,
}

/// A retry is the same request when it asks for what the first asked for
/// (`prior`, the fingerprint the order keeps; none for an order written
/// before fingerprints were kept, which nothing can be proved to match).
pub fn retry_of(prior: Option<&str>, fingerprint: &str) -> Retry {
    if prior == Some(fingerprint) {
        Retry::Replay
    } else {
        Retry::KeyReused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_is_the_same_checkout_only_for_the_same_address() {
        let first = checkout_fingerprint(3);
        assert_eq!(
            retry_of(Some(&first), &checkout_fingerprint(3)),
            Retry::Replay
        );
        assert_eq!(
            retry_of(Some(&first), &checkout_fingerprint(4)),
            Retry::KeyReused
        );
        assert_eq!(retry_of(None, &checkout_fingerprint(3)), Retry::KeyReused);
    }
    use crate::domain::{Quantity, Size};

    fn line(item_id: i64, quantity: i64, price: Option<i64>) -> CheckoutLine {
        CheckoutLine {
            item: CartItem {
                id: item_id,
                product_id: item_id * 10,
                size: Size::M,
                quantity: Quantity::parse(quantity).unwrap(),
                title: format!("added {item_id}"),
            },
            on_sale: price.map(|final_price| OnSale {
                title: format!("now {item_id}"),
                final_price,
                stock: Some(5),
            }),
        }
    }

    #[test]
    fn lines_are_priced_now_and_summed() {
        let priced = price_checkout(&[line(1, 2, Some(1000)), line(2, 1, Some(250))]).unwrap();
        assert_eq!(priced.subtotal, 2250);
        assert_eq!(priced.items[0].title, "now 1");
        assert_eq!(priced.items[0].unit_price, 1000);
    }

    #[test]
    fn a_product_no_longer_sold_fails_the_checkout_naming_its_line() {
        let shortages = price_checkout(&[line(1, 2, Some(1000)), line(2, 3, None)]).unwrap_err();
        assert_eq!(shortages.len(), 1);
        assert_eq!(
            (shortages[0].item_id, shortages[0].asked, shortages[0].left),
            (2, 3, None)
        );
        assert_eq!(shortages[0].title, "added 2");
    }

    #[test]
    fn the_price_seen_must_be_the_price_charged() {
        assert!(price_was_seen(None, 999));
        assert!(price_was_seen(Some(1000), 1000));
        assert!(!price_was_seen(Some(1000), 99_999_999));
    }

    #[test]
    fn the_cart_as_checked_shows_todays_prices() {
        let cart = cart_as_checked(
            Some("c".into()),
            &[line(1, 2, Some(1000)), line(2, 1, None)],
            "USD",
        );
        assert_eq!(cart.subtotal, 2000);
        assert!(!cart.items[1].available);
    }

    #[test]
    fn a_restock_stays_within_the_rules() {
        assert_eq!(units_restocked(Some(3), 2), 2);
        assert_eq!(units_restocked(Some(rules::STOCK_MAX - 1), 5), 1);
        assert_eq!(units_restocked(Some(rules::STOCK_MAX), 5), 0);
        assert_eq!(units_restocked(None, 5), 0);
    }
}
