use lanyard_domain::Identity;
use sqlx::{Sqlite, Transaction};
use uuid::Uuid;

use super::sessions::next_sequence;
use super::SqliteStore;
use crate::rows::{decode_identity, encode_credentials};
use crate::{IdentityFilter, Invalidation, StoreResult};

fn opt_json(value: &Option<serde_json::Value>) -> Option<String> {
    value.as_ref().map(|v| v.to_string())
}

async fn write_identifiers(tx: &mut Transaction<'_, Sqlite>, identity: &Identity) -> StoreResult<()> {
    sqlx::query("DELETE FROM identity_identifiers WHERE identity_id = ?1")
        .bind(identity.id)
        .execute(&mut **tx)
        .await?;
    for identifier in identity.login_identifiers() {
        sqlx::query("INSERT INTO identity_identifiers (identifier, identity_id) VALUES (?1, ?2)")
            .bind(identifier)
            .bind(identity.id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

impl SqliteStore {
    pub(super) async fn insert_identity_impl(&self, identity: &Identity) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO identities (id, schema_id, traits, state, state_changed_us, metadata_public, metadata_admin, \
             organization_id, external_id, credentials, created_us, updated_us, identifiers) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        )
        .bind(identity.id)
        .bind(&identity.schema_id)
        .bind(identity.traits.to_string())
        .bind(identity.state.as_str())
        .bind(identity.state_changed_at.map(|m| m.0))
        .bind(opt_json(&identity.metadata_public))
        .bind(opt_json(&identity.metadata_admin))
        .bind(identity.organization_id)
        .bind(&identity.external_id)
        .bind(encode_credentials(identity)?)
        .bind(identity.created_at.0)
        .bind(identity.updated_at.0)
        .bind(serde_json::to_string(&identity.login_identifiers())?)
        .execute(&mut *tx)
        .await?;
        write_identifiers(&mut tx, identity).await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn update_identity_impl(&self, identity: &Identity) -> StoreResult<bool> {
        let mut tx = self.writer.begin().await?;
        // Every write takes the counter before touching rows (one lock order for all).
        let sequence = next_sequence(&mut tx).await?;
        let done = sqlx::query(
            "UPDATE identities SET schema_id = ?2, traits = ?3, state = ?4, state_changed_us = ?5, metadata_public = ?6, \
             metadata_admin = ?7, organization_id = ?8, external_id = ?9, credentials = ?10, updated_us = ?11, identifiers = ?12 WHERE id = ?1",
        )
        .bind(identity.id)
        .bind(&identity.schema_id)
        .bind(identity.traits.to_string())
        .bind(identity.state.as_str())
        .bind(identity.state_changed_at.map(|m| m.0))
        .bind(opt_json(&identity.metadata_public))
        .bind(opt_json(&identity.metadata_admin))
        .bind(identity.organization_id)
        .bind(&identity.external_id)
        .bind(encode_credentials(identity)?)
        .bind(identity.updated_at.0)
        .bind(serde_json::to_string(&identity.login_identifiers())?)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        write_identifiers(&mut tx, identity).await?;
        Self::record_change(&mut tx, sequence, Invalidation::Identity(identity.id)).await?;
        tx.commit().await?;
        Ok(true)
    }

    pub(super) async fn identity_impl(&self, id: Uuid) -> StoreResult<Option<Identity>> {
        let row = sqlx::query("SELECT * FROM identities WHERE id = ?1")
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(decode_identity).transpose()
    }

    pub(super) async fn identities_by_ids_impl(&self, ids: &[Uuid]) -> StoreResult<Vec<Identity>> {
        let mut found = Vec::with_capacity(ids.len());
        // Chunked to stay far below SQLite's bound-parameter limit.
        for chunk in ids.chunks(500) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|n| format!("?{n}")).collect();
            let sql = format!("SELECT * FROM identities WHERE id IN ({})", placeholders.join(", "));
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(&self.reader).await? {
                found.push(decode_identity(&row)?);
            }
        }
        Ok(found)
    }

    pub(super) async fn identity_by_identifier_impl(&self, identifier: &str) -> StoreResult<Option<Identity>> {
        let row = sqlx::query(
            "SELECT i.* FROM identity_identifiers x JOIN identities i ON i.id = x.identity_id WHERE x.identifier = ?1",
        )
        .bind(identifier.to_lowercase())
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(decode_identity).transpose()
    }

    pub(super) async fn identity_by_external_id_impl(&self, external_id: &str) -> StoreResult<Option<Identity>> {
        let row = sqlx::query("SELECT * FROM identities WHERE external_id = ?1")
            .bind(external_id)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(decode_identity).transpose()
    }

    pub(super) async fn list_identities_impl(
        &self,
        filter: &IdentityFilter,
        after: Option<Uuid>,
        limit: u32,
    ) -> StoreResult<Vec<Identity>> {
        let after = after.unwrap_or(Uuid::nil());
        let rows = match filter {
            IdentityFilter::All => {
                sqlx::query("SELECT * FROM identities WHERE id > ?1 ORDER BY id LIMIT ?2")
                    .bind(after)
                    .bind(i64::from(limit))
                    .fetch_all(&self.reader)
                    .await?
            }
            IdentityFilter::Organization(org) => {
                sqlx::query("SELECT * FROM identities WHERE organization_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3")
                    .bind(*org)
                    .bind(after)
                    .bind(i64::from(limit))
                    .fetch_all(&self.reader)
                    .await?
            }
            IdentityFilter::Identifier(identifier) => {
                sqlx::query(
                    "SELECT i.* FROM identity_identifiers x JOIN identities i ON i.id = x.identity_id \
                     WHERE x.identifier = ?1 AND i.id > ?2 ORDER BY i.id LIMIT ?3",
                )
                .bind(identifier.to_lowercase())
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&self.reader)
                .await?
            }
            IdentityFilter::IdentifierPrefix(prefix) => {
                // A range on the primary key instead of LIKE, so the identifier index is used.
                let low = prefix.to_lowercase();
                let high = format!("{low}\u{10FFFF}");
                sqlx::query(
                    "SELECT DISTINCT i.* FROM identity_identifiers x JOIN identities i ON i.id = x.identity_id \
                     WHERE x.identifier >= ?1 AND x.identifier < ?2 AND i.id > ?3 ORDER BY i.id LIMIT ?4",
                )
                .bind(low)
                .bind(high)
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&self.reader)
                .await?
            }
            IdentityFilter::Ids(ids) => {
                let mut found = self.identities_by_ids_impl(ids).await?;
                found.retain(|i| i.id > after);
                found.sort_by_key(|i| i.id);
                found.truncate(limit as usize);
                return Ok(found);
            }
        };
        rows.iter().map(decode_identity).collect()
    }

    /// Deletes the identity, its sessions (by cascade) and records it in the change feed.
    pub(super) async fn delete_identity_impl(&self, id: Uuid) -> StoreResult<bool> {
        let mut tx = self.writer.begin().await?;
        let sequence = next_sequence(&mut tx).await?;
        let done = sqlx::query("DELETE FROM identities WHERE id = ?1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        Self::record_change(&mut tx, sequence, Invalidation::Identity(id)).await?;
        tx.commit().await?;
        Ok(true)
    }
}
