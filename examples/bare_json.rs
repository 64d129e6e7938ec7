//! Baseline for `bench/catalogue.sh`: a bare actix-web server answering one
//! product-sized JSON document, with no actors, cache, database or
//! middleware. The catalogue benchmark reports storefront's numbers as ratios
//! to this one, measured in the same run.

use actix_web::{web, App, HttpResponse, HttpServer};
use serde_json::json;

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|raw| raw.parse().ok())
        .unwrap_or(8090);
    let product = web::Data::new(json!({
        "id": 1, "title": "Black linen maxi dress",
        "description": "A maxi dress in linen, dyed black. Cut for an easy fit and made to last.",
        "price": 8900, "currency": "USD", "discountPercentage": 15, "finalPrice": 7565,
        "category": "dresses", "dressType": "maxi",
        "relevantKeywords": ["summer", "breathable", "black", "linen"],
        "imageUrl": ["https://images.storefront.example/dresses/maxi-dress-black.jpg"],
        "faq": [{ "question": "How does it fit?", "answer": "True to size." }],
        "variants": [{ "size": "S", "stock": 4 }, { "size": "M", "stock": 8 }],
        "createdAt": "2026-11-25T00:00:00Z", "updatedAt": "2026-11-25T00:00:00Z"
    }));
    HttpServer::new(move || {
        App::new().app_data(product.clone()).route(
            "/products/{id}",
            web::get().to(|product: web::Data<serde_json::Value>| async move {
                HttpResponse::Ok().json(&**product)
            }),
        )
    })
    .bind(("127.0.0.1", port))?
    .run()
    .await
}
