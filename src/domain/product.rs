//! The catalogue's rules: what a product is, what makes one valid, and its
//! price after discount.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{bounded_text, ValidationError};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
pub enum Size {
    S,
    M,
    L,
    XL,
    XXL,
}

impl Size {
    pub const ALL: [Size; 5] = [Size::S, Size::M, Size::L, Size::XL, Size::XXL];

    pub fn as_str(self) -> &'static str {
        match self {
            Size::S => "S",
            Size::M => "M",
            Size::L => "L",
            Size::XL => "XL",
            Size::XXL => "XXL",
        }
    }

    pub fn parse(raw: &str) -> Result<Size, ValidationError> {
        Size::ALL
            .into_iter()
            .find(|size| size.as_str() == raw)
            .ok_or_else(|| ValidationError::new("size", "must be one of S, M, L, XL, XXL"))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Faq {
    pub question: String,
    pub answer: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    pub size: Size,
    pub stock: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    pub id: i64,
    pub title: String,
    pub description: String,
    /// Minor units (cents).
    pub price: i64,
    pub currency: String,
    pub discount_percentage: u8,
    /// `round(price * (100 - discountPercentage) / 100)`, minor units.
    pub final_price: i64,
    pub category: String,
    pub dress_type: Option<String>,
    pub relevant_keywords: Vec<String>,
    pub image_url: Vec<String>,
    pub faq: Vec<Faq>,
    pub variants: Vec<Variant>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `price` after `discount` percent off, rounded half up to a minor unit.
pub fn final_price(price: i64, discount: u8) -> i64 {
    let kept = i128::from(price) * i128::from(100 - discount.min(100));
    ((kept + 50) / 100) as i64
}

/// A product as an admin sends it: every field optional, so one shape serves
/// creation and replacement (where some are required) and partial updates.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProductFields {
    pub title: Option<String>,
    pub description: Option<String>,
    pub price: Option<i64>,
    pub discount_percentage: Option<i64>,
    pub category: Option<String>,
    pub dress_type: Option<String>,
    pub relevant_keywords: Option<Vec<String>>,
    pub image_url: Option<Vec<String>>,
    pub faq: Option<Vec<Faq>>,
    pub variants: Option<Vec<Variant>>,
}

/// A complete, valid product without its identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProduct {
    pub title: String,
    pub description: String,
    pub price: i64,
    pub discount_percentage: u8,
    pub category: String,
    pub dress_type: Option<String>,
    pub relevant_keywords: Vec<String>,
    pub image_url: Vec<String>,
    pub faq: Vec<Faq>,
    pub variants: Vec<Variant>,
}

impl From<Product> for NewProduct {
    fn from(product: Product) -> NewProduct {
        NewProduct {
            title: product.title,
            description: product.description,
            price: product.price,
            discount_percentage: product.discount_percentage,
            category: product.category,
            dress_type: product.dress_type,
            relevant_keywords: product.relevant_keywords,
            image_url: product.image_url,
            faq: product.faq,
            variants: product.variants,
        }
    }
}

impl NewProduct {
    pub fn final_price(&self) -> i64 {
        final_price(self.price, self.discount_percentage)
    }
}

/// One billion in major units.
const MAX_PRICE: i64 = 100_000_000_000;
const MAX_STOCK: i64 = 1_000_000_000;

impl ProductFields {
    /// A whole product (POST and PUT): title, price and category are required.
    pub fn into_new(self) -> Result<NewProduct, Vec<ValidationError>> {
        let mut errors = Vec::new();
        for (field, missing) in [
            ("title", self.title.is_none()),
            ("price", self.price.is_none()),
            ("category", self.category.is_none()),
        ] {
            if missing {
                errors.push(ValidationError::new(field, "is required"));
            }
        }
        let base = NewProduct {
            title: String::new(),
            description: String::new(),
            price: 0,
            discount_percentage: 0,
            category: String::new(),
            dress_type: None,
            relevant_keywords: Vec::new(),
            image_url: Vec::new(),
            faq: Vec::new(),
            variants: Vec::new(),
        };
        match self.apply_to(base) {
            Ok(product) if errors.is_empty() => Ok(product),
            Ok(_) => Err(errors),
            Err(mut more) => {
                errors.append(&mut more);
                Err(errors)
            }
        }
    }

