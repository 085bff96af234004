use std::borrow::Cow;
use std::fmt::Write;

use lanyard_domain::query::Scope;
use lanyard_domain::{DateFilter, DateMethod, Micros, SessionFilter, SessionPage, SessionQuery, SessionSort};
use uuid::Uuid;

use super::{HOUR_US, SESSION_COLUMNS};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    I64(i64),
    Text(String),
    Uuid(Uuid),
}

#[derive(Debug, Clone, PartialEq)]
pub struct BuiltQuery {
    pub sql: String,
    pub params: Vec<Param>,
}

struct Builder {
    dialect: Dialect,
    /// Whether the identity is joined as `i`. Without it, the identity's state is tested with
    /// subqueries; this relies on the foreign key (a session's identity always exists).
    joined: bool,
    sql: String,
    params: Vec<Param>,
}

/// Sessions whose identity exists and is not active. On PostgreSQL the partial index
/// `identities_not_active` answers it from a few thousand entries, so counts need neither a
/// join nor a scan of every identity.
const IDENTITY_NOT_ACTIVE: &str =
    "EXISTS (SELECT 1 FROM identities i WHERE i.id = s.identity_id AND i.state <> 'active')";

impl Builder {
    fn new(dialect: Dialect, head: &str) -> Self {
        Builder {
            dialect,
            joined: true,
            sql: head.to_owned(),
            params: Vec::new(),
        }
    }

    /// Appends a placeholder for `param` and returns its text.
    fn bind(&mut self, param: Param) -> String {
        self.params.push(param);
        match self.dialect {
            Dialect::Sqlite => format!("?{}", self.params.len()),
            Dialect::Postgres => format!("${}", self.params.len()),
        }
    }

    fn and(&mut self, condition: &str) {
        let _ = write!(self.sql, " AND {condition}");
    }

    fn finish(self) -> BuiltQuery {
        BuiltQuery {
            sql: self.sql,
            params: self.params,
        }
    }
}

fn operator(method: DateMethod) -> &'static str {
    match method {
        DateMethod::Equals => "=",
        DateMethod::Greater => ">",
        DateMethod::GreaterOrEquals => ">=",
        DateMethod::Less => "<",
        DateMethod::LessOrEquals => "<=",
    }
}

fn push_filter(b: &mut Builder, filter: &SessionFilter, now: Micros) {
    match filter.scope {
        Scope::WithIdentity => b.and("s.identity_id IS NOT NULL"),
        // Joined, `i.state` is NULL for a session without identity and, on SQLite, for one
        // whose identity is active (see `sessions_from`): only a non-active state excludes.
        Scope::NotRevoked if b.joined => b.and("s.revoked_us IS NULL AND (i.state IS NULL OR i.state = 'active')"),
        Scope::NotRevoked => b.and(&format!("s.revoked_us IS NULL AND NOT {IDENTITY_NOT_ACTIVE}")),
    }
    if let Some(ids) = &filter.ids {
        if ids.is_empty() {
            b.and("1 = 0");
        } else {
            let list: Vec<String> = ids.iter().map(|id| b.bind(Param::Uuid(*id))).collect();
            b.and(&format!("s.id IN ({})", list.join(", ")));
        }
    }
    if let Some(identity_id) = filter.identity_id {
        let p = b.bind(Param::Uuid(identity_id));
        b.and(&format!("s.identity_id = {p}"));
    }
    if let Some(exclude) = filter.exclude_id {
        let p = b.bind(Param::Uuid(exclude));
        b.and(&format!("s.id <> {p}"));
    }
    if let Some(active) = filter.active {
        // Mirrors Session::is_active: not revoked, identity active, not expired at `now`.
        let p = b.bind(Param::I64(now.0));
        if active {
            // `i.state IS NULL OR …` also keeps SQLite from turning the LEFT JOIN into an inner
            // join, which may loop over identities first and sort every session.
            let state_is_active = if b.joined {
                "s.identity_id IS NOT NULL AND (i.state IS NULL OR i.state = 'active')".to_owned()
            } else {
                format!("s.identity_id IS NOT NULL AND NOT {IDENTITY_NOT_ACTIVE}")
            };
            b.and(&format!(
                "s.revoked_us IS NULL AND (s.expires_us IS NULL OR s.expires_us > {p}) AND {state_is_active}"
            ));
        } else if b.joined {
            b.and(&format!(
                "(s.revoked_us IS NOT NULL OR s.expires_us <= {p} OR s.identity_id IS NULL OR i.state <> 'active')"
            ));
        } else {
            b.and(&format!(
                "(s.revoked_us IS NOT NULL OR s.expires_us <= {p} OR s.identity_id IS NULL OR {IDENTITY_NOT_ACTIVE})"
            ));
        }
    }
    for DateFilter { method, at } in &filter.created {
        let p = b.bind(Param::I64(at.0));
        b.and(&format!("s.created_us {} {p}", operator(*method)));
    }
    for DateFilter { method, at } in &filter.expires {
        let p = b.bind(Param::I64(at.0));
        let op = operator(*method);
        // A session that never expires is later than any date, as ZITADEL treats it.
        match method {
            DateMethod::Greater | DateMethod::GreaterOrEquals => {
                b.and(&format!("(s.expires_us IS NULL OR s.expires_us {op} {p})"))
            }
            _ => b.and(&format!("s.expires_us {op} {p}")),
        }
    }
    // SQLite keeps no statistics here, so it sees the user's, the fingerprint's and the
    // creator's index as equally good and may walk a creator's hundreds of thousands of
    // sessions to find a user's four. A unary `+` keeps it off the less selective ones.
    let demote = |b: &Builder, by: bool| if by && b.dialect == Dialect::Sqlite { "+" } else { "" };
    let creator_demoted = demote(
        b,
        filter.ids.is_some() || filter.identity_id.is_some() || filter.fingerprint_id.is_some(),
    );
    if let Some(creator) = &filter.creator {
        let p = b.bind(Param::Text(creator.clone()));
        b.and(&format!("{creator_demoted}s.creator = {p}"));
    }
    if let Some(owner) = &filter.owned_by {
        let creator = b.bind(Param::Text(owner.creator.clone()));
        match owner.identity_id {
            Some(identity) => {
                let identity = b.bind(Param::Uuid(identity));
                b.and(&format!("(s.creator = {creator} OR s.identity_id = {identity})"));
            }
            None => b.and(&format!("s.creator = {creator}")),
        }
    }
    if let Some(fingerprint) = &filter.fingerprint_id {
        let demoted = demote(b, filter.ids.is_some() || filter.identity_id.is_some());
        let p = b.bind(Param::Text(fingerprint.clone()));
        b.and(&format!("{demoted}s.fingerprint_id = {p}"));
    }
}

