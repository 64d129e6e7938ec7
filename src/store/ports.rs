//! The storage traits, the only thing actors see of persistence, with the
//! values they take and give. The SQL stores, Redis and the in-memory
//! stores implement them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::time::Duration;

use crate::domain::Event;
use crate::domain::{
    Address, AddressChanges, Cart, CartItem, CartOwner, IdempotencyKey, MailKind, NewAddress,
    NewProduct, Order, OrderStatus, Page, PaymentProvider, PaymentStatus, Product, ProfileChanges,
    Quantity, Role, Shortage, Size, Stock, User,
};

use super::StoreError;

/// How a conditional write ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written<T> {
    Done(T),
    /// Nothing with that id (or it was deleted).
    Missing,
    /// It exists but no longer has the version the write named.
    Stale,
}

/// A mail held for delivery: what it is, its envelope and its bytes, sealed
/// so that the queue never holds a sign-in code in clear.
#[derive(Debug, Clone)]
pub struct StoredMail {
    pub kind: MailKind,
    pub sender: Option<String>,
    pub recipients: Vec<String>,
    /// Never holds a secret (see `domain::MailContent`).
    pub subject: String,
    pub sealed: Vec<u8>,
    /// After this the mail is not delivered but deleted.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A mail in the queue, as operators see it: no content.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueuedMailSummary {
    pub id: i64,
    pub kind: MailKind,
    pub recipients: Vec<String>,
    pub subject: String,
    pub attempts: u32,
    pub last_error: String,
    pub next_attempt_at: DateTime<Utc>,
    pub dead: bool,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A mail claimed for a try.
#[derive(Debug, Clone)]
pub struct QueuedMail {
    pub id: i64,
    pub mail: StoredMail,
    pub attempts: u32,
}

/// The durable mail queue. Every mail is written here before its first try
/// and deleted once delivered, so a mail is never lost and never sent by two
/// tries at once: whoever holds a mail's lease is the only one sending it.
/// Leases and due times are kept by the database's clock, so a node whose
/// clock is wrong cannot take a mail another node holds.
#[async_trait]
pub trait MailQueue: Send + Sync {
    /// Writes the mail that event `event_id` asks for, leased to the caller
    /// for `lease`; returns its id, or `None` when that event's mail was
    /// written before (the event was delivered again), even if it was sent
    /// and deleted since.
    async fn enqueue(
        &self,
        event_id: &str,
        mail: &StoredMail,
        lease: Duration,
    ) -> Result<Option<i64>, StoreError>;
    /// Takes up to `limit` live mails that are due and leases them for
    /// `lease`, so two nodes never send the same try.
    async fn claim_due(&self, lease: Duration, limit: u32) -> Result<Vec<QueuedMail>, StoreError>;
    /// Removes a mail: delivered, or not worth delivering any more.
    async fn delete(&self, id: i64) -> Result<(), StoreError>;
    /// Records a failed try, to be tried again after `retry_in`; `None`
    /// marks the mail dead.
    async fn failed(
        &self,
        id: i64,
        attempts: u32,
        error: &str,
        retry_in: Option<Duration>,
    ) -> Result<(), StoreError>;
    /// Deletes every mail whose content expired; returns how many.
    async fn purge_expired(&self) -> Result<u64, StoreError>;
    async fn queued(&self) -> Result<Vec<QueuedMailSummary>, StoreError>;
    /// Makes a live mail (dead or not) due now with a fresh count of tries,
    /// unless a try holds its lease: that try may still deliver it.
    async fn retry_now(&self, id: i64) -> Result<RetryNow, StoreError>;
}

/// What asking for a mail's retry found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryNow {
    /// It is due now.
    Due,
    /// A try is sending it (holds its lease); nothing changed.
    Sending,
    /// No such live mail: never queued, delivered, or expired.
    Missing,
}

