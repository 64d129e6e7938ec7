//! UserActor: users, roles and addresses. Publishes `user.created` when a
//! login creates a user.

use actix::prelude::*;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use super::runtime::{Handles, Reply};
use super::{ActorError, CheckDependency, DependencyStatus};
use crate::bus::{Event, EventBus, UserCreated};
use crate::domain::{
    Address, AddressChanges, Email, NewAddress, PhoneNumber, ProfileChanges, Role, User,
};
use crate::store::UserStore;

pub struct UserActor {
    store: Arc<dyn UserStore>,
    bus: EventBus,
}

impl UserActor {
    pub fn new(store: Arc<dyn UserStore>, bus: EventBus) -> Self {
        UserActor { store, bus }
    }
}

impl Actor for UserActor {
    type Context = Context<Self>;
}

crate::instrumented_actor!(UserActor);

crate::hosted_messages!(UserActor: [
    Login,
    GetUser,
    UpdateProfile,
    ListAddresses,
    AddAddress,
    GetAddress,
    UpdateAddress,
    DeleteAddress,
    CheckDependency,
]);

/// Finds or creates the user signing in, with the role their email earns.
#[derive(Debug, Message, Serialize, Deserialize)]
#[rtype(result = "Result<User, ActorError>")]
pub struct Login {
    pub email: Email,
    pub phone_number: Option<PhoneNumber>,
    pub role: Role,
}

#[derive(Debug, Message, Serialize, Deserialize)]
#[rtype(result = "Result<User, ActorError>")]
pub struct GetUser {
    pub user_id: i64,
}

#[derive(Debug, Message, Serialize, Deserialize)]
#[rtype(result = "Result<User, ActorError>")]
pub struct UpdateProfile {
    pub user_id: i64,
    pub changes: ProfileChanges,
}

#[derive(Debug, Message, Serialize, Deserialize)]
#[rtype(result = "Result<Vec<Address>, ActorError>")]
pub struct ListAddresses {
    pub user_id: i64,
}

#[derive(Debug, Message, Serialize, Deserialize)]
#[rtype(result = "Result<Address, ActorError>")]
pub struct AddAddress {
    pub user_id: i64,
    pub address: NewAddress,
}

/// Every address message names its owner: another user's address is
/// `NotFound`, never visible.
#[derive(Debug, Message, Serialize, Deserialize)]
#[rtype(result = "Result<Address, ActorError>")]
pub struct GetAddress {
    pub user_id: i64,
    pub address_id: i64,
}

#[derive(Debug, Message, Serialize, Deserialize)]
#[rtype(result = "Result<Address, ActorError>")]
pub struct UpdateAddress {
    pub user_id: i64,
    pub address_id: i64,
    pub changes: AddressChanges,
}

#[derive(Debug, Message, Serialize, Deserialize)]
#[rtype(result = "Result<(), ActorError>")]
pub struct DeleteAddress {
    pub user_id: i64,
    pub address_id: i64,
}

crate::wire_name!(Login => "user.login");
crate::wire_name!(GetUser => "user.get");
crate::wire_name!(UpdateProfile => "user.update_profile");
crate::wire_name!(ListAddresses => "user.list_addresses");
crate::wire_name!(AddAddress => "user.add_address");
crate::wire_name!(GetAddress => "user.get_address");
crate::wire_name!(UpdateAddress => "user.update_address");
crate::wire_name!(DeleteAddress => "user.delete_address");

impl Handles<Login> for UserActor {
    fn handle(&mut self, msg: Login, _: &mut Context<Self>) -> Reply<Result<User, ActorError>> {
        let store = self.store.clone();
        let bus = self.bus.clone();
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
                    email: user.email.clone(),
                    phone_number: user.phone_number.clone(),
                })) {
                    tracing::warn!(user_id = user.id, error = %full, "user.created not published");
                }
            }
            Ok(user)
        })
    }
}

impl Handles<GetUser> for UserActor {
    fn handle(&mut self, msg: GetUser, _: &mut Context<Self>) -> Reply<Result<User, ActorError>> {
        let store = self.store.clone();
        Box::pin(async move { store.user(msg.user_id).await?.ok_or(ActorError::NotFound) })
    }
}

impl Handles<UpdateProfile> for UserActor {
    fn handle(
        &mut self,
        msg: UpdateProfile,
        _: &mut Context<Self>,
    ) -> Reply<Result<User, ActorError>> {
        let store = self.store.clone();
        Box::pin(async move {
            store
                .update_profile(msg.user_id, &msg.changes)
                .await?
                .ok_or(ActorError::NotFound)
        })
    }
}

impl Handles<ListAddresses> for UserActor {
    fn handle(
        &mut self,
        msg: ListAddresses,
        _: &mut Context<Self>,
    ) -> Reply<Result<Vec<Address>, ActorError>> {
        let store = self.store.clone();
        Box::pin(async move { Ok(store.addresses(msg.user_id).await?) })
    }
}

impl Handles<AddAddress> for UserActor {
    fn handle(
        &mut self,
        msg: AddAddress,
        _: &mut Context<Self>,
    ) -> Reply<Result<Address, ActorError>> {
        let store = self.store.clone();
        Box::pin(async move { Ok(store.add_address(msg.user_id, &msg.address).await?) })
    }
}

impl Handles<GetAddress> for UserActor {
    fn handle(
        &mut self,
        msg: GetAddress,
        _: &mut Context<Self>,
    ) -> Reply<Result<Address, ActorError>> {
        let store = self.store.clone();
        Box::pin(async move {
            store
                .address(msg.user_id, msg.address_id)
                .await?
                .ok_or(ActorError::NotFound)
        })
    }
}

impl Handles<UpdateAddress> for UserActor {
    fn handle(
        &mut self,
        msg: UpdateAddress,
        _: &mut Context<Self>,
    ) -> Reply<Result<Address, ActorError>> {
        let store = self.store.clone();
        Box::pin(async move {
            store
                .update_address(msg.user_id, msg.address_id, &msg.changes)
                .await?
                .ok_or(ActorError::NotFound)
        })
    }
}

impl Handles<DeleteAddress> for UserActor {
    fn handle(
        &mut self,
        msg: DeleteAddress,
        _: &mut Context<Self>,
    ) -> Reply<Result<(), ActorError>> {
        let store = self.store.clone();
        Box::pin(async move {
            if store.delete_address(msg.user_id, msg.address_id).await? {
                Ok(())
            } else {
                Err(ActorError::NotFound)
            }
        })
    }
}

impl Handles<CheckDependency> for UserActor {
    fn handle(
        &mut self,
        _: CheckDependency,
        _: &mut Context<Self>,
    ) -> Reply<Result<DependencyStatus, ActorError>> {
        let store = self.store.clone();
        Box::pin(async move {
            Ok(DependencyStatus::from_result(
                "database",
                store.ping().await,
            ))
        })
    }
}