    /// Applies the fields that are present to `product` (PATCH), checking each.
    pub fn apply_to(self, mut product: NewProduct) -> Result<NewProduct, Vec<ValidationError>> {
        let mut errors = Vec::new();
        let mut check = |result: Result<(), ValidationError>| {
            if let Err(error) = result {
                errors.push(error);
            }
        };
        if let Some(title) = self.title {
            check(bounded_text("title", &title, 200).map(|v| product.title = v));
        }
        if let Some(description) = self.description {
            let description = description.trim().to_owned();
            check(if description.chars().count() > 5000 {
                Err(ValidationError::new(
                    "description",
                    "must be at most 5000 characters",
                ))
            } else {
                product.description = description;
                Ok(())
            });
        }
        if let Some(price) = self.price {
            check(if (0..=MAX_PRICE).contains(&price) {
                product.price = price;
                Ok(())
            } else {
                Err(ValidationError::new(
                    "price",
                    format!("must be between 0 and {MAX_PRICE} minor units"),
                ))
            });
        }
        if let Some(discount) = self.discount_percentage {
            check(match u8::try_from(discount) {
                Ok(discount) if discount <= 100 => {
                    product.discount_percentage = discount;
                    Ok(())
                }
                _ => Err(ValidationError::new(
                    "discountPercentage",
                    "must be between 0 and 100",
                )),
            });
        }
        if let Some(category) = self.category {
            check(bounded_text("category", &category, 60).map(|v| product.category = v));
        }
        if let Some(dress_type) = self.dress_type {
            check(bounded_text("dressType", &dress_type, 60).map(|v| product.dress_type = Some(v)));
        }
        if let Some(keywords) = self.relevant_keywords {
            check(list("relevantKeywords", &keywords, 30).and_then(|_| {
                let parsed = keywords
                    .iter()
                    .map(|keyword| bounded_text("relevantKeywords", keyword, 40))
                    .collect::<Result<Vec<_>, _>>()?;
                product.relevant_keywords = parsed;
                Ok(())
            }));
        }
        if let Some(urls) = self.image_url {
            check(list("imageUrl", &urls, 20).and_then(|_| {
                product.image_url = urls
                    .iter()
                    .map(|raw| image_url(raw))
                    .collect::<Result<_, _>>()?;
                Ok(())
            }));
        }
        if let Some(faq) = self.faq {
            check(list("faq", &faq, 30).and_then(|_| {
                product.faq = faq
                    .iter()
                    .map(|entry| {
                        Ok(Faq {
                            question: bounded_text("faq", &entry.question, 500)?,
                            answer: bounded_text("faq", &entry.answer, 2000)?,
                        })
                    })
                    .collect::<Result<_, ValidationError>>()?;
                Ok(())
            }));
        }
        if let Some(mut variants) = self.variants {
            check(variants_valid(&mut variants).map(|_| product.variants = variants));
        }
        if errors.is_empty() {
            Ok(product)
        } else {
            Err(errors)
        }
    }
}

fn list<T>(field: &'static str, items: &[T], max: usize) -> Result<(), ValidationError> {
    if items.len() > max {
        Err(ValidationError::new(
            field,
            format!("must hold at most {max} entries"),
        ))
    } else {
        Ok(())
    }
}

fn image_url(raw: &str) -> Result<String, ValidationError> {
    let invalid = || {
        ValidationError::new(
            "imageUrl",
            format!(
                "`{}` is not an http(s) URL",
                raw.chars().take(100).collect::<String>()
            ),
        )
    };
    if raw.len() > 2000 {
        return Err(invalid());
    }
    let url = url::Url::parse(raw.trim()).map_err(|_| invalid())?;
    if matches!(url.scheme(), "http" | "https") && url.host().is_some() {
        Ok(url.to_string())
    } else {
        Err(invalid())
    }
}

