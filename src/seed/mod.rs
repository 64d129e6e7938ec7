//! `storefront seed`: a demo catalogue of a few hundred products across
//! categories, sizes, prices and stock levels, for demos and benchmarks. The
//! items and colours are data (`demo_catalogue.toml`); each product is every
//! item in every colour, with its numbers derived from its position, not
//! drawn at random: the same run gives the same catalogue. A product whose
//! title exists already is left alone, so seeding twice adds nothing.

use serde::Deserialize;

use crate::domain::{Faq, NewProduct, ProductDraft, Size, ValidationError, Variant};
use crate::store::{ProductStore, StoreError};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoCatalogue {
    colours: Vec<String>,
    items: Vec<DemoItem>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoItem {
    category: String,
    dress_type: Option<String>,
    item: String,
    material: String,
    keywords: Vec<String>,
    /// Minor units.
    base_price: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("the demo catalogue data is malformed")]
    Data(#[from] toml::de::Error),
    #[error("the demo product {title:?} breaks the catalogue's rules: {errors:?}")]
    Invalid {
        title: String,
        errors: Vec<ValidationError>,
    },
    #[error("cannot store the demo catalogue")]
    Store(#[from] StoreError),
}

/// A small deterministic mixer, so each product gets its own stable numbers.
fn mix(seed: u64) -> u64 {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^ (x >> 29)
}

/// Styles that make the generated products beyond the hand-written ones
/// distinct: every item in every colour in every style, then again with an
/// edition number.
const STYLES: [&str; 12] = [
    "Classic",
    "Relaxed",
    "Tailored",
    "Cropped",
    "Oversized",
    "Vintage",
    "Essential",
    "Organic",
    "Heritage",
    "Studio",
    "Weekend",
    "Travel",
];

/// The hand-written demo catalogue: each item in each colour (288 products).
pub fn demo_catalogue() -> Result<Vec<NewProduct>, SeedError> {
    let data: DemoCatalogue = toml::from_str(include_str!("demo_catalogue.toml"))?;
    catalogue_of(&data, data.items.len() * data.colours.len())
}

/// A catalogue of `count` products: the hand-written ones first, then
/// generated ones, each derived from its position alone.
pub fn catalogue(count: usize) -> Result<Vec<NewProduct>, SeedError> {
    let data: DemoCatalogue = toml::from_str(include_str!("demo_catalogue.toml"))?;
    catalogue_of(&data, count)
}

fn catalogue_of(data: &DemoCatalogue, count: usize) -> Result<Vec<NewProduct>, SeedError> {
    let combinations = data.items.len() * data.colours.len();
    (0..count)
        .map(|position| {
            let within = position % combinations;
            let item = &data.items[within / data.colours.len()];
            let colour = &data.colours[within % data.colours.len()];
            let round = position / combinations;
            // Round 0 is the hand-written catalogue; then one round per style,
            // then the styles again with an edition number.
            let style = (round > 0).then(|| {
                let style = STYLES[(round - 1) % STYLES.len()];
                match (round - 1) / STYLES.len() {
                    0 => style.to_owned(),
                    edition => format!("{style} No. {}", edition + 1),
                }
            });
            demo_product(item, colour, style.as_deref(), mix(position as u64))
        })
        .collect()
}

/// One product of `item` in `colour` (and `style`, for generated ones),
/// with its numbers taken from the bits of `n`.
fn demo_product(
    item: &DemoItem,
    colour: &str,
    style: Option<&str>,
    n: u64,
) -> Result<NewProduct, SeedError> {
    let colour_lower = colour.to_lowercase();
    let DemoItem {
        category,
        dress_type,
        item: name,
        material,
        keywords,
        base_price,
    } = item;
    let discount = [0i64, 0, 0, 10, 15, 20, 30, 50][(n % 8) as usize];
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
    let mut relevant_keywords = keywords.clone();
    relevant_keywords.push(colour_lower.clone());
    relevant_keywords.push(material.clone());
    let title = match style {
        None => format!("{colour} {material} {name}"),
        Some(style) => {
            relevant_keywords.push(style.split(' ').next().unwrap_or(style).to_lowercase());
            format!("{style} {colour} {material} {name}")
        }
    };
    let draft = ProductDraft {
        title: Some(title.clone()),
        description: Some(format!(
            "A {name} in {material}, dyed {colour_lower}. Cut for an easy fit and made to last; \
             machine wash cold, dry flat. Part of our {category} collection."
        )),
        price: Some(base_price + ((n >> 8) % 5) as i64 * 500),
        discount_percentage: Some(discount),
        category: Some(category.clone()),
        dress_type: dress_type.clone(),
        relevant_keywords: Some(relevant_keywords),
        image_url: Some(vec![format!(
            "https://images.storefront.example/{category}/{}-{colour_lower}.jpg",
            name.replace(' ', "-"),
        )]),
        faq: Some(vec![Faq {
            question: "How does it fit?".to_owned(),
            answer: "True to size; take your usual size.".to_owned(),
        }]),
        variants: Some(variants),
    };
    NewProduct::parse(draft).map_err(|errors| SeedError::Invalid { title, errors })
}

/// Products written per transaction: big enough to be fast, small enough
/// not to hold SQLite's write lock for long.
const BATCH: usize = 500;

/// Adds the first `count` products of `catalogue(count)` that are not there
/// yet (by title); returns how many it added.
pub async fn seed(
    store: &dyn ProductStore,
    currency: &str,
    count: usize,
) -> Result<usize, SeedError> {
    let present: std::collections::HashSet<String> =
        store.live_titles().await?.into_iter().collect();
    let missing: Vec<NewProduct> = catalogue(count)?
        .into_iter()
        .filter(|product| !present.contains(product.title()))
        .collect();
    for batch in missing.chunks(BATCH) {
        store.create_products(batch, currency).await?;
    }
    Ok(missing.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_few_hundred_valid_distinct_products() {
        let products = demo_catalogue().unwrap();
        assert_eq!(products.len(), 288);
        let mut titles: Vec<_> = products.iter().map(|p| p.title()).collect();
        titles.sort();
        titles.dedup();
        assert_eq!(titles.len(), products.len(), "titles are unique");
        assert!(
            products
                .iter()
                .any(|p| p.variants().iter().any(|v| v.stock == 0)),
            "some sizes are sold out"
        );
        assert!(
            products.iter().any(|p| p.discount_percentage() > 0),
            "some products are on sale"
        );
        let mut categories: Vec<_> = products.iter().map(|p| p.category()).collect();
        categories.dedup();
        assert!(categories.len() >= 8);
    }

    #[test]
    fn the_catalogue_is_the_same_every_time() {
        assert_eq!(demo_catalogue().unwrap(), demo_catalogue().unwrap());
    }

    #[test]
    fn a_large_catalogue_starts_with_the_demo_and_is_deterministic() {
        let large = catalogue(20_000).unwrap();
        assert_eq!(large.len(), 20_000);
        assert_eq!(large[..288], demo_catalogue().unwrap()[..]);
        assert_eq!(large, catalogue(20_000).unwrap());
        let titles: std::collections::HashSet<_> = large.iter().map(|p| p.title()).collect();
        assert_eq!(titles.len(), large.len(), "titles are unique");
        assert_eq!(catalogue(10).unwrap()[..], large[..10]);
    }
}
