//! Storage for Lanyard: one trait, one implementation per database.
//!
//! Every implementation must pass the conformance suite in `tests/`. Implementations hold no
//! business rules beyond what a query needs (the definition of "active" is shared through
//! the SQL of [`sql`], whose test of "active" mirrors `Session::is_active`).

mod changes;
mod check_attempts;
mod error;
mod invalidation;
pub mod postgres;
mod rows;
mod search;
pub use search::first_page_statements;
mod session_batch;
pub mod sql;
pub mod sqlite;
mod write;

use async_trait::async_trait;
use lanyard_domain::{
    ApiKey, EnrolmentKind, Identity, IdentityState, IdpIntent, Micros, OtpChallenge, OtpChannel, PendingEnrolment,
    Session, SessionFilter, SessionQuery, TokenDigest, WebauthnChallenge,
};
use uuid::Uuid;

pub use changes::Change;
pub use check_attempts::{AttemptLimits, AttemptOutcome, AttemptReservation};
pub use error::{ConflictOn, StoreError};
pub use invalidation::{Invalidation, InvalidationEvent};
pub use postgres::{PostgresOptions, PostgresStore};
pub use sqlite::{SqliteOptions, SqliteStore};

/// A session together with the state of its identity, which decides whether it is active.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRow {
    pub session: Session,
    pub identity_state: Option<IdentityState>,
}

impl SessionRow {
    pub fn is_active(&self, now: Micros) -> bool {
        self.session.is_active(now, self.identity_state)
    }
}

/// One page of a search, its exact count and the latest sequence, all read from one snapshot:
/// the count agrees with the rows and `processedSequence` of the same answer, whatever is
/// written meanwhile.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchPage {
    pub rows: Vec<SessionRow>,
    /// Every session matching the query's filter, regardless of its page.
    pub total: u64,
    pub sequence: i64,
}

/// Mutually exclusive identity list filters, as Kratos defines them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum IdentityFilter {
    #[default]
    All,
    Ids(Vec<Uuid>),
    /// Exact (case-insensitive) login identifier.
    Identifier(String),
    /// Identifiers starting with this prefix (case-insensitive).
    IdentifierPrefix(String),
    Organization(Uuid),
}

/// Which sessions a revocation touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeTarget {
    /// One session, whatever its state (revoking a revoked session changes nothing).
    Session(Uuid),
    /// Every active session of an identity, optionally keeping one.
    IdentityActive { identity_id: Uuid, except: Option<Uuid> },
}

