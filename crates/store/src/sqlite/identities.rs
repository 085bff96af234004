use lanyard_domain::Identity;
use sqlx::{Sqlite, Transaction};
use uuid::Uuid;

use super::sessions::next_sequence;
use super::SqliteStore;
use crate::rows::encode_credentials;
use crate::{Invalidation, StoreResult};

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
