//! The HTTP suite of `tests/api` run again on the production backends:
//! PostgreSQL, Redis and SMTP, plus the tests only they need (races, outages).
//! Each test gets a fresh database, its own Redis key prefix and its own SMTP
//! server. Without the services the tests say SKIPPED; with `CI=true` they fail.

use helpers::Backend;

pub const BACKEND: Backend = Backend::Production;

#[path = "../api/accounts.rs"]
mod accounts;
#[path = "../api/actors.rs"]
mod actors;
#[path = "../api/auth.rs"]
mod auth;
#[path = "../api/bad_input.rs"]
mod bad_input;
#[path = "../api/hardening.rs"]
mod hardening;
#[path = "../api/helpers.rs"]
mod helpers;
#[path = "../api/ops.rs"]
mod ops;
// The production suite uses part of the runner (it never stops a node
// with SIGTERM).
#[allow(dead_code)]
#[path = "../support/node_process.rs"]
mod node_process;
#[path = "../api/orders.rs"]
mod orders;
#[path = "../api/overview.rs"]
mod overview;
#[path = "../api/products.rs"]
mod products;
#[path = "../api/shop_hardening.rs"]
mod shop_hardening;
#[path = "../support/smtp_server.rs"]
mod smtp_server;
#[path = "../support/tcp_proxy.rs"]
mod tcp_proxy;
#[path = "../api/tokens.rs"]
mod tokens;
#[path = "../api/users.rs"]
mod users;
// Each suite drives the browser its own way and uses part of it.
#[allow(dead_code)]
#[path = "../support/webdriver.rs"]
mod webdriver;

mod broker_trust;
mod checkout_races;
mod cluster;
mod mail;
mod node_processes;
mod outages;
mod races;
mod store_contract;
