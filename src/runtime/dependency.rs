//! Readiness: each actor that owns a dependency (database, key-value store,
//! mail server) checks it when asked, so `/readyz` sees it as the actor does.

use serde::{Deserialize, Serialize};

use super::ActorError;

/// The state of one dependency, as `/readyz` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DependencyStatus {
    pub name: String,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl DependencyStatus {
    pub fn from_result<E: std::error::Error>(name: &'static str, result: Result<(), E>) -> Self {
        match result {
            Ok(()) => DependencyStatus {
                name: name.to_owned(),
                ok: true,
                error: None,
            },
            Err(err) => DependencyStatus {
                name: name.to_owned(),
                ok: false,
                error: Some(crate::telemetry::error_chain(&err)),
            },
        }
    }
}

/// Asks an actor to check the dependency it owns.
#[derive(Debug, actix::Message, Serialize, Deserialize)]
#[rtype(result = "Result<DependencyStatus, ActorError>")]
pub struct CheckDependency;

crate::wire_name!(CheckDependency => "dependency.check");