/// Sizes unique, stock non-negative; sorted from S to XXL.
fn variants_valid(variants: &mut [Variant]) -> Result<(), ValidationError> {
    variants.sort_by_key(|variant| variant.size);
    if variants.windows(2).any(|pair| pair[0].size == pair[1].size) {
        return Err(ValidationError::new(
            "variants",
            "each size may appear once",
        ));
    }
    if variants
        .iter()
        .any(|variant| !(0..=MAX_STOCK).contains(&variant.stock))
    {
        return Err(ValidationError::new(
            "variants",
            format!("stock must be between 0 and {MAX_STOCK}"),
        ));
    }
    Ok(())
}

/// Checks a stock level set on its own.
pub fn stock_level(stock: i64) -> Result<i64, ValidationError> {
    if (0..=MAX_STOCK).contains(&stock) {
        Ok(stock)
    } else {
        Err(ValidationError::new(
            "stock",
            format!("must be between 0 and {MAX_STOCK}"),
        ))
    }
}

/// Words of a search, safe to hand to any full-text engine: letters and
/// digits only, lower-cased, at most 10.
pub fn search_terms(raw: &str) -> Vec<String> {
    raw.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .take(10)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> ProductFields {
        ProductFields {
            title: Some("Linen dress".into()),
            price: Some(4999),
            category: Some("dresses".into()),
            variants: Some(vec![
                Variant {
                    size: Size::M,
                    stock: 3,
                },
                Variant {
                    size: Size::S,
                    stock: 0,
                },
            ]),
            ..Default::default()
        }
    }

    #[test]
    fn final_price_rounds_half_up() {
        assert_eq!(final_price(1000, 0), 1000);
        assert_eq!(final_price(1000, 100), 0);
        assert_eq!(final_price(999, 15), 849); // 849.15
        assert_eq!(final_price(10, 5), 10); // 9.5 rounds up
        assert_eq!(final_price(1, 50), 1); // 0.5 rounds up
    }

    #[test]
    fn valid_product_sorts_variants() {
        let product = fields().into_new().unwrap();
        assert_eq!(product.variants[0].size, Size::S);
        assert_eq!(product.final_price(), 4999);
    }

    #[test]
    fn rejects_bad_fields() {
        let cases: Vec<(ProductFields, &str)> = vec![
            (
                ProductFields {
                    title: Some(" ".into()),
                    ..fields()
                },
                "title",
            ),
            (
                ProductFields {
                    price: Some(-1),
                    ..fields()
                },
                "price",
            ),
            (
                ProductFields {
                    discount_percentage: Some(101),
                    ..fields()
                },
                "discountPercentage",
            ),
            (
                ProductFields {
                    discount_percentage: Some(-5),
                    ..fields()
                },
                "discountPercentage",
            ),
            (
                ProductFields {
                    image_url: Some(vec!["ftp://x.com/a.png".into()]),
                    ..fields()
                },
                "imageUrl",
            ),
            (
                ProductFields {
                    image_url: Some(vec!["not a url".into()]),
                    ..fields()
                },
                "imageUrl",
            ),
            (
                ProductFields {
                    variants: Some(vec![Variant {
                        size: Size::M,
                        stock: -1,
                    }]),
                    ..fields()
                },
                "variants",
            ),
            (
                ProductFields {
                    variants: Some(vec![
                        Variant {
                            size: Size::M,
                            stock: 1,
                        },
                        Variant {
                            size: Size::M,
                            stock: 2,
                        },
                    ]),
                    ..fields()
                },
                "variants",
            ),
            (
                ProductFields {
                    title: Some("x".repeat(201)),
                    ..fields()
                },
                "title",
            ),
            (
                ProductFields {
                    title: None,
                    ..fields()
                },
                "title",
            ),
        ];
        for (input, field) in cases {
            let errors = input.into_new().unwrap_err();
            assert!(
                errors.iter().any(|e| e.field == field),
                "{field}: {errors:?}"
            );
        }
    }

    #[test]
    fn search_terms_are_plain_words() {
        assert_eq!(
            search_terms("Red  \"dress\"* OR -(silk)"),
            ["red", "dress", "or", "silk"]
        );
        assert!(search_terms("*** ---").is_empty());
    }
}
