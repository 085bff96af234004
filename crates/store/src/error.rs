/// Which uniqueness rule a write broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictOn {
    Identifier,
    ExternalId,
    Id,
    TokenDigest,
    Other,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("a unique value is already taken ({0:?})")]
    Conflict(ConflictOn),
    #[error("stored data could not be read: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// Another process kept the lease for longer than this one was willing to wait.
    #[error("the {name:?} lease is held by {holder:?}; gave up after waiting {waited:?}")]
    LeaseBusy {
        name: String,
        holder: String,
        waited: std::time::Duration,
    },
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        if let Some(db) = error.as_database_error() {
            if db.is_unique_violation() {
                let text = format!("{} {}", db.constraint().unwrap_or_default(), db.message());
                let on = if text.contains("identifier") {
                    ConflictOn::Identifier
                } else if text.contains("external_id") {
                    ConflictOn::ExternalId
                } else if text.contains("digest") {
                    ConflictOn::TokenDigest
                } else if text.contains(".id") || text.contains("pkey") {
                    ConflictOn::Id
                } else {
                    ConflictOn::Other
                };
                return StoreError::Conflict(on);
            }
        }
        StoreError::Database(error)
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(error: serde_json::Error) -> Self {
        StoreError::Corrupt(error.to_string())
    }
}

impl StoreError {
    /// Whether the database could not be reached at all (as opposed to rejecting a query).
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Database(sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed)
        )
    }
}
