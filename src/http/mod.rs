//! actix-web: one file per resource. Handlers parse input into domain types,
//! send one message to an actor and map the answer; nothing here touches a
//! store.

pub mod admin;
pub mod admin_page;
mod app;
pub mod auth;
pub mod cart;
pub mod client;
pub mod compression;
pub mod conditional;
pub mod cors;
pub mod error;
pub mod export;
pub mod guards;
pub mod json;
pub mod middleware;
pub mod openapi;
pub mod ops;
pub mod orders;
pub mod origin;
pub mod overview;
pub mod path_id;
pub mod payments;
pub mod products;
pub mod routes;
pub mod schemas;
pub mod session;
mod state;
pub mod users;

pub use app::configure;
pub use state::{ask, resource, AppState, KnownUsers, OverviewCache, RequestLimits};
