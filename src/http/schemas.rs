//! OpenAPI schemas of what the domain accepts. The domain knows nothing of
//! HTTP; its closed sets (sizes, roles, mail kinds) are described here from
//! their own lists of values, and its text and number rules from
//! `domain::rules`, the patterns and limits its parsers check with. So the
//! document states exactly what the service accepts.

use std::borrow::Cow;
use utoipa::openapi::schema::{
    ArrayBuilder, KnownFormat, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

use crate::domain::rules;
use crate::domain::{MailKind, Role, Size};

/// A string schema whose values are `values`.
fn string_enum(values: impl IntoIterator<Item = &'static str>) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values))
        .into()
}

macro_rules! closed_set_schema {
    ($type:ty, $name:literal) => {
        impl PartialSchema for $type {
            fn schema() -> RefOr<Schema> {
                string_enum(<$type>::ALL.map(<$type>::as_str))
            }
        }

        impl ToSchema for $type {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }
        }
    };
}

closed_set_schema!(Role, "Role");
closed_set_schema!(Size, "Size");
closed_set_schema!(MailKind, "MailKind");

fn typed(kind: Type, nullable: bool) -> ObjectBuilder {
    let schema_type = if nullable {
        SchemaType::Array(vec![kind, Type::Null])
    } else {
        SchemaType::Type(kind)
    };
    ObjectBuilder::new().schema_type(schema_type)
}

/// One line of text (`rules::SINGLE_LINE`), at most `max` characters.
pub fn line(max: usize, nullable: bool) -> ObjectBuilder {
    typed(Type::String, nullable)
        .pattern(Some(rules::SINGLE_LINE))
        .max_length(Some(max))
}

/// Text that may span lines (`rules::MULTI_LINE`), at most `max` characters.
fn lines(max: usize, nullable: bool) -> ObjectBuilder {
    typed(Type::String, nullable)
        .pattern(Some(rules::MULTI_LINE))
        .max_length(Some(max))
}

/// A whole number from `min` to `max`.
pub fn whole(min: i64, max: i64, nullable: bool) -> ObjectBuilder {
    typed(Type::Integer, nullable)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(Some(min))
        .maximum(Some(max))
}

/// A page's `limit` (`domain::Page`).
pub fn page_limit() -> RefOr<Schema> {
    whole(1, crate::domain::Page::MAX_LIMIT, false)
        .default(Some(crate::domain::Page::DEFAULT_LIMIT.into()))
        .into()
}

/// A page's `offset`.
pub fn page_offset() -> RefOr<Schema> {
    whole(0, i64::MAX, false).default(Some(0.into())).into()
}

fn list(items: impl Into<RefOr<Schema>>, max: usize, nullable: bool) -> RefOr<Schema> {
    let schema_type = if nullable {
        SchemaType::Array(vec![Type::Array, Type::Null])
    } else {
        SchemaType::Type(Type::Array)
    };
    ArrayBuilder::new()
        .schema_type(schema_type)
        .items(items.into())
        .max_items(Some(max))
        .into()
}

/// A phone number as text (`rules::PHONE`) or, as the original API sent it,
/// a JSON number of 7 to 15 digits.
fn phone(nullable: bool) -> RefOr<Schema> {
    let mut one_of = OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(rules::PHONE)),
        )
        .item(whole(1_000_000, 999_999_999_999_999, false));
    if nullable {
        one_of = one_of.item(ObjectBuilder::new().schema_type(Type::Null));
    }
    one_of.into()
}

/// A field schema for `#[schema(schema_with = ...)]`, built from the rules.
macro_rules! field_schemas {
    ($($(#[$doc:meta])* $name:ident => $schema:expr;)*) => {
        $(
            $(#[$doc])*
            pub fn $name() -> RefOr<Schema> {
                $schema.into()
            }
        )*
    };
}

field_schemas! {
    /// With `not` a long local part (`rules::EMAIL_LONG_LOCAL_PART`), which
    /// `openapi` writes into the document.
    email => typed(Type::String, false)
        .pattern(Some(rules::EMAIL))
        .max_length(Some(rules::EMAIL_MAX));
    otp => typed(Type::String, false).pattern(Some(rules::OTP));
    optional_phone => phone(true);
    optional_name => line(rules::NAME_MAX, true);
    optional_label => line(rules::LABEL_MAX, true);
    street => line(rules::STREET_MAX, false);
    optional_street => line(rules::STREET_MAX, true);
    city => line(rules::CITY_MAX, false);
    optional_city => line(rules::CITY_MAX, true);
    optional_state => line(rules::STATE_MAX, true);
    zip_code => typed(Type::String, false)
        .pattern(Some(rules::ZIP_CODE))
        .max_length(Some(rules::ZIP_CODE_MAX));
    optional_zip_code => typed(Type::String, true)
        .pattern(Some(rules::ZIP_CODE))
        .max_length(Some(rules::ZIP_CODE_MAX));
    country => line(rules::COUNTRY_MAX, false);
    optional_country => line(rules::COUNTRY_MAX, true);
    title => line(rules::TITLE_MAX, false);
    optional_title => line(rules::TITLE_MAX, true);
    optional_description => lines(rules::DESCRIPTION_MAX, true);
    /// Minor units.
    price => whole(0, rules::PRICE_MAX, false);
    optional_price => whole(0, rules::PRICE_MAX, true);
    /// Minor units, a sum of prices.
    optional_minor_units => whole(0, i64::MAX, true);
    optional_discount => whole(0, rules::DISCOUNT_MAX, true);
    category => line(rules::CATEGORY_MAX, false);
    optional_category => line(rules::CATEGORY_MAX, true);
    optional_dress_type => line(rules::DRESS_TYPE_MAX, true);
    optional_keywords => list(
        line(rules::KEYWORD_MAX, false),
        rules::KEYWORDS_MAX,
        true,
    );
    optional_image_urls => list(
        typed(Type::String, false)
            .pattern(Some(rules::IMAGE_URL))
            .max_length(Some(rules::IMAGE_URL_MAX)),
        rules::IMAGE_URLS_MAX,
        true,
    );
    question => line(rules::QUESTION_MAX, false);
    answer => lines(rules::ANSWER_MAX, false);
    stock => whole(0, rules::STOCK_MAX, false);
    quantity => whole(1, crate::domain::Quantity::MAX, false);
    quantity_or_zero => whole(0, crate::domain::Quantity::MAX, false);
}

/// `schema` with `fields` required, each with its (non-null) schema: the
/// shape of a body that creates, derived from the one that patches.
pub fn requiring(schema: RefOr<Schema>, fields: &[(&str, RefOr<Schema>)]) -> RefOr<Schema> {
    match schema {
        RefOr::T(Schema::Object(mut object)) => {
            for (name, field) in fields {
                object.properties.insert((*name).to_owned(), field.clone());
                if !object.required.iter().any(|required| required == name) {
                    object.required.push((*name).to_owned());
                }
            }
            RefOr::T(Schema::Object(object))
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_state_the_domains_rules() {
        let title = serde_json::to_value(title()).unwrap();
        assert_eq!(title["pattern"], rules::SINGLE_LINE);
        assert_eq!(title["maxLength"], rules::TITLE_MAX);
        let phone = serde_json::to_value(optional_phone()).unwrap();
        assert_eq!(phone["oneOf"].as_array().unwrap().len(), 3);
        let size = serde_json::to_value(Size::schema()).unwrap();
        assert_eq!(
            size["enum"],
            serde_json::json!(["S", "M", "L", "XL", "XXL"])
        );
    }
}
