//! The catalogue: anyone reads, admins write.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, Problem};
use super::session::Admin;
use super::{ask, AppState};
use crate::actors::product::{
    CreateProduct, DeleteProduct, GetProduct, PatchProduct, ReplaceProduct, SearchProducts,
    SetStock,
};
use crate::domain::{search_terms, stock_level, Product, ProductFields, Size, ValidationError};
use crate::store::{ProductFilter, ProductSort};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/products")
            .route(web::get().to(list_products))
            .route(web::post().to(create_product)),
    )
    .service(
        web::resource("/products/{id}")
            .route(web::get().to(get_product))
            .route(web::put().to(replace_product))
            .route(web::patch().to(patch_product))
            .route(web::delete().to(delete_product)),
    )
    .service(web::resource("/products/{id}/variants/{size}").route(web::put().to(set_stock)));
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProductQuery {
    /// Words searched in title, description and keywords (all must match, as prefixes).
    pub q: Option<String>,
    pub category: Option<String>,
    /// S, M, L, XL or XXL.
    pub size: Option<String>,
    /// Lowest final price, minor units.
    pub min_price: Option<i64>,
    /// Highest final price, minor units.
    pub max_price: Option<i64>,
    /// Only products with stock (in `size`, when given).
    pub in_stock: Option<bool>,
    /// relevance (default), newest, price, -price.
    pub sort: Option<String>,
    /// 1 to 100, default 20.
    pub limit: Option<i64>,
    /// Default 0.
    pub offset: Option<i64>,
}

