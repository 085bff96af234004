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
    /// An error of the SQLite read pool's driver (rusqlite; see `sqlite::read_pool`).
    #[error("database error: {0}")]
    SqliteRead(rusqlite::Error),
    /// The store cannot serve now for a reason of its own (a closed pool, no thread).
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
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
                return StoreError::Conflict(conflict_on(db.constraint(), db.message()));
            }
        }
        StoreError::Database(error)
    }
}

/// Which unique key a violation hit, by the key's name in the migrations: PostgreSQL names the
/// constraint; SQLite names none and says `UNIQUE constraint failed: <table>.<column>`.
fn conflict_on(constraint: Option<&str>, message: &str) -> ConflictOn {
    let key = match constraint {
        Some(name) => name,
        None => message.strip_prefix("UNIQUE constraint failed: ").unwrap_or(message),
    };
    match key {
        "identity_identifiers_pkey" | "identity_identifiers.identifier" => ConflictOn::Identifier,
        "identities_external_id_key" | "identities.external_id" => ConflictOn::ExternalId,
        "sessions_token_digest_key" | "sessions.token_digest" | "api_keys_digest_key" | "api_keys.digest" => {
            ConflictOn::TokenDigest
        }
        "identities_pkey"
        | "identities.id"
        | "sessions_pkey"
        | "sessions.id"
        | "session_devices_pkey"
        | "session_devices.id"
        | "api_keys_pkey"
        | "api_keys.id" => ConflictOn::Id,
        _ => ConflictOn::Other,
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        StoreError::SqliteRead(error)
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(error: serde_json::Error) -> Self {
        StoreError::Corrupt(error.to_string())
    }
}

impl StoreError {
    /// Whether the database cannot serve now, as opposed to rejecting this query: the request
    /// may succeed later without any change on the caller's side, so it is answered 503, never
    /// reported as a bug (see the private `is_unavailable` below).
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Database(error) => is_unavailable(error),
            StoreError::SqliteRead(error) => sqlite_code(error).is_some_and(sqlite_refuses_service),
            StoreError::Unavailable(_) => true,
            _ => false,
        }
    }

    /// Whether the database gave up on the query for time: PostgreSQL's `statement_timeout`
    /// (SQLSTATE 57014) or SQLite still busy after `busy_timeout` (result code 5 and its
    /// extended codes). The same request may succeed later, so it is not a server bug.
    pub fn is_timeout(&self) -> bool {
        match self {
            StoreError::Database(error) => is_timeout(error),
            StoreError::SqliteRead(error) => sqlite_code(error).is_some_and(|code| code & 0xff == SQLITE_BUSY),
            _ => false,
        }
    }
}

/// A database error's code, read according to the driver that raised it: PostgreSQL reports
/// five-character SQLSTATEs, SQLite numeric (extended) result codes, and the two overlap as
/// strings ("53300" is a SQLSTATE and could be read as a number), so the code alone does not
/// say what it means.
enum DatabaseCode<'a> {
    Postgres(&'a str),
    Sqlite(i32),
}

fn database_code(error: &dyn sqlx::error::DatabaseError) -> Option<DatabaseCode<'_>> {
    if let Some(postgres) = error.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        return Some(DatabaseCode::Postgres(postgres.code()));
    }
    if error.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        return error.code()?.parse().ok().map(DatabaseCode::Sqlite);
    }
    None
}

/// Whether `error` means the database cannot serve now (see [`StoreError::is_unavailable`]):
/// no connection (pool timeout, socket errors, a closed pool), or a database that answers but
/// refuses service, by [`postgres_refuses_service`] or [`sqlite_refuses_service`].
pub(crate) fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => true,
        sqlx::Error::Database(database) => match database_code(database.as_ref()) {
            Some(DatabaseCode::Postgres(sqlstate)) => postgres_refuses_service(sqlstate),
            Some(DatabaseCode::Sqlite(code)) => sqlite_refuses_service(code),
            None => false,
        },
        _ => false,
    }
}

/// The extended result code of a rusqlite error that SQLite raised.
fn sqlite_code(error: &rusqlite::Error) -> Option<i32> {
    match error {
        rusqlite::Error::SqliteFailure(failure, _) => Some(failure.extended_code),
        _ => None,
    }
}

/// See [`StoreError::is_timeout`].
pub(crate) fn is_timeout(error: &sqlx::Error) -> bool {
    let sqlx::Error::Database(database) = error else {
        return false;
    };
    match database_code(database.as_ref()) {
        Some(DatabaseCode::Postgres(sqlstate)) => sqlstate == "57014",
        Some(DatabaseCode::Sqlite(code)) => code & 0xff == SQLITE_BUSY,
        None => false,
    }
}

