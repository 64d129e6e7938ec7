//! The OpenAPI document, generated from the handlers' annotations and made
//! exact by two passes: every status each operation can answer is added to
//! it from the rules below, and the few constraints utoipa cannot express
//! are written into the JSON. A Swagger UI page is served from files
//! compiled into the binary.

use actix_web::{web, HttpResponse};
use serde_json::{json, Value};
use std::sync::LazyLock;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{ContentBuilder, Ref};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use super::error;
use super::error::PROBLEM_JSON;
use super::guards::Caller;
use super::routes::{table, Operations};
use crate::domain::{rules, Size};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "storefront",
        description = "An e-commerce backend built as an actor system."
    ),
    components(schemas(error::Problem))
)]
pub struct ApiDoc;

/// The document: the operations of the route table, then what no
/// annotation says (the security schemes, the aliases' copies, the
/// refusals every operation can give).
fn document() -> utoipa::openapi::OpenApi {
    let mut document = ApiDoc::openapi();
    document.merge(Operations::openapi());
    for modifier in [
        &SessionSecurity as &dyn Modify,
        &LegacyAliases,
        &ProblemResponses,
    ] {
        modifier.modify(&mut document);
    }
    document
}

/// Operations that answer without asking an actor, so no dependency can fail them.
const LOCAL_ONLY: [&str; 2] = ["/healthz", "/metrics"];

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
        // The cookie does what the bearer token does.
        for (_, operation) in operations(&mut openapi.paths.paths) {
            if let Some(security) = &mut operation.security {
                security.push(SecurityRequirement::new(
                    "session_cookie",
                    Vec::<String>::new(),
                ));
            }
        }
    }
}

/// `/send-otp` and `/verify-otp` behave exactly like their `/auth/...`
/// routes, and `GET /auth/me` like `GET /users/me` (one handler serves
/// both), so their documentation is a copy under an operation id of its own.
struct LegacyAliases;

impl Modify for LegacyAliases {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let paths = &mut openapi.paths.paths;
        for (alias, original, id) in [
            ("/send-otp", "/auth/otp", "send_otp"),
            ("/verify-otp", "/auth/otp/verify", "verify_otp_alias"),
        ] {
            if let Some(mut item) = paths.get(original).cloned() {
                if let Some(post) = &mut item.post {
                    post.operation_id = Some(id.to_owned());
                }
                paths.insert(alias.to_owned(), item);
            }
        }
        if let Some(mut item) = paths.get("/users/me").cloned() {
            item.patch = None;
            item.delete = None;
            if let Some(get) = &mut item.get {
                get.operation_id = Some("me".to_owned());
                get.tags = Some(vec!["auth".to_owned()]);
            }
            paths.insert("/auth/me".to_owned(), item);
        }
    }
}

fn operations(
    paths: &mut std::collections::BTreeMap<String, PathItem>,
) -> impl Iterator<Item = (String, &mut Operation)> {
    paths.iter_mut().flat_map(|(path, item)| {
        [
            ("get", &mut item.get),
            ("put", &mut item.put),
            ("post", &mut item.post),
            ("patch", &mut item.patch),
            ("delete", &mut item.delete),
        ]
        .into_iter()
        .filter_map(move |(method, operation)| {
            operation
                .as_mut()
                .map(|operation| (format!("{method} {path}"), operation))
        })
    })
}

/// Adds to every operation the problem+json answers it can give and its
/// annotations do not name: the framework's and the middleware's refusals,
/// the session's, the limits', and a dependency or actor that fails.
struct ProblemResponses;

