//! Every route of the service, in one place.

use actix_web::web;

use super::{
    admin, admin_page, auth, cart, error, export, openapi, ops, orders, overview, products, users,
};

/// Registers every route and the extractor settings that turn bad input
/// into problem+json answers (bodies are read by `json::JsonBody`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    // Routes are matched in this order: the most frequent first.
    cfg.app_data(web::QueryConfig::default().error_handler(error::query_error))
        .app_data(web::PathConfig::default().error_handler(error::path_error))
        .configure(ops::routes)
        .configure(products::routes)
        .configure(auth::routes)
        .configure(cart::routes)
        .configure(orders::routes)
        .configure(users::routes)
        .configure(export::routes)
        .configure(admin::routes)
        .configure(overview::routes)
        .configure(admin_page::routes)
        .configure(openapi::routes);
}
