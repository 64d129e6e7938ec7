//! CartActor: the carts of users and guests. Lines are stored; prices and
//! availability come from the node's catalogue on every read, so a cart
//! never shows a price the shop no longer asks. Where the catalogue has not
//! caught up with a write made on another node yet (a product just created
//! or restocked), the store is asked before an add is refused.
//!
//! Guest carts cost a row each: new ones are limited per client, and one
//! node at a time deletes those nobody changed for `cart.guest_ttl_secs`.

use actix::prelude::*;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

use super::ActorError;
use crate::catalogue::Catalogue;
use crate::domain::{price_cart, Cart, CartOwner, ClientKey, Currency, OnSale, Quantity, Size};
use crate::runtime::{DropInRuntime, Instance, Reply};
use crate::store::{
    Added, CartStore, ClientLimit, ClientLimiter, NewCartLine, ProductStore, RateDecision, Rounds,
};
use crate::telemetry::error_chain;

/// The round that deletes idle guest carts, as the database names it.
const GUEST_CART_ROUND: &str = "guest_carts";

pub struct CartActor {
    parts: CartParts,
    instance: Instance,
}

/// What every instance shares.
#[derive(Clone)]
pub struct CartParts {
    pub store: Arc<dyn CartStore>,
    /// Asked when the catalogue does not know a product, or holds less of
    /// it than a cart wants: it may trail a write made elsewhere.
    pub products: Arc<dyn ProductStore>,
    pub catalogue: Arc<Catalogue>,
    pub currency: Currency,
    pub clients: Arc<dyn ClientLimiter>,
    pub rounds: Arc<dyn Rounds>,
    pub rules: CartRules,
}

/// `[cart]` as the actor applies it.
#[derive(Debug, Clone, Copy)]
pub struct CartRules {
    pub max_lines: u32,
    pub guest_ttl: Duration,
    pub guest_sweep: Duration,
}

impl CartActor {
    pub fn new(parts: CartParts, instance: Instance) -> Self {
        CartActor { parts, instance }
    }

    /// Deletes the guest carts idle past their time, when this node holds
    /// the round.
    fn sweep_guest_carts(&mut self, ctx: &mut Context<Self>) {
        let parts = self.parts.clone();
        let round = async move {
            let rules = parts.rules;
            let swept = async {
                if !parts
                    .rounds
                    .claim_round(GUEST_CART_ROUND, rules.guest_sweep)
                    .await?
                {
                    return Ok(0);
                }
                parts.store.delete_idle_guest_carts(rules.guest_ttl).await
            };
            match swept.await {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(deleted, "idle guest carts deleted"),
                Err(err) => {
                    tracing::warn!(error = %error_chain(&err), "idle guest carts could not be deleted now; the next round tries")
                }
            }
        };
        ctx.spawn(self.instance.guard(round));
    }
}

impl CartParts {
    /// The owner's cart, priced now.
    async fn priced(&self, owner: &CartOwner) -> Result<Cart, ActorError> {
        let stored = self.store.cart(owner).await?;
        Ok(price_cart(
            stored.id,
            stored.items,
            self.currency.as_str(),
            |id, size| {
                self.catalogue
                    .product(id)
                    .map(|product| OnSale::of(&product, size))
            },
        ))
    }

    /// How many of `size` of `product_id` a cart may hold now, with the
    /// product's title. The catalogue answers when it holds at least
    /// `wanted`; otherwise the store does, which the catalogue may trail
    /// (and is then told to catch up on the product).
    async fn available(
        &self,
        product_id: i64,
        size: Size,
        wanted: i64,
    ) -> Result<(i64, String), ActorError> {
        if let Some(product) = self.catalogue.product(product_id) {
            if let Some(stock) = product.stock(size).filter(|stock| *stock >= wanted) {
                return Ok((stock, product.title.clone()));
            }
        }
        let stored = self
            .products
            .product(product_id)
            .await?
            .ok_or(ActorError::NotFound)?;
        let newer = self
            .catalogue
            .product(product_id)
            .is_none_or(|known| known.version < stored.version);
        if newer {
            let catalogue = self.catalogue.clone();
            actix_rt::spawn(DropInRuntime::new(Box::pin(async move {
                if let Err(err) = catalogue.refresh(&[product_id]).await {
                    tracing::warn!(product_id, error = %error_chain(&err), "the catalogue could not catch up on a product; its poll will");
                }
            })));
        }
        let stock = stored.stock(size).ok_or(ActorError::NotFound)?;
        Ok((stock, stored.title))
    }
}

impl Actor for CartActor {
    type Context = Context<Self>;

