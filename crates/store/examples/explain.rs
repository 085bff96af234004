//! Prints the query plans of the store's main queries, as docs/STORAGE.md shows them.
//!
//! ```text
//! cargo run -p lanyard-store --example explain -- postgres://postgres@127.0.0.1:5432/lanyard_explain
//! cargo run -p lanyard-store --example explain -- sqlite:///tmp/lanyard_explain.db
//! ```
//!
//! The database must be migrated and seeded (docs/STORAGE.md has the seed scripts). The SQL is
//! built by the same code the stores run (`lanyard_store::sql`), bound through the same driver,
//! with parameters taken from the seeded data: a session half-way down the list (the cursor of
//! keyset page 2,000 at 250 per page), its identity, creator, fingerprint and token digest.
//! PostgreSQL prints `EXPLAIN` (estimates, nothing is run), SQLite `EXPLAIN QUERY PLAN`.

// A developer's tool, run by hand: a failing statement is best shown by stopping with it.
#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "a tool run by hand; it stops at the first failing statement and shows it"
)]

use std::fmt::Write as _;

use lanyard_domain::query::{OwnedBy, Scope};
use lanyard_domain::{Cursor, DateFilter, DateMethod, Micros, SessionFilter, SessionPage, SessionQuery, SessionSort};
use lanyard_store::sql::{self, BuiltQuery, Dialect, Param};
use sqlx::{PgPool, Row, SqlitePool};
use uuid::Uuid;

/// The values the queries are run with.
struct Sample {
    now: Micros,
    identity: Uuid,
    cursor: Cursor,
    creator: String,
    fingerprint: String,
    digest: Vec<u8>,
}

enum Db {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

impl Db {
    fn dialect(&self) -> Dialect {
        match self {
            Db::Postgres(_) => Dialect::Postgres,
            Db::Sqlite(_) => Dialect::Sqlite,
        }
    }

    async fn sample(&self) -> Sample {
        // Row 499,750 of the Kratos order: the last row of keyset page 2,000 at 250 per page.
        let sql = "SELECT id, identity_id, created_us, creator, fingerprint_id, token_digest FROM sessions \
                   WHERE identity_id IS NOT NULL ORDER BY created_us DESC, id LIMIT 1 OFFSET 499749";
        let now_sql = "SELECT MAX(created_us) + 1000000 FROM sessions";
        macro_rules! read {
            ($pool:expr) => {{
                let row = sqlx::query(sql)
                    .fetch_one($pool)
                    .await
                    .expect("a seeded database");
                let now: i64 = sqlx::query_scalar(now_sql).fetch_one($pool).await.unwrap();
                Sample {
                    now: Micros(now),
                    identity: row.get("identity_id"),
                    cursor: Cursor {
                        created_at: Micros(row.get("created_us")),
                        id: row.get("id"),
                    },
                    creator: row.get("creator"),
                    fingerprint: row.get("fingerprint_id"),
                    digest: row.get("token_digest"),
                }
            }};
        }
        match self {
            Db::Postgres(pool) => read!(pool),
            Db::Sqlite(pool) => read!(pool),
        }
    }