impl ProductQuery {
    fn into_filter(self) -> Result<ProductFilter, ApiError> {
        let mut errors = Vec::new();
        let terms = match &self.q {
            Some(q) => {
                let terms = search_terms(q);
                if terms.is_empty() {
                    errors.push(ValidationError::new("q", "must hold a letter or a digit"));
                }
                terms
            }
            None => Vec::new(),
        };
        let size = self
            .size
            .as_deref()
            .and_then(|raw| Size::parse(raw).map_err(|e| errors.push(e)).ok());
        let sort = match self.sort.as_deref() {
            None | Some("relevance") => ProductSort::Relevance,
            Some("newest") => ProductSort::Newest,
            Some("price") => ProductSort::PriceAscending,
            Some("-price") => ProductSort::PriceDescending,
            Some(_) => {
                errors.push(ValidationError::new(
                    "sort",
                    "must be relevance, newest, price or -price",
                ));
                ProductSort::Relevance
            }
        };
        let limit = self.limit.unwrap_or(20);
        if !(1..=100).contains(&limit) {
            errors.push(ValidationError::new("limit", "must be between 1 and 100"));
        }
        let offset = self.offset.unwrap_or(0);
        if offset < 0 {
            errors.push(ValidationError::new("offset", "must not be negative"));
        }
        for (field, price) in [("minPrice", self.min_price), ("maxPrice", self.max_price)] {
            if price.is_some_and(|price| price < 0) {
                errors.push(ValidationError::new(field, "must not be negative"));
            }
        }
        if let (Some(min), Some(max)) = (self.min_price, self.max_price) {
            if min > max {
                errors.push(ValidationError::new("minPrice", "must not exceed maxPrice"));
            }
        }
        let category = self
            .category
            .map(|category| category.trim().to_owned())
            .filter(|c| !c.is_empty());
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        Ok(ProductFilter {
            terms,
            category,
            size,
            min_price: self.min_price,
            max_price: self.max_price,
            in_stock: self.in_stock.unwrap_or(false),
            sort,
            limit: limit as u32,
            offset: offset as u64,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProductList {
    pub items: Vec<Product>,
    pub total: u64,
    pub limit: u32,
    pub offset: u64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockBody {
    pub stock: i64,
}

/// Lists and searches the catalogue.
#[utoipa::path(get, path = "/products", tag = "products", params(ProductQuery),
    responses(
        (status = 200, description = "A page of products", body = ProductList),
        (status = 400, description = "Invalid query", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_products(
    state: web::Data<AppState>,
    query: web::Query<ProductQuery>,
) -> Result<HttpResponse, ApiError> {
    let filter = query.into_inner().into_filter()?;
    let (limit, offset) = (filter.limit, filter.offset);
    let page = ask(
        state.registry.product(),
        SearchProducts { filter },
        "product",
    )
    .await?;
    Ok(HttpResponse::Ok().json(ProductList {
        items: page.items,
        total: page.total,
        limit,
        offset,
    }))
}

/// One product.
#[utoipa::path(get, path = "/products/{id}", tag = "products",
    params(("id" = i64, Path, description = "Product id")),
    responses(
        (status = 200, description = "The product", body = Product),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_product(
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let product = ask(
        state.registry.product(),
        GetProduct {
            id: id.into_inner(),
        },
        "product",
    )
    .await?;
    Ok(HttpResponse::Ok().json(&*product))
}

/// Adds a product (admins).
#[utoipa::path(post, path = "/products", tag = "products", security(("session" = [])), request_body = ProductFields,
    responses(
        (status = 201, description = "Created; Location names it", body = Product),
        (status = 400, description = "Invalid product", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_product(
    state: web::Data<AppState>,
    _: Admin,
    body: web::Json<ProductFields>,
) -> Result<HttpResponse, ApiError> {
    let product = body.into_inner().into_new()?;
    let product = ask(
        state.registry.product(),
        CreateProduct { product },
        "product",
    )
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/products/{}", product.id)))
        .json(product))
}

/// Replaces a product (admins); title, price and category are required.
#[utoipa::path(put, path = "/products/{id}", tag = "products", security(("session" = [])), request_body = ProductFields,
    params(("id" = i64, Path, description = "Product id")),
    responses(
        (status = 200, description = "The product", body = Product),
        (status = 400, description = "Invalid product", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn replace_product(
    state: web::Data<AppState>,
    _: Admin,
    id: web::Path<i64>,
    body: web::Json<ProductFields>,
) -> Result<HttpResponse, ApiError> {
    let product = body.into_inner().into_new()?;
    let product = ask(
        state.registry.product(),
        ReplaceProduct {
            id: id.into_inner(),
            product,
        },
        "product",
    )
    .await?;
    Ok(HttpResponse::Ok().json(product))
}

/// Changes some fields of a product (admins).
#[utoipa::path(patch, path = "/products/{id}", tag = "products", security(("session" = [])), request_body = ProductFields,
    params(("id" = i64, Path, description = "Product id")),
    responses(
        (status = 200, description = "The product", body = Product),
        (status = 400, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn patch_product(
    state: web::Data<AppState>,
    _: Admin,
    id: web::Path<i64>,
    body: web::Json<ProductFields>,
) -> Result<HttpResponse, ApiError> {
    let product = ask(
        state.registry.product(),
        PatchProduct {
            id: id.into_inner(),
            fields: body.into_inner(),
        },
        "product",
    )
    .await?;
    Ok(HttpResponse::Ok().json(product))
}

/// Removes a product from the catalogue (admins); orders keep their lines.
#[utoipa::path(delete, path = "/products/{id}", tag = "products", security(("session" = [])),
    params(("id" = i64, Path, description = "Product id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete_product(
    state: web::Data<AppState>,
    _: Admin,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    ask(
        state.registry.product(),
        DeleteProduct {
            id: id.into_inner(),
        },
        "product",
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Sets the stock of one size (admins).
#[utoipa::path(put, path = "/products/{id}/variants/{size}", tag = "products", security(("session" = [])), request_body = StockBody,
    params(("id" = i64, Path, description = "Product id"), ("size" = String, Path, description = "S, M, L, XL or XXL")),
    responses(
        (status = 200, description = "The product", body = Product),
        (status = 400, description = "Unknown size or invalid stock", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn set_stock(
    state: web::Data<AppState>,
    _: Admin,
    path: web::Path<(i64, String)>,
    body: web::Json<StockBody>,
) -> Result<HttpResponse, ApiError> {
    let (id, size) = path.into_inner();
    let size = Size::parse(&size).map_err(ApiError::field)?;
    let stock = stock_level(body.stock).map_err(ApiError::field)?;
    let product = ask(
        state.registry.product(),
        SetStock { id, size, stock },
        "product",
    )
    .await?;
    Ok(HttpResponse::Ok().json(product))
}
