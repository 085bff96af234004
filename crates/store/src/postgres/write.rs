//! PostgreSQL's part of the shared writes ([`crate::write`]).

use lanyard_domain::Identity;
use sqlx::{PgConnection, Postgres};

use crate::sql::{identities, Dialect};
use crate::write::{run_statements, Backend};
use crate::StoreResult;

impl Backend for Postgres {
    const DIALECT: Dialect = Dialect::Postgres;

    run_statements!();

    /// All identifiers in one statement, as one array of UTF-8 bytes (see the migration);
    /// `login_identifiers` is already de-duplicated.
    async fn insert_identifiers(conn: &mut PgConnection, identity: &Identity) -> StoreResult<()> {
        let identifiers: Vec<Vec<u8>> = identity
            .login_identifiers()
            .into_iter()
            .map(String::into_bytes)
            .collect();
        if !identifiers.is_empty() {
            sqlx::query(identities::insert_identifiers(Dialect::Postgres))
                .bind(&identifiers)
                .bind(identity.id)
                .execute(conn)
                .await?;
        }
        Ok(())
    }
}
