//! The catalogue's rules: what a product is, what makes one valid, and its
//! price after discount.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{bounded_text, long_text, rules, Invalid, ValidationError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Faq {
    pub question: String,
    pub answer: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variant {
    pub size: Size,
    pub stock: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Grows by one at every write; a write that names an older version is refused.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `price` after `discount` percent off, rounded half up to a minor unit.
pub fn final_price(price: i64, discount: u8) -> i64 {
    let kept = i128::from(price) * i128::from(100 - discount.min(100));
    ((kept + 50) / 100) as i64
}

/// A product as an admin gave it, nothing checked yet. Every field is
/// optional so that one draft serves creation, replacement and a patch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductDraft {
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

/// A complete, valid product without its identity. Built only by `parse`
/// or `patch`; read back from the wire through `parse` again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ProductDraft", into = "ProductDraft")]
pub struct NewProduct {
    title: String,
    description: String,
    price: i64,
    discount_percentage: u8,
    category: String,
    dress_type: Option<String>,
    relevant_keywords: Vec<String>,
    image_url: Vec<String>,
    faq: Vec<Faq>,
    variants: Vec<Variant>,
}

const MAX_PRICE: i64 = rules::PRICE_MAX;
const MAX_STOCK: i64 = rules::STOCK_MAX;

impl NewProduct {
    /// A whole product (creation and replacement): title, price and category
    /// are required.
    pub fn parse(draft: ProductDraft) -> Result<NewProduct, Vec<ValidationError>> {
        let mut errors: Vec<ValidationError> = [
            ("title", draft.title.is_none()),
            ("price", draft.price.is_none()),
            ("category", draft.category.is_none()),
        ]
        .into_iter()
        .filter(|(_, missing)| *missing)
        .map(|(field, _)| ValidationError::new(field, "is required"))
        .collect();
        let empty = NewProduct {
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
        match empty.with(draft) {
            Ok(product) if errors.is_empty() => Ok(product),
            Ok(_) => Err(errors),
            Err(mut more) => {
                errors.append(&mut more);
                Err(errors)
            }
        }
    }

    /// `current` with the fields present in `patch` changed; the result is
    /// checked as a whole product.
    pub fn patch(
        current: &Product,
        patch: ProductDraft,
    ) -> Result<NewProduct, Vec<ValidationError>> {
        NewProduct::parse(ProductDraft {
            title: patch.title.or_else(|| Some(current.title.clone())),
            description: patch
                .description
                .or_else(|| Some(current.description.clone())),
            price: patch.price.or(Some(current.price)),
            discount_percentage: patch
                .discount_percentage
                .or(Some(i64::from(current.discount_percentage))),
            category: patch.category.or_else(|| Some(current.category.clone())),
            dress_type: patch.dress_type.or_else(|| current.dress_type.clone()),
            relevant_keywords: patch
                .relevant_keywords
                .or_else(|| Some(current.relevant_keywords.clone())),
            image_url: patch.image_url.or_else(|| Some(current.image_url.clone())),
            faq: patch.faq.or_else(|| Some(current.faq.clone())),
            variants: patch.variants.or_else(|| Some(current.variants.clone())),
        })
    }

    /// Applies the fields present in `draft`, checking each.
    fn with(mut self, draft: ProductDraft) -> Result<NewProduct, Vec<ValidationError>> {
        let mut errors = Vec::new();
        let mut check = |result: Result<(), ValidationError>| {
            if let Err(error) = result {
                errors.push(error);
            }
        };
        if let Some(title) = draft.title {
            check(bounded_text("title", &title, rules::TITLE_MAX).map(|v| self.title = v));
        }
        if let Some(description) = draft.description {
            check(
                long_text("description", &description, rules::DESCRIPTION_MAX)
                    .map(|v| self.description = v),
            );
        }
        if let Some(price) = draft.price {
            check(if (0..=MAX_PRICE).contains(&price) {
                self.price = price;
                Ok(())
            } else {
                Err(ValidationError::new(
                    "price",
                    format!("must be between 0 and {MAX_PRICE} minor units"),
                ))
            });
        }
        if let Some(discount) = draft.discount_percentage {
            check(match u8::try_from(discount) {
                Ok(discount) if i64::from(discount) <= rules::DISCOUNT_MAX => {
                    self.discount_percentage = discount;
                    Ok(())
                }
                _ => Err(ValidationError::new(
                    "discountPercentage",
                    "must be between 0 and 100",
                )),
            });
        }
        if let Some(category) = draft.category {
            check(category_name(&category).map(|v| self.category = v));
        }
        if let Some(dress_type) = draft.dress_type {
            check(
                bounded_text("dressType", &dress_type, rules::DRESS_TYPE_MAX)
                    .map(|v| self.dress_type = Some(v)),
            );
        }
        if let Some(keywords) = draft.relevant_keywords {
            check(
                list("relevantKeywords", &keywords, rules::KEYWORDS_MAX).and_then(|_| {
                    self.relevant_keywords = keywords
                        .iter()
                        .map(|keyword| {
                            bounded_text("relevantKeywords", keyword, rules::KEYWORD_MAX)
                        })
                        .collect::<Result<_, _>>()?;
                    Ok(())
                }),
            );
        }
        if let Some(urls) = draft.image_url {
            check(
                list("imageUrl", &urls, rules::IMAGE_URLS_MAX).and_then(|_| {
                    self.image_url = urls
                        .iter()
                        .map(|raw| image_url(raw))
                        .collect::<Result<_, _>>()?;
                    Ok(())
                }),
            );
        }
        if let Some(faq) = draft.faq {
            check(list("faq", &faq, rules::FAQ_MAX).and_then(|_| {
                self.faq = faq
                    .iter()
                    .map(|entry| {
                        Ok(Faq {
                            question: bounded_text("faq", &entry.question, rules::QUESTION_MAX)?,
                            answer: long_text("faq", &entry.answer, rules::ANSWER_MAX)?,
                        })
                    })
                    .collect::<Result<_, ValidationError>>()?;
                Ok(())
            }));
        }
        if let Some(mut variants) = draft.variants {
            check(variants_valid(&mut variants).map(|_| self.variants = variants));
        }
        if errors.is_empty() {
            Ok(self)
        } else {
            Err(errors)
        }
    }

    pub fn title(&self) -> &str {
        &self.title
    }

    pub fn description(&self) -> &str {
        &self.description
    }

    pub fn price(&self) -> i64 {
        self.price
    }

    pub fn discount_percentage(&self) -> u8 {
        self.discount_percentage
    }

    pub fn final_price(&self) -> i64 {
        final_price(self.price, self.discount_percentage)
    }

    pub fn category(&self) -> &str {
        &self.category
    }

    pub fn dress_type(&self) -> Option<&str> {
        self.dress_type.as_deref()
    }

    pub fn relevant_keywords(&self) -> &[String] {
        &self.relevant_keywords
    }

    pub fn image_url(&self) -> &[String] {
        &self.image_url
    }

    pub fn faq(&self) -> &[Faq] {
        &self.faq
    }

    /// Sorted from S to XXL, each size once.
    pub fn variants(&self) -> &[Variant] {
        &self.variants
    }
}

impl TryFrom<ProductDraft> for NewProduct {
    type Error = Invalid;

    fn try_from(draft: ProductDraft) -> Result<Self, Invalid> {
        NewProduct::parse(draft).map_err(Invalid)
    }
}

impl From<NewProduct> for ProductDraft {
    fn from(product: NewProduct) -> ProductDraft {
        ProductDraft {
            title: Some(product.title),
            description: Some(product.description),
            price: Some(product.price),
            discount_percentage: Some(i64::from(product.discount_percentage)),
            category: Some(product.category),
            dress_type: product.dress_type,
            relevant_keywords: Some(product.relevant_keywords),
            image_url: Some(product.image_url),
            faq: Some(product.faq),
            variants: Some(product.variants),
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
    if raw.chars().count() <= rules::IMAGE_URL_MAX && rules::IMAGE_URL_RE.is_match(raw) {
        Ok(raw.to_owned())
    } else {
        Err(ValidationError::new(
            "imageUrl",
            format!(
                "`{}` is not an http(s) URL of printable ASCII with a host name",
                raw.chars()
                    .take(100)
                    .filter(|c| !c.is_control())
                    .collect::<String>()
            ),
        ))
    }
}

/// Sizes unique, stock within range; sorted from S to XXL.
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
        .any(|variant| Stock::parse(variant.stock).is_err())
    {
        return Err(ValidationError::new(
            "variants",
            format!("stock must be between 0 and {MAX_STOCK}"),
        ));
    }
    Ok(())
}

/// A stock level of one size: never negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct Stock(i64);

impl Stock {
    pub const MAX: i64 = MAX_STOCK;

    pub fn parse(stock: i64) -> Result<Stock, ValidationError> {
        if (0..=MAX_STOCK).contains(&stock) {
            Ok(Stock(stock))
        } else {
            Err(ValidationError::new(
                "stock",
                format!("must be between 0 and {MAX_STOCK}"),
            ))
        }
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl TryFrom<i64> for Stock {
    type Error = ValidationError;

    fn try_from(stock: i64) -> Result<Self, ValidationError> {
        Stock::parse(stock)
    }
}

impl From<Stock> for i64 {
    fn from(stock: Stock) -> i64 {
        stock.0
    }
}

/// A category name, as products hold it and filters name it.
pub fn category_name(raw: &str) -> Result<String, ValidationError> {
    bounded_text("category", raw, rules::CATEGORY_MAX)
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

    fn draft() -> ProductDraft {
        ProductDraft {
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
        let product = NewProduct::parse(draft()).unwrap();
        assert_eq!(product.variants()[0].size, Size::S);
        assert_eq!(product.final_price(), 4999);
    }

    #[test]
    fn rejects_bad_fields() {
        let cases: Vec<(ProductDraft, &str)> = vec![
            (
                ProductDraft {
                    title: Some(" ".into()),
                    ..draft()
                },
                "title",
            ),
            (
                ProductDraft {
                    title: Some("Linen\0dress".into()),
                    ..draft()
                },
                "title",
            ),
            (
                ProductDraft {
                    description: Some("soft\0".into()),
                    ..draft()
                },
                "description",
            ),
            (
                ProductDraft {
                    price: Some(-1),
                    ..draft()
                },
                "price",
            ),
            (
                ProductDraft {
                    discount_percentage: Some(101),
                    ..draft()
                },
                "discountPercentage",
            ),
            (
                ProductDraft {
                    discount_percentage: Some(-5),
                    ..draft()
                },
                "discountPercentage",
            ),
            (
                ProductDraft {
                    image_url: Some(vec!["ftp://x.com/a.png".into()]),
                    ..draft()
                },
                "imageUrl",
            ),
            (
                ProductDraft {
                    image_url: Some(vec!["not a url".into()]),
                    ..draft()
                },
                "imageUrl",
            ),
            (
                ProductDraft {
                    variants: Some(vec![Variant {
                        size: Size::M,
                        stock: -1,
                    }]),
                    ..draft()
                },
                "variants",
            ),
            (
                ProductDraft {
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
                    ..draft()
                },
                "variants",
            ),
            (
                ProductDraft {
                    title: Some("x".repeat(201)),
                    ..draft()
                },
                "title",
            ),
            (
                ProductDraft {
                    title: None,
                    ..draft()
                },
                "title",
            ),
        ];
        for (input, field) in cases {
            let errors = NewProduct::parse(input).unwrap_err();
            assert!(
                errors.iter().any(|e| e.field == field),
                "{field}: {errors:?}"
            );
        }
    }

    #[test]
    fn descriptions_keep_their_lines() {
        let product = NewProduct::parse(ProductDraft {
            description: Some("Soft.\n\tMachine wash.".into()),
            ..draft()
        })
        .unwrap();
        assert_eq!(product.description(), "Soft.\n\tMachine wash.");
    }

    #[test]
    fn the_wire_form_is_checked_again() {
        let product = NewProduct::parse(draft()).unwrap();
        let json = serde_json::to_string(&product).unwrap();
        assert_eq!(serde_json::from_str::<NewProduct>(&json).unwrap(), product);
        let forged = json.replace("4999", "-4999");
        assert!(serde_json::from_str::<NewProduct>(&forged).is_err());
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
