//! Exact session counts that do not grow with the table.
//!
//! The broad ZITADEL searches (no query, date ranges, a creator) count sessions that are not
//! revoked and whose identity is active or absent. Two counter tables, kept by triggers in the
//! same transaction as every write to sessions and every change of an identity's state, hold
//! exactly those sessions per (creation hour, creator) and per (expiry hour, creator). A count
//! is then
//!
//! - the cells whose hours lie wholly inside the range (creation or expiry: a search with both
//!   is counted the plain way, see [`CellCount::plan`]), plus
//! - the sessions of the (at most two) partial hours at the ends of the range, counted through
//!   the creation or the expiry index.
//!
//! Everything is one statement, so it reads one snapshot. Filters that select few sessions by
//! themselves (ids, a user, a fingerprint, a session-token caller's own sessions, `active`)
//! keep the plain `COUNT(*)` of [`super::session_query`], which their indexes already make cheap.

use lanyard_domain::query::Scope;
use lanyard_domain::{DateFilter, DateMethod, Micros, SessionFilter};

use super::session_query::{self, BuiltQuery, Dialect, Param};

/// One hour in microseconds: the cells' granularity.
pub const HOUR_US: i64 = 3_600_000_000;
/// The expiry hour of sessions that never expire: after every real hour.
pub const NEVER_HOUR: i64 = 9_000_000_000_000;

/// The hour of an instant, as the triggers compute it.
pub fn hour_of(at: i64) -> i64 {
    if at < 0 {
        -1
    } else {
        at / HOUR_US
    }
}

fn hour_start(hour: i64) -> i64 {
    if hour < 0 {
        i64::MIN
    } else {
        hour.saturating_mul(HOUR_US)
    }
}

fn hour_end(hour: i64) -> i64 {
    if hour < 0 {
        -1
    } else {
        hour.saturating_mul(HOUR_US).saturating_add(HOUR_US - 1)
    }
}

/// An inclusive range of instants; `None` when nothing can match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Range {
    pub lo: i64,
    pub hi: i64,
}

impl Range {
    const ALL: Range = Range {
        lo: i64::MIN,
        hi: i64::MAX,
    };

    /// The intersection of date filters, as the list query applies them to non-null values.
    fn of(filters: &[DateFilter]) -> Option<Range> {
        let mut range = Range::ALL;
        for DateFilter { method, at: Micros(at) } in filters {
            let at = *at;
            match method {
                DateMethod::Equals => {
                    range.lo = range.lo.max(at);
                    range.hi = range.hi.min(at);
                }
                DateMethod::Greater => range.lo = range.lo.max(at.saturating_add(1)),
                DateMethod::GreaterOrEquals => range.lo = range.lo.max(at),
                DateMethod::Less => range.hi = range.hi.min(at.saturating_sub(1)),
                DateMethod::LessOrEquals => range.hi = range.hi.min(at),
            }
        }
        (range.lo <= range.hi).then_some(range)
    }

    /// The hours wholly inside, as (first, last); `None` when there is none.
    fn full_hours(self) -> Option<(i64, i64)> {
        let first = if self.lo == hour_start(hour_of(self.lo)) {
            hour_of(self.lo)
        } else {
            hour_of(self.lo) + 1
        };
        let last = if self.hi == i64::MAX || self.hi == hour_end(hour_of(self.hi)) {
            hour_of(self.hi)
        } else {
            hour_of(self.hi) - 1
        };
        (first <= last).then_some((first, last))
    }

    /// What is left of the range outside its full hours: at most two pieces, each inside one
    /// or two hours.
    fn partial_pieces(self) -> Vec<Range> {
        match self.full_hours() {
            None => vec![self],
            Some((first, last)) => {
                let mut pieces = Vec::new();
                if self.lo < hour_start(first) {
                    pieces.push(Range {
                        lo: self.lo,
                        hi: hour_start(first) - 1,
                    });
                }
                let end = hour_end(last);
                if self.hi > end && end != i64::MAX {
                    pieces.push(Range {
                        lo: end + 1,
                        hi: self.hi,
                    });
                }
                pieces
            }
        }
    }
}

/// Not revoked, and the identity (if any) active: the same test of the identity as the list
/// query's, without a join. SQLite is told to probe the small partial index of non-active
/// identities: left alone it probes the primary key and reads each identity's row, 2.6 × the
/// time of a partial hour's count at 1M sessions.
fn visible(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => {
            "s.revoked_us IS NULL AND NOT EXISTS (SELECT 1 FROM identities i INDEXED BY identities_not_active \
             WHERE i.id = s.identity_id AND i.state <> 'active')"
        }
        Dialect::Postgres => {
            "s.revoked_us IS NULL AND NOT EXISTS (SELECT 1 FROM identities i \
             WHERE i.id = s.identity_id AND i.state <> 'active')"
        }
    }
}

