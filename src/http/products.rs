//! The catalogue: anyone reads, admins write.

use actix_web::http::header::{self, Header};
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::conditional::{catalogue_answer, page_answer, Tagged};
use super::error::{ApiError, Problem};
use super::json::JsonBody;
use super::path_id::Id;
use super::session::Admin;
use super::{ask, schemas, AppState};
use crate::actors::product::ProductActor;
use crate::actors::product::{
    CreateProduct, DeleteProduct, GetProduct, ListCategories, PatchProduct, ReplaceProduct,
    SearchProducts, SetStock,
};
use crate::catalogue::{Facets, Listed, ProductFilter, ProductPage, ProductSort};
use crate::domain::{
    category_name, search_terms, Faq, NewProduct, Page, Product, ProductDraft, Size, Stock,
    ValidationError, Variant,
};

/// The order of a list.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
pub enum SortOrder {
    /// Best text match first; newest first without `q`.
    #[default]
    #[serde(rename = "relevance")]
    Relevance,
    #[serde(rename = "newest")]
    Newest,
    /// Cheapest first (by final price).
    #[serde(rename = "price")]
    Price,
    /// Dearest first.
    #[serde(rename = "-price")]
    PriceDescending,
}

fn price_bound_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    schemas::whole(0, i64::MAX, false).into()
}

fn category_filter_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    schemas::line(crate::domain::rules::CATEGORY_MAX, false).into()
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProductQuery {
    /// Words searched in title, description and keywords: every word must
    /// match, as a prefix. Only letters and digits count; without any, there
    /// is no text filter.
    pub q: Option<String>,
    /// Exactly this category, in any case.
    #[param(schema_with = category_filter_schema)]
    pub category: Option<String>,
    /// Only products with this size (in stock, with `inStock`).
    pub size: Option<Size>,
    /// Lowest final price, minor units.
    #[param(schema_with = price_bound_schema)]
    pub min_price: Option<i64>,
    /// Highest final price, minor units. Below `minPrice`, nothing matches.
    #[param(schema_with = price_bound_schema)]
    pub max_price: Option<i64>,
    /// Only products with stock (in `size`, when given).
    pub in_stock: Option<bool>,
    #[param(inline)]
    pub sort: Option<SortOrder>,
    /// 1 to 100, default 20.
    #[param(schema_with = schemas::page_limit)]
    pub limit: Option<i64>,
    /// Default 0.
    #[param(schema_with = schemas::page_offset)]
    pub offset: Option<i64>,
    /// `true`: the answer's `facets` counts, for the same search, the
    /// products of each category, size and price band.
    pub facets: Option<bool>,
}