pub fn list_sessions(dialect: Dialect, query: &SessionQuery, now: Micros) -> BuiltQuery {
    list_sessions_with(dialect, query, now, PageWalk::Ordered)
}

/// How the list query finds its rows on SQLite (PostgreSQL's planner chooses for itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PageWalk {
    /// Walk the creation index in the sort order, testing each row.
    Ordered,
    /// Keep SQLite off the ordered walk (a `+` on the sort key), so that it finds the matches
    /// through another index (the expiry's) and sorts them: faster when matches are few and
    /// far apart in creation order.
    SortMatches,
    /// Seek each of the expiry hours `first..=last` (as `expires_us / 3600000000`) in the index
    /// `sessions_expiry_hour` (expiry hour, creation) to the page's creation range, and sort
    /// what it finds: for a page whose creation range is narrow (see `crate::search`) but
    /// whose matches are thin among the sessions created then.
    ExpiryHours { first: i64, last: i64 },
}

/// The list query, finding its rows as `walk` says.
pub(crate) fn list_sessions_with(dialect: Dialect, query: &SessionQuery, now: Micros, walk: PageWalk) -> BuiltQuery {
    let from: Cow<'static, str> = match (walk, dialect) {
        (PageWalk::ExpiryHours { .. }, Dialect::Sqlite) => Cow::Owned(super::sessions_from(dialect).replacen(
            "FROM sessions s ",
            "FROM sessions s INDEXED BY sessions_expiry_hour ",
            1,
        )),
        _ => Cow::Borrowed(super::sessions_from(dialect)),
    };
    let mut b = Builder::new(dialect, &format!("SELECT {SESSION_COLUMNS} {from} WHERE 1 = 1"));
    if let (PageWalk::ExpiryHours { first, last }, Dialect::Sqlite) = (walk, dialect) {
        // Literal integers, computed here: one seek per hour, and no parameter per hour.
        let hours: Vec<String> = (first..=last).map(|hour| hour.to_string()).collect();
        b.and(&format!("s.expires_us / {HOUR_US} IN ({})", hours.join(", ")));
    }
    push_filter(&mut b, &query.filter, now);
    if let SessionPage::Keyset {
        after: Some(cursor), ..
    } = query.page
    {
        let t = b.bind(Param::I64(cursor.created_at.0));
        let id = b.bind(Param::Uuid(cursor.id));
        // The first conjunct is a plain range, so the index seeks straight to the cursor and
        // page N costs the same as page 1.
        match query.sort {
            SessionSort::CreatedDesc => b.and(&format!("s.created_us <= {t} AND (s.created_us < {t} OR s.id > {id})")),
            SessionSort::CreatedAsc => b.and(&format!("s.created_us >= {t} AND (s.created_us > {t} OR s.id < {id})")),
        }
    }
    let plus = if walk != PageWalk::Ordered && dialect == Dialect::Sqlite {
        "+"
    } else {
        ""
    };
    let _ = match query.sort {
        SessionSort::CreatedDesc => write!(b.sql, " ORDER BY {plus}s.created_us DESC, s.id ASC"),
        SessionSort::CreatedAsc => write!(b.sql, " ORDER BY {plus}s.created_us ASC, s.id DESC"),
    };
    match query.page {
        SessionPage::Keyset { size, .. } => {
            let _ = write!(b.sql, " LIMIT {}", u64::from(size) + 1);
        }
        SessionPage::Offset { offset, limit } => {
            let _ = write!(b.sql, " LIMIT {limit} OFFSET {offset}");
        }
    }
    b.finish()
}

