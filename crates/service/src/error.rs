use lanyard_domain::{Aal, PageTokenError};
use lanyard_store::{ConflictOn, StoreError};

/// Everything a use case can refuse, in terms both APIs can translate.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0}")]
    Invalid(String),
    #[error("the page token is invalid: {0}")]
    PageToken(#[from] PageTokenError),
    #[error("the traits do not match identity schema {schema_id}: {}", .problems.join("; "))]
    SchemaViolation { schema_id: String, problems: Vec<String> },
    #[error("{0}")]
    Conflict(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    /// No credentials, or credentials that match nothing valid.
    #[error("{0}")]
    Unauthenticated(&'static str),
    #[error("{0}")]
    Forbidden(String),
    #[error("the session does not fulfil the required assurance level {required:?}")]
    AalRequired { required: Aal },
    #[error("the identity is disabled")]
    IdentityDisabled,
    /// The request is well-formed but the object is in the wrong state for it.
    #[error("{0}")]
    PreconditionFailed(String),
    /// A credential check (password, TOTP, recovery code) did not pass.
    #[error("{0}")]
    CheckFailed(String),
    #[error("{0}")]
    Unimplemented(String),
    #[error("{}; retry in {retry_after_seconds} s", .limit.describe())]
    RateLimited { limit: Limit, retry_after_seconds: u64 },
    #[error("the store is unavailable")]
    Unavailable(#[source] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

/// Which limit refused a request (429), so that the answer can say what to slow down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Failed password, TOTP or recovery-code checks, per identity or client IP.
    FailedChecks,
    /// New sessions, per identity or end-user IP.
    NewSessions,
    /// Lists and searches running at once for this caller (API key, or identity behind a
    /// session token).
    CallerSearches,
    /// Lists and searches running at once on this node, all callers together.
    NodeSearches,
}

impl Limit {
    pub fn describe(self) -> &'static str {
        match self {
            Limit::FailedChecks => "too many failed checks",
            Limit::NewSessions => "too many new sessions for this identity or address",
            Limit::CallerSearches => "too many list or search requests at once from this caller",
            Limit::NodeSearches => "the server is busy with other list and search requests",
        }
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(ConflictOn::Identifier) => ServiceError::Conflict(
                "an identity with the same identifier (e.g. email or username) already exists".into(),
            ),
            StoreError::Conflict(ConflictOn::ExternalId) => {
                ServiceError::Conflict("an identity with the same external_id already exists".into())
            }
            StoreError::Conflict(ConflictOn::Id) => {
                ServiceError::Conflict("an object with this id already exists".into())
            }
            // A query the database gave up on for time is worth retrying, like an outage.
            error if error.is_unavailable() || error.is_timeout() => ServiceError::Unavailable(error),
            error => ServiceError::Internal(error.to_string()),
        }
    }
}