impl ProductQuery {
    fn into_filter(self) -> Result<ProductFilter, ApiError> {
        let mut errors = Vec::new();
        let terms = self.q.as_deref().map(search_terms).unwrap_or_default();
        let sort = match self.sort.unwrap_or_default() {
            SortOrder::Relevance => ProductSort::Relevance,
            SortOrder::Newest => ProductSort::Newest,
            SortOrder::Price => ProductSort::PriceAscending,
            SortOrder::PriceDescending => ProductSort::PriceDescending,
        };
        let page = Page::parse(self.limit, self.offset)
            .map_err(|mut invalid| errors.append(&mut invalid))
            .ok();
        for (field, price) in [("minPrice", self.min_price), ("maxPrice", self.max_price)] {
            if price.is_some_and(|price| price < 0) {
                errors.push(ValidationError::new(field, "must not be negative"));
            }
        }
        let category = self
            .category
            .and_then(|raw| category_name(&raw).map_err(|e| errors.push(e)).ok());
        let page = match page {
            Some(page) if errors.is_empty() => page,
            _ => return Err(ApiError::Validation(errors)),
        };
        Ok(ProductFilter {
            terms,
            category,
            size: self.size,
            min_price: self.min_price,
            max_price: self.max_price,
            in_stock: self.in_stock.unwrap_or(false),
            sort,
            limit: page.limit,
            offset: page.offset,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FaqBody<'a> {
    pub question: &'a str,
    pub answer: &'a str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VariantBody {
    pub size: Size,
    pub stock: i64,
}

/// A product as clients see it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Product)]
pub struct ProductBody<'a> {
    pub id: i64,
    pub title: &'a str,
    pub description: &'a str,
    /// Minor units (cents).
    pub price: i64,
    /// ISO 4217.
    pub currency: &'a str,
    pub discount_percentage: u8,
    /// `round(price * (100 - discountPercentage) / 100)`, minor units.
    pub final_price: i64,
    pub category: &'a str,
    pub dress_type: Option<&'a str>,
    pub relevant_keywords: Vec<&'a str>,
    pub image_url: Vec<&'a str>,
    pub faq: Vec<FaqBody<'a>>,
    /// From S to XXL.
    pub variants: Vec<VariantBody>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl<'a> From<&'a Product> for ProductBody<'a> {
    fn from(product: &'a Product) -> ProductBody<'a> {
        ProductBody {
            id: product.id,
            title: &product.title,
            description: &product.description,
            price: product.price,
            currency: &product.currency,
            discount_percentage: product.discount_percentage,
            final_price: product.final_price,
            category: &product.category,
            dress_type: product.dress_type.as_deref(),
            relevant_keywords: product
                .relevant_keywords
                .iter()
                .map(String::as_str)
                .collect(),
            image_url: product.image_url.iter().map(String::as_str).collect(),
            faq: product
                .faq
                .iter()
                .map(|entry| FaqBody {
                    question: &entry.question,
                    answer: &entry.answer,
                })
                .collect(),
            variants: product
                .variants
                .iter()
                .map(|variant| VariantBody {
                    size: variant.size,
                    stock: variant.stock,
                })
                .collect(),
            created_at: product.created_at,
            updated_at: product.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProductList<'a> {
    pub items: Vec<ProductBody<'a>>,
    pub total: u64,
    pub limit: u32,
    pub offset: u64,
    /// With `facets=true`: how many products each choice would give.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub facets: Option<FacetsBody<'a>>,
}

/// How many products of the search each choice of a filter would give: the
/// same search with that filter (category, size in stock, price band) set
/// to the choice instead of the one asked.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Facets)]
pub struct FacetsBody<'a> {
    /// By name; only categories with products in the search.
    pub categories: Vec<CategoryFacet<'a>>,
    /// S to XXL: the products with stock in each.
    pub sizes: Vec<SizeFacet>,
    /// By `finalPrice`, cheapest band first (`catalogue.price_bands`).
    pub prices: Vec<PriceFacet>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryFacet<'a> {
    pub name: &'a str,
    pub products: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SizeFacet {
    pub size: Size,
    pub products: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PriceFacet {
    /// The lowest final price of the band, minor units.
    pub min: i64,
    /// The first price above it; `null` for the last band.
    pub below: Option<i64>,
    pub products: u64,
}

impl<'a> From<&'a Facets> for FacetsBody<'a> {
    fn from(facets: &'a Facets) -> Self {
        FacetsBody {
            categories: facets
                .categories
                .iter()
                .map(|(name, products)| CategoryFacet {
                    name,
                    products: *products,
                })
                .collect(),
            sizes: facets
                .sizes
                .iter()
                .map(|(size, products)| SizeFacet {
                    size: *size,
                    products: *products,
                })
                .collect(),
            prices: facets
                .prices
                .iter()
                .map(|band| PriceFacet {
                    min: band.min,
                    below: band.below,
                    products: band.products,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FaqRequest {
    #[schema(schema_with = schemas::question)]
    pub question: String,
    #[schema(schema_with = schemas::answer)]
    pub answer: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VariantRequest {
    pub size: Size,
    #[serde(deserialize_with = "super::json::integer")]
    #[schema(schema_with = schemas::stock)]
    pub stock: i64,
}

fn faq(entries: Option<Vec<FaqRequest>>) -> Option<Vec<Faq>> {
    entries.map(|entries| {
        entries
            .into_iter()
            .map(|entry| Faq {
                question: entry.question,
                answer: entry.answer,
            })
            .collect()
    })
}

fn variants(entries: Option<Vec<VariantRequest>>) -> Option<Vec<Variant>> {
    entries.map(|entries| {
        entries
            .into_iter()
            .map(|entry| Variant {
                size: entry.size,
                stock: entry.stock,
            })
            .collect()
    })
}

/// A product as an admin sends it: a whole one to create or replace
/// (title, price and category required, see `NewProductRequest`), or the
/// fields to change (only those present and not null change; without
/// `variants`, the stock is left as it is). `variants` holds each size at
/// most once.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProductRequest {
    #[schema(schema_with = schemas::optional_title)]
    pub title: Option<String>,
    #[schema(schema_with = schemas::optional_description)]
    pub description: Option<String>,
    /// Minor units (cents).
    #[serde(default, deserialize_with = "super::json::optional_integer")]
    #[schema(schema_with = schemas::optional_price)]
    pub price: Option<i64>,
    #[serde(default, deserialize_with = "super::json::optional_integer")]
    #[schema(schema_with = schemas::optional_discount)]
    pub discount_percentage: Option<i64>,
    #[schema(schema_with = schemas::optional_category)]
    pub category: Option<String>,
    #[schema(schema_with = schemas::optional_dress_type)]
    pub dress_type: Option<String>,
    #[schema(schema_with = schemas::optional_keywords)]
    pub relevant_keywords: Option<Vec<String>>,
    #[schema(schema_with = schemas::optional_image_urls)]
    pub image_url: Option<Vec<String>>,
    pub faq: Option<Vec<FaqRequest>>,
    pub variants: Option<Vec<VariantRequest>>,
}

impl From<ProductRequest> for ProductDraft {
    fn from(request: ProductRequest) -> ProductDraft {
        ProductDraft {
            title: request.title,
            description: request.description,
            price: request.price,
            discount_percentage: request.discount_percentage,
            category: request.category,
            dress_type: request.dress_type,
            relevant_keywords: request.relevant_keywords,
            image_url: request.image_url,
            faq: faq(request.faq),
            variants: variants(request.variants),
        }
    }
}

/// The schema of a whole product: `ProductRequest` with its required
/// fields. The body is read as a `ProductRequest`, so that every missing
/// field is named in the answer, not only the first.
pub struct NewProductRequest;

impl utoipa::PartialSchema for NewProductRequest {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        schemas::requiring(
            <ProductRequest as utoipa::PartialSchema>::schema(),
            &[
                ("title", schemas::title()),
                ("price", schemas::price()),
                ("category", schemas::category()),
            ],
        )
    }
}

impl ToSchema for NewProductRequest {}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockBody {
    #[serde(deserialize_with = "super::json::integer")]
    #[schema(schema_with = schemas::stock)]
    pub stock: i64,
}

/// A product's answer: its body, with its version as the ETag.
fn product_response(
    mut response: actix_web::HttpResponseBuilder,
    product: &Product,
) -> HttpResponse {
    response
        .insert_header((header::ETAG, format!("\"{}\"", product.version)))
        .json(ProductBody::from(product))
}

/// A product of the catalogue as a catalogue answer, from its rendered
/// JSON; its version is its tag.
fn listed_response(req: &HttpRequest, state: &AppState, listed: &Listed) -> HttpResponse {
    let body = match listed.json() {
        Some(json) => json.clone(),
        None => render_product(listed),
    };
    catalogue_answer(
        req,
        &state.catalogue,
        &Tagged::product(listed.id, listed.version),
        body,
    )
}

/// A product as clients receive it; the catalogue keeps every product
/// rendered by this, once per version.
pub fn render_product(product: &Product) -> Bytes {
    Bytes::from(serde_json::to_vec(&ProductBody::from(product)).expect("plain data serialises"))
}

/// A `ProductList` written from the items' rendered JSON: the same bytes
/// serde would write, copied instead of serialised.
fn list_body(page: &ProductPage, facets: Option<&Facets>, limit: u32, offset: u64) -> Bytes {
    let rendered: Option<Vec<&Bytes>> = page.items.iter().map(|item| item.json()).collect();
    let Some(rendered) = rendered else {
        let list = ProductList {
            items: page
                .items
                .iter()
                .map(|item| ProductBody::from(&***item))
                .collect(),
            total: page.total,
            limit,
            offset,
            facets: facets.map(FacetsBody::from),
        };
        return Bytes::from(serde_json::to_vec(&list).expect("plain data serialises"));
    };
    let facets = match facets {
        Some(facets) => format!(
            ",\"facets\":{}",
            serde_json::to_string(&FacetsBody::from(facets)).expect("plain data serialises")
        ),
        None => String::new(),
    };
    let tail = format!(
        "],\"total\":{},\"limit\":{limit},\"offset\":{offset}{facets}}}",
        page.total
    );
    let mut body = Vec::with_capacity(
        rendered.iter().map(|json| json.len() + 1).sum::<usize>() + tail.len() + 10,
    );
    body.extend_from_slice(b"{\"items\":[");
    for (position, json) in rendered.iter().enumerate() {
        if position > 0 {
            body.push(b',');
        }
        body.extend_from_slice(json);
    }
    body.extend_from_slice(tail.as_bytes());
    Bytes::from(body)
}

/// The version an `If-Match` header names: `None` without one (or with `*`).
fn expected_version(req: &HttpRequest) -> Result<Option<i64>, ApiError> {
    if !req.headers().contains_key(header::IF_MATCH) {
        return Ok(None);
    }
    let refused =
        || ApiError::BadRequest("If-Match must hold one ETag this server gave, like \"3\"".into());
    match header::IfMatch::parse(req).map_err(|_| refused())? {
        header::IfMatch::Any => Ok(None),
        header::IfMatch::Items(tags) => match tags.as_slice() {
            [tag] => tag.tag().parse().map(Some).map_err(|_| refused()),
            _ => Err(refused()),
        },
    }
}

/// Lists and searches the catalogue.
#[utoipa::path(get, path = "/products", tag = "products", params(ProductQuery),
    responses(
        (status = 200, description = "A page of products; its ETag changes exactly when its bytes do", body = ProductList),
        (status = 304, description = "Unchanged since the ETag named in If-None-Match"),
        (status = 400, description = "Invalid query", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_products(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<ProductQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let facets = query.facets.unwrap_or(false);
    let filter = query.into_filter()?;
    let (limit, offset) = (filter.limit, filter.offset);
    let found = ask(
        state.registry.get::<ProductActor>(),
        SearchProducts {
            filter: filter.clone(),
            facets,
        },
        "product",
    )
    .await?;
    let page = state
        .catalogue
        .pages
        .get(found.version, filter, facets, || {
            list_body(&found.page, found.facets.as_deref(), limit, offset)
        });
    Ok(page_answer(&req, &state.catalogue, &page))
}

/// A category as clients see it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Category)]
pub struct CategoryBody<'a> {
    /// As the newest of its products spells it; `GET /products?category=`
    /// takes it in any case.
    pub name: &'a str,
    pub products: u64,
    /// Of those, the ones with stock in some size.
    pub in_stock: u64,
}

/// Every category of the catalogue with its product counts, by name: what
/// a front end builds its navigation from.
#[utoipa::path(get, path = "/categories", tag = "products",
    responses(
        (status = 200, description = "Every category, by name", body = Vec<CategoryBody>),
        (status = 304, description = "Unchanged since the ETag named in If-None-Match"),
    ))]
pub async fn list_categories(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let categories = ask(
        state.registry.get::<ProductActor>(),
        ListCategories,
        "category",
    )
    .await?;
    let bodies: Vec<CategoryBody> = categories
        .iter()
        .map(|category| CategoryBody {
            name: &category.name,
            products: category.products,
            in_stock: category.in_stock,
        })
        .collect();
    let body = Bytes::from(serde_json::to_vec(&bodies).expect("plain data serialises"));
    Ok(catalogue_answer(
        &req,
        &state.catalogue,
        &Tagged::content(&body),
        body,
    ))
}

/// One product.
#[utoipa::path(get, path = "/products/{id}", tag = "products",
    params(("id" = i64, Path, description = "Product id")),
    responses(
        (status = 200, description = "The product; its version is its ETag", body = ProductBody),
        (status = 304, description = "Unchanged since the ETag named in If-None-Match"),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_product(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Id>,
) -> Result<HttpResponse, ApiError> {
    let product = ask(
        state.registry.get::<ProductActor>(),
        GetProduct {
            id: id.into_inner().get(),
        },
        "product",
    )
    .await?;
    Ok(listed_response(&req, &state, &product))
}

/// Adds a product (admins).
#[utoipa::path(post, path = "/products", tag = "products", security(("session" = [])), request_body = NewProductRequest,
    responses(
        (status = 201, description = "Created; Location names it", body = ProductBody),
        (status = 400, description = "Invalid product", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_product(
    state: web::Data<AppState>,
    _: Admin,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let product = NewProduct::parse(body.read::<ProductRequest>().await?.into())?;
    let product = ask(
        state.registry.get::<ProductActor>(),
        CreateProduct { product },
        "product",
    )
    .await?;
    let mut response = HttpResponse::Created();
    response.insert_header((header::LOCATION, format!("/products/{}", product.id)));
    Ok(product_response(response, &product))
}

/// Replaces a product (admins); title, price and category are required.
#[utoipa::path(put, path = "/products/{id}", tag = "products", security(("session" = [])), request_body = NewProductRequest,
    params(("id" = i64, Path, description = "Product id")),
    responses(
        (status = 200, description = "The product", body = ProductBody),
        (status = 400, description = "Invalid product", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn replace_product(
    state: web::Data<AppState>,
    _: Admin,
    req: HttpRequest,
    id: web::Path<Id>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let expected_version = expected_version(&req)?;
    let product = NewProduct::parse(body.read::<ProductRequest>().await?.into())?;
    let product = ask(
        state.registry.get::<ProductActor>(),
        ReplaceProduct {
            id: id.into_inner().get(),
            product,
            expected_version,
        },
        "product",
    )
    .await?;
    Ok(product_response(HttpResponse::Ok(), &product))
}

/// Changes some fields of a product (admins).
#[utoipa::path(patch, path = "/products/{id}", tag = "products", security(("session" = [])), request_body = ProductRequest,
    params(("id" = i64, Path, description = "Product id")),
    responses(
        (status = 200, description = "The product", body = ProductBody),
        (status = 400, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn patch_product(
    state: web::Data<AppState>,
    _: Admin,
    req: HttpRequest,
    id: web::Path<Id>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let expected_version = expected_version(&req)?;
    let patch = body.read::<ProductRequest>().await?.into();
    let product = ask(
        state.registry.get::<ProductActor>(),
        PatchProduct {
            id: id.into_inner().get(),
            patch,
            expected_version,
        },
        "product",
    )
    .await?;
    Ok(product_response(HttpResponse::Ok(), &product))
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
    req: HttpRequest,
    id: web::Path<Id>,
) -> Result<HttpResponse, ApiError> {
    let expected_version = expected_version(&req)?;
    ask(
        state.registry.get::<ProductActor>(),
        DeleteProduct {
            id: id.into_inner().get(),
            expected_version,
        },
        "product",
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Sets the stock of one size (admins).
#[utoipa::path(put, path = "/products/{id}/variants/{size}", tag = "products", security(("session" = [])), request_body = StockBody,
    params(("id" = i64, Path, description = "Product id"), ("size" = Size, Path)),
    responses(
        (status = 200, description = "The product", body = ProductBody),
        (status = 400, description = "Unknown size or invalid stock", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn set_stock(
    state: web::Data<AppState>,
    _: Admin,
    path: web::Path<(Id, String)>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let (id, size) = path.into_inner();
    let id = id.get();
    let size = Size::parse(&size).map_err(ApiError::field)?;
    let stock = Stock::parse(body.read::<StockBody>().await?.stock).map_err(ApiError::field)?;
    let product = ask(
        state.registry.get::<ProductActor>(),
        SetStock { id, size, stock },
        "product",
    )
    .await?;
    Ok(product_response(HttpResponse::Ok(), &product))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Faq, Size, Variant};
    use std::sync::Arc;

    fn product(id: i64, title: &str) -> Product {
        Product {
            id,
            title: title.into(),
            description: "With \"quotes\" and a newline\n".into(),
            price: 4900,
            currency: "USD".into(),
            discount_percentage: 10,
            final_price: 4410,
            category: "dresses".into(),
            dress_type: None,
            relevant_keywords: vec!["linen".into()],
            image_url: vec![],
            faq: vec![Faq {
                question: "Lined?".into(),
                answer: "No.".into(),
            }],
            variants: vec![Variant {
                size: Size::M,
                stock: 2,
            }],
            version: 3,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    /// The copied list is byte for byte what serde writes, for rendered
    /// items and for items from another node that carry no rendering.
    #[test]
    fn a_list_from_rendered_products_is_what_serde_writes() {
        let products = [product(1, "Linen dress"), product(2, "Ünïcode tee")];
        let facets = Facets {
            categories: vec![("Dresses".into(), 2)],
            sizes: vec![(Size::M, 2)],
            prices: vec![crate::catalogue::PriceBandCount {
                min: 0,
                below: None,
                products: 2,
            }],
        };
        let rendered = ProductPage {
            items: products
                .iter()
                .map(|product| Arc::new(Listed::rendered(product.clone(), render_product)))
                .collect(),
            total: 7,
        };
        let from_another_node: ProductPage =
            serde_json::from_slice(&serde_json::to_vec(&rendered).unwrap()).unwrap();
        assert!(from_another_node.items[0].json().is_none());
        for with_facets in [None, Some(&facets)] {
            let expected = serde_json::to_vec(&ProductList {
                items: products.iter().map(ProductBody::from).collect(),
                total: 7,
                limit: 2,
                offset: 4,
                facets: with_facets.map(FacetsBody::from),
            })
            .unwrap();
            assert_eq!(list_body(&rendered, with_facets, 2, 4), expected);
            assert_eq!(list_body(&from_another_node, with_facets, 2, 4), expected);
        }
        let empty = ProductPage {
            items: Vec::new(),
            total: 0,
        };
        assert_eq!(
            list_body(&empty, None, 20, 0),
            br#"{"items":[],"total":0,"limit":20,"offset":0}"#.as_slice()
        );
    }
}
