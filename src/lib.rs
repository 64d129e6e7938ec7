//! storefront: an e-commerce backend built as an actor system on one actix
//! runtime. See `docs/` for the design and `README.md` to run it.

pub mod actors;
pub mod bus;
pub mod catalogue;
pub mod config;
pub mod domain;
pub mod files;
pub mod http;
pub mod mail;
pub mod metrics;
pub mod payments;
pub mod runtime;
pub mod seed;
pub mod startup;
pub mod store;
pub mod system;
pub mod telemetry;