/// A broad count, answered from the cells.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CellCount {
    created: Range,
    /// Over sessions that expire; those that never do match when `never` is set.
    expires: Option<Range>,
    never: bool,
    creators: Vec<String>,
}

impl CellCount {
    /// The plan for `filter`, when it is a broad one; `None` for the filters whose own
    /// indexes count them cheaply, and for the Kratos scopes (the cells hold ZITADEL's).
    pub(crate) fn plan(filter: &SessionFilter) -> Option<Option<CellCount>> {
        let selective = filter.ids.is_some()
            || filter.identity_id.is_some()
            || filter.exclude_id.is_some()
            || filter.fingerprint_id.is_some()
            || filter.active.is_some()
            || filter.owned_by.as_ref().is_some_and(|o| o.identity_id.is_some());
        if selective || filter.scope != Scope::NotRevoked {
            return None;
        }
        let Some(created) = Range::of(&filter.created) else {
            return Some(None);
        };
        // Both a creation and an expiry range: no counter table has both dimensions (a 2-D one
        // grows to a row per session when expiry does not follow creation), so the plain
        // count through the narrower index serves it.
        if created != Range::ALL && !filter.expires.is_empty() {
            return None;
        }
        // As the list query does: GREATER* also match a session that never expires, the other
        // methods never do.
        let never = filter
            .expires
            .iter()
            .all(|f| matches!(f.method, DateMethod::Greater | DateMethod::GreaterOrEquals));
        let expires = Range::of(&filter.expires);
        if expires.is_none() && !never {
            return Some(None);
        }
        let mut creators: Vec<String> = filter.creator.iter().cloned().collect();
        creators.extend(filter.owned_by.as_ref().map(|o| o.creator.clone()));
        // '*' names all creators together in the counters; a creator literally called so is
        // counted the plain way.
        if creators.iter().any(|c| c == "*") {
            return None;
        }
        Some(Some(CellCount {
            created,
            expires,
            never,
            creators,
        }))
    }

    /// The creator condition on a counter table (`creator`) or on sessions (`s.creator`). The
    /// counters keep every count also under creator `'*'`, for all creators together.
    fn creator_condition(&self, b: &mut Builder, column: &str) -> String {
        if self.creators.is_empty() && column == "creator" {
            return " AND creator = '*'".to_owned();
        }
        self.creators
            .iter()
            .map(|c| {
                let p = b.bind(Param::Text(c.clone()));
                format!(" AND {column} = {p}")
            })
            .collect()
    }

    fn sql(&self, dialect: Dialect) -> BuiltQuery {
        let mut b = Builder {
            dialect,
            params: Vec::new(),
        };
        let mut terms: Vec<String> = Vec::new();
        if self.filters_expiry() {
            self.count_by_expiry(&mut b, &mut terms);
        } else {
            self.count_by_creation(&mut b, &mut terms);
        }
        let sum = if terms.is_empty() {
            "0".to_owned()
        } else {
            terms.join(" + ")
        };
        BuiltQuery {
            sql: format!("SELECT CAST({sum} AS BIGINT)"),
            params: b.params,
        }
    }

    /// Only a creation range (or nothing): `session_counts_created`.
    fn count_by_creation(&self, b: &mut Builder, terms: &mut Vec<String>) {
        if let Some((c1, c2)) = self.created.full_hours() {
            let (p1, p2) = (b.bind(Param::I64(c1)), b.bind(Param::I64(c2)));
            let creators = self.creator_condition(b, "creator");
            terms.push(format!(
                "(SELECT COALESCE(SUM(n), 0) FROM session_counts_created WHERE created_hour BETWEEN {p1} AND {p2}{creators})"
            ));
        }
        for piece in self.created.partial_pieces() {
            let (c1, c2) = (b.bind(Param::I64(piece.lo)), b.bind(Param::I64(piece.hi)));
            let creators = self.creator_condition(b, "s.creator");
            terms.push(format!(
                "(SELECT COUNT(*) FROM sessions s WHERE s.created_us BETWEEN {c1} AND {c2}{creators} AND {})",
                visible(b.dialect)
            ));
        }
    }