/// PostgreSQL SQLSTATEs that say the server cannot serve this database now, whatever the
/// statement:
///
/// - class 08, connection exception;
/// - class 53, insufficient resources: 53100 disk full, 53200 out of memory, 53300 too many
///   connections, 53400 configuration limit exceeded;
/// - 57P01 admin shutdown (also what `pg_terminate_backend` sends), 57P02 crash shutdown,
///   57P03 cannot connect now (starting up, shutting down, in recovery), 57P04 database
///   dropped, 57P05 idle session timeout;
/// - 25006 read-only SQL transaction: a write reached a hot standby (say, after a failover
///   that moved the primary) or a database set to `default_transaction_read_only`;
/// - 55000 object not in prerequisite state: what a connection attempt gets from a database
///   with `ALLOW_CONNECTIONS false`. Lanyard's own statements cannot raise it (PostgreSQL
///   raises it for `currval` before `nextval`, some DDL and replication commands, none of which
///   Lanyard runs while serving), so it always means the connect case.
pub(crate) fn postgres_refuses_service(sqlstate: &str) -> bool {
    sqlstate.starts_with("08")
        || sqlstate.starts_with("53")
        || sqlstate.starts_with("57P0")
        || matches!(sqlstate, "25006" | "55000")
}

const SQLITE_BUSY: i32 = 5;
const SQLITE_NOMEM: i32 = 7;
const SQLITE_READONLY: i32 = 8;
const SQLITE_IOERR: i32 = 10;
const SQLITE_FULL: i32 = 13;
const SQLITE_CANTOPEN: i32 = 14;

