//! `storefront seed`: a demo catalogue of a few hundred products across
//! categories, sizes, prices and stock levels, for demos and benchmarks.
//! Generated, not random: the same run gives the same catalogue, and a
//! product whose title exists already is left alone, so seeding twice adds
//! nothing.

use crate::domain::{Faq, NewProduct, Size, Variant};
use crate::store::{ProductStore, StoreError};

const COLOURS: [&str; 8] = [
    "Black", "Ivory", "Navy", "Olive", "Rust", "Sage", "Plum", "Sand",
];

/// Category, dress type, item, material, keywords, base price in cents.
type Item = (
    &'static str,
    Option<&'static str>,
    &'static str,
    &'static str,
    &'static [&'static str],
    i64,
);

const ITEMS: [Item; 36] = [
    (
        "dresses",
        Some("maxi"),
        "maxi dress",
        "linen",
        &["summer", "breathable"],
        8900,
    ),
    (
        "dresses",
        Some("midi"),
        "wrap dress",
        "viscose",
        &["office", "flowy"],
        7400,
    ),
    (
        "dresses",
        Some("mini"),
        "slip dress",
        "silk",
        &["party", "evening"],
        12900,
    ),
    (
        "dresses",
        Some("shirt"),
        "shirt dress",
        "cotton",
        &["casual", "buttoned"],
        6500,
    ),
    (
        "dresses",
        Some("bodycon"),
        "knit dress",
        "merino",
        &["winter", "warm"],
        9900,
    ),
    (
        "dresses",
        Some("a-line"),
        "sundress",
        "cotton",
        &["beach", "summer"],
        4900,
    ),
    (
        "tops",
        None,
        "crew tee",
        "organic cotton",
        &["basic", "everyday"],
        1900,
    ),
    (
        "tops",
        None,
        "linen shirt",
        "linen",
        &["summer", "breathable"],
        4500,
    ),
    (
        "tops",
        None,
        "silk blouse",
        "silk",
        &["office", "elegant"],
        8900,
    ),
    (
        "tops",
        None,
        "rib tank",
        "cotton",
        &["layering", "basic"],
        1500,
    ),
    (
        "tops",
        None,
        "oversized hoodie",
        "fleece",
        &["cozy", "casual"],
        5900,
    ),
    (
        "tops",
        None,
        "polo shirt",
        "piqué cotton",
        &["smart", "casual"],
        3500,
    ),
    (
        "knitwear",
        None,
        "cable sweater",
        "wool",
        &["winter", "warm"],
        9500,
    ),
    (
        "knitwear",
        None,
        "cardigan",
        "cashmere",
        &["soft", "layering"],
        14900,
    ),
    (
        "knitwear",
        None,
        "turtleneck",
        "merino",
        &["winter", "office"],
        7900,
    ),
    (
        "knitwear",
        None,
        "knit vest",
        "alpaca",
        &["layering", "warm"],
        6900,
    ),
    (
        "jackets",
        None,
        "denim jacket",
        "denim",
        &["casual", "spring"],
        7900,
    ),
    (
        "jackets",
        None,
        "rain coat",
        "recycled nylon",
        &["waterproof", "autumn"],
        12900,
    ),
    (
        "jackets",
        None,
        "wool coat",
        "wool",
        &["winter", "classic"],
        22900,
    ),
    (
        "jackets",
        None,
        "bomber jacket",
        "satin",
        &["street", "spring"],
        9900,
    ),
    (
        "jackets",
        None,
        "puffer jacket",
        "down",
        &["winter", "warm"],
        17900,
    ),
    (
        "trousers",
        None,
        "wide-leg trousers",
        "linen",
        &["summer", "relaxed"],
        6900,
    ),
    (
        "trousers",
        None,
        "straight jeans",
        "denim",
        &["everyday", "classic"],
        7900,
    ),
    (
        "trousers",
        None,
        "chinos",
        "cotton twill",
        &["smart", "casual"],
        5900,
    ),
    (
        "trousers",
        None,
        "joggers",
        "fleece",
        &["lounge", "cozy"],
        4500,
    ),
    (
        "trousers",
        None,
        "tailored trousers",
        "wool blend",
        &["office", "smart"],
        8900,
    ),
    (
        "skirts",
        None,
        "pleated skirt",
        "chiffon",
        &["flowy", "elegant"],
        5900,
    ),
    (
        "skirts",
        None,
        "denim skirt",
        "denim",
        &["casual", "summer"],
        4900,
    ),
    (
        "skirts",
        None,
        "pencil skirt",
        "wool blend",
        &["office", "smart"],
        6500,
    ),
    (
        "activewear",
        None,
        "running tights",
        "recycled polyester",
        &["sport", "stretch"],
        5500,
    ),
    (
        "activewear",
        None,
        "sports bra",
        "recycled polyester",
        &["sport", "support"],
        3900,
    ),
    (
        "activewear",
        None,
        "track jacket",
        "nylon",
        &["sport", "retro"],
        6900,
    ),
    (
        "sleepwear",
        None,
        "pyjama set",
        "cotton poplin",
        &["sleep", "soft"],
        5900,
    ),
    (
        "sleepwear",
        None,
        "robe",
        "waffle cotton",
        &["lounge", "spa"],
        6900,
    ),
    (
        "accessories",
        None,
        "scarf",
        "silk",
        &["gift", "elegant"],
        3900,
    ),
    (
        "accessories",
        None,
        "beanie",
        "merino",
        &["winter", "warm"],
        2500,
    ),
];

