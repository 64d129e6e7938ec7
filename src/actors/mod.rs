//! Every service is an actor. Each file holds one actor with its messages and
//! handlers; `runtime` is what they run on.

pub mod cart;
pub mod mailer;
pub mod order;
pub mod otp;
pub mod product;
pub mod user;

pub use crate::domain::ActorKind;
pub use crate::runtime::{
    ActorError, Address, CallError, CheckDependency, DependencyStatus, Handles, Instance, Registry,
    Reply,
};

/// Says which actor type is each kind, once: the registry's typed lookups,
/// the names of the messages a kind answers and the wire test's examples
/// follow from this list.
macro_rules! hosted_kinds {
    ($($variant:ident => $module:ident::$actor:ident;)*) => {
        $(
            impl crate::runtime::KindOf for $module::$actor {
                const KIND: ActorKind = ActorKind::$variant;
            }
        )*

        /// The names of the messages `kind` answers.
        pub fn messages_of(kind: ActorKind) -> &'static [&'static str] {
            match kind {
                $(ActorKind::$variant => <$module::$actor as crate::runtime::Hosted>::MESSAGES),*
            }
        }
    };
}

hosted_kinds! {
    Otp => otp::OtpActor;
    User => user::UserActor;
    Mailer => mailer::MailerActor;
    Product => product::ProductActor;
    Cart => cart::CartActor;
    Order => order::OrderActor;
}

