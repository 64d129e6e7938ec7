//! Test helpers shared by the `api` and `production` suites of storefront.
//! Nothing here knows the application's crate: a suite passes in what only
//! it has, such as the binary's path (`env!("CARGO_BIN_EXE_storefront")`
//! exists only in the storefront package's own tests).

pub mod localstripe;
pub mod node_process;
pub mod smtp_server;
pub mod tcp_proxy;
pub mod webdriver;

/// The address every test configures as the operator's, and signs in as.
pub const ADMIN_EMAIL: &str = "admin@example.com";
