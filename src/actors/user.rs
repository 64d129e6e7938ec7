//! UserActor: users, roles and addresses. Publishes `user.created` when a
//! login creates a user. Erases a person on request (their sessions end at
//! once, on every node) and tells them everything the shop holds of them.

use actix::prelude::*;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

use super::cart::{CartActor, GetCart};
use super::order::{ListOrders, OrderActor};
use super::{ActorError, CheckDependency, DependencyStatus};
use crate::bus::{Event, EventBus, UserCreated};
use crate::domain::{
    Address, AddressChanges, Cart, CartOwner, Email, NewAddress, Order, Page, PhoneNumber,
    ProfileChanges, Role, User,
};
use crate::runtime::{Registry, Reply};
use crate::store::{Erasure, OrderFilter, RevocationStore, UserStore};

pub struct UserActor {
    parts: UserParts,
}

/// What every instance shares.
#[derive(Clone)]
pub struct UserParts {
    pub store: Arc<dyn UserStore>,
    pub bus: EventBus,
    /// The OrderActor and CartActor are reached through it, wherever
    /// they are hosted.
    pub registry: Registry,
    /// Where an erased user's sessions are ended: the store the OtpActor
    /// checks tokens against (Redis or the database, shared by the nodes
    /// that share them).
    pub revocations: Arc<dyn RevocationStore>,
    /// How long a session lives: an erased user's are refused that long.
    pub session_ttl: Duration,
}

impl UserActor {
    pub fn new(parts: UserParts) -> Self {
        UserActor { parts }
    }
}

impl Actor for UserActor {
    type Context = Context<Self>;
}

