//! [`Store`] on PostgreSQL: the reads are here; the writes are shared with SQLite
//! ([`crate::write`]).

use lanyard_domain::{
    ApiKey, EnrolmentKind, Identity, IdpIntent, Micros, OtpChallenge, OtpChannel, PendingEnrolment, Session,
    SessionFilter, SessionQuery, TokenDigest, WebauthnChallenge,
};
use sqlx::postgres::PgRow;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::reads::{bind_all, devices_into, SearchTx};
use super::PostgresStore;
use crate::rows::{decode_api_key, decode_identity, decode_session, decode_session_view};
use crate::sql::{self, reads, Dialect};
use crate::{
    changes, check_attempts, write, AttemptLimits, AttemptOutcome, AttemptReservation, Change, IdentityFilter,
    Invalidation, InvalidationEvent, RevokeTarget, SearchPage, SessionRow, Store, StoreResult,
};

const POSTGRES: Dialect = Dialect::Postgres;

impl PostgresStore {
    /// `rows` with their devices, loaded with one query.
    async fn with_devices(&self, rows: Vec<SessionRow>) -> StoreResult<Vec<SessionRow>> {
        if rows.is_empty() {
            return Ok(rows);
        }
        devices_into(&mut *self.pool.acquire().await?, rows).await
    }

    /// The session in `row`, if any, with its devices.
    async fn session_with_devices(&self, row: Option<PgRow>) -> StoreResult<Option<SessionRow>> {
        let rows = row.as_ref().map(decode_session).transpose()?.into_iter().collect();
        Ok(self.with_devices(rows).await?.pop())
    }
}

