//! Every route of the service, declared once. The table registers each
//! with actix-web, brings its handler's operation into the OpenAPI document
//! (`Operations`), and tells what guards it (`table`, read from the
//! handler's arguments). An alias serves the same handler at a second path;
//! the document describes it as a copy (`openapi::LegacyAliases`).

use actix_web::web;

use super::guards::{guard_of, Guard};
use super::state::resource;
use super::{admin, auth, cart, error, export, ops, orders, overview, payments, products, users};

/// One method on one path.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub guard: Guard,
    pub alias: bool,
}

/// `resource` with `handler` for `method` (as the table spells it); a GET
/// also answers HEAD (RFC 9110: GET without the body, which CDNs and link
/// checkers ask; actix-http sends the headers alone).
fn with_route<F, Args>(
    resource: actix_web::Resource,
    method: &str,
    handler: F,
) -> actix_web::Resource
where
    F: actix_web::Handler<Args> + Clone,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    let method = actix_web::http::Method::from_bytes(method.to_ascii_uppercase().as_bytes())
        .expect("the table names HTTP methods");
    let resource = if method == actix_web::http::Method::GET {
        resource.route(web::head().to(handler.clone()))
    } else {
        resource
    };
    resource.route(web::method(method).to(handler))
}

macro_rules! routes {
    (
        operations { $($path:literal => { $($method:ident: $handler:path),+ $(,)? }),+ $(,)? }
        aliases { $($alias:literal => { $($alias_method:ident: $alias_handler:path),+ $(,)? }),* $(,)? }
    ) => {
        /// Registers every route of the table and the extractor settings
        /// that turn bad input into problem+json answers (bodies are read by
        /// `json::JsonBody`). Routes are matched in the table's order.
        pub fn register(cfg: &mut web::ServiceConfig) {
            cfg.app_data(web::QueryConfig::default().error_handler(error::query_error))
                .app_data(web::PathConfig::default().error_handler(error::path_error))
                $(.service({
                    let resource = resource($path);
                    $(let resource = with_route(resource, stringify!($method), $handler);)+
                    resource
                }))+
                $(.service({
                    let resource = resource($alias);
                    $(let resource = with_route(resource, stringify!($alias_method), $alias_handler);)+
                    resource
                }))*;
        }

        /// The operations of the table, for the OpenAPI document.
        #[derive(utoipa::OpenApi)]
        #[openapi(paths($($($handler),+),+))]
        pub struct Operations;

        /// Every route the table serves, aliases included.
        pub fn table() -> Vec<Route> {
            vec![
                $($(Route {
                    method: stringify!($method),
                    path: $path,
                    guard: guard_of(&$handler),
                    alias: false,
                },)+)+
                $($(Route {
                    method: stringify!($alias_method),
                    path: $alias,
                    guard: guard_of(&$alias_handler),
                    alias: true,
                },)+)*
            ]
        }
    };
}

routes! {
    operations {
        "/healthz" => { get: ops::healthz },
        "/readyz" => { get: ops::readyz },
        "/metrics" => { get: ops::metrics },
        "/products" => { get: products::list_products, post: products::create_product },
        "/products/{id}" => {
            get: products::get_product,
            put: products::replace_product,
            patch: products::patch_product,
            delete: products::delete_product,
        },
        "/products/{id}/variants/{size}" => { put: products::set_stock },
        "/categories" => { get: products::list_categories },
        "/auth/otp" => { post: auth::request_otp },
        "/auth/otp/verify" => { post: auth::verify_otp },
        "/auth/logout" => { post: auth::logout },
        "/cart" => { get: cart::get_cart, delete: cart::clear_cart },
        "/cart/items" => { post: cart::add_item },
        "/cart/items/{itemId}" => { patch: cart::set_quantity, delete: cart::remove_item },
        "/orders" => { get: orders::list_orders, post: orders::place_order },
        "/orders/{id}" => { get: orders::get_order },
        "/orders/{id}/cancel" => { post: orders::cancel_order },
        "/orders/{id}/fulfil" => { post: orders::fulfil_order },
        "/orders/{id}/pay" => { post: orders::mark_paid },
        "/orders/{id}/payment" => { post: orders::start_order_payment },
        "/payments/stripe/webhook" => { post: payments::stripe_webhook },
        "/admin/orders" => { get: orders::list_all_orders },
        "/users/me" => {
            get: users::get_profile,
            patch: users::update_profile,
            delete: users::delete_me,
        },
        "/admin/users/{id}" => { delete: users::delete_user },
        "/users/me/addresses" => { get: users::list_addresses, post: users::add_address },
        "/users/me/addresses/{id}" => {
            get: users::get_address,
            patch: users::update_address,
            delete: users::delete_address,
        },
        "/users/me/export" => { get: export::export },
        "/admin/actors" => { get: admin::list_actors },
        "/admin/actors/{name}" => { get: admin::get_actor },
        "/admin/bus" => { get: admin::bus_state },
        "/admin/cluster" => { get: admin::cluster },
        "/admin/mail" => { get: admin::list_queued_mail },
        "/admin/mail/{id}/retry" => { post: admin::retry_queued_mail },
        "/admin/overview" => { get: overview::overview },
    }
    aliases {
        "/send-otp" => { post: auth::request_otp },
        "/verify-otp" => { post: auth::verify_otp },
        "/auth/me" => { get: users::get_profile },
    }
}
