//! What guards a route, read from its handler's arguments: a handler that
//! takes `Admin` is for admins, one that takes `Authenticated` needs a
//! session, one that takes `Client` is under a per-client limit. The
//! OpenAPI document states the refusals each guard can give from this, so
//! that a handler's signature and its documentation cannot disagree.

use actix_web::{web, HttpRequest};

use super::client::Client;
use super::json::JsonBody;
use super::session::{Admin, Authenticated};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Caller {
    Anyone,
    /// A signed-in user: 401 without a session.
    Session,
    /// An admin: 401 without a session, 403 for a customer.
    Admin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Guard {
    pub caller: Caller,
    /// Under a per-client limit: 429 past it.
    pub limited: bool,
}

impl Guard {
    const OPEN: Guard = Guard {
        caller: Caller::Anyone,
        limited: false,
    };

    const fn and(self, other: Guard) -> Guard {
        Guard {
            caller: if (other.caller as u8) > (self.caller as u8) {
                other.caller
            } else {
                self.caller
            },
            limited: self.limited || other.limited,
        }
    }
}

/// What one extractor adds to its handler's guard.
pub trait Guarded {
    const GUARD: Guard = Guard::OPEN;
}

impl Guarded for Admin {
    const GUARD: Guard = Guard {
        caller: Caller::Admin,
        limited: false,
    };
}

impl Guarded for Authenticated {
    const GUARD: Guard = Guard {
        caller: Caller::Session,
        limited: false,
    };
}

impl Guarded for Client {
    const GUARD: Guard = Guard {
        caller: Caller::Anyone,
        limited: true,
    };
}

impl<T> Guarded for web::Data<T> {}
impl<T> Guarded for web::Path<T> {}
impl<T> Guarded for web::Query<T> {}
impl Guarded for HttpRequest {}
impl Guarded for JsonBody {}

/// The guard of a handler's whole argument list.
pub trait Arguments {
    const GUARD: Guard;
}

macro_rules! arguments {
    ($($argument:ident),*) => {
        impl<$($argument: Guarded),*> Arguments for ($($argument,)*) {
            const GUARD: Guard = Guard::OPEN$(.and($argument::GUARD))*;
        }
    };
}

arguments!();
arguments!(A);
arguments!(A, B);
arguments!(A, B, C);
arguments!(A, B, C, D);
arguments!(A, B, C, D, E);
arguments!(A, B, C, D, E, F);

/// The guard of `handler`, from the types of its arguments.
pub fn guard_of<H, Args>(_handler: &H) -> Guard
where
    H: actix_web::Handler<Args>,
    Args: Arguments,
{
    Args::GUARD
}
