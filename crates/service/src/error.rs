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
    NotFound(Missing),
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
    /// A credential check (password, TOTP, recovery code) did not pass; it counts toward the
    /// failed-check limits.
    #[error("{0}")]
    CheckFailed(FailedCheck),
    /// A one-time code could not be sent.
    #[error(transparent)]
    Delivery(#[from] crate::DeliveryError),
    /// A checked-session request refused for a reason the ZITADEL API names with an id of its
    /// own (see `Refusal`).
    #[error(transparent)]
    Refused(Refusal),
    #[error("{0}")]
    Unimplemented(String),
    #[error("{}; retry in {retry_after_seconds} s", .limit.describe())]
    RateLimited { limit: Limit, retry_after_seconds: u64 },
    #[error("the store is unavailable")]
    Unavailable(#[source] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

/// What a lookup did not find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    Session,
    Identity,
    /// An identity looked up as a ZITADEL user (by id or login name).
    User,
    Credential,
    ApiKey,
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Missing::Session => "session",
            Missing::Identity => "identity",
            Missing::User => "user",
            Missing::Credential => "credential",
            Missing::ApiKey => "active API key",
        })
    }
}

/// Which credential check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FailedCheck {
    #[error("the password is invalid")]
    Password,
    #[error("the TOTP code is invalid")]
    Totp,
    #[error("the recovery code is invalid or already used")]
    RecoveryCode,
    #[error("the IdP intent is unknown, already used, expired, for another user, or its token is wrong")]
    IdpIntent,
    #[error("the one-time code is wrong, already used or expired")]
    OneTimeCode,
    #[error(
        "the WebAuthn assertion does not verify: wrong credential or signature, a replayed or \
         cloned authenticator, or no unused, unexpired challenge for it"
    )]
    Webauthn,
}

/// Why a checked session could not be created, read, deleted or searched. Each is its own
/// variant because the ZITADEL API answers each with its own error id; the APIs translate them
/// in one place each (`lanyard_api::zitadel::error`, `lanyard_api::kratos::error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the user is locked: too many failed password checks; an administrator must unlock it")]
    UserLocked,
    #[error("the user is not active")]
    UserInactive,
    #[error("the caller may not read this session")]
    ReadDenied,
    #[error("the caller may not delete this session")]
    DeleteDenied,
    #[error("limit {requested} exceeds the maximum of {max}")]
    LimitExceeded { requested: u32, max: u32 },
    #[error("the caller's token carries no user agent to query by")]
    NoUserAgentToQuery,
    /// A session-token caller asked to revoke the session it is using (Kratos's own-sessions
    /// API): that is what logout is for.
    #[error("cannot revoke current session; use the logout flow instead")]
    CurrentSession,
}

impl From<Refusal> for ServiceError {
    fn from(refusal: Refusal) -> Self {
        ServiceError::Refused(refusal)
    }
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
    /// Codes sent to one session on one channel: each SMS or email costs, and a caller must not
    /// be able to turn Lanyard into a message pump.
    CodeResends,
}

impl Limit {
    pub fn describe(self) -> &'static str {
        match self {
            Limit::FailedChecks => "too many failed checks",
            Limit::NewSessions => "too many new sessions for this identity or address",
            Limit::CallerSearches => "too many list or search requests at once from this caller",
            Limit::NodeSearches => "the server is busy with other list and search requests",
            Limit::CodeResends => "a code was sent to this session on this channel moments ago",
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
