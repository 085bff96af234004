//! Cross-node token-cache invalidation over LISTEN/NOTIFY.
//!
//! Engines without LISTEN (CockroachDB) refuse the LISTEN statement: the subscription then
//! ends, and nodes rely on the cache's bounded lifetime instead.

use std::time::Duration;

use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::mpsc;

use super::PostgresStore;
use crate::{Invalidation, InvalidationEvent};

const MAX_IDENTIFIER_LEN: usize = 63;

impl PostgresStore {
    /// One channel per schema, so deployments (and test runs) sharing a server stay apart.
    pub(super) fn invalidation_channel(&self) -> String {
        let Some(schema) = self.schema() else {
            return "lanyard_invalidation".to_owned();
        };
        let channel = format!("lanyard_inv_{schema}");
        if channel.len() <= MAX_IDENTIFIER_LEN {
            return channel;
        }
        // Channel names are identifiers (63 bytes at most): long schema names are hashed.
        let hash = schema.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        format!("lanyard_inv_{hash:016x}")
    }
}

/// Listens on `channel` (reconnecting as needed) and hands every invalidation to `sender`, until
/// its receiver is gone or the database refuses LISTEN.
pub(super) async fn listen(pool: PgPool, channel: String, sender: mpsc::Sender<InvalidationEvent>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        if sender.is_closed() {
            return;
        }
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%error, "invalidation listener cannot connect; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        if let Err(error) = listener.listen(&channel).await {
            if error.as_database_error().is_some() {
                tracing::warn!(%error, "the database refuses LISTEN; other nodes' changes reach this node's token cache only through its TTL");
                return;
            }
            tokio::time::sleep(backoff).await;
            continue;
        }
        backoff = Duration::from_millis(100);
        // Listening again: whatever happened while we were not is unknown, so flush.
        if sender.send(InvalidationEvent::Reconnected).await.is_err() {
            return;
        }
        // `Ok(None)` or an error: the connection dropped; reconnect and LISTEN afresh.
        while let Ok(Some(notification)) = listener.try_recv().await {
            let event = InvalidationEvent::Invalidate(Invalidation::parse(notification.payload()));
            if sender.send(event).await.is_err() {
                return;
            }
        }
        tracing::warn!("invalidation listener lost its connection; reconnecting");
    }
}
