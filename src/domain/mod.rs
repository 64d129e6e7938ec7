//! Plain types and rules, no I/O and nothing of HTTP. Every value that enters
//! from outside is parsed into one of these types, so code past the HTTP layer
//! never sees an unchecked string. Their serde form is what travels between
//! nodes; a checked type is parsed again when it is read back.

mod address;
mod backoff;
mod checkout;
mod client;
mod email;
mod events;
mod guest_cart;
mod kind;
mod money;
mod node;
mod notification;
mod order;
mod otp;
mod page;
mod payment;
mod product;
pub mod rules;
mod token;
mod user;
mod validation;

pub use address::{Address, AddressChanges, AddressDraft, NewAddress};
pub use backoff::Backoff;
pub use checkout::{
    cart_as_checked, checkout_fingerprint, price_checkout, price_was_seen, retry_of,
    units_restocked, CheckoutLine, PricedCheckout, Retry,
};
pub use client::ClientKey;
pub use email::Email;
pub use events::{
    Event, OrderCancelled, OrderPlaced, OtpIssued, PaymentExpired, PaymentRefunded,
    PaymentSucceeded, ProductChanged, UserCreated,
};
pub use guest_cart::{GuestCartId, GuestCarts, IssuedGuestCart};
pub use kind::{config_keys, ActorKind};
pub use money::{Currency, PriceBands};
pub use node::is_node_id;
pub use notification::{render, MailContent, MailKind};
pub use order::{
    price_cart, Cart, CartItem, CartOwner, IdempotencyKey, OnSale, Order, OrderLine, OrderStatus,
    PricedLine, Quantity, Shortage,
};
pub use otp::{OtpCode, OtpHasher};
pub use page::Page;
pub use payment::{
    parse_intent_event, verify_stripe_signature, IntentEvent, IntentOutcome, NotAnEvent, Payment,
    PaymentProvider, PaymentReference, PaymentStatus, SignatureError,
};
pub use product::{
    category_name, final_price, search_terms, Faq, NewProduct, Product, ProductDraft, Size, Stock,
    Variant,
};
pub use token::{Claims, IssuedToken, TokenError, TokenSigner};
pub use user::{AdminList, PersonName, PhoneNumber, ProfileChanges, Role, User};
pub(crate) use validation::{bounded_text, long_text, string_newtype};
pub use validation::{Invalid, ValidationError};
