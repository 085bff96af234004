use lanyard_domain::Identity;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::sessions::next_sequence;
use super::PostgresStore;
use crate::rows::{decode_identity, encode_credentials};
use crate::sql::{reads, Dialect};
use crate::{IdentityFilter, Invalidation, StoreResult};

fn opt_json(value: &Option<serde_json::Value>) -> Option<String> {
    value.as_ref().map(|v| v.to_string())
}

async fn write_identifiers(tx: &mut Transaction<'_, Postgres>, identity: &Identity) -> StoreResult<()> {
    sqlx::query("DELETE FROM identity_identifiers WHERE identity_id = $1")
        .bind(identity.id)
        .execute(&mut **tx)
        .await?;
    // Stored as UTF-8 bytes (see the migration); `login_identifiers` is already de-duplicated.
    let identifiers: Vec<Vec<u8>> = identity
        .login_identifiers()
        .into_iter()
        .map(String::into_bytes)
        .collect();
    if !identifiers.is_empty() {
        sqlx::query(
            "INSERT INTO identity_identifiers (identifier, identity_id) SELECT x, $2 FROM UNNEST($1::BYTEA[]) AS t (x)",
        )
        .bind(&identifiers)
        .bind(identity.id)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

impl PostgresStore {
    pub(super) async fn insert_identity_impl(&self, identity: &Identity) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO identities (id, schema_id, traits, state, state_changed_us, metadata_public, metadata_admin, \
             organization_id, external_id, credentials, created_us, updated_us, identifiers) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
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
        let mut tx = self.pool.begin().await?;
        // Every write takes the counter before touching rows: one lock order, so no deadlocks
        // (a delete cascading to sessions against a revocation of them, say).
        let sequence = next_sequence(&mut tx).await?;
        let done = sqlx::query(
            "UPDATE identities SET schema_id = $2, traits = $3, state = $4, state_changed_us = $5, metadata_public = $6, \
             metadata_admin = $7, organization_id = $8, external_id = $9, credentials = $10, updated_us = $11, \
             identifiers = $12 WHERE id = $1",
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
        let row = sqlx::query(reads::identity_by_id(Dialect::Postgres))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(decode_identity).transpose()
    }

    pub(super) async fn identities_by_ids_impl(&self, ids: &[Uuid]) -> StoreResult<Vec<Identity>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(&reads::identities_by_ids(Dialect::Postgres, ids.len()))
            .bind(ids)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode_identity).collect()
    }

    pub(super) async fn identity_by_identifier_impl(&self, identifier: &str) -> StoreResult<Option<Identity>> {
        let row = sqlx::query(reads::identity_by_identifier(Dialect::Postgres))
            .bind(identifier.to_lowercase().into_bytes())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(decode_identity).transpose()
    }

    pub(super) async fn identity_by_external_id_impl(&self, external_id: &str) -> StoreResult<Option<Identity>> {
        let row = sqlx::query(reads::identity_by_external_id(Dialect::Postgres))
            .bind(external_id)
            .fetch_optional(&self.pool)
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
        let limit = i64::from(limit);
        let rows = match filter {
            IdentityFilter::All => {
                sqlx::query(reads::identities_after(Dialect::Postgres))
                    .bind(after)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?
            }
            IdentityFilter::Organization(org) => {
                sqlx::query(reads::identities_of_organization(Dialect::Postgres))
                    .bind(*org)
                    .bind(after)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?
            }
            IdentityFilter::Identifier(identifier) => {
                sqlx::query(reads::identities_with_identifier(Dialect::Postgres))
                    .bind(identifier.to_lowercase().into_bytes())
                    .bind(after)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?
            }
            IdentityFilter::IdentifierPrefix(prefix) => {
                // A range on the primary key instead of LIKE, so the identifier index is used and
                // `%` and `_` are literal. 0xFF never occurs in UTF-8, so every identifier that
                // starts with the prefix, and no other, sorts in [prefix, prefix 0xFF).
                let low = prefix.to_lowercase().into_bytes();
                let mut high = low.clone();
                high.push(0xFF);
                sqlx::query(reads::identities_with_identifier_in(Dialect::Postgres))
                    .bind(low)
                    .bind(high)
                    .bind(after)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?
            }
            IdentityFilter::Ids(ids) => {
                let mut found = self.identities_by_ids_impl(ids).await?;
                found.retain(|i| i.id > after);
                found.sort_by_key(|i| i.id);
                found.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
                return Ok(found);
            }
        };
        rows.iter().map(decode_identity).collect()
    }

    /// Deletes the identity, its sessions (by cascade) and records it in the change feed.
    pub(super) async fn delete_identity_impl(&self, id: Uuid) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let sequence = next_sequence(&mut tx).await?;
        let done = sqlx::query("DELETE FROM identities WHERE id = $1")
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
