//! The HTTP suite of `tests/api` run again on the production backends:
//! PostgreSQL, Redis and SMTP, plus the tests only they need (races, outages).
//! Each test gets a fresh database, its own Redis key prefix and its own SMTP
//! server. Without the services the tests say SKIPPED; with `CI=true` they fail.

use helpers::Backend;

pub const BACKEND: Backend = Backend::Production;

/// The binary the tests run as a process, for `node_process::storefront`.
pub const BINARY: &str = env!("CARGO_BIN_EXE_storefront");

#[path = "../api/accounts.rs"]
mod accounts;
#[path = "../api/actors.rs"]
mod actors;
#[path = "../api/auth.rs"]
mod auth;
#[path = "../api/bad_input.rs"]
mod bad_input;
#[path = "../api/caching.rs"]
mod caching;
#[path = "../api/hardening.rs"]
mod hardening;
#[path = "../api/helpers.rs"]
mod helpers;
#[path = "../api/ops.rs"]
mod ops;
#[path = "../api/orders.rs"]
mod orders;
#[path = "../api/overview.rs"]
mod overview;
#[path = "../api/payments.rs"]
mod payments;
#[path = "../api/products.rs"]
mod products;
#[path = "../api/shop_hardening.rs"]
mod shop_hardening;
#[path = "../api/tokens.rs"]
mod tokens;
#[path = "../api/users.rs"]
mod users;

mod broker_trust;
mod checkout_races;
mod cluster;
mod mail;
mod node_processes;
mod outages;
mod races;
mod store_contract;