/// Users and their addresses.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Finds the user with `email` or creates one; `true` when created. The
    /// role is set to `role` either way, so admin lists apply at every login.
    async fn upsert_login(
        &self,
        email: &str,
        phone_number: Option<&str>,
        role: Role,
    ) -> Result<(User, bool), StoreError>;
    async fn user(&self, id: i64) -> Result<Option<User>, StoreError>;
    async fn update_profile(
        &self,
        id: i64,
        changes: &ProfileChanges,
    ) -> Result<Option<User>, StoreError>;
    async fn addresses(&self, user_id: i64) -> Result<Vec<Address>, StoreError>;
    async fn address(&self, user_id: i64, id: i64) -> Result<Option<Address>, StoreError>;
    async fn add_address(&self, user_id: i64, address: &NewAddress) -> Result<Address, StoreError>;
    async fn update_address(
        &self,
        user_id: i64,
        id: i64,
        changes: &AddressChanges,
    ) -> Result<Option<Address>, StoreError>;
    async fn delete_address(&self, user_id: i64, id: i64) -> Result<bool, StoreError>;
    /// Erases the person behind an account, in one transaction: the user's
    /// email, phone and name go (the row stays, emptied, for the orders
    /// that name it, and its email is free for a new account), so do its
    /// addresses and cart; its orders stay for the shop's books with their
    /// email and shipping address anonymised.
    async fn erase_user(&self, user_id: i64) -> Result<Erasure, StoreError>;
    /// One round trip to the database, for readiness.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// What erasing a user found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Erasure {
    /// Erased now.
    Now,
    /// Erased before: nothing left to erase.
    Before,
    /// No such user.
    Missing,
}

/// Signed-out session tokens, and users whose every session ended (an
/// erased account), each kept until the tokens would have expired anyway.
#[async_trait]
pub trait RevocationStore: Send + Sync {
    async fn revoke(&self, jti: &str, expires_at: DateTime<Utc>) -> Result<(), StoreError>;
    /// Ends every session of `user_id` issued before now: a token lives no
    /// longer than `until`.
    async fn revoke_user(&self, user_id: i64, until: DateTime<Utc>) -> Result<(), StoreError>;
    /// Whether the token `jti` of `user_id` is signed out, by itself or
    /// with all of its user's.
    async fn is_revoked(&self, jti: &str, user_id: i64) -> Result<bool, StoreError>;
}

/// The revocations of tokens that have not expired yet.
#[derive(Debug, Default)]
pub struct LiveRevocations {
    /// jti, and when its token expires.
    pub tokens: Vec<(String, DateTime<Utc>)>,
    /// A user whose every session ended, and when the last could expire.
    pub users: Vec<(i64, DateTime<Utc>)>,
}

/// What checking a presented code against the stored one found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtpCheck {
    /// The code matched and has been consumed.
    Accepted,
    /// Wrong code; the stored one died if no attempts are left.
    Rejected { attempts_left: u32 },
    /// No live code for this email (never sent, expired, used or dead).
    Missing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    Allowed,
    Limited { retry_after: Duration },
}

/// Short-lived sign-in state: OTP hashes with their attempt counters and the
/// per-email send windows. Every operation is one atomic check-and-change,
/// so concurrent callers can never both win.
#[async_trait]
pub trait OtpStore: Send + Sync {
    /// Stores the hash of a new code for `email`, replacing any previous one
    /// and its attempt counter.
    async fn put_code(&self, email: &str, hash: [u8; 32], ttl: Duration) -> Result<(), StoreError>;
    /// Compares `hash` with the stored one in constant time; consumes the code
    /// on a match, counts a wrong try otherwise.
    async fn check_code(
        &self,
        email: &str,
        hash: &[u8; 32],
        max_attempts: u32,
    ) -> Result<OtpCheck, StoreError>;
    /// Counts one hit of `key` in a fixed window of `window`; limited past `limit`.
    async fn hit(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
    ) -> Result<RateDecision, StoreError>;
    /// Forgets the hits of `key`, as if its window had ended.
    async fn forget_hits(&self, key: &str) -> Result<(), StoreError>;
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Every live product, and the catalogue clock's tick they are as of.
#[derive(Debug)]
pub struct CatalogueRead {
    pub tick: i64,
    pub products: Vec<Product>,
}

/// The products written (created, changed or deleted) after a tick, and
/// the tick now.
#[derive(Debug, PartialEq, Eq)]
pub struct CatalogueChanges {
    pub tick: i64,
    pub ids: Vec<i64>,
}

/// Whether a product write replaces its variants or leaves them as they are
/// (a PATCH without `variants` must not undo a stock change made meanwhile).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VariantsWrite {
    Replace,
    Keep,
}