/// SQLite result codes (primary, so every extended code of each) that say the file cannot
/// serve now, the counterparts of [`postgres_refuses_service`]: out of memory (NOMEM), a file
/// or directory that became read-only (READONLY, for connections opened since; a connection
/// opened before gets IOERR_WRITE), an I/O error (IOERR: a failing or vanished device), a full
/// disk (FULL) and a file that cannot be opened (CANTOPEN: a removed directory, no file
/// descriptors left). SQLITE_BUSY is a timeout ([`is_timeout`]). Not here, because retrying
/// cannot help: CORRUPT, NOTADB, constraint violations, and SQLITE_ERROR (a bad statement).
pub(crate) fn sqlite_refuses_service(code: i32) -> bool {
    matches!(
        code & 0xff,
        SQLITE_NOMEM | SQLITE_READONLY | SQLITE_IOERR | SQLITE_FULL | SQLITE_CANTOPEN
    )
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use sqlx::sqlite::SqliteConnectOptions;
    use sqlx::{ConnectOptions, Connection, Executor};

    use super::*;

    #[test]
    fn postgres_refusals_are_unavailable_and_faults_are_not() {
        for sqlstate in [
            "08000", "08003", "08006", "08001", "08004", "53000", "53100", "53200", "53300", "53400", "57P01", "57P02",
            "57P03", "57P04", "57P05", "25006", "55000",
        ] {
            assert!(postgres_refuses_service(sqlstate), "{sqlstate}");
        }
        for sqlstate in [
            "23505", "42P01", "57014", "40001", "22P02", "XX000", "25001", "55P03", "57000", "42501",
        ] {
            assert!(!postgres_refuses_service(sqlstate), "{sqlstate}");
        }
    }

    #[test]
    fn sqlite_refusals_are_unavailable_and_faults_are_not() {
        // Primary and extended codes: READONLY_DBMOVED, IOERR_WRITE, IOERR_SHMSIZE, CANTOPEN_ISDIR.
        for code in [7, 8, 1032, 10, 778, 4874, 13, 14, 526] {
            assert!(sqlite_refuses_service(code), "{code}");
        }
        // ERROR, BUSY (a timeout), LOCKED, CORRUPT, CONSTRAINT_UNIQUE, NOTADB, MISMATCH.
        for code in [1, 5, 6, 11, 2067, 26, 20] {
            assert!(!sqlite_refuses_service(code), "{code}");
        }
    }

    #[test]
    fn pool_and_socket_failures_are_unavailable() {
        assert!(StoreError::Database(sqlx::Error::PoolTimedOut).is_unavailable());
        assert!(StoreError::Database(sqlx::Error::PoolClosed).is_unavailable());
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert!(StoreError::Database(sqlx::Error::Io(reset)).is_unavailable());
        assert!(!StoreError::Database(sqlx::Error::RowNotFound).is_unavailable());
        assert!(!StoreError::Database(sqlx::Error::WorkerCrashed).is_unavailable());
        assert!(!StoreError::Corrupt("x".into()).is_unavailable());
    }

    /// A database error of a driver Lanyard does not use, with a code that would mean
    /// "unavailable" to PostgreSQL and "busy" to SQLite.
    #[derive(Debug)]
    struct Foreign(&'static str);

    impl std::fmt::Display for Foreign {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "error {}", self.0)
        }
    }

    impl std::error::Error for Foreign {}

    impl sqlx::error::DatabaseError for Foreign {
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

    #[test]
    fn codes_are_read_only_for_the_driver_that_raised_them() {
        for code in ["53300", "5", "8", "57014"] {
            let error = StoreError::Database(sqlx::Error::Database(Box::new(Foreign(code))));
            assert!(!error.is_unavailable() && !error.is_timeout(), "{code}");
        }
    }

    async fn sqlite_error(connection: &mut sqlx::SqliteConnection, sql: &str) -> StoreError {
        StoreError::from(connection.execute(sql).await.expect_err(sql))
    }

    /// Real SQLite errors, as the driver reports them.
    #[tokio::test]
    async fn sqlite_read_only_full_and_busy_databases_cannot_serve_and_bad_statements_are_faults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.db");
        let options = SqliteConnectOptions::from_str("sqlite://")
            .unwrap()
            .filename(&path)
            .create_if_missing(true)
            .busy_timeout(std::time::Duration::ZERO);
        let mut one = options.connect().await.unwrap();
        one.execute("CREATE TABLE t (x TEXT PRIMARY KEY)").await.unwrap();
        one.execute("INSERT INTO t VALUES ('a')").await.unwrap();

        let duplicate = sqlite_error(&mut one, "INSERT INTO t VALUES ('a')").await;
        assert!(matches!(duplicate, StoreError::Conflict(_)), "{duplicate:?}");
        let bad = sqlite_error(&mut one, "SELECT * FROM missing").await;
        assert!(!bad.is_unavailable() && !bad.is_timeout(), "{bad:?}");

        // Busy: another connection holds the write lock.
        let mut two = options.connect().await.unwrap();
        two.execute("BEGIN IMMEDIATE").await.unwrap();
        let busy = sqlite_error(&mut one, "INSERT INTO t VALUES ('b')").await;
        assert!(busy.is_timeout() && !busy.is_unavailable(), "{busy:?}");
        two.execute("ROLLBACK").await.unwrap();
        two.close().await.unwrap();

        // Full: the file may not grow beyond its current pages.
        one.execute("PRAGMA max_page_count = 2").await.unwrap();
        let big = format!("INSERT INTO t VALUES ('{}')", "x".repeat(100_000));
        let full = sqlite_error(&mut one, &big).await;
        assert!(full.is_unavailable(), "{full:?}");

        // Read-only: the connection may not write.
        one.execute("PRAGMA query_only = 1").await.unwrap();
        let read_only = sqlite_error(&mut one, "INSERT INTO t VALUES ('c')").await;
        assert!(read_only.is_unavailable(), "{read_only:?}");

        // Cannot open: the directory is gone.
        let gone = SqliteConnectOptions::from_str("sqlite://")
            .unwrap()
            .filename(dir.path().join("no-such-directory").join("e.db"))
            .connect()
            .await
            .map(|_| ())
            .expect_err("no such directory");
        assert!(StoreError::from(gone).is_unavailable());
    }

    #[test]
    fn conflicts_are_named_by_their_key_on_both_stores() {
        let cases = [
            (Some("identity_identifiers_pkey"), "", ConflictOn::Identifier),
            (
                None,
                "UNIQUE constraint failed: identity_identifiers.identifier",
                ConflictOn::Identifier,
            ),
            (Some("identities_external_id_key"), "", ConflictOn::ExternalId),
            (
                None,
                "UNIQUE constraint failed: identities.external_id",
                ConflictOn::ExternalId,
            ),
            (Some("sessions_token_digest_key"), "", ConflictOn::TokenDigest),
            (
                None,
                "UNIQUE constraint failed: sessions.token_digest",
                ConflictOn::TokenDigest,
            ),
            (Some("sessions_pkey"), "", ConflictOn::Id),
            (None, "UNIQUE constraint failed: sessions.id", ConflictOn::Id),
            // A message that merely mentions a column is not that key.
            (Some("lanyard_settings_pkey"), "duplicate identifier", ConflictOn::Other),
        ];
        for (constraint, message, expected) in cases {
            assert_eq!(conflict_on(constraint, message), expected, "{constraint:?} {message:?}");
        }
    }
}