#[async_trait::async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn insert_identity(&self, identity: &Identity) -> StoreResult<()> {
        write::identities::insert(&self.pool, identity).await
    }

    async fn update_identity(&self, identity: &Identity) -> StoreResult<bool> {
        write::identities::update(&self.pool, identity).await
    }

    async fn identity(&self, id: Uuid) -> StoreResult<Option<Identity>> {
        let row = sqlx::query(reads::identity_by_id(POSTGRES))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(decode_identity).transpose()
    }

    async fn identities_by_ids(&self, ids: &[Uuid]) -> StoreResult<Vec<Identity>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(&reads::identities_by_ids(POSTGRES, ids.len()))
            .bind(ids)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode_identity).collect()
    }

    async fn identity_by_identifier(&self, identifier: &str) -> StoreResult<Option<Identity>> {
        let row = sqlx::query(reads::identity_by_identifier(POSTGRES))
            .bind(identifier.to_lowercase().into_bytes())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(decode_identity).transpose()
    }

    async fn identity_by_external_id(&self, external_id: &str) -> StoreResult<Option<Identity>> {
        let row = sqlx::query(reads::identity_by_external_id(POSTGRES))
            .bind(external_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(decode_identity).transpose()
    }

    async fn list_identities(
        &self,
        filter: &IdentityFilter,
        after: Option<Uuid>,
        limit: u32,
    ) -> StoreResult<Vec<Identity>> {
        let after = after.unwrap_or(Uuid::nil());
        let limit = i64::from(limit);
        let query = match filter {
            IdentityFilter::All => sqlx::query(reads::identities_after(POSTGRES)),
            IdentityFilter::Organization(organization) => {
                sqlx::query(reads::identities_of_organization(POSTGRES)).bind(*organization)
            }
            IdentityFilter::Identifier(identifier) => {
                sqlx::query(reads::identities_with_identifier(POSTGRES)).bind(identifier.to_lowercase().into_bytes())
            }
            IdentityFilter::IdentifierPrefix(prefix) => {
                // A range on the primary key instead of LIKE, so the identifier index is used
                // and `%` and `_` are literal. 0xFF never occurs in UTF-8, so every identifier
                // that starts with the prefix, and no other, sorts in [prefix, prefix 0xFF).
                let low = prefix.to_lowercase().into_bytes();
                let mut high = low.clone();
                high.push(0xFF);
                sqlx::query(reads::identities_with_identifier_in(POSTGRES))
                    .bind(low)
                    .bind(high)
            }
            IdentityFilter::Ids(ids) => {
                let mut found = self.identities_by_ids(ids).await?;
                found.retain(|i| i.id > after);
                found.sort_by_key(|i| i.id);
                found.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
                return Ok(found);
            }
        };
        let rows = query.bind(after).bind(limit).fetch_all(&self.pool).await?;
        rows.iter().map(decode_identity).collect()
    }

    async fn delete_identity(&self, id: Uuid) -> StoreResult<bool> {
        write::identities::delete(&self.pool, id).await
    }

    /// Queued to the group-commit writer (`super::session_writer`), which writes concurrent
    /// creates in one transaction.
    async fn insert_session(&self, session: &Session, digest: &TokenDigest) -> StoreResult<i64> {
        self.session_writer.insert(session, digest).await
    }

    async fn session_by_digest(&self, digest: &TokenDigest) -> StoreResult<Option<SessionRow>> {
        let row = sqlx::query(reads::session_by_digest(POSTGRES))
            .bind(&digest.0[..])
            .fetch_optional(&self.pool)
            .await?;
        self.session_with_devices(row).await
    }

    async fn session_and_identity_by_digest(
        &self,
        digest: &TokenDigest,
    ) -> StoreResult<Option<(SessionRow, Option<Identity>)>> {
        let row = sqlx::query(sql::session_view_by_digest(POSTGRES))
            .bind(&digest.0[..])
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(decode_session_view).transpose()
    }

    async fn session(&self, id: Uuid) -> StoreResult<Option<SessionRow>> {
        let row = sqlx::query(reads::session_by_id(POSTGRES))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        self.session_with_devices(row).await
    }

    async fn list_sessions(&self, query: &SessionQuery, now: Micros) -> StoreResult<Vec<SessionRow>> {
        let built = sql::list_sessions(POSTGRES, query, now);
        let rows = bind_all(sqlx::query(&built.sql), &built.params)
            .fetch_all(&self.pool)
            .await?;
        let sessions = rows.iter().map(decode_session).collect::<StoreResult<Vec<_>>>()?;
        if !query.with_devices {
            return Ok(sessions);
        }
        self.with_devices(sessions).await
    }

    async fn count_sessions(&self, filter: &SessionFilter, now: Micros) -> StoreResult<u64> {
        let built = sql::count_sessions(POSTGRES, filter, now);
        let count: i64 = bind_all(sqlx::query(&built.sql), &built.params)
            .fetch_one(&self.pool)
            .await
            .and_then(|row| sqlx::Row::try_get(&row, 0))?;
        Ok(count.max(0) as u64)
    }

    async fn search_sessions(&self, query: &SessionQuery, now: Micros) -> StoreResult<SearchPage> {
        let mut tx = self.pool.begin().await?;
        // A search's statements are planned for their own parameters: from its sixth execution
        // on a connection PostgreSQL may run a prepared statement with a generic plan, and the
        // one it chose for a creator and a creation range walked all of the login UI's 645,000
        // sessions for a page of 100 (2.3 s against 3 ms). SET LOCAL ends with the transaction.
        // (A query without arguments goes out as a simple query, which may hold two statements.)
        sqlx::Executor::execute(
            &mut *tx,
            "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY; \
             SET LOCAL plan_cache_mode = force_custom_plan",
        )
        .await?;
        let page = crate::search::search(&mut SearchTx(&mut tx), POSTGRES, query, now).await?;
        tx.commit().await?;
        Ok(page)
    }

    async fn update_session(
        &self,
        session: &Session,
        expected_sequence: i64,
        new_digest: Option<&TokenDigest>,
    ) -> StoreResult<Option<i64>> {
        write::sessions::update(&self.pool, session, expected_sequence, new_digest).await
    }

    async fn revoke_sessions(&self, target: RevokeTarget, now: Micros) -> StoreResult<Vec<Uuid>> {
        write::sessions::revoke(&self.pool, target, now).await
    }

    async fn delete_sessions_of_identity(&self, identity_id: Uuid) -> StoreResult<Vec<Uuid>> {
        write::sessions::delete_of_identity(&self.pool, identity_id).await
    }

    async fn delete_expired_sessions(
        &self,
        expired_before: Micros,
        revoked_before: Micros,
        limit: u32,
    ) -> StoreResult<u64> {
        write::sessions::delete_expired(&self.pool, expired_before, revoked_before, limit).await
    }

    async fn notify_invalidation(&self, invalidation: Invalidation) -> StoreResult<()> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(self.invalidation_channel())
            .bind(invalidation.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    fn subscribe_invalidations(&self) -> Option<mpsc::Receiver<InvalidationEvent>> {
        let (sender, receiver) = mpsc::channel(4096);
        tokio::spawn(super::notify::listen(
            self.pool.clone(),
            self.invalidation_channel(),
            sender,
        ));
        Some(receiver)
    }

    async fn current_sequence(&self) -> StoreResult<i64> {
        let value: i64 = sqlx::query_scalar(reads::CURRENT_SEQUENCE)
            .fetch_one(&self.pool)
            .await?;
        Ok(value)
    }

    async fn changes_since(&self, after: i64, limit: u32) -> StoreResult<Vec<Change>> {
        let rows: Vec<(i64, String, Uuid)> = sqlx::query_as(sql::changes::since(POSTGRES))
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(sequence, kind, target)| Change::decode(sequence, &kind, target))
            .collect())
    }

    async fn prune_changes(&self, older_than: time::Duration) -> StoreResult<u64> {
        changes::prune(&self.pool, older_than).await
    }

    async fn setting_or_insert(&self, name: &str, value: &str) -> StoreResult<String> {
        write::settings::value_or_insert(&self.pool, name, value).await
    }

    async fn try_acquire_lease(&self, name: &str, holder: &str, ttl: time::Duration, now: Micros) -> StoreResult<bool> {
        write::leases::acquire(&self.pool, name, holder, ttl, now).await
    }

    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<bool> {
        write::leases::release(&self.pool, name, holder).await
    }

    async fn reserve_check_attempt(
        &self,
        identity_id: Uuid,
        password: bool,
        limits: AttemptLimits,
        now: Micros,
    ) -> StoreResult<AttemptReservation> {
        check_attempts::reserve(&self.pool, identity_id, password, limits, now).await
    }

    async fn settle_check_attempt(
        &self,
        identity_id: Uuid,
        window_start: Micros,
        outcome: AttemptOutcome,
    ) -> StoreResult<()> {
        check_attempts::settle(&self.pool, identity_id, window_start, outcome).await
    }

    async fn unlock_password_checks(&self, identity_id: Uuid) -> StoreResult<bool> {
        check_attempts::unlock(&self.pool, identity_id).await
    }

    async fn insert_api_key(&self, key: &ApiKey) -> StoreResult<()> {
        write::api_keys::insert(&self.pool, key).await
    }

    async fn api_key_by_digest(&self, digest: &TokenDigest) -> StoreResult<Option<ApiKey>> {
        let row = sqlx::query(reads::api_key_by_digest(POSTGRES))
            .bind(&digest.0[..])
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(decode_api_key).transpose()
    }

    async fn list_api_keys(&self) -> StoreResult<Vec<ApiKey>> {
        let rows = sqlx::query(reads::api_keys(POSTGRES)).fetch_all(&self.pool).await?;
        rows.iter().map(decode_api_key).collect()
    }

    async fn revoke_api_key(&self, id: Uuid, now: Micros) -> StoreResult<bool> {
        write::api_keys::revoke(&self.pool, id, now).await
    }

    async fn insert_idp_intent(&self, intent: &IdpIntent, now: Micros) -> StoreResult<()> {
        write::idp_intents::insert(&self.pool, intent, now).await
    }

    async fn idp_intent(&self, id: Uuid) -> StoreResult<Option<IdpIntent>> {
        write::idp_intents::by_id(&self.pool, id).await
    }

    async fn consume_idp_intent(&self, id: Uuid, digest: &TokenDigest) -> StoreResult<bool> {
        write::idp_intents::consume(&self.pool, id, digest).await
    }

    async fn put_otp_challenge(&self, challenge: &OtpChallenge, now: Micros) -> StoreResult<()> {
        write::otp_challenges::upsert(&self.pool, challenge, now).await
    }

    async fn otp_challenge(&self, session_id: Uuid, channel: OtpChannel) -> StoreResult<Option<OtpChallenge>> {
        write::otp_challenges::get(&self.pool, session_id, channel).await
    }

    async fn consume_otp_challenge(
        &self,
        session_id: Uuid,
        channel: OtpChannel,
        digest: &TokenDigest,
    ) -> StoreResult<bool> {
        write::otp_challenges::consume(&self.pool, session_id, channel, digest).await
    }

    async fn put_pending_enrolment(&self, pending: &PendingEnrolment, now: Micros) -> StoreResult<()> {
        write::pending_enrolments::upsert(&self.pool, pending, now).await
    }

    async fn pending_enrolment(&self, identity_id: Uuid, kind: EnrolmentKind) -> StoreResult<Option<PendingEnrolment>> {
        write::pending_enrolments::get(&self.pool, identity_id, kind).await
    }

    async fn consume_pending_enrolment(&self, id: Uuid) -> StoreResult<bool> {
        write::pending_enrolments::consume(&self.pool, id).await
    }

    async fn put_webauthn_challenge(&self, challenge: &WebauthnChallenge, now: Micros) -> StoreResult<()> {
        write::webauthn_challenges::upsert(&self.pool, challenge, now).await
    }

    async fn take_webauthn_challenge(&self, session_id: Uuid) -> StoreResult<Option<WebauthnChallenge>> {
        write::webauthn_challenges::take(&self.pool, session_id).await
    }
}
