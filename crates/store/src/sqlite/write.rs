//! SQLite's part of the shared writes ([`crate::write`]).

use lanyard_domain::Identity;
use sqlx::{Sqlite, SqliteConnection};

use crate::sql::{identities, Dialect};
use crate::write::{run_statements, Backend};
use crate::StoreResult;

impl Backend for Sqlite {
    const DIALECT: Dialect = Dialect::Sqlite;

    run_statements!();

    /// One statement per identifier: SQLite binds no arrays.
    async fn insert_identifiers(conn: &mut SqliteConnection, identity: &Identity) -> StoreResult<()> {
        let sql = identities::insert_identifiers(Dialect::Sqlite);
        for identifier in identity.login_identifiers() {
            Self::execute(conn, sql, &[identifier.into(), identity.id.into()]).await?;
        }
        Ok(())
    }
}
