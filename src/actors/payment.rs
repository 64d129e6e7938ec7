//! PaymentActor: the payment side of orders. It asks the provider
//! (`payments.provider`) to take, stop or give back an order's money, and
//! writes what the provider answers in the store, each change in one
//! transaction with its event. It believes Stripe's webhooks only once
//! their signature is verified, and every change is conditional on the
//! states it leaves, so news told twice or out of order changes nothing
//! twice. Unpaid orders past their time are cancelled by whichever node
//! claims them first in the database.

use actix::prelude::*;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::order::OrderParts;
use super::ActorError;
use crate::domain::{
    parse_intent_event, verify_stripe_signature, IntentOutcome, Order, OrderStatus,
    PaymentProvider, PaymentReference, PaymentStatus,
};
use crate::payments::{Provider, ProviderError, Stopped};
use crate::runtime::Reply;
use crate::store::{
    OrderChange, PaymentOutcome, PaymentProof, PaymentStore, RefundStart, Transition,
};
use crate::telemetry::error_chain;

/// Orders one sweep expires at most; the next sweep takes the rest.
const EXPIRED_PER_SWEEP: u32 = 20;

/// Tries of a cancellation that a payment's news overtook (the order was
/// paid between the read and the change).
const CANCEL_TRIES: u32 = 3;

pub struct PaymentActor {
    parts: PaymentParts,
}

/// What every instance shares.
#[derive(Clone)]
pub struct PaymentParts {
    pub store: Arc<dyn PaymentStore>,
    pub provider: Provider,
    /// The relay of the outbox and the catalogue's refresh after a change.
    pub orders: OrderParts,
    /// Stripe's webhook signing secret; `None` refuses every webhook.
    pub webhook_secret: Option<Arc<[u8]>>,
    /// This node, as it claims expired orders.
    pub node_id: String,
    /// How long this node's claim of an order (to expire it, to refund it)
    /// holds: longer than the provider's answer may take.
    pub claim_lease: Duration,
}

impl PaymentActor {
    pub fn new(parts: PaymentParts) -> Self {
        PaymentActor { parts }
    }
}

impl Actor for PaymentActor {
    type Context = Context<Self>;
}

fn provider_error(err: ProviderError) -> ActorError {
    tracing::warn!(error = %error_chain(&err), "the payment provider did not do what it was asked");
    match err {
        ProviderError::Refused(reason) => ActorError::Provider(reason),
        ProviderError::Unreachable(_) | ProviderError::Unexpected(_) => {
            ActorError::Provider(format!("{err}; try again"))
        }
    }
}

fn not_allowed(status: OrderStatus, payment: PaymentStatus) -> ActorError {
    ActorError::Conflict(format!(
        "the order is {} and its payment {}",
        status.as_str(),
        payment.as_str()
    ))
}

impl PaymentParts {
    /// The order's payment at the provider, started if it is not yet.
    async fn start(&self, order: Order) -> Result<Order, ActorError> {
        if order.payment.provider != PaymentProvider::Stripe
            || order.payment.intent_id.is_some()
            || order.payment.status != PaymentStatus::Awaiting
            || order.status != OrderStatus::Placed
        {
            return Ok(order);
        }
        let Some(started) = self.provider.start(&order).await.map_err(provider_error)? else {
            return Err(ActorError::Provider(
                "this node takes payments by hand, but the order is to be paid through Stripe"
                    .into(),
            ));
        };
        let recorded = self
            .store
            .record_intent(order.id, &started.intent_id, &started.client_secret)
            .await?
            .ok_or(ActorError::NotFound)?;
        if recorded.payment.intent_id.as_deref() != Some(started.intent_id.as_str()) {
            // Another start was recorded first (Stripe gives one intent per
            // idempotency key; a server that does not would make two): this
            // one must not be payable too.
            if let Err(err) = self.provider.stop(&started.intent_id).await {
                tracing::warn!(order_id = order.id, error = %error_chain(&err), "a second intent of an order could not be cancelled");
            }
        }
        Ok(recorded)
    }