/// The catalogue. Deleted products are invisible here but stay in the table.
/// Writes that name a version happen only if the product still has it.
#[async_trait]
pub trait ProductStore: Send + Sync {
    async fn create_product(
        &self,
        product: &NewProduct,
        currency: &str,
    ) -> Result<Product, StoreError>;
    async fn product(&self, id: i64) -> Result<Option<Product>, StoreError>;
    async fn replace_product(
        &self,
        id: i64,
        product: &NewProduct,
        variants: VariantsWrite,
        expected_version: Option<i64>,
    ) -> Result<Written<Product>, StoreError>;
    async fn delete_product(
        &self,
        id: i64,
        expected_version: Option<i64>,
    ) -> Result<Written<()>, StoreError>;
    async fn set_stock(
        &self,
        id: i64,
        size: Size,
        stock: Stock,
    ) -> Result<Option<Product>, StoreError>;
    /// Adds products in one transaction (the seed).
    async fn create_products(
        &self,
        products: &[NewProduct],
        currency: &str,
    ) -> Result<(), StoreError>;
    /// The live products among `ids`, by id.
    async fn products(&self, ids: &[i64]) -> Result<Vec<Product>, StoreError>;
    /// Every live product with the tick it is as of: what a node's read
    /// model starts from.
    async fn catalogue(&self) -> Result<CatalogueRead, StoreError>;
    /// Which products were written after `tick`, on any node.
    async fn changed_since(&self, tick: i64) -> Result<CatalogueChanges, StoreError>;
    /// The titles of the live products, for idempotent seeding.
    async fn live_titles(&self) -> Result<Vec<String>, StoreError>;
}

/// A cart as stored: its id (none before its first item) and its lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCart {
    pub id: Option<String>,
    pub items: Vec<CartItem>,
}

/// A line to add: the caller has checked that the product and size exist.
#[derive(Debug, Clone)]
pub struct NewCartLine {
    pub product_id: i64,
    pub size: Size,
    pub quantity: Quantity,
    pub title: String,
}

/// What adding to a cart did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Added {
    Added,
    /// The line would hold more than `available` (stock, or the cap of 99).
    TooMany {
        available: i64,
    },
    /// A new line, and the cart holds `max_lines` already.
    TooManyLines {
        max_lines: u32,
    },
}

/// Carts of users and guests. A guest's cart is only ever found by its id
/// *and* by having no user, so a guessed or stolen id of a user's cart
/// opens nothing.
#[async_trait]
pub trait CartStore: Send + Sync {
    async fn cart(&self, owner: &CartOwner) -> Result<StoredCart, StoreError>;
    /// Adds to the line of the same product and size, or starts one (and
    /// the cart); refuses past `available` in total, and a new line past
    /// `max_lines`.
    async fn add_to_cart(
        &self,
        owner: &CartOwner,
        line: &NewCartLine,
        available: i64,
        max_lines: u32,
    ) -> Result<Added, StoreError>;
    /// The line `item_id` of the owner's cart; `None` when it has none.
    async fn cart_item(
        &self,
        owner: &CartOwner,
        item_id: i64,
    ) -> Result<Option<CartItem>, StoreError>;
    /// `false` when the owner's cart has no such line.
    async fn set_cart_quantity(
        &self,
        owner: &CartOwner,
        item_id: i64,
        quantity: Quantity,
    ) -> Result<bool, StoreError>;
    async fn remove_cart_item(&self, owner: &CartOwner, item_id: i64) -> Result<bool, StoreError>;
    async fn clear_cart(&self, owner: &CartOwner) -> Result<(), StoreError>;
    /// Moves the guest cart's lines into the user's cart, in one
    /// transaction: quantities add up, capped at the stock of the size (and
    /// 99), and lines past `max_lines` are left out; the guest cart is gone
    /// after. A second merge of the same guest cart finds nothing. Returns
    /// how many lines were merged.
    async fn merge_guest_cart(
        &self,
        guest: &str,
        user_id: i64,
        max_lines: u32,
    ) -> Result<usize, StoreError>;
    /// Deletes the guest carts nobody changed for `untouched_for`, by the
    /// database's clock; returns how many.
    async fn delete_idle_guest_carts(&self, untouched_for: Duration) -> Result<u64, StoreError>;
}

/// Background rounds of which one node of a cluster runs each at a time
/// (deleting idle guest carts, say), by leases on the database's clock.
#[async_trait]
pub trait Rounds: Send + Sync {
    /// Takes round `name` for `every`, if nobody holds it: `true` when the
    /// caller is to run it now.
    async fn claim_round(&self, name: &str, every: Duration) -> Result<bool, StoreError>;
}

