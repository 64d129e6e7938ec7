//! Row shapes and their conversions, shared by the SQLite and PostgreSQL
//! stores: only the SQL differs between the two.

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use super::{split_recipients, ParkedMail, QueuedMail, QueuedMailSummary, StoreError};
use crate::domain::{Address, Role, User};

#[derive(FromRow)]
pub(super) struct UserRow {
    pub id: i64,
    pub email: String,
    pub phone_number: Option<String>,
    pub name: Option<String>,
    pub role: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;

    fn try_from(row: UserRow) -> Result<User, StoreError> {
        let role = Role::parse(&row.role).ok_or_else(|| {
            StoreError::Corrupt(format!("user {} has role {:?}", row.id, row.role))
        })?;
        Ok(User {
            id: row.id,
            email: row.email,
            phone_number: row.phone_number,
            name: row.name,
            role,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[derive(FromRow)]
pub(super) struct AddressRow {
    pub id: i64,
    pub label: Option<String>,
    pub street: String,
    pub city: String,
    pub state: Option<String>,
    pub zip_code: String,
    pub country: String,
    pub is_default: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<AddressRow> for Address {
    fn from(row: AddressRow) -> Address {
        Address {
            id: row.id,
            label: row.label,
            street: row.street,
            city: row.city,
            state: row.state,
            zip_code: row.zip_code,
            country: row.country,
            is_default: row.is_default,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

pub(super) const USER_COLUMNS: &str = "id, email, phone_number, name, role, created_at, updated_at";
pub(super) const ADDRESS_COLUMNS: &str =
    "id, label, street, city, state, zip_code, country, is_default, created_at, updated_at";

#[derive(FromRow)]
pub(super) struct QueuedRow {
    pub id: i64,
    pub sender: Option<String>,
    pub recipients: String,
    pub subject: String,
    pub raw: Vec<u8>,
    pub attempts: i64,
    pub last_error: String,
    pub next_attempt_at: DateTime<Utc>,
    pub dead: bool,
    pub created_at: DateTime<Utc>,
}

impl QueuedRow {
    pub(super) fn summary(self) -> QueuedMailSummary {
        QueuedMailSummary {
            id: self.id,
            recipients: split_recipients(&self.recipients),
            subject: self.subject,
            attempts: self.attempts as u32,
            last_error: self.last_error,
            next_attempt_at: self.next_attempt_at,
            dead: self.dead,
            created_at: self.created_at,
        }
    }

    pub(super) fn claimed(self) -> QueuedMail {
        QueuedMail {
            id: self.id,
            attempts: self.attempts as u32,
            mail: ParkedMail {
                sender: self.sender,
                recipients: split_recipients(&self.recipients),
                subject: self.subject,
                raw: self.raw,
            },
        }
    }
}

pub(super) const QUEUE_COLUMNS: &str =
    "id, sender, recipients, subject, raw, attempts, last_error, next_attempt_at, dead, created_at";
