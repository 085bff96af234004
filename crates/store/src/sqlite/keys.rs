use lanyard_domain::{ApiKey, Micros};
use uuid::Uuid;

use super::SqliteStore;
use crate::rows::encode_scopes;
use crate::StoreResult;

impl SqliteStore {
    pub(super) async fn insert_api_key_impl(&self, key: &ApiKey) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO api_keys (id, name, digest, scopes, created_us, revoked_us) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(key.id)
        .bind(&key.name)
        .bind(&key.digest.0[..])
        .bind(encode_scopes(&key.scopes))
        .bind(key.created_at.0)
        .bind(key.revoked_at.map(|m| m.0))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub(super) async fn revoke_api_key_impl(&self, id: Uuid, now: Micros) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE api_keys SET revoked_us = ?2 WHERE id = ?1 AND revoked_us IS NULL")
            .bind(id)
            .bind(now.0)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