/// A checkout as the order store is asked for it.
#[derive(Debug, Clone)]
pub struct Checkout {
    pub user_id: i64,
    pub email: String,
    pub address_id: i64,
    pub currency: String,
    /// With the fingerprint of what the request asked for.
    pub idempotency: Option<(IdempotencyKey, String)>,
    /// The subtotal the customer saw: a checkout that would charge another
    /// changes nothing.
    pub expected_subtotal: Option<i64>,
    /// Who will take the money.
    pub payment_provider: PaymentProvider,
    /// How long the order may wait for its payment before it is cancelled.
    pub payment_timeout: Duration,
}

/// What a checkout did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckoutOutcome {
    /// Placed now: the products whose stock it took.
    Placed {
        order: Order,
        products: Vec<i64>,
    },
    /// The key was used before for the same request: that order.
    Replayed(Order),
    /// The key was used before for another request.
    KeyReused,
    NoSuchAddress,
    EmptyCart,
    /// Nothing changed: these lines cannot be had.
    Short(Vec<Shortage>),
    /// Nothing changed: the cart costs another subtotal than the one the
    /// customer saw; this is the cart as the checkout found it.
    SubtotalChanged(Cart),
}

/// Which orders a list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OrderFilter {
    /// Only this user's.
    pub user_id: Option<i64>,
    pub status: Option<OrderStatus>,
    pub payment_status: Option<PaymentStatus>,
}

/// A page of orders and how many there are in all.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OrderPage {
    pub items: Vec<Order>,
    pub total: u64,
}

/// What a status change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// Done: the order now, and the products whose stock came back.
    Done {
        order: Box<Order>,
        products: Vec<i64>,
    },
    /// The order is not in a state that allows it.
    NotAllowed {
        status: OrderStatus,
        payment: PaymentStatus,
    },
    Missing,
}

/// A change of an order's state, each with the states it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderChange {
    /// An unpaid placed order is cancelled; `owner`: only that user's;
    /// `intent`: the intent stopped, which must still be the order's.
    Cancel {
        owner: Option<i64>,
        intent: Option<String>,
    },
    /// A paid placed order whose refund was started is cancelled, refunded
    /// as `refund` (the provider's reference).
    CancelRefunded { owner: Option<i64>, refund: String },
    /// A paid placed order ships.
    Fulfil,
    /// An unpaid placed order past its time, claimed by node `claimer`, is
    /// cancelled with its payment expired; `intent` as for `Cancel`.
    Expire {
        claimer: String,
        intent: Option<String>,
    },
}

/// What a payment's news did to its order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentOutcome {
    /// Changed now (its event is in the outbox).
    Done(Box<Order>),
    /// Nothing to change: it is so already, or no longer awaits payment
    /// (the order now says which).
    Unchanged(Box<Order>),
    /// Not this order's payment: another amount or currency, or another
    /// provider's. Nothing changed.
    Mismatch(Box<Order>),
    /// No such order (of the caller), or no order of that intent.
    Missing,
}

/// How a payment is proven.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentProof {
    /// An operator's word, with its reference (a transfer's id).
    Manual { order_id: i64, reference: String },
    /// Stripe's word that the intent succeeded for this much: `reference`
    /// says where it was heard (a signed event, the intent itself).
    Intent {
        intent_id: String,
        amount: i64,
        currency: String,
        reference: String,
    },
}

/// Where starting a refund left the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundStart {
    /// The order is paid and held for its refund: ask the provider, as
    /// try `attempt` (from 1).
    Started {
        order: Box<Order>,
        attempt: u32,
    },
    /// Not paid: cancel it without a refund.
    Unpaid(Box<Order>),
    /// Another cancellation is refunding it now.
    InProgress,
    NotAllowed {
        status: OrderStatus,
        payment: PaymentStatus,
    },
    Missing,
}