    async fn explain(&self, sql: &str, params: &[Value]) -> String {
        macro_rules! bind {
            ($query:expr, |$q:ident, $uuids:ident| $bind_uuids:expr) => {{
                let mut $q = $query;
                for param in params {
                    $q = match param {
                        Value::I64(v) => $q.bind(*v),
                        Value::Text(v) => $q.bind(v.clone()),
                        Value::Uuid(v) => $q.bind(*v),
                        Value::Uuids($uuids) => $bind_uuids,
                        Value::Bytes(v) => $q.bind(v.clone()),
                    };
                }
                $q
            }};
        }
        match self {
            Db::Postgres(pool) => {
                let text = format!("EXPLAIN {sql}");
                let rows = bind!(sqlx::query(&text), |q, v| q.bind(v.clone()))
                    .fetch_all(pool)
                    .await
                    .unwrap_or_else(|e| panic!("{e}: {sql}"));
                rows.iter()
                    .map(|r| r.get::<String, _>(0))
                    .collect::<Vec<_>>()
                    .join("\n")
            }
            Db::Sqlite(pool) => {
                let text = format!("EXPLAIN QUERY PLAN {sql}");
                let rows = bind!(sqlx::query(&text), |q, _v| unreachable!(
                    "SQLite queries bind no arrays"
                ))
                .fetch_all(pool)
                .await
                .unwrap_or_else(|e| panic!("{e}: {sql}"));
                // Indent by depth, as the sqlite3 shell does.
                let mut depth: Vec<(i64, usize)> = Vec::new();
                let mut out = Vec::new();
                for row in rows {
                    let (id, parent): (i64, i64) = (row.get(0), row.get(1));
                    let detail: String = row.get(3);
                    let level = depth.iter().find(|(i, _)| *i == parent).map_or(0, |(_, l)| l + 1);
                    depth.push((id, level));
                    out.push(format!("{}{detail}", "  ".repeat(level)));
                }
                out.join("\n")
            }
        }
    }
}

#[derive(Clone)]
enum Value {
    I64(i64),
    Text(String),
    Uuid(Uuid),
    /// PostgreSQL only (`= ANY($1)`).
    Uuids(Vec<Uuid>),
    Bytes(Vec<u8>),
}

impl From<&Param> for Value {
    fn from(param: &Param) -> Self {
        match param {
            Param::I64(v) => Value::I64(*v),
            Param::Text(v) => Value::Text(v.clone()),
            Param::Uuid(v) => Value::Uuid(*v),
        }
    }
}

fn built(query: BuiltQuery) -> (String, Vec<Value>) {
    let params = query.params.iter().map(Value::from).collect();
    (query.sql, params)
}

fn keyset(filter: SessionFilter, after: Option<Cursor>) -> SessionQuery {
    SessionQuery {
        with_devices: true,
        filter,
        sort: SessionSort::CreatedDesc,
        page: SessionPage::Keyset { after, size: 250 },
    }
}

fn offset(filter: SessionFilter, sort: SessionSort, limit: u32) -> SessionQuery {
    SessionQuery {
        with_devices: true,
        filter,
        sort,
        page: SessionPage::Offset { offset: 0, limit },
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let url = std::env::args()
        .nth(1)
        .expect("usage: explain <postgres://… | sqlite:///path.db>");
    let db = if url.starts_with("sqlite:") {
        Db::Sqlite(SqlitePool::connect(&url).await.expect("open the SQLite file"))
    } else {
        Db::Postgres(PgPool::connect(&url).await.expect("connect to PostgreSQL"))
    };
    let d = db.dialect();
    let s = db.sample().await;

    let kratos = SessionFilter::default();
    let active = SessionFilter {
        active: Some(true),
        ..Default::default()
    };
    let of_identity = SessionFilter {
        identity_id: Some(s.identity),
        ..Default::default()
    };
    let of_identity_active = SessionFilter {
        active: Some(true),
        ..of_identity.clone()
    };
    let zitadel = SessionFilter {
        scope: Scope::NotRevoked,
        ..Default::default()
    };
    let year = 365 * 86_400 * 1_000_000;
    let by_user_and_date = SessionFilter {
        identity_id: Some(s.identity),
        created: vec![
            DateFilter {
                method: DateMethod::GreaterOrEquals,
                at: Micros(s.now.0 - year),
            },
            DateFilter {
                method: DateMethod::LessOrEquals,
                at: s.now,
            },
        ],
        ..zitadel.clone()
    };
    let by_creator = SessionFilter {
        creator: Some(s.creator.clone()),
        ..zitadel.clone()
    };
    let by_fingerprint = SessionFilter {
        fingerprint_id: Some(s.fingerprint.clone()),
        ..zitadel.clone()
    };
    let expiring_soon = SessionFilter {
        expires: vec![DateFilter {
            method: DateMethod::Less,
            at: Micros(s.now.0 + 86_400_000_000),
        }],
        ..zitadel.clone()
    };
    let own = SessionFilter {
        owned_by: Some(OwnedBy {
            identity_id: Some(s.identity),
            creator: s.identity.to_string(),
        }),
        ..zitadel.clone()
    };

    let after = Some(s.cursor);
    let devices = (
        sql::reads::devices_of_sessions(d, 1),
        match d {
            Dialect::Postgres => vec![Value::Uuids(vec![s.cursor.id])],
            Dialect::Sqlite => vec![Value::Uuid(s.cursor.id)],
        },
    );
    let cases: Vec<(&str, (String, Vec<Value>))> = vec![
        (
            "whoami: the session, its identity and its devices by token digest",
            (
                sql::session_view_by_digest(d).to_owned(),
                vec![Value::Bytes(s.digest.clone())],
            ),
        ),
        ("Kratos lists: the devices of a page's sessions", devices),
        (
            "Kratos admin list, page 1 (250 per page)",
            built(sql::list_sessions(d, &keyset(kratos.clone(), None), s.now)),
        ),
        (
            "Kratos admin list, keyset page 2,001 (after row 499,750)",
            built(sql::list_sessions(d, &keyset(kratos.clone(), after), s.now)),
        ),
        (
            "Kratos admin list, active=true, page 1",
            built(sql::list_sessions(d, &keyset(active.clone(), None), s.now)),
        ),
        (
            "Kratos admin list, active=true, keyset page 2,001",
            built(sql::list_sessions(d, &keyset(active.clone(), after), s.now)),
        ),
        (
            "Kratos identity sessions (offset page of 250)",
            built(sql::list_sessions(
                d,
                &offset(of_identity.clone(), SessionSort::CreatedDesc, 250),
                s.now,
            )),
        ),
        (
            "Kratos identity sessions: count",
            built(sql::count_sessions(d, &of_identity, s.now)),
        ),
        (
            "Kratos identity sessions, active=true",
            built(sql::list_sessions(
                d,
                &offset(of_identity_active.clone(), SessionSort::CreatedDesc, 250),
                s.now,
            )),
        ),
        (
            "Kratos identity sessions, active=true: count",
            built(sql::count_sessions(d, &of_identity_active, s.now)),
        ),
    ];
    // The ZITADEL searches: each statement the search runs for its first page.
    let day = 86_400_000_000;
    let expiring_by = |method, at| SessionFilter {
        expires: vec![DateFilter { method, at }],
        ..zitadel.clone()
    };
    let searches = [
        ("no query", zitadel.clone(), SessionSort::CreatedDesc),
        ("no query, oldest first", zitadel.clone(), SessionSort::CreatedAsc),
        (
            "user + creation date range",
            by_user_and_date.clone(),
            SessionSort::CreatedDesc,
        ),
        ("creator", by_creator.clone(), SessionSort::CreatedDesc),
        (
            "user agent fingerprint",
            by_fingerprint.clone(),
            SessionSort::CreatedDesc,
        ),
        (
            "expiration date ≥ now (live sessions)",
            expiring_by(DateMethod::GreaterOrEquals, s.now),
            SessionSort::CreatedDesc,
        ),
        (
            "expiration date < now + 1 day",
            expiring_soon.clone(),
            SessionSort::CreatedDesc,
        ),
        (
            "expiration date < now − 30 days",
            expiring_by(DateMethod::Less, Micros(s.now.0 - 30 * day)),
            SessionSort::CreatedDesc,
        ),
        (
            "creator + expiration date ≥ now",
            SessionFilter {
                creator: Some(s.creator.clone()),
                ..expiring_by(DateMethod::GreaterOrEquals, s.now)
            },
            SessionSort::CreatedDesc,
        ),
        (
            "creation date ≥ now − 30 days + expiration date < now",
            SessionFilter {
                created: vec![DateFilter {
                    method: DateMethod::GreaterOrEquals,
                    at: Micros(s.now.0 - 30 * day),
                }],
                ..expiring_by(DateMethod::Less, s.now)
            },
            SessionSort::CreatedDesc,
        ),
        (
            "a session-token caller's own sessions",
            own.clone(),
            SessionSort::CreatedDesc,
        ),
    ];
    let mut cases: Vec<(String, (String, Vec<Value>))> = cases
        .into_iter()
        .map(|(title, statement)| (title.to_owned(), statement))
        .collect();
    for (name, filter, sort) in searches {
        let query = offset(filter, sort, 100);
        for (part, statement) in lanyard_store::first_page_statements(d, &query, s.now) {
            cases.push((format!("ZITADEL search, {name}: {part}"), built(statement)));
        }
    }
    let prefix_high = "user12\u{10FFFF}".to_owned();
    let identity_cases: Vec<(&str, (String, Vec<Value>))> = vec![
        (
            "revoke an identity's active sessions",
            (
                sql::sessions::revoke_active_of_identity(d).to_owned(),
                vec![
                    Value::Uuid(s.identity),
                    Value::I64(s.now.0),
                    Value::I64(1),
                    Value::Uuid(s.cursor.id),
                ],
            ),
        ),
        (
            "identity by login identifier",
            (
                sql::reads::identity_by_identifier(d).to_owned(),
                vec![match d {
                    Dialect::Postgres => Value::Bytes(b"user123@bench.example".to_vec()),
                    Dialect::Sqlite => Value::Text("user123@bench.example".into()),
                }],
            ),
        ),
        (
            "identities by identifier prefix (credentials_identifier_similar)",
            (
                sql::reads::identities_with_identifier_in(d).to_owned(),
                match d {
                    Dialect::Postgres => vec![
                        Value::Bytes(b"user12".to_vec()),
                        Value::Bytes(b"user12\xff".to_vec()),
                        Value::Uuid(Uuid::nil()),
                        Value::I64(250),
                    ],
                    Dialect::Sqlite => vec![
                        Value::Text("user12".into()),
                        Value::Text(prefix_high),
                        Value::Uuid(Uuid::nil()),
                        Value::I64(250),
                    ],
                },
            ),
        ),
        (
            "identities, keyset page by id",
            (
                sql::reads::identities_after(d).to_owned(),
                vec![Value::Uuid(s.identity), Value::I64(250)],
            ),
        ),
    ];
    cases.extend(
        identity_cases
            .into_iter()
            .map(|(title, statement)| (title.to_owned(), statement)),
    );

    let engine = match d {
        Dialect::Postgres => "PostgreSQL (EXPLAIN)",
        Dialect::Sqlite => "SQLite (EXPLAIN QUERY PLAN)",
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<!-- generated by `cargo run -p lanyard-store --example explain` -->"
    );
    let _ = writeln!(out, "### {engine}\n");
    for (title, (sql, params)) in cases {
        let plan = db.explain(&sql, &params).await;
        let _ = writeln!(
            out,
            "#### {title}\n\n```sql\n{}\n```\n\n```text\n{plan}\n```\n",
            sql.trim()
        );
    }
    print!("{out}");
}