    /// One sweeping timer per node: the first instance runs it (a restart
    /// of that instance starts it again).
    fn started(&mut self, ctx: &mut Context<Self>) {
        if self.instance.index() == 0 {
            ctx.run_interval(self.parts.rules.guest_sweep, |actor, ctx| {
                actor.sweep_guest_carts(ctx)
            });
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct GetCart {
    pub owner: CartOwner,
}

/// Adds to the line of the same product and size, or starts one; `NotFound`
/// for an unknown product or size, `Conflict` past the stock or the most
/// lines a cart holds.
#[derive(Debug, Serialize, Deserialize)]
pub struct AddToCart {
    pub owner: CartOwner,
    pub product_id: i64,
    pub size: Size,
    pub quantity: Quantity,
    /// Set when the add starts a new guest's cart: the client it counts
    /// against (`limits.guest_carts_per_minute`).
    pub new_guest: Option<ClientKey>,
}

/// Sets a line's quantity; `None` removes the line.
#[derive(Debug, Serialize, Deserialize)]
pub struct SetCartQuantity {
    pub owner: CartOwner,
    pub item_id: i64,
    pub quantity: Option<Quantity>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct RemoveCartItem {
    pub owner: CartOwner,
    pub item_id: i64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ClearCart {
    pub owner: CartOwner,
}

/// At sign-in: the guest cart's lines move into the user's cart.
#[derive(Debug, Serialize, Deserialize)]
pub struct MergeGuestCart {
    /// The guest cart's id (see `domain::GuestCarts`).
    pub guest: String,
    pub user_id: i64,
}

fn too_many(available: i64) -> ActorError {
    ActorError::Conflict(format!(
        "only {available} of this size can be in a cart now"
    ))
}

fn too_many_lines(max_lines: u32) -> ActorError {
    ActorError::Conflict(format!(
        "a cart holds at most {max_lines} lines; remove one before adding another product or size"
    ))
}

#[storefront_macros::handlers]
impl CartActor {
    #[wire("cart.get")]
    #[example(GetCart {
        owner: guest(),
    } => Ok(cart()))]
    fn get_cart(&mut self, msg: GetCart, _: &mut Context<Self>) -> Reply<Result<Cart, ActorError>> {
        let parts = self.parts.clone();
        Box::pin(async move { parts.priced(&msg.owner).await })
    }

    #[wire("cart.add")]
    #[example(AddToCart {
        owner: CartOwner::User(7),
        product_id: 1,
        size: Size::M,
        quantity: Quantity::parse(2).unwrap(),
        new_guest: Some(ClientKey::from_ip("192.0.2.9".parse().unwrap())),
    } => Ok(cart()))]
    fn add_to_cart(
        &mut self,
        msg: AddToCart,
        _: &mut Context<Self>,
    ) -> Reply<Result<Cart, ActorError>> {
        let parts = self.parts.clone();
        Box::pin(async move {
            if let Some(client) = &msg.new_guest {
                if let RateDecision::Limited { retry_after } =
                    parts.clients.check(ClientLimit::GuestCart, client).await?
                {
                    return Err(ActorError::RateLimited { retry_after });
                }
            }
            let (available, title) = parts
                .available(msg.product_id, msg.size, msg.quantity.get())
                .await?;
            let line = NewCartLine {
                product_id: msg.product_id,
                size: msg.size,
                quantity: msg.quantity,
                title,
            };
            let max_lines = parts.rules.max_lines;
            match parts
                .store
                .add_to_cart(&msg.owner, &line, available, max_lines)
                .await?
            {
                Added::Added => parts.priced(&msg.owner).await,
                Added::TooMany { available } => Err(too_many(available)),
                Added::TooManyLines { max_lines } => Err(too_many_lines(max_lines)),
            }
        })
    }

    #[wire("cart.set_quantity")]
    #[example(SetCartQuantity {
        owner: guest(),
        item_id: 4,
        quantity: None,
    } => Ok(cart()))]
    fn set_cart_quantity(
        &mut self,
        msg: SetCartQuantity,
        _: &mut Context<Self>,
    ) -> Reply<Result<Cart, ActorError>> {
        let parts = self.parts.clone();
        Box::pin(async move {
            let item = parts
                .store
                .cart_item(&msg.owner, msg.item_id)
                .await?
                .ok_or(ActorError::NotFound)?;
            let changed = match msg.quantity {
                None => {
                    parts
                        .store
                        .remove_cart_item(&msg.owner, msg.item_id)
                        .await?
                }
                Some(quantity) => {
                    // Less is always allowed, even of a product since sold out.
                    if quantity > item.quantity {
                        let available = parts
                            .available(item.product_id, item.size, quantity.get())
                            .await
                            .map_or(0, |(stock, _)| stock)
                            .min(Quantity::MAX);
                        if quantity.get() > available {
                            return Err(too_many(available));
                        }
                    }
                    parts
                        .store
                        .set_cart_quantity(&msg.owner, msg.item_id, quantity)
                        .await?
                }
            };
            if !changed {
                return Err(ActorError::NotFound);
            }
            parts.priced(&msg.owner).await
        })
    }

    #[wire("cart.remove_item")]
    #[example(RemoveCartItem {
        owner: guest(),
        item_id: 4,
    } => Err(ActorError::NotFound))]
    fn remove_cart_item(
        &mut self,
        msg: RemoveCartItem,
        _: &mut Context<Self>,
    ) -> Reply<Result<Cart, ActorError>> {
        let parts = self.parts.clone();
        Box::pin(async move {
            if !parts
                .store
                .remove_cart_item(&msg.owner, msg.item_id)
                .await?
            {
                return Err(ActorError::NotFound);
            }
            parts.priced(&msg.owner).await
        })
    }

    #[wire("cart.clear")]
    #[example(ClearCart { owner: guest() } => Ok(cart()))]
    fn clear_cart(
        &mut self,
        msg: ClearCart,
        _: &mut Context<Self>,
    ) -> Reply<Result<Cart, ActorError>> {
        let parts = self.parts.clone();
        Box::pin(async move {
            parts.store.clear_cart(&msg.owner).await?;
            parts.priced(&msg.owner).await
        })
    }

    #[wire("cart.merge_guest")]
    #[example(MergeGuestCart {
        guest: "0b9c7a52-6f0e-4f55-9d1b-7a4a6b7f2e10".into(),
        user_id: 7,
    } => Ok(2))]
    fn merge_guest_cart(
        &mut self,
        msg: MergeGuestCart,
        _: &mut Context<Self>,
    ) -> Reply<Result<usize, ActorError>> {
        let parts = self.parts.clone();
        Box::pin(async move {
            Ok(parts
                .store
                .merge_guest_cart(&msg.guest, msg.user_id, parts.rules.max_lines)
                .await?)
        })
    }
}