pub type StoreResult<T> = Result<T, StoreError>;

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Cheap round trip for readiness checks.
    async fn ping(&self) -> StoreResult<()>;

    async fn insert_identity(&self, identity: &Identity) -> StoreResult<()>;
    /// Replaces every field; `Ok(false)` when the identity does not exist.
    async fn update_identity(&self, identity: &Identity) -> StoreResult<bool>;
    async fn identity(&self, id: Uuid) -> StoreResult<Option<Identity>>;
    async fn identities_by_ids(&self, ids: &[Uuid]) -> StoreResult<Vec<Identity>>;
    async fn identity_by_identifier(&self, identifier: &str) -> StoreResult<Option<Identity>>;
    async fn identity_by_external_id(&self, external_id: &str) -> StoreResult<Option<Identity>>;
    /// Ordered by id; `after` is exclusive.
    async fn list_identities(
        &self,
        filter: &IdentityFilter,
        after: Option<Uuid>,
        limit: u32,
    ) -> StoreResult<Vec<Identity>>;
    /// Deletes the identity and, by cascade, its sessions and devices.
    async fn delete_identity(&self, id: Uuid) -> StoreResult<bool>;

    /// Stores a new session with its devices; returns the sequence it was given.
    async fn insert_session(&self, session: &Session, digest: &TokenDigest) -> StoreResult<i64>;
    async fn session_by_digest(&self, digest: &TokenDigest) -> StoreResult<Option<SessionRow>>;
    /// The session and its whole identity (`None` if it has none) in one read: whoami's
    /// store lookup when the token is not cached.
    async fn session_and_identity_by_digest(
        &self,
        digest: &TokenDigest,
    ) -> StoreResult<Option<(SessionRow, Option<Identity>)>>;
    async fn session(&self, id: Uuid) -> StoreResult<Option<SessionRow>>;
    async fn list_sessions(&self, query: &SessionQuery, now: Micros) -> StoreResult<Vec<SessionRow>>;
    async fn count_sessions(&self, filter: &SessionFilter, now: Micros) -> StoreResult<u64>;
    /// The page `query` asks for, the count of its filter and the current sequence, in one
    /// read transaction.
    async fn search_sessions(&self, query: &SessionQuery, now: Micros) -> StoreResult<SearchPage>;
    /// Writes the session's mutable fields if its sequence is still `expected_sequence`;
    /// replaces the token digest when one is given. Returns the new sequence, or `None` when
    /// the session is gone or changed concurrently.
    async fn update_session(
        &self,
        session: &Session,
        expected_sequence: i64,
        new_digest: Option<&TokenDigest>,
    ) -> StoreResult<Option<i64>>;
    /// Marks sessions revoked; returns the ids that were not revoked before.
    async fn revoke_sessions(&self, target: RevokeTarget, now: Micros) -> StoreResult<Vec<Uuid>>;
    /// Hard-deletes every session of an identity; returns their ids.
    async fn delete_sessions_of_identity(&self, identity_id: Uuid) -> StoreResult<Vec<Uuid>>;
    /// Hard-deletes up to `limit` sessions that expired before `expired_before`
    /// (`expires_at < expired_before`) or were revoked before `revoked_before`
    /// (`revoked_at < revoked_before`), with their devices; returns how many sessions went.
    /// One short statement per call, picked through the expiry and revocation indexes and
    /// deleted by primary key, so callers clean up in batches without long write locks.
    async fn delete_expired_sessions(
        &self,
        expired_before: Micros,
        revoked_before: Micros,
        limit: u32,
    ) -> StoreResult<u64>;

    /// Tells the other nodes sharing this database to drop cached tokens. Stores without a
    /// notification channel do nothing; their nodes rely on the cache's bounded lifetime.
    async fn notify_invalidation(&self, _invalidation: Invalidation) -> StoreResult<()> {
        Ok(())
    }

    /// A stream of the other nodes' invalidations, when the store has a notification channel.
    fn subscribe_invalidations(&self) -> Option<tokio::sync::mpsc::Receiver<InvalidationEvent>> {
        None
    }

    /// The latest session sequence handed out (ZITADEL's `processedSequence`).
    async fn current_sequence(&self) -> StoreResult<i64>;

    /// The change feed: what writes changed after sequence `after`, in sequence order, at most
    /// `limit`. Every write that can change a whoami answer (a session updated, revoked or
    /// deleted; an identity updated or deleted) records one [`Change`] in its own transaction,
    /// under the sequence it takes, and numbers become visible in commit order: a reader that
    /// continues after the last number it saw misses nothing. Creating sessions or identities
    /// records nothing.
    async fn changes_since(&self, after: i64, limit: u32) -> StoreResult<Vec<Change>>;
    /// Deletes the changes recorded `older_than` or longer ago by the database's clock;
    /// returns how many went.
    async fn prune_changes(&self, older_than: time::Duration) -> StoreResult<u64>;

    /// Stores `value` under `name` unless a value is already there; returns the stored value.
    async fn setting_or_insert(&self, name: &str, value: &str) -> StoreResult<String>;

    /// Takes or renews the lease `name` for `holder` until `now + ttl`: `true` when `holder`
    /// has it now. Refused while another holder's lease is running, that is until `now`
    /// reaches its expiry. Nodes sharing the database coordinate work with leases (migrations,
    /// cleanup); they never use session advisory locks.
    async fn try_acquire_lease(&self, name: &str, holder: &str, ttl: time::Duration, now: Micros) -> StoreResult<bool>;
    /// Gives up the lease `name` if `holder` holds it (running or expired); returns whether it did.
    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<bool>;

    /// Takes one check attempt for the identity before its credentials are checked, atomically
    /// against `limits`, so that checks in flight count: a burst of concurrent guesses gets
    /// at most `limits.per_window` verdicts per window, on every node sharing the database.
    async fn reserve_check_attempt(
        &self,
        identity_id: Uuid,
        password: bool,
        limits: AttemptLimits,
        now: Micros,
    ) -> StoreResult<AttemptReservation>;
    /// Settles an attempt granted by [`Store::reserve_check_attempt`] in the window that
    /// started at `window_start`.
    async fn settle_check_attempt(
        &self,
        identity_id: Uuid,
        window_start: Micros,
        outcome: AttemptOutcome,
    ) -> StoreResult<()>;
    /// Lifts a password lockout; `true` when there was one to lift (or failures counted).
    async fn unlock_password_checks(&self, identity_id: Uuid) -> StoreResult<bool>;

    async fn insert_api_key(&self, key: &ApiKey) -> StoreResult<()>;
    async fn api_key_by_digest(&self, digest: &TokenDigest) -> StoreResult<Option<ApiKey>>;
    async fn list_api_keys(&self) -> StoreResult<Vec<ApiKey>>;
    async fn revoke_api_key(&self, id: Uuid, now: Micros) -> StoreResult<bool>;

    /// Records an IdP intent, first forgetting those that expired at or before `now`.
    async fn insert_idp_intent(&self, intent: &IdpIntent, now: Micros) -> StoreResult<()>;
    async fn idp_intent(&self, id: Uuid) -> StoreResult<Option<IdpIntent>>;
    /// Uses up an intent: `true` when it still existed with this digest. Of concurrent callers,
    /// exactly one gets `true`.
    async fn consume_idp_intent(&self, id: Uuid, digest: &TokenDigest) -> StoreResult<bool>;

    /// Sets a session's one-time-code challenge on its channel, replacing the one it had, and
    /// forgets every challenge that expired at or before `now`.
    async fn put_otp_challenge(&self, challenge: &OtpChallenge, now: Micros) -> StoreResult<()>;
    async fn otp_challenge(&self, session_id: Uuid, channel: OtpChannel) -> StoreResult<Option<OtpChallenge>>;
    /// Uses up a challenge: `true` when it still existed with this digest. Of concurrent callers,
    /// exactly one gets `true`.
    async fn consume_otp_challenge(
        &self,
        session_id: Uuid,
        channel: OtpChannel,
        digest: &TokenDigest,
    ) -> StoreResult<bool>;

    /// Records a registration that waits for its verification, replacing the identity's
    /// earlier one of the same kind, and forgets every one that expired at or before `now`.
    async fn put_pending_enrolment(&self, pending: &PendingEnrolment, now: Micros) -> StoreResult<()>;
    async fn pending_enrolment(&self, identity_id: Uuid, kind: EnrolmentKind) -> StoreResult<Option<PendingEnrolment>>;
    /// Uses up a registration: `true` when it still existed. Of concurrent callers, exactly one
    /// gets `true`.
    async fn consume_pending_enrolment(&self, id: Uuid) -> StoreResult<bool>;

    /// Sets a session's WebAuthn challenge, replacing the one it had, and forgets every
    /// challenge that expired at or before `now`.
    async fn put_webauthn_challenge(&self, challenge: &WebauthnChallenge, now: Micros) -> StoreResult<()>;
    /// Uses up a session's challenge and returns it: of concurrent callers, exactly one gets it.
    async fn take_webauthn_challenge(&self, session_id: Uuid) -> StoreResult<Option<WebauthnChallenge>>;
}
