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

impl StoreError {
    /// Whether the database gave up on the query for time: PostgreSQL's `statement_timeout`
    /// (SQLSTATE 57014) or SQLite still busy after `busy_timeout` (result code 5 and its
    /// extended codes). The same request may succeed later, so it is not a server bug.
    pub fn is_timeout(&self) -> bool {
        let StoreError::Database(error) = self else {
            return false;
        };
        let Some(code) = error.as_database_error().and_then(|db| db.code()) else {
            return false;
        };
        code == "57014" || code.parse::<u32>().is_ok_and(|sqlite| sqlite & 0xff == 5)
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

    /// A database error with just a code, as the drivers report them.
    #[derive(Debug)]
    struct Coded(&'static str);

    impl std::fmt::Display for Coded {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "error {}", self.0)
        }
    }

    impl std::error::Error for Coded {}

    impl sqlx::error::DatabaseError for Coded {
        fn message(&self) -> &str {
            self.0
        }
        fn code(&self) -> Option<std::borrow::Cow<'_, str>> {
            Some(self.0.into())
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::Other
        }
    }

    fn coded(code: &'static str) -> StoreError {
        StoreError::Database(sqlx::Error::Database(Box::new(Coded(code))))
    }

    #[test]
    fn statement_timeouts_and_busy_databases_count_as_timeouts() {
        for code in ["57014", "5", "261", "517", "773"] {
            assert!(coded(code).is_timeout(), "{code}");
        }
        for code in ["57P01", "23505", "6", "19", "2067", "XX000"] {
            assert!(!coded(code).is_timeout(), "{code}");
        }
        assert!(!StoreError::Database(sqlx::Error::RowNotFound).is_timeout());
    }
}
