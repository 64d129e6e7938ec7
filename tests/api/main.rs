//! Black-box tests through HTTP against the real application, each on its own
//! port with its own data folder.

use helpers::Backend;

/// This binary runs the suite on the embedded backend; `tests/production`
/// runs the same files on PostgreSQL, Redis and SMTP.
pub const BACKEND: Backend = Backend::Embedded;

/// The binary the tests run as a process, for `node_process::storefront`.
pub const BINARY: &str = env!("CARGO_BIN_EXE_storefront");

mod accounts;
mod actors;
mod admin_page;
mod auth;
mod bad_input;
mod caching;
mod cors;
mod hardening;
mod helpers;
mod ops;
mod orders;
mod overview;
mod payments;
mod process;
mod products;
mod shop_hardening;
mod tokens;
mod users;
