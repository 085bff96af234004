//! [`Store`] on SQLite: the reads are here, each one job on the read pool; the writes are
//! shared with PostgreSQL ([`crate::write`]) and go through the single writer connection.

use lanyard_domain::{
    ApiKey, EnrolmentKind, Identity, IdpIntent, Micros, OtpChallenge, OtpChannel, PendingEnrolment, Session,
    SessionFilter, SessionQuery, TokenDigest, WebauthnChallenge,
};
use rusqlite::Row;
use uuid::Uuid;

use super::reads::{all, built, count, identities_by_ids, ready, sequence, with_devices, SearchTx};
use super::SqliteStore;
use crate::rows::{decode_api_key, decode_identity, decode_session_view};
use crate::sql::{self, reads, Dialect};
use crate::{
    changes, check_attempts, write, AttemptLimits, AttemptOutcome, AttemptReservation, Change, IdentityFilter,
    RevokeTarget, SearchPage, SessionRow, Store, StoreResult,
};

const SQLITE: Dialect = Dialect::Sqlite;

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        self.reader
            .read(|connection| Ok(connection.query_row("SELECT 1", [], |_| Ok(()))?))
            .await
    }

    async fn insert_identity(&self, identity: &Identity) -> StoreResult<()> {
        write::identities::insert(&self.writer, identity).await
    }

    async fn update_identity(&self, identity: &Identity) -> StoreResult<bool> {
        write::identities::update(&self.writer, identity).await
    }

    async fn identity(&self, id: Uuid) -> StoreResult<Option<Identity>> {
        self.read_first(reads::identity_by_id(SQLITE), id, |row| decode_identity(row))
            .await
    }

    async fn identities_by_ids(&self, ids: &[Uuid]) -> StoreResult<Vec<Identity>> {
        let ids = ids.to_vec();
        self.reader
            .read(move |connection| identities_by_ids(connection, &ids))
            .await
    }

    async fn identity_by_identifier(&self, identifier: &str) -> StoreResult<Option<Identity>> {
        let identifier = identifier.to_lowercase();
        self.read_first(reads::identity_by_identifier(SQLITE), identifier, |row| {
            decode_identity(row)
        })
        .await
    }

    async fn identity_by_external_id(&self, external_id: &str) -> StoreResult<Option<Identity>> {
        let external_id = external_id.to_owned();
        self.read_first(reads::identity_by_external_id(SQLITE), external_id, |row| {
            decode_identity(row)
        })
        .await
    }

    async fn list_identities(
        &self,
        filter: &IdentityFilter,
        after: Option<Uuid>,
        limit: u32,
    ) -> StoreResult<Vec<Identity>> {
        let filter = filter.clone();
        let after = after.unwrap_or(Uuid::nil());
        let limit = i64::from(limit);
        self.reader
            .read(move |connection| {
                let decode = |row: &Row<'_>| decode_identity(row);
                match filter {
                    IdentityFilter::All => all(
                        connection,
                        reads::identities_after(SQLITE),
                        rusqlite::params![after, limit],
                        decode,
                    ),
                    IdentityFilter::Organization(organization) => all(
                        connection,
                        reads::identities_of_organization(SQLITE),
                        rusqlite::params![organization, after, limit],
                        decode,
                    ),
                    IdentityFilter::Identifier(identifier) => all(
                        connection,
                        reads::identities_with_identifier(SQLITE),
                        rusqlite::params![identifier.to_lowercase(), after, limit],
                        decode,
                    ),
                    IdentityFilter::IdentifierPrefix(prefix) => {
                        // Every identifier that starts with the prefix, and no other, sorts in
                        // [prefix, prefix U+10FFFF).
                        let low = prefix.to_lowercase();
                        let high = format!("{low}\u{10FFFF}");
                        all(
                            connection,
                            reads::identities_with_identifier_in(SQLITE),
                            rusqlite::params![low, high, after, limit],
                            decode,
                        )
                    }
                    IdentityFilter::Ids(ids) => {
                        let mut found = identities_by_ids(connection, &ids)?;
                        found.retain(|identity| identity.id > after);
                        found.sort_by_key(|identity| identity.id);
                        found.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
                        Ok(found)
                    }
                }
            })
            .await
    }

    async fn delete_identity(&self, id: Uuid) -> StoreResult<bool> {
        write::identities::delete(&self.writer, id).await
    }

    /// Queued to the group-commit writer (`super::session_writer`), which writes concurrent
    /// creates in one transaction and answers after its commit.
    async fn insert_session(&self, session: &Session, digest: &TokenDigest) -> StoreResult<i64> {
        self.session_writer.insert(session, digest).await
    }

    async fn session_by_digest(&self, digest: &TokenDigest) -> StoreResult<Option<SessionRow>> {
        self.read_session(reads::session_by_digest(SQLITE), digest.0).await
    }

    async fn session_and_identity_by_digest(
        &self,
        digest: &TokenDigest,
    ) -> StoreResult<Option<(SessionRow, Option<Identity>)>> {
        self.read_first(sql::session_view_by_digest(SQLITE), digest.0, |row| {
            decode_session_view(row)
        })
        .await
    }

    async fn session(&self, id: Uuid) -> StoreResult<Option<SessionRow>> {
        self.read_session(reads::session_by_id(SQLITE), id).await
    }

    async fn list_sessions(&self, query: &SessionQuery, now: Micros) -> StoreResult<Vec<SessionRow>> {
        let built_query = sql::list_sessions(SQLITE, query, now);
        let devices = query.with_devices;
        self.reader
            .read(move |connection| {
                let rows = built(connection, &built_query)?;
                if devices {
                    return with_devices(connection, rows);
                }
                Ok(rows)
            })
            .await
    }

    async fn count_sessions(&self, filter: &SessionFilter, now: Micros) -> StoreResult<u64> {
        let query = sql::count_sessions(SQLITE, filter, now);
        self.reader.read(move |connection| count(connection, &query)).await
    }

    /// One search from one snapshot: a deferred transaction, whose first read fixes the WAL
    /// snapshot that every later statement in it sees.
    async fn search_sessions(&self, query: &SessionQuery, now: Micros) -> StoreResult<SearchPage> {
        let query = query.clone();
        self.reader
            .read(move |connection| {
                connection.execute_batch("BEGIN DEFERRED")?;
                let page = ready(crate::search::search(&mut SearchTx(connection), SQLITE, &query, now));
                // A read-only transaction has nothing to keep: ending it either way is the same.
                let ended = connection.execute_batch(if page.is_ok() { "COMMIT" } else { "ROLLBACK" });
                let page = page?;
                ended?;
                Ok(page)
            })
            .await
    }

    async fn update_session(
        &self,
        session: &Session,
        expected_sequence: i64,
        new_digest: Option<&TokenDigest>,
    ) -> StoreResult<Option<i64>> {
        write::sessions::update(&self.writer, session, expected_sequence, new_digest).await
    }

    async fn revoke_sessions(&self, target: RevokeTarget, now: Micros) -> StoreResult<Vec<Uuid>> {
        write::sessions::revoke(&self.writer, target, now).await
    }

    async fn delete_sessions_of_identity(&self, identity_id: Uuid) -> StoreResult<Vec<Uuid>> {
        write::sessions::delete_of_identity(&self.writer, identity_id).await
    }

    async fn delete_expired_sessions(
        &self,
        expired_before: Micros,
        revoked_before: Micros,
        limit: u32,
    ) -> StoreResult<u64> {
        write::sessions::delete_expired(&self.writer, expired_before, revoked_before, limit).await
    }

    async fn current_sequence(&self) -> StoreResult<i64> {
        self.reader.read(|connection| sequence(connection)).await
    }

    async fn changes_since(&self, after: i64, limit: u32) -> StoreResult<Vec<Change>> {
        self.reader
            .read(move |connection| {
                all(
                    connection,
                    sql::changes::since(SQLITE),
                    rusqlite::params![after, i64::from(limit)],
                    |row| {
                        let kind: String = row.get(1)?;
                        Ok(Change::decode(row.get(0)?, &kind, row.get(2)?))
                    },
                )
            })
            .await
    }

    async fn prune_changes(&self, older_than: time::Duration) -> StoreResult<u64> {
        changes::prune(&self.writer, older_than).await
    }

    async fn setting_or_insert(&self, name: &str, value: &str) -> StoreResult<String> {
        write::settings::value_or_insert(&self.writer, name, value).await
    }

    async fn try_acquire_lease(&self, name: &str, holder: &str, ttl: time::Duration, now: Micros) -> StoreResult<bool> {
        write::leases::acquire(&self.writer, name, holder, ttl, now).await
    }

    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<bool> {
        write::leases::release(&self.writer, name, holder).await
    }

    async fn reserve_check_attempt(
        &self,
        identity_id: Uuid,
        password: bool,
        limits: AttemptLimits,
        now: Micros,
    ) -> StoreResult<AttemptReservation> {
        check_attempts::reserve(&self.writer, identity_id, password, limits, now).await
    }

    async fn settle_check_attempt(
        &self,
        identity_id: Uuid,
        window_start: Micros,
        outcome: AttemptOutcome,
    ) -> StoreResult<()> {
        check_attempts::settle(&self.writer, identity_id, window_start, outcome).await
    }

    async fn unlock_password_checks(&self, identity_id: Uuid) -> StoreResult<bool> {
        check_attempts::unlock(&self.writer, identity_id).await
    }

    async fn insert_api_key(&self, key: &ApiKey) -> StoreResult<()> {
        write::api_keys::insert(&self.writer, key).await
    }

    async fn api_key_by_digest(&self, digest: &TokenDigest) -> StoreResult<Option<ApiKey>> {
        self.read_first(reads::api_key_by_digest(SQLITE), digest.0, |row| decode_api_key(row))
            .await
    }

    async fn list_api_keys(&self) -> StoreResult<Vec<ApiKey>> {
        self.reader
            .read(|connection| all(connection, reads::api_keys(SQLITE), [], |row| decode_api_key(row)))
            .await
    }

    async fn revoke_api_key(&self, id: Uuid, now: Micros) -> StoreResult<bool> {
        write::api_keys::revoke(&self.writer, id, now).await
    }

    async fn insert_idp_intent(&self, intent: &IdpIntent, now: Micros) -> StoreResult<()> {
        write::idp_intents::insert(&self.writer, intent, now).await
    }

    async fn idp_intent(&self, id: Uuid) -> StoreResult<Option<IdpIntent>> {
        write::idp_intents::by_id(&self.writer, id).await
    }

    async fn consume_idp_intent(&self, id: Uuid, digest: &TokenDigest) -> StoreResult<bool> {
        write::idp_intents::consume(&self.writer, id, digest).await
    }

    async fn put_otp_challenge(&self, challenge: &OtpChallenge, now: Micros) -> StoreResult<()> {
        write::otp_challenges::upsert(&self.writer, challenge, now).await
    }

    async fn otp_challenge(&self, session_id: Uuid, channel: OtpChannel) -> StoreResult<Option<OtpChallenge>> {
        write::otp_challenges::get(&self.writer, session_id, channel).await
    }

    async fn consume_otp_challenge(
        &self,
        session_id: Uuid,
        channel: OtpChannel,
        digest: &TokenDigest,
    ) -> StoreResult<bool> {
        write::otp_challenges::consume(&self.writer, session_id, channel, digest).await
    }

    async fn put_pending_enrolment(&self, pending: &PendingEnrolment, now: Micros) -> StoreResult<()> {
        write::pending_enrolments::upsert(&self.writer, pending, now).await
    }

    async fn pending_enrolment(&self, identity_id: Uuid, kind: EnrolmentKind) -> StoreResult<Option<PendingEnrolment>> {
        write::pending_enrolments::get(&self.writer, identity_id, kind).await
    }

    async fn consume_pending_enrolment(&self, id: Uuid) -> StoreResult<bool> {
        write::pending_enrolments::consume(&self.writer, id).await
    }

    async fn put_webauthn_challenge(&self, challenge: &WebauthnChallenge, now: Micros) -> StoreResult<()> {
        write::webauthn_challenges::upsert(&self.writer, challenge, now).await
    }

    async fn take_webauthn_challenge(&self, session_id: Uuid) -> StoreResult<Option<WebauthnChallenge>> {
        write::webauthn_challenges::take(&self.writer, session_id).await
    }
}