    /// Only an expiry range: `session_counts_expires`.
    fn count_by_expiry(&self, b: &mut Builder, terms: &mut Vec<String>) {
        let mut cells = Vec::new();
        if let Some((e1, e2)) = self.expires.and_then(Range::full_hours) {
            let (q1, q2) = (b.bind(Param::I64(e1)), b.bind(Param::I64(e2)));
            cells.push(format!("expires_hour BETWEEN {q1} AND {q2}"));
        }
        if self.never {
            let never = b.bind(Param::I64(NEVER_HOUR));
            cells.push(format!("expires_hour = {never}"));
        }
        if !cells.is_empty() {
            let creators = self.creator_condition(b, "creator");
            terms.push(format!(
                "(SELECT COALESCE(SUM(n), 0) FROM session_counts_expires WHERE ({}){creators})",
                cells.join(" OR ")
            ));
        }
        for piece in self.expires.map(Range::partial_pieces).unwrap_or_default() {
            let (e1, e2) = (b.bind(Param::I64(piece.lo)), b.bind(Param::I64(piece.hi)));
            // Less than an hour of expiries: SQLite would otherwise walk the creator's index,
            // all of the creator's sessions, because an equality looks better than a range.
            let column = match b.dialect {
                Dialect::Sqlite => "+s.creator",
                Dialect::Postgres => "s.creator",
            };
            let creators = self.creator_condition(b, column);
            terms.push(format!(
                "(SELECT COUNT(*) FROM sessions s WHERE s.expires_us BETWEEN {e1} AND {e2}{creators} AND {})",
                visible(b.dialect)
            ));
        }
    }
}

/// What the cells say about one creation hour of a broad search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HourCells {
    pub hour: i64,
    /// Sessions whose expiry hour meets the expiry range: at least every match of the hour.
    pub possible: u64,
    /// Every not-revoked session created in the hour.
    pub all: u64,
}

impl CellCount {
    /// The cells of every creation hour the search may touch, per hour in `descending` (or
    /// ascending) order: `(hour, possible, all)` rows, read as [`HourCells`].
    /// Every creation hour the search may touch, with its not-revoked sessions, in
    /// `descending` (or ascending) order: `(hour, possible, all)` rows, read as [`HourCells`].
    /// `possible` is all of them: an upper bound of the hour's matches whatever the expiry
    /// range, read from one counter row per hour.
    pub(crate) fn hours_sql(&self, dialect: Dialect, descending: bool) -> BuiltQuery {
        let mut b = Builder {
            dialect,
            params: Vec::new(),
        };
        let (first, last) = (hour_of(self.created.lo), hour_of(self.created.hi));
        let (p1, p2) = (b.bind(Param::I64(first)), b.bind(Param::I64(last)));
        let creators = self.creator_condition(&mut b, "creator");
        let order = if descending { "DESC" } else { "ASC" };
        BuiltQuery {
            sql: format!(
                "SELECT created_hour, CAST(SUM(n) AS BIGINT), CAST(SUM(n) AS BIGINT) FROM session_counts_created \
                 WHERE created_hour BETWEEN {p1} AND {p2}{creators} GROUP BY created_hour ORDER BY created_hour {order}"
            ),
            params: b.params,
        }
    }

    /// The same search with the creation range narrowed by its expiry range: a session never
    /// expires before it was created (the store writes `max(expiry, creation)`, see
    /// `Session::stored_expiry`), so an expiry at most `hi` means a creation at most `hi`.
    /// The walk in creation order then starts where matches can begin. Returns the narrowed
    /// search and its latest possible creation.
    pub(crate) fn creation_implied_by_expiry(&self) -> Option<(CellCount, Micros)> {
        let hi = self.expires.filter(|_| !self.never)?.hi;
        (hi < self.created.hi).then(|| {
            let narrowed = CellCount {
                created: Range {
                    lo: self.created.lo,
                    hi,
                },
                ..self.clone()
            };
            (narrowed, Micros(hi))
        })
    }

    /// Whether the search filters by expiry (the expiry index may then find its rows faster).
    pub(crate) fn filters_expiry(&self) -> bool {
        self.expires != Some(Range::ALL) || !self.never
    }
}

struct Builder {
    dialect: Dialect,
    params: Vec<Param>,
}

impl Builder {
    fn bind(&mut self, param: Param) -> String {
        self.params.push(param);
        match self.dialect {
            Dialect::Sqlite => format!("?{}", self.params.len()),
            Dialect::Postgres => format!("${}", self.params.len()),
        }
    }
}

