//! OpenAPI schemas of the domain's closed sets. The domain knows nothing of
//! HTTP; its enums are described here from their own lists of values, so the
//! document cannot drift from what the types accept.

use std::borrow::Cow;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

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
