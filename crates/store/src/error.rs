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
    ///
    /// Besides the pool and socket failures, these server answers mean "not reachable now" and
    /// are retried by the caller, not reported as bugs: SQLSTATE class 08 (connection
    /// exception), 57P01 `admin_shutdown`, 57P02 `crash_shutdown`, 57P03 `cannot_connect_now`
    /// (the server is starting up or shutting down) and 53300 `too_many_connections`.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed) => true,
            StoreError::Database(error) => error
                .as_database_error()
                .and_then(|db| db.code())
                .is_some_and(|code| is_unavailable_sqlstate(&code)),
            _ => false,
        }
    }
}

/// SQLSTATEs that say the server cannot serve this connection now (see
/// [`StoreError::is_unavailable`]).
fn is_unavailable_sqlstate(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_sqlstates_count_as_unavailable() {
        for code in [
            "08000", "08003", "08006", "08001", "08004", "57P01", "57P02", "57P03", "53300",
        ] {
            assert!(is_unavailable_sqlstate(code), "{code}");
        }
        for code in ["23505", "42P01", "57014", "40001", "22P02", "XX000"] {
            assert!(!is_unavailable_sqlstate(code), "{code}");
        }
        assert!(StoreError::Database(sqlx::Error::PoolTimedOut).is_unavailable());
        assert!(StoreError::Database(sqlx::Error::PoolClosed).is_unavailable());
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert!(StoreError::Database(sqlx::Error::Io(reset)).is_unavailable());
        assert!(!StoreError::Database(sqlx::Error::RowNotFound).is_unavailable());
        assert!(!StoreError::Corrupt("x".into()).is_unavailable());
    }
}
