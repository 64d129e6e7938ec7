//! Black-box tests through HTTP against the real application, each on its own
//! port with its own data folder.

use helpers::Backend;

/// This binary runs the suite on the embedded backend; `tests/production`
/// runs the same files on PostgreSQL, Redis and SMTP.
pub const BACKEND: Backend = Backend::Embedded;

mod accounts;
mod actors;
mod admin_page;
mod auth;
mod bad_input;
mod hardening;
mod helpers;
// Only the production suite kills nodes.
#[allow(dead_code)]
#[path = "../support/node_process.rs"]
mod node_process;
mod ops;
mod orders;
mod overview;
mod process;
mod products;
mod shop_hardening;
// The embedded suite uses part of the test SMTP server.
#[allow(dead_code)]
#[path = "../support/smtp_server.rs"]
mod smtp_server;
mod tokens;
mod users;
// Each suite drives the browser its own way and uses part of it.
#[allow(dead_code)]
#[path = "../support/webdriver.rs"]
mod webdriver;