/// Asks each actor that owns a dependency to check it; an actor that does
/// not answer is reported as the failing dependency.
pub async fn check_dependencies(registry: &Registry) -> Vec<DependencyStatus> {
    let (kv, database, mail) = futures_util::join!(
        registry.get::<otp::OtpActor>().call(CheckDependency),
        registry.get::<user::UserActor>().call(CheckDependency),
        registry.get::<mailer::MailerActor>().call(CheckDependency),
    );
    [("kv", kv), ("database", database), ("mail", mail)]
        .into_iter()
        .map(|(name, answer)| match answer {
            Ok(Ok(status)) => status,
            Ok(Err(err)) => DependencyStatus::from_result(name, Err(err)),
            Err(err) => DependencyStatus::from_result(name, Err(err)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use serde::de::DeserializeOwned;
    use serde::Serialize;
    use std::collections::BTreeSet;
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::bus::{DeliverEvent, Event, EventEnvelope, ProductChanged};
    use crate::catalogue::{Listed, ProductFilter, ProductPage, ProductSort};
    use crate::domain::{
        AddressChanges, AddressDraft, Cart, CartOwner, ClientKey, Email, IdempotencyKey,
        NewAddress, NewProduct, Order, OrderLine, OrderStatus, OtpCode, Page, PhoneNumber,
        PricedLine, Product, ProductDraft, ProfileChanges, Quantity, Role, Size, Stock, User,
        ValidationError,
    };
    use crate::runtime::WireMessage;
    use crate::store::OrderPage;

    /// Every message and reply, through JSON and back, as they cross nodes.
    /// The names checked must be every name a kind answers: a message added
    /// to a kind without an example here fails the test (and one without
    /// serde does not compile).
    #[test]
    fn every_message_and_reply_crosses_the_wire() {
        fn same<T: Serialize + DeserializeOwned>(value: &T) {
            let json = serde_json::to_value(value).unwrap();
            let back: T = serde_json::from_value(json.clone()).unwrap();
            assert_eq!(serde_json::to_value(&back).unwrap(), json);
        }
        let mut names = BTreeSet::new();
        let mut message = |name: &'static str, check: &dyn Fn()| {
            check();
            names.insert(name);
        };
        fn round_trip<M: WireMessage>(msg: M, reply: Result<M::Reply, ActorError>) -> impl Fn() {
            let msg = serde_json::to_value(&msg).unwrap();
            let reply = serde_json::to_value(&reply).unwrap();
            move || {
                let back: M = serde_json::from_value(msg.clone()).unwrap();
                assert_eq!(serde_json::to_value(&back).unwrap(), msg, "{}", M::NAME);
                let back: Result<M::Reply, ActorError> =
                    serde_json::from_value(reply.clone()).unwrap();
                assert_eq!(serde_json::to_value(&back).unwrap(), reply, "{}", M::NAME);
            }
        }

        let email = Email::parse("ana@example.com").unwrap();
        let user = User {
            id: 7,
            email: email.as_str().to_owned(),
            phone_number: Some("+1 555 0100".into()),
            name: Some("Ana".into()),
            role: Role::Customer,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        let draft = AddressDraft {
            street: Some("1 Main St".into()),
            city: Some("Springfield".into()),
            zip_code: Some("62701".into()),
            country: Some("US".into()),
            ..Default::default()
        };
        let address = crate::domain::Address {
            id: 3,
            label: None,
            street: "1 Main St".into(),
            city: "Springfield".into(),
            state: None,
            zip_code: "62701".into(),
            country: "US".into(),
            is_default: true,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        let new_product = NewProduct::parse(ProductDraft {
            title: Some("Linen dress".into()),
            price: Some(4900),
            category: Some("dresses".into()),
            ..Default::default()
        })
        .unwrap();
        let product = Product {
            id: 1,
            title: "Linen dress".into(),
            description: String::new(),
            price: 4900,
            currency: "USD".into(),
            discount_percentage: 0,
            final_price: 4900,
            category: "dresses".into(),
            dress_type: None,
            relevant_keywords: vec!["summer".into()],
            image_url: Vec::new(),
            faq: Vec::new(),
            variants: Vec::new(),
            version: 1,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        let client = ClientKey::from_ip("192.0.2.1".parse().unwrap());
        let refused = Err(ActorError::RateLimited {
            retry_after: Duration::from_secs(3),
        });

        message(
            otp::RequestOtp::NAME,
            &round_trip(
                otp::RequestOtp {
                    email: email.clone(),
                    client: client.clone(),
                },
                refused.clone(),
            ),
        );
        message(
            otp::VerifyOtp::NAME,
            &round_trip(
                otp::VerifyOtp {
                    email: email.clone(),
                    code: OtpCode::parse("042917").unwrap(),
                    phone_number: Some(PhoneNumber::parse("+1 555 0100").unwrap()),
                    client,
                },
                Ok(otp::Session {
                    user: user.clone(),
                    token: "a.b.c".into(),
                    expires_at: Utc::now(),
                }),
            ),
        );
        message(
            otp::RevokeToken::NAME,
            &round_trip(
                otp::RevokeToken {
                    jti: "j".into(),
                    expires_at: Utc::now(),
                },
                Ok(()),
            ),
        );
        message(
            otp::IsRevoked::NAME,
            &round_trip(
                otp::IsRevoked {
                    jti: "j".into(),
                    user_id: 7,
                },
                Ok(true),
            ),
        );
        message(
            user::Login::NAME,
            &round_trip(
                user::Login {
                    email: email.clone(),
                    phone_number: None,
                    role: Role::Admin,
                },
                Ok(user.clone()),
            ),
        );
        message(
            user::GetUser::NAME,
            &round_trip(user::GetUser { user_id: 7 }, Err(ActorError::NotFound)),
        );
        message(
            user::UpdateProfile::NAME,
            &round_trip(
                user::UpdateProfile {
                    user_id: 7,
                    changes: ProfileChanges::default(),
                },
                Ok(user.clone()),
            ),
        );
        message(
            user::ListAddresses::NAME,
            &round_trip(
                user::ListAddresses { user_id: 7 },
                Ok(vec![address.clone()]),
            ),
        );
        message(
            user::AddAddress::NAME,
            &round_trip(
                user::AddAddress {
                    user_id: 7,
                    address: NewAddress::parse(draft.clone()).unwrap(),
                },
                Ok(address.clone()),
            ),
        );
        message(
            user::GetAddress::NAME,
            &round_trip(
                user::GetAddress {
                    user_id: 7,
                    address_id: 3,
                },
                Ok(address.clone()),
            ),
        );
        message(
            user::UpdateAddress::NAME,
            &round_trip(
                user::UpdateAddress {
                    user_id: 7,
                    address_id: 3,
                    changes: AddressChanges::parse(draft).unwrap(),
                },
                Ok(address.clone()),
            ),
        );
        message(
            user::DeleteAddress::NAME,
            &round_trip(
                user::DeleteAddress {
                    user_id: 7,
                    address_id: 3,
                },
                Err(ActorError::Invalid(vec![ValidationError::new(
                    "street", "why",
                )])),
            ),
        );
        message(
            mailer::ListQueuedMail::NAME,
            &round_trip(mailer::ListQueuedMail, Ok(Vec::new())),
        );
        message(
            mailer::RetryQueuedMail::NAME,
            &round_trip(
                mailer::RetryQueuedMail { id: 9 },
                Err(ActorError::Unavailable("database".into())),
            ),
        );
        message(
            product::CreateProduct::NAME,
            &round_trip(
                product::CreateProduct {
                    product: new_product.clone(),
                },
                Ok(product.clone()),
            ),
        );
        message(
            product::ReplaceProduct::NAME,
            &round_trip(
                product::ReplaceProduct {
                    id: 1,
                    product: new_product,
                    expected_version: Some(1),
                },
                Err(ActorError::Stale),
            ),
        );
        message(
            product::PatchProduct::NAME,
            &round_trip(
                product::PatchProduct {
                    id: 1,
                    patch: ProductDraft {
                        price: Some(5000),
                        ..Default::default()
                    },
                    expected_version: None,
                },
                Ok(product.clone()),
            ),
        );
        message(
            product::DeleteProduct::NAME,
            &round_trip(
                product::DeleteProduct {
                    id: 1,
                    expected_version: None,
                },
                Ok(()),
            ),
        );
        message(
            product::SetStock::NAME,
            &round_trip(
                product::SetStock {
                    id: 1,
                    size: Size::M,
                    stock: Stock::parse(3).unwrap(),
                },
                Ok(product.clone()),
            ),
        );
        message(
            product::GetProduct::NAME,
            &round_trip(
                product::GetProduct { id: 1 },
                Ok(Arc::new(Listed::rendered(product.clone(), |_| {
                    bytes::Bytes::new()
                }))),
            ),
        );
        message(
            product::SearchProducts::NAME,
            &round_trip(
                product::SearchProducts {
                    filter: ProductFilter {
                        terms: vec!["linen".into()],
                        category: None,
                        size: Some(Size::S),
                        min_price: None,
                        max_price: Some(10_000),
                        in_stock: true,
                        sort: ProductSort::PriceAscending,
                        limit: 20,
                        offset: 0,
                    },
                },
                Ok(ProductPage {
                    items: vec![Arc::new(Listed::rendered(product, |_| bytes::Bytes::new()))],
                    total: 1,
                }),
            ),
        );
        message(
            DeliverEvent::NAME,
            &round_trip(
                DeliverEvent(Arc::new(EventEnvelope {
                    message_id: uuid::Uuid::new_v4(),
                    origin_node: "node-a".into(),
                    timestamp: Utc::now(),
                    event: Event::ProductChanged(ProductChanged { product_id: 1 }),
                })),
                Err(ActorError::Call(CallError::Timeout(ActorKind::Mailer))),
            ),
        );
        message(
            CheckDependency::NAME,
            &round_trip(
                CheckDependency,
                Ok(DependencyStatus::from_result::<std::io::Error>(
                    "kv",
                    Ok(()),
                )),
            ),
        );
        same(&ActorError::Conflict("x".into()));

        let guest = CartOwner::Guest("0b9c7a52-6f0e-4f55-9d1b-7a4a6b7f2e10".into());
        let cart = Cart {
            id: Some("0b9c7a52-6f0e-4f55-9d1b-7a4a6b7f2e10".into()),
            items: vec![PricedLine {
                id: 4,
                product_id: 1,
                title: "Linen dress".into(),
                size: Size::M,
                quantity: Quantity::parse(2).unwrap(),
                unit_price: 4900,
                line_total: 9800,
                available: true,
            }],
            subtotal: 9800,
            currency: "USD".into(),
        };
        message(
            cart::GetCart::NAME,
            &round_trip(
                cart::GetCart {
                    owner: guest.clone(),
                },
                Ok(cart.clone()),
            ),
        );
        message(
            cart::AddToCart::NAME,
            &round_trip(
                cart::AddToCart {
                    owner: CartOwner::User(7),
                    product_id: 1,
                    size: Size::M,
                    quantity: Quantity::parse(2).unwrap(),
                    new_guest: Some(ClientKey::from_ip("192.0.2.9".parse().unwrap())),
                },
                Ok(cart.clone()),
            ),
        );
        message(
            cart::SetCartQuantity::NAME,
            &round_trip(
                cart::SetCartQuantity {
                    owner: guest.clone(),
                    item_id: 4,
                    quantity: None,
                },
                Ok(cart.clone()),
            ),
        );
        message(
            cart::RemoveCartItem::NAME,
            &round_trip(
                cart::RemoveCartItem {
                    owner: guest.clone(),
                    item_id: 4,
                },
                Err(ActorError::NotFound),
            ),
        );
        message(
            cart::ClearCart::NAME,
            &round_trip(cart::ClearCart { owner: guest }, Ok(cart.clone())),
        );
        message(
            cart::MergeGuestCart::NAME,
            &round_trip(
                cart::MergeGuestCart {
                    guest: "0b9c7a52-6f0e-4f55-9d1b-7a4a6b7f2e10".into(),
                    user_id: 7,
                },
                Ok(2),
            ),
        );
        let order = Order {
            id: 9,
            user_id: 7,
            email: "ana@example.com".into(),
            status: OrderStatus::Placed,
            items: vec![OrderLine {
                product_id: 1,
                title: "Linen dress".into(),
                size: Size::M,
                quantity: 2,
                unit_price: 4900,
                restocked: Some(2),
            }],
            subtotal: 9800,
            currency: "USD".into(),
            shipping_address: address.clone(),
            created_at: Utc::now(),
        };
        message(
            order::PlaceOrder::NAME,
            &round_trip(
                order::PlaceOrder {
                    user_id: 7,
                    email: "ana@example.com".into(),
                    address_id: 3,
                    idempotency_key: Some(IdempotencyKey::parse("checkout-1").unwrap()),
                    expected_subtotal: Some(9800),
                },
                Ok(order::Placed {
                    order: order.clone(),
                    replayed: false,
                }),
            ),
        );
        message(
            order::ListOrders::NAME,
            &round_trip(
                order::ListOrders {
                    user_id: None,
                    status: Some(OrderStatus::Placed),
                    page: Page {
                        limit: 20,
                        offset: 40,
                    },
                },
                Ok(OrderPage {
                    items: vec![order.clone()],
                    total: 41,
                }),
            ),
        );
        message(
            order::GetOrder::NAME,
            &round_trip(
                order::GetOrder {
                    id: 9,
                    user_id: Some(7),
                },
                Ok(order.clone()),
            ),
        );
        message(
            order::CancelOrder::NAME,
            &round_trip(
                order::CancelOrder { id: 9, owner: None },
                Err(ActorError::Unprocessable("x".into())),
            ),
        );
        message(
            order::OutboxBacklog::NAME,
            &round_trip(order::OutboxBacklog, Ok(3)),
        );
        message(
            order::FulfilOrder::NAME,
            &round_trip(order::FulfilOrder { id: 9 }, Ok(order.clone())),
        );
        message(
            order::PlaceOrder::NAME,
            &round_trip(
                order::PlaceOrder {
                    user_id: 7,
                    email: "ana@example.com".into(),
                    address_id: 3,
                    idempotency_key: None,
                    expected_subtotal: Some(1000),
                },
                Err(ActorError::SubtotalChanged(Box::new(cart.clone()))),
            ),
        );
        message(
            user::DeleteUser::NAME,
            &round_trip(user::DeleteUser { user_id: 7 }, Ok(())),
        );
        message(
            user::ExportUser::NAME,
            &round_trip(
                user::ExportUser { user_id: 7 },
                Ok(user::UserExport {
                    user,
                    addresses: vec![address.clone()],
                    orders: vec![order],
                    cart,
                }),
            ),
        );

        let answered: BTreeSet<&str> = ActorKind::ALL
            .iter()
            .flat_map(|kind| messages_of(*kind).iter().copied())
            .collect();
        assert_eq!(
            names, answered,
            "every message a kind answers has an example here"
        );
    }
}
