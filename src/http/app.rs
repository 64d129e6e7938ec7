//! Everything the service answers over HTTP: the route table's operations,
//! then the pages that are not operations (the operator's page, the API
//! document and its Swagger UI).

use actix_web::web;

use super::{admin_page, openapi, routes};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(routes::register)
        .configure(admin_page::routes)
        .configure(openapi::routes);
}