/// A small deterministic mixer, so each product gets its own stable numbers.
fn mix(seed: u64) -> u64 {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^ (x >> 29)
}

/// Every product of the demo catalogue: each item in each colour.
pub fn demo_catalogue() -> Vec<NewProduct> {
    let mut products = Vec::new();
    for (item_index, (category, dress_type, item, material, keywords, base_price)) in
        ITEMS.iter().enumerate()
    {
        for (colour_index, colour) in COLOURS.iter().enumerate() {
            let n = mix((item_index * COLOURS.len() + colour_index) as u64);
            let discount = [0u8, 0, 0, 10, 15, 20, 30, 50][(n % 8) as usize];
            let price = base_price + ((n >> 8) % 5) as i64 * 500;
            let variants = Size::ALL
                .iter()
                .enumerate()
                .filter(|(index, _)| (n >> (16 + index)) & 0b11 != 0 || *index == 1)
                .map(|(index, size)| Variant {
                    size: *size,
                    // About one variant in six is sold out.
                    stock: match (n >> (24 + 3 * index)) % 6 {
                        0 => 0,
                        level => level as i64 * 4,
                    },
                })
                .collect();
            let mut relevant_keywords: Vec<String> =
                keywords.iter().map(|k| k.to_string()).collect();
            relevant_keywords.push(colour.to_lowercase());
            relevant_keywords.push(material.to_string());
            products.push(NewProduct {
                title: format!("{colour} {material} {item}"),
                description: format!(
                    "A {item} in {material}, dyed {colour_lower}. Cut for an easy fit and made to last; \
                     machine wash cold, dry flat. Part of our {category} collection.",
                    colour_lower = colour.to_lowercase()
                ),
                price,
                discount_percentage: discount,
                category: category.to_string(),
                dress_type: dress_type.map(str::to_owned),
                relevant_keywords,
                image_url: vec![format!(
                    "https://images.storefront.example/{category}/{}-{}.jpg",
                    item.replace(' ', "-"),
                    colour.to_lowercase()
                )],
                faq: vec![Faq {
                    question: "How does it fit?".to_owned(),
                    answer: "True to size; take your usual size.".to_owned(),
                }],
                variants,
            });
        }
    }
    products
}

/// Adds the demo products that are not there yet; returns how many it added.
pub async fn seed(store: &dyn ProductStore, currency: &str) -> Result<usize, StoreError> {
    let mut added = 0;
    for product in demo_catalogue() {
        if store.product_id_by_title(&product.title).await?.is_none() {
            store.create_product(&product, currency).await?;
            added += 1;
        }
    }
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ProductFields;

    #[test]
    fn a_few_hundred_valid_distinct_products() {
        let products = demo_catalogue();
        assert_eq!(products.len(), 288);
        let mut titles: Vec<_> = products.iter().map(|p| p.title.as_str()).collect();
        titles.sort();
        titles.dedup();
        assert_eq!(titles.len(), products.len(), "titles are unique");
        for product in &products {
            // The demo data passes the same rules as an admin's input.
            let fields = ProductFields {
                title: Some(product.title.clone()),
                description: Some(product.description.clone()),
                price: Some(product.price),
                discount_percentage: Some(i64::from(product.discount_percentage)),
                category: Some(product.category.clone()),
                dress_type: product.dress_type.clone(),
                relevant_keywords: Some(product.relevant_keywords.clone()),
                image_url: Some(product.image_url.clone()),
                faq: Some(product.faq.clone()),
                variants: Some(product.variants.clone()),
            };
            assert_eq!(&fields.into_new().unwrap(), product);
        }
        assert!(
            products
                .iter()
                .any(|p| p.variants.iter().any(|v| v.stock == 0)),
            "some sizes are sold out"
        );
        assert!(
            products.iter().any(|p| p.discount_percentage > 0),
            "some products are on sale"
        );
        let mut categories: Vec<_> = products.iter().map(|p| p.category.as_str()).collect();
        categories.dedup();
        assert!(categories.len() >= 8);
    }
}
