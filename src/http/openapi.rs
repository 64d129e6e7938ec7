//! The OpenAPI document, generated from the handlers' annotations, and a
//! Swagger UI page served from files compiled into the binary.

use actix_web::{web, HttpResponse};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use super::{admin, auth, error, ops, products, users};

#[derive(OpenApi)]
#[openapi(
    info(title = "storefront", description = "An e-commerce backend built as an actor system."),
    paths(
        auth::request_otp, auth::verify_otp, auth::logout,
        users::get_profile, users::update_profile,
        users::list_addresses, users::add_address,
        users::get_address, users::update_address, users::delete_address,
        products::list_products, products::get_product, products::create_product,
        products::replace_product, products::patch_product, products::delete_product,
        products::set_stock,
        ops::healthz, ops::readyz, ops::metrics,
        admin::list_actors, admin::get_actor,
        admin::list_queued_mail, admin::retry_queued_mail,
    ),
    components(schemas(error::Problem)),
    modifiers(&SessionSecurity, &LegacyAliases),
)]
pub struct ApiDoc;

struct SessionSecurity;

impl Modify for SessionSecurity {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("access_token"))),
        );
    }
}

/// `/send-otp` and `/verify-otp` behave exactly like their `/auth/...`
/// routes, and `GET /auth/me` like `GET /users/me` (one handler serves
/// both), so their documentation is a copy.
struct LegacyAliases;

impl Modify for LegacyAliases {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (alias, original) in [
            ("/send-otp", "/auth/otp"),
            ("/verify-otp", "/auth/otp/verify"),
        ] {
            if let Some(item) = openapi.paths.paths.get(original).cloned() {
                openapi.paths.paths.insert(alias.to_owned(), item);
            }
        }
        if let Some(mut item) = openapi.paths.paths.get("/users/me").cloned() {
            item.patch = None;
            if let Some(get) = &mut item.get {
                get.operation_id = Some("me".to_owned());
                get.tags = Some(vec!["auth".to_owned()]);
            }
            openapi.paths.paths.insert("/auth/me".to_owned(), item);
        }
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/docs",
        web::get().to(|| async {
            HttpResponse::PermanentRedirect()
                .insert_header(("location", "/docs/"))
                .finish()
        }),
    )
    .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", ApiDoc::openapi()));
}