    /// Cancels an order: refunded in full if it was paid, its intent
    /// stopped if not.
    async fn cancel(
        &self,
        id: i64,
        owner: Option<i64>,
        arrived: Instant,
    ) -> Result<Order, ActorError> {
        for _ in 0..CANCEL_TRIES {
            let change = match self.store.start_refund(id, owner, self.claim_lease).await? {
                RefundStart::Missing => return Err(ActorError::NotFound),
                RefundStart::InProgress => {
                    return Err(ActorError::Conflict(
                        "the order is being refunded now".into(),
                    ))
                }
                RefundStart::NotAllowed { status, payment } => {
                    return Err(not_allowed(status, payment))
                }
                RefundStart::Started { order, attempt } => {
                    match self.provider.refund(&order, attempt).await {
                        Ok(refund) => OrderChange::CancelRefunded { owner, refund },
                        Err(err) => {
                            // Refused: it stays paid. Not reached: it stays
                            // held until the claim's lease runs out, and the
                            // next cancellation asks again (a refund made
                            // meanwhile is found then, not made twice).
                            if matches!(err, ProviderError::Refused(_)) {
                                self.store.abandon_refund(id).await?;
                            }
                            return Err(provider_error(err));
                        }
                    }
                }
                RefundStart::Unpaid(order) => {
                    let intent = order.payment.intent_id.clone();
                    if let Some(intent_id) = &intent {
                        match self
                            .provider
                            .stop(intent_id)
                            .await
                            .map_err(provider_error)?
                        {
                            Stopped::Cancelled => {}
                            // Paid meanwhile: so it is, and the next try
                            // refunds it.
                            Stopped::Paid { amount, currency } => {
                                self.paid_as_found(intent_id, amount, currency, arrived)
                                    .await?;
                                continue;
                            }
                            Stopped::Pending => {
                                return Err(ActorError::Conflict(
                                    "the order is being paid now; try again in a moment".into(),
                                ))
                            }
                        }
                    }
                    OrderChange::Cancel { owner, intent }
                }
            };
            match self.orders.store().change_order(id, &change).await? {
                Transition::Done { order, products } => {
                    self.orders.after_commit(products, arrived).await;
                    return Ok(*order);
                }
                Transition::Missing => return Err(ActorError::NotFound),
                // Paid, or given an intent, between the two: try again.
                Transition::NotAllowed {
                    status: OrderStatus::Placed,
                    ..
                } => continue,
                Transition::NotAllowed { status, payment } => {
                    return Err(not_allowed(status, payment))
                }
            }
        }
        Err(ActorError::Conflict(
            "the order's payment is changing now; try again in a moment".into(),
        ))
    }

    /// An intent found paid as it was to be stopped: its order is paid (if
    /// it is this order's payment), whether or not its webhook ever comes.
    async fn paid_as_found(
        &self,
        intent_id: &str,
        amount: i64,
        currency: String,
        arrived: Instant,
    ) -> Result<(), ActorError> {
        let proof = PaymentProof::Intent {
            intent_id: intent_id.to_owned(),
            amount,
            currency,
            reference: format!("stripe intent {intent_id}, found paid"),
        };
        match self.store.mark_paid(&proof).await? {
            PaymentOutcome::Done(order) => {
                tracing::info!(
                    order_id = order.id,
                    "an intent was found paid before its webhook came"
                );
                self.orders.after_commit(Vec::new(), arrived).await;
            }
            PaymentOutcome::Mismatch(order) => {
                tracing::error!(order_id = order.id, amount, "an order's intent was paid another amount than its total; refund or settle it by hand")
            }
            PaymentOutcome::Unchanged(_) | PaymentOutcome::Missing => {}
        }
        Ok(())
    }