/// The payment side of orders: every change in one transaction with its
/// event, each conditional on the states it leaves, so that news told twice
/// or out of order changes nothing twice.
#[async_trait]
pub trait PaymentStore: Send + Sync {
    /// Records the intent made for an unpaid order that has none; the order
    /// as it is after (with another intent, if one was recorded first).
    async fn record_intent(
        &self,
        order_id: i64,
        intent_id: &str,
        client_secret: &str,
    ) -> Result<Option<Order>, StoreError>;
    /// Marks the order the proof names paid, with `payment.succeeded`.
    async fn mark_paid(&self, proof: &PaymentProof) -> Result<PaymentOutcome, StoreError>;
    /// Records why paying an unpaid order's intent failed.
    async fn record_failure(
        &self,
        intent_id: &str,
        reason: &str,
    ) -> Result<PaymentOutcome, StoreError>;
    /// Holds a paid, placed order for its refund, for `lease`: one
    /// cancellation at a time asks the provider, and one that a crash cut
    /// short is taken over once its lease ran out.
    async fn start_refund(
        &self,
        id: i64,
        owner: Option<i64>,
        lease: Duration,
    ) -> Result<RefundStart, StoreError>;
    /// Lets go of a refund the provider refused: the order stays paid.
    async fn abandon_refund(&self, id: i64) -> Result<(), StoreError>;
    /// Claims for `claimer`, for `lease`, up to `limit` placed orders still
    /// awaiting payment past their time (by the database's clock), that no
    /// other node holds: the orders claimed.
    async fn claim_expired(
        &self,
        claimer: &str,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<Order>, StoreError>;
}

/// Orders and the outbox of the events they cause. Every change writes its
/// event in the same transaction.
#[async_trait]
pub trait OrderStore: Send + Sync {
    /// Takes the stock of every line of the user's cart with a conditional
    /// update, writes the order with a snapshot of each line and of the
    /// address, writes `order.placed` to the outbox and empties the cart,
    /// all in one transaction; or changes nothing.
    async fn place_order(&self, checkout: &Checkout) -> Result<CheckoutOutcome, StoreError>;
    /// A page of orders newest first: a user's own, or everyone's
    /// (`None`), with a status and a payment status or any.
    async fn orders(&self, filter: &OrderFilter, page: Page) -> Result<OrderPage, StoreError>;
    async fn order(&self, id: i64) -> Result<Option<Order>, StoreError>;
    /// Changes the order's state if it is in the states the change needs.
    /// A cancellation puts the stock back (what the rules let back,
    /// recorded on each line) and writes `order.cancelled`, and a
    /// `payment.refunded` or `payment.expired` when it is one: in one
    /// transaction.
    async fn change_order(&self, id: i64, change: &OrderChange) -> Result<Transition, StoreError>;
    /// Hands the outbox's events to `publish`, oldest first, and deletes
    /// each one `publish` accepted (the broker confirmed it); stops at the
    /// first it did not, which waits with those after it for the next
    /// relay. Returns how many went out. Rows another relay holds are
    /// skipped, so nodes relaying together send each event once.
    async fn relay_outbox(&self, publish: &Publish) -> Result<usize, StoreError>;
    /// How many events wait in the outbox.
    async fn outbox_backlog(&self) -> Result<u64, StoreError>;
}

/// Sends on the event of outbox row `id`; `true` once it is safely on its
/// way. Row ids are never reused, so a row relayed twice (the broker took it
/// but the row could not be deleted) can be known by its id.
pub type Publish =
    dyn Fn(i64, Event) -> futures_util::future::BoxFuture<'static, bool> + Send + Sync;

/// Who may handle a bus message now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The caller: nobody claimed it, or a claim older than the lease was
    /// never finished (its node died).
    Ours,
    /// Nobody: it was handled.
    Done,
    /// Another delivery of it is being handled, within its lease.
    Held,
}

/// How long a handled message id is remembered: far longer than any
/// redelivery. The bus refuses events older than this (`bus::trust`), so
/// that a replayed copy cannot outlive the record of the first.
pub const MESSAGES_KEPT: Duration = Duration::from_secs(7 * 24 * 3600);

/// The bus messages each consumer handled, so that one delivered twice is
/// acknowledged without being handled twice. Claims are timed by the
/// database's clock, never a node's.
#[async_trait]
pub trait MessageLog: Send + Sync {
    async fn claim(
        &self,
        consumer: &str,
        message_id: &str,
        lease: std::time::Duration,
    ) -> Result<Claim, StoreError>;
    /// The message was handled: never again.
    async fn finish(&self, consumer: &str, message_id: &str) -> Result<(), StoreError>;
    /// Handling failed: the next delivery may claim it.
    async fn release(&self, consumer: &str, message_id: &str) -> Result<(), StoreError>;
}
