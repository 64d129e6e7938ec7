//! CartActor: the carts of users and guests. Lines are stored; prices and
//! availability come from the node's catalogue on every read, so a cart
//! never shows a price the shop no longer asks.

use actix::prelude::*;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use super::runtime::{Handles, Reply};
use super::ActorError;
use crate::catalogue::Catalogue;
use crate::domain::{price_cart, Cart, CartOwner, Currency, OnSale, Quantity, Size};
use crate::store::{Added, CartStore, NewCartLine};

pub struct CartActor {
    parts: CartParts,
}

/// What every instance shares.
#[derive(Clone)]
pub struct CartParts {
    pub store: Arc<dyn CartStore>,
    pub catalogue: Arc<Catalogue>,
    pub currency: Currency,
}

impl CartActor {
    pub fn new(parts: CartParts) -> Self {
        CartActor { parts }
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

    /// How many of `size` of `product_id` a cart may hold now.
    fn available(&self, product_id: i64, size: Size) -> Result<(i64, String), ActorError> {
        let product = self
            .catalogue
            .product(product_id)
            .ok_or(ActorError::NotFound)?;
        let stock = product.stock(size).ok_or(ActorError::NotFound)?;
        Ok((stock, product.title.clone()))
    }
}

impl Actor for CartActor {
    type Context = Context<Self>;
}

crate::instrumented_actor!(CartActor);

crate::hosted_messages!(CartActor: [
    GetCart,
    AddToCart,
    SetCartQuantity,
    RemoveCartItem,
    ClearCart,
    MergeGuestCart,
]);

#[derive(Debug, Message, Serialize, Deserialize)]
#[rtype(result = "Result<Cart, ActorError>")]
pub struct GetCart {
    pub owner: CartOwner,
}

/// Adds to the line of the same product and size, or starts one; `NotFound`
/// for an unknown product or size, `Conflict` past the stock.
#[derive(Debug, Message, Serialize, Deserialize)]
#[rtype(result = "Result<Cart, ActorError>")]
pub struct AddToCart {
    pub owner: CartOwner,
    pub product_id: i64,
    pub size: Size,
    pub quantity: Quantity,
}

/// Sets a line's quantity; `None` removes the line.
#[derive(Debug, Message, Serialize, Deserialize)]
#[rtype(result = "Result<Cart, ActorError>")]
pub struct SetCartQuantity {
    pub owner: CartOwner,
    pub item_id: i64,
    pub quantity: Option<Quantity>,
}

#[derive(Debug, Message, Serialize, Deserialize)]
#[rtype(result = "Result<Cart, ActorError>")]
pub struct RemoveCartItem {
    pub owner: CartOwner,
    pub item_id: i64,
}

#[derive(Debug, Message, Serialize, Deserialize)]
#[rtype(result = "Result<Cart, ActorError>")]
pub struct ClearCart {
    pub owner: CartOwner,
}

/// At sign-in: the guest cart's lines move into the user's cart.
#[derive(Debug, Message, Serialize, Deserialize)]
#[rtype(result = "Result<usize, ActorError>")]
pub struct MergeGuestCart {
    pub guest: String,
    pub user_id: i64,
}

crate::wire_name!(GetCart => "cart.get");
crate::wire_name!(AddToCart => "cart.add");
crate::wire_name!(SetCartQuantity => "cart.set_quantity");
crate::wire_name!(RemoveCartItem => "cart.remove_item");
crate::wire_name!(ClearCart => "cart.clear");
crate::wire_name!(MergeGuestCart => "cart.merge_guest");

fn too_many(available: i64) -> ActorError {
    ActorError::Conflict(format!(
        "only {available} of this size can be in a cart now"
    ))
}

impl Handles<GetCart> for CartActor {
    fn handle(&mut self, msg: GetCart, _: &mut Context<Self>) -> Reply<Result<Cart, ActorError>> {
        let parts = self.parts.clone();
        Box::pin(async move { parts.priced(&msg.owner).await })
    }
}

impl Handles<AddToCart> for CartActor {
    fn handle(&mut self, msg: AddToCart, _: &mut Context<Self>) -> Reply<Result<Cart, ActorError>> {
        let parts = self.parts.clone();
        Box::pin(async move {
            let (available, title) = parts.available(msg.product_id, msg.size)?;
            let line = NewCartLine {
                product_id: msg.product_id,
                size: msg.size,
                quantity: msg.quantity,
                title,
            };
            match parts
                .store
                .add_to_cart(&msg.owner, &line, available)
                .await?
            {
                Added::Added => parts.priced(&msg.owner).await,
                Added::TooMany { available } => Err(too_many(available)),
            }
        })
    }
}

impl Handles<SetCartQuantity> for CartActor {
    fn handle(
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
                            .available(item.product_id, item.size)
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
}

impl Handles<RemoveCartItem> for CartActor {
    fn handle(
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
}

impl Handles<ClearCart> for CartActor {
    fn handle(&mut self, msg: ClearCart, _: &mut Context<Self>) -> Reply<Result<Cart, ActorError>> {
        let parts = self.parts.clone();
        Box::pin(async move {
            parts.store.clear_cart(&msg.owner).await?;
            parts.priced(&msg.owner).await
        })
    }
}

impl Handles<MergeGuestCart> for CartActor {
    fn handle(
        &mut self,
        msg: MergeGuestCart,
        _: &mut Context<Self>,
    ) -> Reply<Result<usize, ActorError>> {
        let parts = self.parts.clone();
        Box::pin(async move {
            Ok(parts
                .store
                .merge_guest_cart(&msg.guest, msg.user_id)
                .await?)
        })
    }
}