    /// What a verified Stripe event says, written.
    async fn apply_webhook(&self, payload: &[u8], arrived: Instant) -> Result<(), ActorError> {
        let event = match parse_intent_event(payload) {
            Ok(Some(event)) => event,
            Ok(None) => return Ok(()),
            Err(err) => return Err(ActorError::Refused(err.to_string())),
        };
        let outcome = match &event.outcome {
            IntentOutcome::Succeeded => {
                self.store
                    .mark_paid(&PaymentProof::Intent {
                        intent_id: event.intent_id.clone(),
                        amount: event.amount,
                        currency: event.currency.clone(),
                        reference: format!("stripe event {}", event.event_id),
                    })
                    .await?
            }
            IntentOutcome::Failed(reason) => {
                self.store.record_failure(&event.intent_id, reason).await?
            }
        };
        match outcome {
            PaymentOutcome::Done(order) => {
                tracing::info!(order_id = order.id, event_id = %event.event_id, payment = order.payment.status.as_str(), "a Stripe event changed an order's payment");
                self.orders.after_commit(Vec::new(), arrived).await;
            }
            PaymentOutcome::Unchanged(order) => {
                let late = event.outcome == IntentOutcome::Succeeded
                    && order.payment.status != PaymentStatus::Paid
                    && order.payment.status != PaymentStatus::Refunded;
                if late {
                    self.refund_late(&order).await;
                } else {
                    tracing::info!(order_id = order.id, event_id = %event.event_id, "a Stripe event told what the order knew: nothing changed");
                }
            }
            PaymentOutcome::Mismatch(order) => {
                tracing::warn!(order_id = order.id, event_id = %event.event_id, amount = event.amount, currency = %event.currency, "a Stripe event does not pay this order (another amount, currency or provider): nothing changed");
            }
            PaymentOutcome::Missing => {
                tracing::warn!(event_id = %event.event_id, intent_id = %event.intent_id, "a Stripe event of an intent no order has: nothing changed");
            }
        }
        Ok(())
    }

    /// A payment that succeeded for an order no longer payable (cancelled
    /// or expired before the customer finished): the money goes back.
    async fn refund_late(&self, order: &Order) {
        match self.provider.refund(order, 1).await {
            Ok(refund) => {
                tracing::warn!(order_id = order.id, refund = %refund, "a payment arrived for an order cancelled before; it was refunded")
            }
            Err(err) => {
                tracing::error!(order_id = order.id, error = %error_chain(&err), "a payment arrived for an order cancelled before and could not be refunded: refund it by hand")
            }
        }
    }

    /// Cancels the orders past their time that this node claims.
    async fn expire_due(&self, arrived: Instant) -> Result<u32, ActorError> {
        let claimed = self
            .store
            .claim_expired(&self.node_id, self.claim_lease, EXPIRED_PER_SWEEP)
            .await?;
        let mut expired = 0;
        for order in claimed {
            let intent = order.payment.intent_id.clone();
            if let Some(intent_id) = &intent {
                match self.provider.stop(intent_id).await {
                    Ok(Stopped::Cancelled) => {}
                    Ok(Stopped::Paid { amount, currency }) => {
                        self.paid_as_found(intent_id, amount, currency, arrived)
                            .await?;
                        continue;
                    }
                    Ok(Stopped::Pending) => {
                        tracing::info!(
                            order_id = order.id,
                            "an order past its time is being paid now; looking again later"
                        );
                        continue;
                    }
                    Err(err) => {
                        tracing::warn!(order_id = order.id, error = %error_chain(&err), "the intent of an order past its time could not be cancelled; trying again later");
                        continue;
                    }
                }
            }
            let change = OrderChange::Expire {
                claimer: self.node_id.clone(),
                intent,
            };
            match self.orders.store().change_order(order.id, &change).await? {
                Transition::Done { products, .. } => {
                    tracing::info!(
                        order_id = order.id,
                        "an unpaid order expired; its stock is back"
                    );
                    self.orders.after_commit(products, arrived).await;
                    expired += 1;
                }
                Transition::NotAllowed { .. } | Transition::Missing => {}
            }
        }
        Ok(expired)
    }
}

/// Starts the payment of one of the caller's orders (`owner: None` for an
/// admin): a Stripe intent, made once however often this is asked.
#[derive(Debug, Serialize, Deserialize)]
pub struct StartPayment {
    pub order_id: i64,
    pub owner: Option<i64>,
}

/// An operator's word that an order paid by hand was paid.
#[derive(Debug, Serialize, Deserialize)]
pub struct MarkPaid {
    pub order_id: i64,
    pub reference: PaymentReference,
}

/// A webhook from Stripe, as it arrived.
#[derive(Debug, Serialize, Deserialize)]
pub struct StripeWebhook {
    pub payload: String,
    pub signature: String,
}

