use async_trait::async_trait;
use chrono::Utc;
use std::time::Duration;

use super::orders::{checked, write_event};
use super::{dialect, SqlStore};
use crate::domain::{Currency, Email, Event, PaymentStatus, PaymentSucceeded};
use crate::store::{
    OrderStore, PaymentOutcome, PaymentProof, PaymentStore, RefundStart, StoreError,
};

impl SqlStore {
    /// The order of a Stripe intent.
    async fn order_of_intent(&self, intent_id: &str) -> Result<Option<i64>, StoreError> {
        let id: Option<(i64,)> =
            sqlx::query_as("SELECT id FROM orders WHERE payment_intent_id = $1")
                .bind(intent_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(id.map(|(id,)| id))
    }

    async fn outcome_of(&self, id: i64, changed: bool) -> Result<PaymentOutcome, StoreError> {
        Ok(match self.order(id).await? {
            Some(order) if changed => PaymentOutcome::Done(Box::new(order)),
            Some(order) => PaymentOutcome::Unchanged(Box::new(order)),
            None => PaymentOutcome::Missing,
        })
    }
}

#[async_trait]
impl PaymentStore for SqlStore {
    async fn record_intent(
        &self,
        order_id: i64,
        intent_id: &str,
        client_secret: &str,
    ) -> Result<Option<crate::domain::Order>, StoreError> {
        sqlx::query(&format!(
            "UPDATE orders SET payment_intent_id = $2, payment_client_secret = $3, updated_at = $4
             WHERE id = $1 AND payment_intent_id IS NULL AND payment_status = 'awaiting'
                   AND status = 'placed'
                   AND (expiry_claimed_until IS NULL OR expiry_claimed_until < {now})",
            now = dialect::NOW
        ))
        .bind(order_id)
        .bind(intent_id)
        .bind(client_secret)
        .bind(Utc::now())
        .execute(&self.pool)
        .await?;
        self.order(order_id).await
    }

    async fn mark_paid(&self, proof: &PaymentProof) -> Result<PaymentOutcome, StoreError> {
        let (id, reference, provider) = match proof {
            PaymentProof::Manual {
                order_id,
                reference,
            } => (*order_id, reference.clone(), "manual"),
            PaymentProof::Intent {
                intent_id,
                amount,
                currency,
                reference,
            } => {
                let Some(id) = self.order_of_intent(intent_id).await? else {
                    return Ok(PaymentOutcome::Missing);
                };
                let Some(order) = self.order(id).await? else {
                    return Ok(PaymentOutcome::Missing);
                };
                if !order.is_paid_in_full_by(*amount, currency) {
                    return Ok(PaymentOutcome::Mismatch(Box::new(order)));
                }
                (id, reference.clone(), "stripe")
            }
        };
        let mut tx = self.begin_write().await?;
        let changed: Option<(i64, String, i64, String)> = sqlx::query_as(
            "UPDATE orders SET payment_status = 'paid', payment_reference = $2, paid_at = $3,
                               payment_failure = NULL, updated_at = $3
             WHERE id = $1 AND status = 'placed' AND payment_status = 'awaiting'
                   AND payment_provider = $4
             RETURNING user_id, email, subtotal, currency",
        )
        .bind(id)
        .bind(&reference)
        .bind(Utc::now())
        .bind(provider)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((user_id, email, total, currency)) = changed else {
            tx.rollback().await?;
            return Ok(match self.order(id).await? {
                Some(order) if order.payment.provider.as_str() != provider => {
                    PaymentOutcome::Mismatch(Box::new(order))
                }
                Some(order) => PaymentOutcome::Unchanged(Box::new(order)),
                None => PaymentOutcome::Missing,
            });
        };
        write_event(
            &mut tx,
            &Event::PaymentSucceeded(PaymentSucceeded {
                order_id: id,
                user_id,
                email: checked(Email::parse(&email))?,
                total,
                currency: checked(Currency::parse(&currency))?,
                provider: crate::domain::PaymentProvider::parse(provider)
                    .expect("a provider's own name"),
            }),
        )
        .await?;
        tx.commit().await?;
        self.outcome_of(id, true).await
    }

