//! The values the handlers' `#[example]`s are made of: one user, address,
//! product, cart and order that every kind's examples share, for the wire
//! test that sends each message and reply through JSON and back.

pub use chrono::Utc;
pub use std::sync::Arc;
pub use std::time::Duration;

pub use crate::bus::{DeliverEvent, Event, EventEnvelope, ProductChanged};
pub use crate::catalogue::{
    CategoryCount, Facets, Listed, PriceBandCount, ProductFilter, ProductPage, ProductSort,
};
pub use crate::domain::ActorKind;
pub use crate::domain::{
    AddressChanges, AddressDraft, Cart, CartOwner, ClientKey, Email, IdempotencyKey, NewAddress,
    NewProduct, Order, OrderLine, OrderStatus, OtpCode, Page, Payment, PaymentProvider,
    PaymentStatus, PhoneNumber, PricedLine, Product, ProductDraft, ProfileChanges, Quantity, Role,
    Shortage, Size, Stock, User, ValidationError,
};
pub use crate::runtime::{ActorError, CallError, DependencyStatus};
pub use crate::store::{OrderFilter, OrderPage};

pub fn email() -> Email {
    Email::parse("ana@example.com").unwrap()
}

pub fn user() -> User {
    User {
        id: 7,
        email: email().as_str().to_owned(),
        phone_number: Some("+1 555 0100".into()),
        name: Some("Ana".into()),
        role: Role::Customer,
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}

pub fn draft() -> AddressDraft {
    AddressDraft {
        street: Some("1 Main St".into()),
        city: Some("Springfield".into()),
        zip_code: Some("62701".into()),
        country: Some("US".into()),
        ..Default::default()
    }
}

pub fn address() -> crate::domain::Address {
    crate::domain::Address {
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
    }
}

pub fn new_product() -> NewProduct {
    NewProduct::parse(ProductDraft {
        title: Some("Linen dress".into()),
        price: Some(4900),
        category: Some("dresses".into()),
        ..Default::default()
    })
    .unwrap()
}

pub fn product() -> Product {
    Product {
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
    }
}

pub fn client() -> ClientKey {
    ClientKey::from_ip("192.0.2.1".parse().unwrap())
}

pub fn refused<T>() -> Result<T, ActorError> {
    Err(ActorError::RateLimited {
        retry_after: Duration::from_secs(3),
    })
}

pub fn guest() -> CartOwner {
    CartOwner::Guest("0b9c7a52-6f0e-4f55-9d1b-7a4a6b7f2e10".into())
}

pub fn cart() -> Cart {
    Cart {
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
    }
}

pub fn order() -> Order {
    Order {
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
        shipping_address: address(),
        created_at: Utc::now(),
        payment: Payment {
            provider: PaymentProvider::Stripe,
            status: PaymentStatus::Awaiting,
            intent_id: Some("pi_3Q".into()),
            client_secret: Some("pi_3Q_secret_x".into()),
            reference: None,
            failure: Some("Your card was declined.".into()),
            refund: None,
            due_at: Some(Utc::now()),
            paid_at: None,
        },
    }
}

/// A `product.changed` handed to a subscriber, as every kind that
/// subscribes is sent it.
pub fn delivery() -> DeliverEvent {
    DeliverEvent(Arc::new(EventEnvelope {
        message_id: uuid::Uuid::new_v4(),
        origin_node: "node-a".into(),
        timestamp: Utc::now(),
        event: Event::ProductChanged(ProductChanged { product_id: 1 }),
    }))
}

pub fn delivery_timed_out() -> Result<(), ActorError> {
    Err(ActorError::Call(CallError::Timeout(ActorKind::Mailer)))
}

pub fn dependency_up() -> Result<DependencyStatus, ActorError> {
    Ok(DependencyStatus::from_result::<std::io::Error>(
        "kv",
        Ok(()),
    ))
}