/// Finds or creates the user signing in, with the role their email earns.
#[derive(Debug, Serialize, Deserialize)]
pub struct Login {
    pub email: Email,
    pub phone_number: Option<PhoneNumber>,
    pub role: Role,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct GetUser {
    pub user_id: i64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct UpdateProfile {
    pub user_id: i64,
    pub changes: ProfileChanges,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ListAddresses {
    pub user_id: i64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct AddAddress {
    pub user_id: i64,
    pub address: NewAddress,
}

/// Every address message names its owner: another user's address is
/// `NotFound`, never visible.
#[derive(Debug, Serialize, Deserialize)]
pub struct GetAddress {
    pub user_id: i64,
    pub address_id: i64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct UpdateAddress {
    pub user_id: i64,
    pub address_id: i64,
    pub changes: AddressChanges,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct DeleteAddress {
    pub user_id: i64,
    pub address_id: i64,
}

/// Erases the person behind an account (see `UserStore::erase_user`) and
/// ends every session of theirs at once; `NotFound` for no such user.
#[derive(Debug, Serialize, Deserialize)]
pub struct DeleteUser {
    pub user_id: i64,
}

/// Everything the shop holds about a user.
#[derive(Debug, Serialize, Deserialize)]
pub struct ExportUser {
    pub user_id: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserExport {
    pub user: User,
    pub addresses: Vec<Address>,
    /// Every order, newest first.
    pub orders: Vec<Order>,
    pub cart: Cart,
}

#[storefront_macros::handlers]
impl UserActor {
    #[wire("user.login")]
    #[example(Login {
        email: email(),
        phone_number: None,
        role: Role::Admin,
    } => Ok(user()))]
    fn login(&mut self, msg: Login, _: &mut Context<Self>) -> Reply<Result<User, ActorError>> {
        let store = self.parts.store.clone();
        let bus = self.parts.bus.clone();
        Box::pin(async move {
            let phone = msg.phone_number.as_ref().map(PhoneNumber::as_str);
            let (user, created) = store
                .upsert_login(msg.email.as_str(), phone, msg.role)
                .await?;
            if created {
                tracing::info!(user_id = user.id, "user created at first login");
                // The user exists either way; only the welcome mail is lost.
                if let Err(full) = bus.publish(Event::UserCreated(UserCreated {
                    user_id: user.id,
                    email: msg.email.clone(),
                    phone_number: user.phone_number.clone(),
                })) {
                    tracing::warn!(user_id = user.id, error = %full, "user.created not published");
                }
            }
            Ok(user)
        })
    }

    #[wire("user.get")]
    #[example(GetUser { user_id: 7 } => Err(ActorError::NotFound))]
    fn get_user(&mut self, msg: GetUser, _: &mut Context<Self>) -> Reply<Result<User, ActorError>> {
        let store = self.parts.store.clone();
        Box::pin(async move { store.user(msg.user_id).await?.ok_or(ActorError::NotFound) })
    }

    #[wire("user.update_profile")]
    #[example(UpdateProfile {
        user_id: 7,
        changes: ProfileChanges::default(),
    } => Ok(user()))]
    fn update_profile(
        &mut self,
        msg: UpdateProfile,
        _: &mut Context<Self>,
    ) -> Reply<Result<User, ActorError>> {
        let store = self.parts.store.clone();
        Box::pin(async move {
            store
                .update_profile(msg.user_id, &msg.changes)
                .await?
                .ok_or(ActorError::NotFound)
        })
    }

    #[wire("user.list_addresses")]
    #[example(ListAddresses { user_id: 7 } => Ok(vec![address()]))]
    fn list_addresses(
        &mut self,
        msg: ListAddresses,
        _: &mut Context<Self>,
    ) -> Reply<Result<Vec<Address>, ActorError>> {
        let store = self.parts.store.clone();
        Box::pin(async move { Ok(store.addresses(msg.user_id).await?) })
    }

    #[wire("user.add_address")]
    #[example(AddAddress {
        user_id: 7,
        address: NewAddress::parse(draft()).unwrap(),
    } => Ok(address()))]
    fn add_address(
        &mut self,
        msg: AddAddress,
        _: &mut Context<Self>,
    ) -> Reply<Result<Address, ActorError>> {
        let store = self.parts.store.clone();
        Box::pin(async move { Ok(store.add_address(msg.user_id, &msg.address).await?) })
    }

    #[wire("user.get_address")]
    #[example(GetAddress {
        user_id: 7,
        address_id: 3,
    } => Ok(address()))]
    fn get_address(
        &mut self,
        msg: GetAddress,
        _: &mut Context<Self>,
    ) -> Reply<Result<Address, ActorError>> {
        let store = self.parts.store.clone();
        Box::pin(async move {
            store
                .address(msg.user_id, msg.address_id)
                .await?
                .ok_or(ActorError::NotFound)
        })
    }

    #[wire("user.update_address")]
    #[example(UpdateAddress {
        user_id: 7,
        address_id: 3,
        changes: AddressChanges::parse(draft()).unwrap(),
    } => Ok(address()))]
    fn update_address(
        &mut self,
        msg: UpdateAddress,
        _: &mut Context<Self>,
    ) -> Reply<Result<Address, ActorError>> {
        let store = self.parts.store.clone();
        Box::pin(async move {
            store
                .update_address(msg.user_id, msg.address_id, &msg.changes)
                .await?
                .ok_or(ActorError::NotFound)
        })
    }

    #[wire("user.delete_address")]
    #[example(DeleteAddress {
        user_id: 7,
        address_id: 3,
    } => Err(ActorError::Invalid(vec![ValidationError::new(
        "street", "why",
    )])))]
    fn delete_address(
        &mut self,
        msg: DeleteAddress,
        _: &mut Context<Self>,
    ) -> Reply<Result<(), ActorError>> {
        let store = self.parts.store.clone();
        Box::pin(async move {
            if store.delete_address(msg.user_id, msg.address_id).await? {
                Ok(())
            } else {
                Err(ActorError::NotFound)
            }
        })
    }

    #[wire("user.delete")]
    #[example(DeleteUser { user_id: 7 } => Ok(()))]
    fn delete_user(
        &mut self,
        msg: DeleteUser,
        _: &mut Context<Self>,
    ) -> Reply<Result<(), ActorError>> {
        let parts = self.parts.clone();
        Box::pin(async move {
            // Erased first: were the sessions ended first and the erasure
            // then failed, the person could not sign in to try again. An
            // account erased before has its sessions ended again (a retry
            // after a revocation that failed).
            if parts.store.erase_user(msg.user_id).await? == Erasure::Missing {
                return Err(ActorError::NotFound);
            }
            let until = chrono::Utc::now()
                + chrono::Duration::from_std(parts.session_ttl).unwrap_or(chrono::Duration::MAX);
            parts.revocations.revoke_user(msg.user_id, until).await?;
            tracing::info!(
                user_id = msg.user_id,
                "user erased; every session of theirs ended"
            );
            Ok(())
        })
    }

    #[wire("user.export")]
    #[example(ExportUser { user_id: 7 } => Ok(UserExport {
        user: user(),
        addresses: vec![address()],
        orders: vec![order()],
        cart: cart(),
    }))]
    fn export_user(
        &mut self,
        msg: ExportUser,
        _: &mut Context<Self>,
    ) -> Reply<Result<UserExport, ActorError>> {
        let parts = self.parts.clone();
        Box::pin(async move {
            let user = parts
                .store
                .user(msg.user_id)
                .await?
                .ok_or(ActorError::NotFound)?;
            let addresses = parts.store.addresses(msg.user_id).await?;
            let mut orders = Vec::new();
            loop {
                let page = parts
                    .registry
                    .get::<OrderActor>()
                    .call(ListOrders {
                        filter: OrderFilter {
                            user_id: Some(msg.user_id),
                            ..OrderFilter::default()
                        },
                        page: Page {
                            limit: EXPORT_PAGE,
                            offset: orders.len() as u64,
                        },
                    })
                    .await??;
                let last = page.items.len() < EXPORT_PAGE as usize;
                orders.extend(page.items);
                if last {
                    break;
                }
            }
            let cart = parts
                .registry
                .get::<CartActor>()
                .call(GetCart {
                    owner: CartOwner::User(msg.user_id),
                })
                .await??;
            Ok(UserExport {
                user,
                addresses,
                orders,
                cart,
            })
        })
    }

    #[answers]
    #[example(CheckDependency => dependency_up())]
    fn check_dependency(
        &mut self,
        _: CheckDependency,
        _: &mut Context<Self>,
    ) -> Reply<Result<DependencyStatus, ActorError>> {
        let store = self.parts.store.clone();
        Box::pin(async move {
            Ok(DependencyStatus::from_result(
                "database",
                store.ping().await,
            ))
        })
    }
}

/// Orders asked for at once while exporting.
const EXPORT_PAGE: u32 = 100;