pub fn count_sessions(dialect: Dialect, filter: &SessionFilter, now: Micros) -> BuiltQuery {
    // The identity is only needed to evaluate `active` and the ZITADEL scope; without it the
    // count can be answered from a session index alone. SQLite joins it (a primary-key lookup
    // per session); PostgreSQL tests it with subqueries instead, which its planner turns into
    // an anti-join against the small partial index of non-active identities (a join would
    // make it hash every identity).
    let needs_identity = filter.active.is_some() || filter.scope == Scope::NotRevoked;
    let join = match dialect {
        Dialect::Sqlite if needs_identity => super::sessions_from(dialect),
        _ => "FROM sessions s",
    };
    let mut b = Builder::new(dialect, &format!("SELECT COUNT(*) {join} WHERE 1 = 1"));
    b.joined = dialect == Dialect::Sqlite && needs_identity;
    push_filter(&mut b, filter, now);
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lanyard_domain::Cursor;

    #[test]
    fn placeholders_follow_the_dialect() {
        let mut query = SessionQuery {
            with_devices: true,
            filter: SessionFilter {
                identity_id: Some(Uuid::nil()),
                ..Default::default()
            },
            sort: SessionSort::CreatedDesc,
            page: SessionPage::Keyset {
                after: Some(Cursor {
                    created_at: Micros(5),
                    id: Uuid::nil(),
                }),
                size: 10,
            },
        };
        let sqlite = list_sessions(Dialect::Sqlite, &query, Micros(0));
        assert!(sqlite.sql.contains("s.identity_id = ?1") && sqlite.sql.contains("LIMIT 11"));
        query.page = SessionPage::Offset { offset: 20, limit: 10 };
        let pg = list_sessions(Dialect::Postgres, &query, Micros(0));
        assert!(pg.sql.contains("s.identity_id = $1") && pg.sql.ends_with("LIMIT 10 OFFSET 20"));
    }

    #[test]
    fn sqlite_is_kept_off_the_creator_index_when_a_user_is_given() {
        let filter = SessionFilter {
            identity_id: Some(Uuid::nil()),
            creator: Some("login-ui".into()),
            fingerprint_id: Some("fp".into()),
            ..Default::default()
        };
        let sqlite = count_sessions(Dialect::Sqlite, &filter, Micros(0)).sql;
        assert!(
            sqlite.contains("+s.creator = ") && sqlite.contains("+s.fingerprint_id = "),
            "{sqlite}"
        );
        assert!(sqlite.contains(" s.identity_id = "), "{sqlite}");
        let pg = count_sessions(Dialect::Postgres, &filter, Micros(0)).sql;
        assert!(!pg.contains('+'), "{pg}");
    }

    #[test]
    fn postgres_counts_test_the_identity_without_a_join() {
        for filter in [
            SessionFilter {
                scope: Scope::NotRevoked,
                ..Default::default()
            },
            SessionFilter {
                active: Some(true),
                ..Default::default()
            },
            SessionFilter {
                active: Some(false),
                ..Default::default()
            },
        ] {
            let pg = count_sessions(Dialect::Postgres, &filter, Micros(0));
            assert!(
                !pg.sql.contains("JOIN") && !pg.sql.contains("i.state = 'active'"),
                "{}",
                pg.sql
            );
            assert!(pg.sql.contains("i.state <> 'active'"), "{}", pg.sql);
            let sqlite = count_sessions(Dialect::Sqlite, &filter, Micros(0));
            assert!(sqlite.sql.contains("LEFT JOIN identities i"), "{}", sqlite.sql);
        }
        let plain = count_sessions(Dialect::Postgres, &SessionFilter::default(), Micros(0));
        assert!(!plain.sql.contains("identities"), "{}", plain.sql);
    }
}