/// Cancels a placed order and gives back its stock, and its money if it
/// was paid; `owner: None` for an admin.
#[derive(Debug, Serialize, Deserialize)]
pub struct CancelOrder {
    pub id: i64,
    pub owner: Option<i64>,
}

/// Cancels the unpaid orders past their time that this node can claim:
/// how many.
#[derive(Debug, Serialize, Deserialize)]
pub struct ExpireDue;

#[storefront_macros::handlers]
impl PaymentActor {
    #[wire("payment.start")]
    #[example(StartPayment { order_id: 9, owner: Some(7) } => Ok(order()))]
    fn start_payment(
        &mut self,
        msg: StartPayment,
        _: &mut Context<Self>,
    ) -> Reply<Result<Order, ActorError>> {
        let parts = self.parts.clone();
        Box::pin(async move {
            let order = parts
                .orders
                .order(msg.order_id, msg.owner)
                .await?
                .ok_or(ActorError::NotFound)?;
            parts.start(order).await
        })
    }

    #[wire("payment.mark_paid")]
    #[example(MarkPaid { order_id: 9, reference: PaymentReference::parse("transfer 2026-12-03").unwrap() } => Ok(order()))]
    fn mark_paid(
        &mut self,
        msg: MarkPaid,
        _: &mut Context<Self>,
    ) -> Reply<Result<Order, ActorError>> {
        let parts = self.parts.clone();
        let arrived = Instant::now();
        Box::pin(async move {
            let proof = PaymentProof::Manual {
                order_id: msg.order_id,
                reference: msg.reference.as_str().to_owned(),
            };
            match parts.store.mark_paid(&proof).await? {
                PaymentOutcome::Done(order) => {
                    parts.orders.after_commit(Vec::new(), arrived).await;
                    Ok(*order)
                }
                PaymentOutcome::Unchanged(order) if order.payment.status == PaymentStatus::Paid => {
                    Ok(*order)
                }
                PaymentOutcome::Unchanged(order) => {
                    Err(not_allowed(order.status, order.payment.status))
                }
                PaymentOutcome::Mismatch(_) => Err(ActorError::Conflict(
                    "the order is paid through Stripe: its webhook marks it paid".into(),
                )),
                PaymentOutcome::Missing => Err(ActorError::NotFound),
            }
        })
    }

    #[wire("payment.stripe_webhook")]
    #[example(StripeWebhook { payload: "{}".into(), signature: "t=1,v1=00".into() } => Err(ActorError::Refused("no v1 signature matches the payload".into())))]
    fn stripe_webhook(
        &mut self,
        msg: StripeWebhook,
        _: &mut Context<Self>,
    ) -> Reply<Result<(), ActorError>> {
        let parts = self.parts.clone();
        let arrived = Instant::now();
        Box::pin(async move {
            let Some(secret) = &parts.webhook_secret else {
                return Err(ActorError::Refused(
                    "this shop takes no Stripe webhooks (payments.stripe.webhook_secret is empty)"
                        .into(),
                ));
            };
            let now = chrono::Utc::now().timestamp();
            if let Err(err) =
                verify_stripe_signature(&msg.signature, msg.payload.as_bytes(), secret, now)
            {
                tracing::warn!(error = %err, "a Stripe webhook was refused");
                return Err(ActorError::Refused(err.to_string()));
            }
            parts.apply_webhook(msg.payload.as_bytes(), arrived).await
        })
    }

    #[wire("payment.cancel_order")]
    #[example(CancelOrder { id: 9, owner: None } => Err(ActorError::Provider("Cannot refund a failed payment.".into())))]
    fn cancel_order(
        &mut self,
        msg: CancelOrder,
        _: &mut Context<Self>,
    ) -> Reply<Result<Order, ActorError>> {
        let parts = self.parts.clone();
        let arrived = Instant::now();
        Box::pin(async move { parts.cancel(msg.id, msg.owner, arrived).await })
    }

    #[wire("payment.expire_due")]
    #[example(ExpireDue => Ok(2))]
    fn expire_due(
        &mut self,
        _: ExpireDue,
        _: &mut Context<Self>,
    ) -> Reply<Result<u32, ActorError>> {
        let parts = self.parts.clone();
        let arrived = Instant::now();
        Box::pin(async move { parts.expire_due(arrived).await })
    }
}