/// The count of sessions matching `filter`: from the cells for broad filters, otherwise a
/// plain `COUNT(*)` through the filter's own index.
pub fn count_sessions(dialect: Dialect, filter: &SessionFilter, now: Micros) -> BuiltQuery {
    match CellCount::plan(filter) {
        None => session_query::count_sessions(dialect, filter, now),
        Some(None) => BuiltQuery {
            sql: "SELECT CAST(0 AS BIGINT)".to_owned(),
            params: Vec::new(),
        },
        Some(Some(plan)) => plan.sql(dialect),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(lo: i64, hi: i64) -> Range {
        Range { lo, hi }
    }

    #[test]
    fn full_hours_and_partial_pieces_cover_the_range_exactly_once() {
        let h = HOUR_US;
        for r in [
            range(0, h - 1),
            range(1, h - 1),
            range(h / 2, 3 * h + 5),
            range(h / 2, h / 2 + 10),
            range(h - 1, h),
            range(i64::MIN, 2 * h),
            range(5 * h, i64::MAX),
            range(i64::MIN, i64::MAX),
            range(-10, 10),
        ] {
            let full = r.full_hours();
            let pieces = r.partial_pieces();
            assert!(pieces.len() <= 2, "{r:?}");
            // Probe instants at and around every boundary.
            let mut probes = vec![r.lo, r.hi, 0, -1, h - 1, h, 3 * h, 3 * h + 5];
            probes.extend(pieces.iter().flat_map(|p| [p.lo, p.hi]));
            if let Some((a, b)) = full {
                probes.extend([hour_start(a), hour_end(b)]);
            }
            for at in probes {
                let in_range = (r.lo..=r.hi).contains(&at);
                let in_full = full.is_some_and(|(a, b)| (a..=b).contains(&hour_of(at)));
                let in_pieces = pieces.iter().filter(|p| (p.lo..=p.hi).contains(&at)).count();
                assert_eq!(
                    usize::from(in_full) + in_pieces,
                    usize::from(in_range),
                    "{r:?} at {at}: full {full:?}, pieces {pieces:?}"
                );
            }
        }
    }

    #[test]
    fn selective_filters_keep_the_plain_count() {
        let filter = SessionFilter {
            scope: Scope::NotRevoked,
            identity_id: Some(uuid::Uuid::nil()),
            ..Default::default()
        };
        assert_eq!(CellCount::plan(&filter), None);
        let broad = SessionFilter {
            scope: Scope::NotRevoked,
            ..Default::default()
        };
        let sql = count_sessions(Dialect::Postgres, &broad, Micros(0)).sql;
        assert!(sql.contains("session_counts"), "{sql}");
    }

    #[test]
    fn an_expiry_upper_bound_bounds_the_creation_hours_walked() {
        let expiring_before = |method| SessionFilter {
            scope: Scope::NotRevoked,
            expires: vec![DateFilter {
                method,
                at: Micros(10 * HOUR_US),
            }],
            ..Default::default()
        };
        let Some(Some(plan)) = CellCount::plan(&expiring_before(DateMethod::Less)) else {
            panic!("an expiry range is counted from the cells");
        };
        let (narrowed, latest) = plan.creation_implied_by_expiry().expect("bounded");
        assert_eq!(latest, Micros(10 * HOUR_US - 1));
        assert!(narrowed
            .hours_sql(Dialect::Sqlite, true)
            .params
            .contains(&Param::I64(9)));
        // A lower bound also matches sessions that never expire: no bound on creation.
        let Some(Some(plan)) = CellCount::plan(&expiring_before(DateMethod::Greater)) else {
            panic!("an expiry range is counted from the cells");
        };
        assert!(plan.creation_implied_by_expiry().is_none());
    }

    #[test]
    fn a_creator_named_like_the_all_creators_row_is_counted_the_plain_way() {
        let filter = SessionFilter {
            scope: Scope::NotRevoked,
            creator: Some("*".to_owned()),
            ..Default::default()
        };
        assert_eq!(CellCount::plan(&filter), None);
    }

    #[test]
    fn contradictory_ranges_count_nothing_without_reading() {
        let filter = SessionFilter {
            scope: Scope::NotRevoked,
            created: vec![
                DateFilter {
                    method: DateMethod::Less,
                    at: Micros(10),
                },
                DateFilter {
                    method: DateMethod::Greater,
                    at: Micros(20),
                },
            ],
            ..Default::default()
        };
        assert_eq!(
            count_sessions(Dialect::Sqlite, &filter, Micros(0)).sql,
            "SELECT CAST(0 AS BIGINT)"
        );
    }
}