    async fn record_failure(
        &self,
        intent_id: &str,
        reason: &str,
    ) -> Result<PaymentOutcome, StoreError> {
        let Some(id) = self.order_of_intent(intent_id).await? else {
            return Ok(PaymentOutcome::Missing);
        };
        let changed = sqlx::query(
            "UPDATE orders SET payment_failure = $2, updated_at = $3
             WHERE id = $1 AND payment_status = 'awaiting' AND status = 'placed'
                   AND (payment_failure IS NULL OR payment_failure <> $2)",
        )
        .bind(id)
        .bind(reason)
        .bind(Utc::now())
        .execute(&self.pool)
        .await?
        .rows_affected();
        self.outcome_of(id, changed > 0).await
    }

    async fn start_refund(
        &self,
        id: i64,
        owner: Option<i64>,
        lease: Duration,
    ) -> Result<RefundStart, StoreError> {
        let started: Option<(i32,)> = sqlx::query_as(&format!(
            "UPDATE orders SET refund_started_at = {now}, refund_attempts = refund_attempts + 1
             WHERE id = $1 AND ($2 IS NULL OR user_id = $2)
                   AND status = 'placed' AND payment_status = 'paid'
                   AND (refund_started_at IS NULL OR refund_started_at < {lease_ago})
             RETURNING refund_attempts",
            now = dialect::NOW,
            lease_ago = dialect::now_plus_seconds(3)
        ))
        .bind(id)
        .bind(owner)
        .bind(-lease.as_secs_f64())
        .fetch_optional(&self.pool)
        .await?;
        let Some(order) = self
            .order(id)
            .await?
            .filter(|order| owner.is_none_or(|owner| order.user_id == owner))
        else {
            return Ok(RefundStart::Missing);
        };
        Ok(if let Some((attempt,)) = started {
            RefundStart::Started {
                order: Box::new(order),
                attempt: u32::try_from(attempt).unwrap_or(1),
            }
        } else if order.status == crate::domain::OrderStatus::Placed
            && order.payment.status == PaymentStatus::Paid
        {
            RefundStart::InProgress
        } else if order.status == crate::domain::OrderStatus::Placed
            && order.payment.status == PaymentStatus::Awaiting
        {
            RefundStart::Unpaid(Box::new(order))
        } else {
            RefundStart::NotAllowed {
                status: order.status,
                payment: order.payment.status,
            }
        })
    }

    async fn abandon_refund(&self, id: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE orders SET refund_started_at = NULL
             WHERE id = $1 AND status = 'placed' AND payment_status = 'paid'",
        )
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn claim_expired(
        &self,
        claimer: &str,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<crate::domain::Order>, StoreError> {
        let claimed: Vec<(i64,)> = sqlx::query_as(&format!(
            "UPDATE orders SET expiry_claimed_by = $1, expiry_claimed_until = {until}
             WHERE id IN (SELECT id FROM orders
                          WHERE status = 'placed' AND payment_status = 'awaiting'
                                AND payment_due_at <= {now} AND refund_started_at IS NULL
                                AND (expiry_claimed_until IS NULL OR expiry_claimed_until < {now})
                          ORDER BY payment_due_at LIMIT $3{skip_locked})
             RETURNING id",
            until = dialect::now_plus_seconds(2),
            now = dialect::NOW,
            skip_locked = dialect::SKIP_LOCKED
        ))
        .bind(claimer)
        .bind(lease.as_secs_f64())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let mut orders = Vec::with_capacity(claimed.len());
        for (id,) in claimed {
            orders.extend(self.order(id).await?);
        }
        Ok(orders)
    }
}