impl Modify for ProblemResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let routes = table();
        for (route, operation) in operations(&mut openapi.paths.paths) {
            let (method, path) = route.split_once(' ').expect("method and path");
            let guard = routes
                .iter()
                .find(|route| route.method == method && route.path == path)
                .map(|route| route.guard)
                .unwrap_or_else(|| {
                    panic!("{method} {path} is documented but not in the route table")
                });
            let mut statuses: Vec<(u16, &str)> = vec![(431, "The request headers are too large")];
            let has_body = operation.request_body.is_some();
            let has_params = operation
                .parameters
                .as_ref()
                .is_some_and(|parameters| !parameters.is_empty());
            if has_body || has_params {
                statuses.push((400, "Invalid input: the detail and `errors` say what"));
            }
            if has_body {
                statuses.push((
                    408,
                    "The body did not arrive in time; the connection is closed",
                ));
                statuses.push((413, "The body is too large"));
                statuses.push((415, "The body is not JSON"));
            }
            if operation.security.is_some() {
                statuses.push((401, "No valid session"));
            }
            if guard.caller == Caller::Admin {
                statuses.push((403, "Not an admin"));
            } else if method != "get" {
                statuses.push((
                    403,
                    "Signed in by the session cookie, from an origin other than this server's \
                     or one in server.cors_origins",
                ));
            }
            if guard.limited {
                statuses.push((429, "Past a limit; see Retry-After"));
            }
            if !LOCAL_ONLY.contains(&path) {
                statuses.push((500, "A fault of ours, logged with the request id"));
                statuses.push((503, "A dependency or a service is unavailable"));
                statuses.push((504, "A service did not answer in time"));
            }
            let responses = &mut operation.responses.responses;
            for (status, description) in statuses {
                let key = status.to_string();
                if responses.contains_key(&key) {
                    continue;
                }
                let mut response = ResponseBuilder::new().description(description).content(
                    PROBLEM_JSON,
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                );
                if status == 429 {
                    response = response.header(
                        "Retry-After",
                        HeaderBuilder::new()
                            .schema(ObjectBuilder::new().schema_type(Type::Integer))
                            .description(Some("Seconds until a new try can pass"))
                            .build(),
                    );
                }
                responses.insert(key, response.build().into());
            }
        }
    }
}

/// What JSON Schema can say and utoipa cannot: a product's variants hold
/// each size at most once.
fn with_unique_sizes(mut document: Value) -> Value {
    let once_each: Vec<Value> = Size::ALL
        .iter()
        .map(|size| {
            json!({
                "contains": { "properties": { "size": { "const": size.as_str() } } },
                "minContains": 0,
                "maxContains": 1,
            })
        })
        .collect();
    for schema in ["NewProductRequest", "ProductRequest"] {
        if let Some(variants) = document
            .pointer_mut(&format!("/components/schemas/{schema}/properties/variants"))
            .and_then(Value::as_object_mut)
        {
            variants.insert("allOf".to_owned(), Value::Array(once_each.clone()));
        }
    }
    document
}

/// What JSON Schema can say and utoipa cannot: an email has at most
/// `rules::EMAIL_LOCAL_PART_MAX` characters before its `@`, a second
/// pattern beside `rules::EMAIL` on every schema that states it.
fn with_short_local_parts(mut document: Value) -> Value {
    fn visit(value: &mut Value) {
        match value {
            Value::Object(object) => {
                if object.get("pattern").and_then(Value::as_str) == Some(rules::EMAIL) {
                    object.insert(
                        "not".to_owned(),
                        json!({ "pattern": rules::EMAIL_LONG_LOCAL_PART }),
                    );
                }
                object.values_mut().for_each(visit);
            }
            Value::Array(items) => items.iter_mut().for_each(visit),
            _ => {}
        }
    }
    visit(&mut document);
    document
}

/// The document as served.
pub static DOCUMENT: LazyLock<Value> = LazyLock::new(|| {
    let document = serde_json::to_value(document()).expect("the document serialises");
    with_short_local_parts(with_unique_sizes(document))
});

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/docs",
        web::get().to(|| async {
            HttpResponse::PermanentRedirect()
                .insert_header(("location", "/docs/"))
                .finish()
        }),
    )
    .service(
        SwaggerUi::new("/docs/{_:.*}").external_url_unchecked("/openapi.json", DOCUMENT.clone()),
    );
}
