//! Exact session counts that do not grow with the table.
//!
//! The broad ZITADEL searches (no query, date ranges, a creator) count sessions that are not
//! revoked and whose identity is active or absent. One table of counters, `session_counts_grid`,
//! kept by triggers in the same transaction as every write to sessions and every change of an
//! identity's state, holds exactly those sessions per creator (and under `'*'` for all) at
//! several resolutions ([`grid`]): per creation hour and per expiry hour, per creation and
//! expiry minute, and creation × expiry at day and hour resolutions. A count of one range is
//! then
//!
//! - the hour cells wholly inside the range, plus
//! - the minute cells wholly inside its (at most two) partial hours, plus
//! - the sessions of the (at most two) partial minutes at the ends, counted through the
//!   creation or the expiry index.
//!
//! A search with both a creation and an expiry range reads the two-dimensional levels (see
//! [`CellCount::count_by_both`]).
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

/// One day in microseconds: the coarse resolution of the creation × expiry grid.
pub const DAY_US: i64 = 24 * HOUR_US;
/// The expiry day of sessions that never expire; its first hour is [`NEVER_HOUR`].
pub const NEVER_DAY: i64 = NEVER_HOUR / 24;

/// The levels of `session_counts_grid` (migration 0010): which resolution `a` and `b` have.
mod grid {
    /// a = creation day, b = expiry day.
    pub const DAY_BY_DAY: i64 = 0;
    /// a = expiry hour, b = creation day (keyed expiry first: its reads name a few hours).
    pub const EXPIRY_HOUR_BY_DAY: i64 = 1;
    /// a = creation hour, b = expiry day.
    pub const HOUR_BY_DAY: i64 = 2;
    /// a = creation hour, b = expiry hour.
    pub const HOUR_BY_HOUR: i64 = 3;
    /// a = creation minute, b = 0 (migration 0012/0013): the whole minutes of a partial hour.
    pub const CREATION_MINUTE: i64 = 4;
    /// a = expiry minute, b = 0.
    pub const EXPIRY_MINUTE: i64 = 5;
    /// a = creation hour, b = 0 (migration 0013/0014: the hour counters that had tables of
    /// their own, moved here so that a write upserts them with the other cells).
    pub const CREATION_HOUR: i64 = 6;
    /// a = expiry hour, b = 0.
    pub const EXPIRY_HOUR: i64 = 7;
    /// a = creation day, b = 0 (PostgreSQL only, migration 0021: see [`super::keeps_day_cells`]).
    pub const CREATION_DAY: i64 = 8;
    /// a = expiry day (never-expiring sessions: [`super::NEVER_DAY`]), b = 0 (PostgreSQL only).
    pub const EXPIRY_DAY: i64 = 9;
}

/// Whether the store keeps the one-dimensional day levels (8 and 9). PostgreSQL does
/// (migration 0021): its heap keeps rows in the order they were first written, so the 2,160
/// hour cells of 90 days under one creator lie on as many pages of the grid table, which at
/// 10M sessions no longer fits `shared_buffers`; summing 90 day cells reads 24 times fewer.
/// SQLite keeps the grid in its primary key's order, where those hour cells are neighbours,
/// and every cell costs its write path more than PostgreSQL's grouped statement triggers.
fn keeps_day_cells(dialect: Dialect) -> bool {
    matches!(dialect, Dialect::Postgres)
}

/// One resolution of a one-dimensional range: its level in the grid and its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CellUnit {
    pub level: i64,
    pub micros: i64,
}

impl CellUnit {
    /// The first and last instant of this unit's cell `index`.
    pub(crate) fn span(self, index: i64) -> (i64, i64) {
        (unit_start(index, self.micros), unit_end(index, self.micros))
    }
}

const CREATION_DAYS: CellUnit = CellUnit {
    level: grid::CREATION_DAY,
    micros: DAY_US,
};
const CREATION_HOURS: CellUnit = CellUnit {
    level: grid::CREATION_HOUR,
    micros: HOUR_US,
};
const CREATION_MINUTES: CellUnit = CellUnit {
    level: grid::CREATION_MINUTE,
    micros: MINUTE_US,
};

/// One minute in microseconds: the resolution of the grid's minute levels.
pub const MINUTE_US: i64 = 60_000_000;

/// The first and last hour of a day (day -1, everything before 1970, is hour -1).
fn hours_of_day(day: i64) -> (i64, i64) {
    if day < 0 {
        (-1, -1)
    } else {
        (day.saturating_mul(24), day.saturating_mul(24).saturating_add(23))
    }
}

/// The hour of an instant, as the triggers compute it.
pub fn hour_of(at: i64) -> i64 {
    unit_of(at, HOUR_US)
}

pub(crate) fn hour_start(hour: i64) -> i64 {
    unit_start(hour, HOUR_US)
}

fn hour_end(hour: i64) -> i64 {
    unit_end(hour, HOUR_US)
}

/// The unit of an instant, `unit` microseconds long (before 1970: -1), as the triggers compute
/// minutes, hours and days.
fn unit_of(at: i64, unit: i64) -> i64 {
    if at < 0 {
        -1
    } else {
        at / unit
    }
}

/// The first instant of unit `index` (unit -1, before 1970, starts at `i64::MIN`).
fn unit_start(index: i64, unit: i64) -> i64 {
    if index < 0 {
        i64::MIN
    } else {
        index.saturating_mul(unit)
    }
}

/// The last instant of unit `index` (unit -1 ends at -1).
fn unit_end(index: i64, unit: i64) -> i64 {
    if index < 0 {
        -1
    } else {
        index.saturating_mul(unit).saturating_add(unit - 1)
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
    pub(crate) fn of(filters: &[DateFilter]) -> Option<Range> {
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
    pub(crate) fn full_hours(self) -> Option<(i64, i64)> {
        self.full_units(HOUR_US)
    }

    /// The units (`unit` microseconds long, counted from 1970; everything before is unit -1)
    /// wholly inside, as (first, last); `None` when there is none.
    fn full_units(self, unit: i64) -> Option<(i64, i64)> {
        let first = if self.lo == unit_start(unit_of(self.lo, unit), unit) {
            unit_of(self.lo, unit)
        } else {
            unit_of(self.lo, unit) + 1
        };
        let last = if self.hi == i64::MAX || self.hi == unit_end(unit_of(self.hi, unit), unit) {
            unit_of(self.hi, unit)
        } else {
            unit_of(self.hi, unit) - 1
        };
        (first <= last).then_some((first, last))
    }

    /// The days wholly inside, as (first, last); `None` when there is none.
    fn full_days(self) -> Option<(i64, i64)> {
        self.full_units(DAY_US)
    }

    /// The range as the grid reads it: whole days, the runs of whole hours outside them (at
    /// most one at each end, each shorter than a day), and the pieces of an hour.
    fn split(self) -> Split {
        let days = self.full_days();
        let hours = match (self.full_hours(), days) {
            (None, _) => Vec::new(),
            (Some(run), None) => vec![run],
            (Some((h1, h2)), Some((d1, d2))) => {
                let (first, last) = (hours_of_day(d1).0, hours_of_day(d2).1);
                let mut runs = Vec::new();
                if h1 < first {
                    runs.push((h1, first - 1));
                }
                if h2 > last {
                    runs.push((last + 1, h2));
                }
                runs
            }
        };
        Split {
            days,
            hours,
            pieces: self.partial_pieces(),
        }
    }

    /// What is left of the range outside its full hours: at most two pieces, each inside one
    /// or two hours.
    fn partial_pieces(self) -> Vec<Range> {
        self.outside_units(HOUR_US)
    }

    /// What is left of the range outside its full units: at most two pieces, each inside one or
    /// two units.
    fn outside_units(self, unit: i64) -> Vec<Range> {
        match self.full_units(unit) {
            None => vec![self],
            Some((first, last)) => {
                let mut pieces = Vec::new();
                if self.lo < unit_start(first, unit) {
                    pieces.push(Range {
                        lo: self.lo,
                        hi: unit_start(first, unit) - 1,
                    });
                }
                let end = unit_end(last, unit);
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

/// A range cut into what the grid's levels read; every instant of the range is in exactly one
/// part.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Split {
    days: Option<(i64, i64)>,
    hours: Vec<(i64, i64)>,
    pieces: Vec<Range>,
}

/// Not revoked, and the identity (if any) active. The sessions counted row by row are read
/// from the table anyway (no index carries the revocation), so on SQLite the row's own
/// `identity_not_active` (migration `sqlite/0020`, kept by triggers) answers the identity
/// part. It used to probe the partial index of non-active identities per row, which at 10M
/// sessions (66,000 entries, out of the CPU caches) was most of the cost of a partial hour.
fn visible(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => "s.revoked_us IS NULL AND s.identity_not_active = 0",
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
        if self.filters_expiry() && self.created != Range::ALL {
            self.count_by_both(&mut b, &mut terms);
        } else if self.filters_expiry() {
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

    /// Only a creation range (or nothing): the creation day and hour cells.
    fn count_by_creation(&self, b: &mut Builder, terms: &mut Vec<String>) {
        let pieces = self.whole_units(b, terms, self.created, grid::CREATION_DAY, grid::CREATION_HOUR);
        for piece in self.minute_cells(b, terms, pieces, grid::CREATION_MINUTE) {
            terms.push(self.rows(b, Walk::Creation, piece, ""));
        }
    }

    /// Only an expiry range: the expiry day and hour cells.
    fn count_by_expiry(&self, b: &mut Builder, terms: &mut Vec<String>) {
        let pieces = match self.expires {
            Some(range) => self.whole_units(b, terms, range, grid::EXPIRY_DAY, grid::EXPIRY_HOUR),
            None => Vec::new(),
        };
        if self.never {
            let (level, never) = if keeps_day_cells(b.dialect) {
                (grid::EXPIRY_DAY, NEVER_DAY)
            } else {
                (grid::EXPIRY_HOUR, NEVER_HOUR)
            };
            terms.push(self.cell_sum(b, level, never, never));
        }
        for piece in self.minute_cells(b, terms, pieces, grid::EXPIRY_MINUTE) {
            terms.push(self.rows(b, Walk::Expiry, piece, ""));
        }
    }

    /// The visible sessions created (or expiring) in `piece` that also meet `also` (SQL over
    /// `s`, starting with ` AND `), counted row by row through that dimension's index.
    fn rows(&self, b: &mut Builder, walk: Walk, piece: Range, also: &str) -> String {
        let (p1, p2) = (b.bind(Param::I64(piece.lo)), b.bind(Param::I64(piece.hi)));
        let (column, creator) = match (walk, b.dialect) {
            (Walk::Creation, _) => ("s.created_us", "s.creator"),
            // At most an hour of expiries: SQLite would otherwise walk the creator's index, all
            // of the creator's sessions, because an equality looks better than a range.
            (Walk::Expiry, Dialect::Sqlite) => ("s.expires_us", "+s.creator"),
            (Walk::Expiry, Dialect::Postgres) => ("s.expires_us", "s.creator"),
        };
        let creators = self.creator_condition(b, creator);
        format!(
            "(SELECT COUNT(*) FROM sessions s WHERE {column} BETWEEN {p1} AND {p2}{also}{creators} AND {})",
            visible(b.dialect)
        )
    }

    /// All the visible sessions created (or expiring) in `piece`: the whole minutes from the
    /// minute cells, the rest row by row.
    fn all_of_piece(&self, b: &mut Builder, walk: Walk, piece: Range) -> String {
        let level = match walk {
            Walk::Creation => grid::CREATION_MINUTE,
            Walk::Expiry => grid::EXPIRY_MINUTE,
        };
        let mut parts = Vec::new();
        for rest in self.minute_cells(b, &mut parts, vec![piece], level) {
            parts.push(self.rows(b, walk, rest, ""));
        }
        format!("({})", parts.join(" + "))
    }

    /// `SUM(n)` of the cells at `level` whose `a` meets `a` (SQL) and, when given, whose `b`
    /// meets `b_condition`.
    fn grid_cells(&self, b: &mut Builder, level: i64, a: String, b_condition: Option<String>) -> String {
        let creators = self.creator_condition(b, "creator");
        let b_condition = b_condition.map(|c| format!(" AND {c}")).unwrap_or_default();
        format!("(SELECT COALESCE(SUM(n), 0) FROM session_counts_grid WHERE level = {level}{creators} AND {a}{b_condition})")
    }
}

/// The session index a row count walks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Walk {
    Creation,
    Expiry,
}

impl CellCount {
    /// The whole minutes of the pieces of an hour, summed from the minute cells at `level`;
    /// returns what is left of the pieces (at most a minute at each end of each), which the
    /// caller counts row by row.
    fn minute_cells(&self, b: &mut Builder, terms: &mut Vec<String>, pieces: Vec<Range>, level: i64) -> Vec<Range> {
        let mut rest = Vec::new();
        for piece in pieces {
            if let Some((m1, m2)) = piece.full_units(MINUTE_US) {
                terms.push(self.cell_sum(b, level, m1, m2));
            }
            rest.extend(piece.outside_units(MINUTE_US));
        }
        rest
    }

    /// The whole days (where the store keeps day cells, see [`keeps_day_cells`]) and hours of
    /// `range`, summed from the one-dimensional levels `day_level` and `hour_level`; returns
    /// what is left of the range, the pieces of an hour at its ends.
    fn whole_units(
        &self,
        b: &mut Builder,
        terms: &mut Vec<String>,
        range: Range,
        day_level: i64,
        hour_level: i64,
    ) -> Vec<Range> {
        if !keeps_day_cells(b.dialect) {
            if let Some((h1, h2)) = range.full_hours() {
                terms.push(self.cell_sum(b, hour_level, h1, h2));
            }
            return range.partial_pieces();
        }
        let split = range.split();
        if let Some((d1, d2)) = split.days {
            terms.push(self.cell_sum(b, day_level, d1, d2));
        }
        for (h1, h2) in split.hours {
            terms.push(self.cell_sum(b, hour_level, h1, h2));
        }
        split.pieces
    }

    /// The sum of the one-dimensional cells at `level` whose `a` is in `first..=last`.
    fn cell_sum(&self, b: &mut Builder, level: i64, first: i64, last: i64) -> String {
        let (p1, p2) = (b.bind(Param::I64(first)), b.bind(Param::I64(last)));
        let creators = self.creator_condition(b, "creator");
        format!(
            "(SELECT COALESCE(SUM(n), 0) FROM session_counts_grid WHERE level = {level}{creators} AND a BETWEEN {p1} AND {p2} AND b = 0)"
        )
    }
}

impl CellCount {
    /// A creation and an expiry range: `session_counts_grid`. Each range is cut into whole
    /// days, runs of whole hours and pieces of an hour ([`Range::split`]); whole days and hours
    /// of both are read from the level with those resolutions, and each piece of an hour
    /// (at most an hour of sessions) is counted against the whole of the other range, from
    /// whichever side the hour's cells say is smaller ([`Self::creation_piece`],
    /// [`Self::expiry_piece`]).
    fn count_by_both(&self, b: &mut Builder, terms: &mut Vec<String>) {
        let created = self.created.split();
        let expires = self.expires.map(Range::split);
        let (expiry_days, expiry_hours, expiry_pieces) = match expires {
            Some(Split { days, hours, pieces }) => (days, hours, pieces),
            None => (None, Vec::new(), Vec::new()),
        };
        let day_cells = |b: &mut Builder| -> Option<String> {
            let mut cells = Vec::new();
            if let Some((e1, e2)) = expiry_days {
                let (q1, q2) = (b.bind(Param::I64(e1)), b.bind(Param::I64(e2)));
                cells.push(format!("b BETWEEN {q1} AND {q2}"));
            }
            if self.never {
                let never = b.bind(Param::I64(NEVER_DAY));
                cells.push(format!("b = {never}"));
            }
            (!cells.is_empty()).then(|| format!("({})", cells.join(" OR ")))
        };
        let mut add_cells = |b: &mut Builder, level: i64, a: String, b_condition: String| {
            let cells = self.grid_cells(b, level, a, Some(b_condition));
            terms.push(cells);
        };
        if let Some((c1, c2)) = created.days {
            // Creation days × expiry days (and never).
            if let Some(days) = day_cells(b) {
                let (p1, p2) = (b.bind(Param::I64(c1)), b.bind(Param::I64(c2)));
                add_cells(b, grid::DAY_BY_DAY, format!("a BETWEEN {p1} AND {p2}"), days);
            }
            // Creation days × runs of expiry hours.
            for &(e1, e2) in &expiry_hours {
                let (q1, q2) = (b.bind(Param::I64(e1)), b.bind(Param::I64(e2)));
                let (p1, p2) = (b.bind(Param::I64(c1)), b.bind(Param::I64(c2)));
                add_cells(
                    b,
                    grid::EXPIRY_HOUR_BY_DAY,
                    format!("a BETWEEN {q1} AND {q2}"),
                    format!("b BETWEEN {p1} AND {p2}"),
                );
            }
        }
        for &(h1, h2) in &created.hours {
            // Runs of creation hours × expiry days (and never).
            if let Some(days) = day_cells(b) {
                let (p1, p2) = (b.bind(Param::I64(h1)), b.bind(Param::I64(h2)));
                add_cells(b, grid::HOUR_BY_DAY, format!("a BETWEEN {p1} AND {p2}"), days);
            }
            // Runs of creation hours × runs of expiry hours: each creation hour named, so that
            // the read seeks to its expiry hours instead of reading all of them.
            for &(e1, e2) in &expiry_hours {
                let hours: Vec<String> = (h1..=h2).map(|h| b.bind(Param::I64(h))).collect();
                let (q1, q2) = (b.bind(Param::I64(e1)), b.bind(Param::I64(e2)));
                add_cells(
                    b,
                    grid::HOUR_BY_HOUR,
                    format!("a IN ({})", hours.join(", ")),
                    format!("b BETWEEN {q1} AND {q2}"),
                );
            }
        }
        // Pieces of a creation hour: their sessions, against the whole expiry range.
        for &piece in &created.pieces {
            let term = self.creation_piece(b, piece);
            terms.push(term);
        }
        // Pieces of an expiry hour: their sessions, against the whole hours of the creation
        // range (its pieces were counted above).
        if let Some((h1, h2)) = self.created.full_hours() {
            let created = Range {
                lo: hour_start(h1),
                hi: hour_end(h2),
            };
            for &piece in &expiry_pieces {
                let term = self.expiry_piece(b, piece, created);
                terms.push(term);
            }
        }
    }

    /// The sessions created in `piece` (part of one or two hours) whose expiry is in the
    /// expiry range. A piece holds up to an hour of sessions (4,600 at 10M), and each one counted
    /// row by row is a row read (its revocation and identity), so the count reads the side that
    /// has fewer: the matches, or all the piece's sessions (from the minute cells) less those
    /// whose expiry is outside the range. The hour's cells per expiry day say which (see
    /// [`pick_the_smaller_side`]); either way the count is exact.
    fn creation_piece(&self, b: &mut Builder, piece: Range) -> String {
        // Less than an hour of creations: SQLite would otherwise scan the expiry range (all the
        // sessions that expired before now: 272 ms at 1M).
        let expires = match b.dialect {
            Dialect::Sqlite => "+s.expires_us",
            Dialect::Postgres => "s.expires_us",
        };
        // Disjoint conditions, each counted on its own so that each is a condition on the
        // creation index's entries (which carry the expiry) and not a filter after the row read.
        let (mut inside, mut outside) = (Vec::new(), Vec::new());
        match self.expires {
            Some(range) => {
                let (e1, e2) = (b.bind(Param::I64(range.lo)), b.bind(Param::I64(range.hi)));
                inside.push(format!(" AND {expires} BETWEEN {e1} AND {e2}"));
                if range.lo != i64::MIN {
                    outside.push(format!(" AND {expires} < {e1}"));
                }
                if range.hi != i64::MAX {
                    outside.push(format!(" AND {expires} > {e2}"));
                }
            }
            None => outside.push(" AND s.expires_us IS NOT NULL".to_owned()),
        }
        if self.never {
            inside.push(" AND s.expires_us IS NULL".to_owned());
        } else {
            outside.push(" AND s.expires_us IS NULL".to_owned());
        }
        let inside: Vec<String> = inside.iter().map(|c| self.rows(b, Walk::Creation, piece, c)).collect();
        let outside: Vec<String> = outside.iter().map(|c| self.rows(b, Walk::Creation, piece, c)).collect();
        let all = self.all_of_piece(b, Walk::Creation, piece);
        let hours = hours_of_piece(b, piece);
        let mut days = Vec::new();
        if let Some((d1, d2)) = self.expires.and_then(Range::full_days) {
            let (q1, q2) = (b.bind(Param::I64(d1)), b.bind(Param::I64(d2)));
            days.push(format!("b BETWEEN {q1} AND {q2}"));
        }
        if self.never {
            let never = b.bind(Param::I64(NEVER_DAY));
            days.push(format!("b = {never}"));
        }
        let surely_inside = if days.is_empty() {
            "0".to_owned()
        } else {
            let days = format!("({})", days.join(" OR "));
            self.grid_cells(b, grid::HOUR_BY_DAY, hours.clone(), Some(days))
        };
        let in_hours = self.grid_cells(b, grid::HOUR_BY_DAY, hours, None);
        pick_the_smaller_side(&surely_inside, &in_hours, &inside, &all, &outside)
    }

    /// The sessions expiring in `piece` (part of one or two hours) that were created in
    /// `created` (whole hours): the matches, or all the piece's sessions less those created
    /// outside, whichever the hour's cells per creation day say is fewer (as
    /// [`Self::creation_piece`]; the expiry index carries the creation time, migration
    /// `0023`/`0018`, so that either side is singled out on the index entries).
    fn expiry_piece(&self, b: &mut Builder, piece: Range, created: Range) -> String {
        // SQLite is kept off the creation index, which a wide range would make it pick.
        let column = match b.dialect {
            Dialect::Sqlite => "+s.created_us",
            Dialect::Postgres => "s.created_us",
        };
        let (c1, c2) = (b.bind(Param::I64(created.lo)), b.bind(Param::I64(created.hi)));
        let inside = vec![self.rows(b, Walk::Expiry, piece, &format!(" AND {column} BETWEEN {c1} AND {c2}"))];
        let mut outside = Vec::new();
        if created.lo != i64::MIN {
            outside.push(self.rows(b, Walk::Expiry, piece, &format!(" AND {column} < {c1}")));
        }
        if created.hi != i64::MAX {
            outside.push(self.rows(b, Walk::Expiry, piece, &format!(" AND {column} > {c2}")));
        }
        let all = self.all_of_piece(b, Walk::Expiry, piece);
        let hours = hours_of_piece(b, piece);
        let surely_inside = match created.full_days() {
            Some((d1, d2)) => {
                let (q1, q2) = (b.bind(Param::I64(d1)), b.bind(Param::I64(d2)));
                self.grid_cells(
                    b,
                    grid::EXPIRY_HOUR_BY_DAY,
                    hours.clone(),
                    Some(format!("b BETWEEN {q1} AND {q2}")),
                )
            }
            None => "0".to_owned(),
        };
        let in_hours = self.grid_cells(b, grid::EXPIRY_HOUR_BY_DAY, hours, None);
        pick_the_smaller_side(&surely_inside, &in_hours, &inside, &all, &outside)
    }
}

/// The grid condition "`a` is an hour of `piece`" (one hour, or two when it straddles them).
fn hours_of_piece(b: &mut Builder, piece: Range) -> String {
    let (h1, h2) = (
        b.bind(Param::I64(hour_of(piece.lo))),
        b.bind(Param::I64(hour_of(piece.hi))),
    );
    format!("a BETWEEN {h1} AND {h2}")
}

/// `inside` (row counts of the matches) when fewer than half the sessions of the piece's hours
/// (`in_hours`, from the cells) surely match (`surely_inside`, the cells wholly inside the other
/// range), otherwise `all` (the piece's sessions) less `outside` (row counts of the rest).
/// Both databases evaluate only the branch taken, and a subquery of it only when reached.
fn pick_the_smaller_side(
    surely_inside: &str,
    in_hours: &str,
    inside: &[String],
    all: &str,
    outside: &[String],
) -> String {
    let sum = |terms: &[String]| {
        if terms.is_empty() {
            "0".to_owned()
        } else {
            terms.join(" + ")
        }
    };
    format!(
        "(CASE WHEN 2 * {surely_inside} > {in_hours} THEN {all} - ({}) ELSE {} END)",
        sum(outside),
        sum(inside)
    )
}

/// What the cells say about one creation day, hour or minute of a broad search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeCells {
    /// The day, hour or minute, counted from 1970 (see [`hour_of`]).
    pub index: i64,
    /// An upper bound of the matches created in it (today: every session, see `all`).
    pub possible: u64,
    /// Every not-revoked session created in it.
    pub all: u64,
}

impl CellCount {
    /// The creation resolutions an offset search descends through, coarsest first, to find
    /// the cell that holds its first row (see `crate::search`).
    pub(crate) fn creation_units(dialect: Dialect) -> &'static [CellUnit] {
        if keeps_day_cells(dialect) {
            &[CREATION_DAYS, CREATION_HOURS, CREATION_MINUTES]
        } else {
            &[CREATION_HOURS, CREATION_MINUTES]
        }
    }

    /// The first and last instant of the creation range.
    pub(crate) fn created_span(&self) -> (i64, i64) {
        (self.created.lo, self.created.hi)
    }

    /// The creation cells at `unit` that hold any instant of `span` (the search's creation
    /// range, or one cell of a coarser unit), with their not-revoked sessions, in `descending`
    /// (or ascending) order: `(index, possible, all)` rows, read as [`TimeCells`]. `possible`
    /// is all of them: an upper bound of the cell's matches whatever the expiry range, read
    /// from one counter row per cell.
    pub(crate) fn cells_sql(&self, dialect: Dialect, unit: CellUnit, span: (i64, i64), descending: bool) -> BuiltQuery {
        let mut b = Builder {
            dialect,
            params: Vec::new(),
        };
        let (first, last) = (unit_of(span.0, unit.micros), unit_of(span.1, unit.micros));
        let (p1, p2) = (b.bind(Param::I64(first)), b.bind(Param::I64(last)));
        let creators = self.creator_condition(&mut b, "creator");
        let order = if descending { "DESC" } else { "ASC" };
        let level = unit.level;
        BuiltQuery {
            sql: format!(
                "SELECT a, CAST(n AS BIGINT), CAST(n AS BIGINT) FROM session_counts_grid \
                 WHERE level = {level}{creators} AND a BETWEEN {p1} AND {p2} AND b = 0 ORDER BY a {order}"
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

    /// The expiry range when the search has one and sessions that never expire do not match.
    pub(crate) fn bounded_expiry(&self) -> Option<Range> {
        self.expires.filter(|_| !self.never)
    }

    /// The creation hours `first..=last` (descending) with, for each, the sessions that surely
    /// match (those expiring in an hour wholly inside the expiry range) and those an expiry-hour
    /// seek would read (expiring in any hour the range touches), from the cells of creation hour
    /// × expiry hour: `(index, sure, read)` rows, read as [`TimeCells`]. The hours are listed one
    /// by one, so that each is a seek to its cells inside the expiry range rather than a read
    /// of all its cells. `None` when no expiry hour is whole.
    pub(crate) fn sure_matches_sql(&self, dialect: Dialect, first: i64, last: i64) -> Option<BuiltQuery> {
        let expires = self.bounded_expiry()?;
        let (e1, e2) = expires.full_hours()?;
        let (touched_first, touched_last) = (hour_of(expires.lo), hour_of(expires.hi));
        let mut b = Builder {
            dialect,
            params: Vec::new(),
        };
        let creators = self.creator_condition(&mut b, "creator");
        let hours: Vec<String> = (first..=last).map(|hour| hour.to_string()).collect();
        let level = grid::HOUR_BY_HOUR;
        Some(BuiltQuery {
            sql: format!(
                "SELECT a, CAST(SUM(CASE WHEN b BETWEEN {e1} AND {e2} THEN n ELSE 0 END) AS BIGINT), \
                 CAST(SUM(n) AS BIGINT) FROM session_counts_grid \
                 WHERE level = {level}{creators} AND a IN ({}) AND b BETWEEN {touched_first} AND {touched_last} \
                 GROUP BY a ORDER BY a DESC",
                hours.join(", ")
            ),
            params: b.params,
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

    fn day_of(at: i64) -> i64 {
        unit_of(at, DAY_US)
    }

    fn day_start(day: i64) -> i64 {
        unit_start(day, DAY_US)
    }

    fn day_end(day: i64) -> i64 {
        unit_end(day, DAY_US)
    }

    fn range(lo: i64, hi: i64) -> Range {
        Range { lo, hi }
    }

    #[test]
    fn full_minutes_and_the_rest_cover_a_piece_of_an_hour_exactly_once() {
        let m = MINUTE_US;
        for r in [
            range(0, m - 1),
            range(1, m - 1),
            range(m / 2, 59 * m + 5),
            range(m / 2, m / 2 + 10),
            range(m - 1, m),
            range(-10, 10),
            range(i64::MIN, 3 * m),
        ] {
            let full = r.full_units(m);
            let rest = r.outside_units(m);
            assert!(rest.len() <= 2, "{r:?}");
            assert!(rest.iter().all(|p| p.lo < 0 || p.hi - p.lo < 2 * m), "{r:?}: {rest:?}");
            let mut probes = vec![r.lo, r.hi, 0, -1, m - 1, m, 3 * m, 59 * m + 5];
            probes.extend(rest.iter().flat_map(|p| [p.lo, p.hi]));
            for at in probes {
                let in_range = (r.lo..=r.hi).contains(&at);
                let in_full = full.is_some_and(|(a, b)| (a..=b).contains(&unit_of(at, m)));
                let in_rest = rest.iter().filter(|p| (p.lo..=p.hi).contains(&at)).count();
                assert_eq!(usize::from(in_full) + in_rest, usize::from(in_range), "{r:?} at {at}");
            }
        }
    }

    #[test]
    fn a_partial_hour_reads_minute_cells_and_counts_rows_only_in_partial_minutes() {
        let filter = SessionFilter {
            scope: Scope::NotRevoked,
            created: vec![DateFilter {
                method: DateMethod::Less,
                at: Micros(10 * HOUR_US + 30 * MINUTE_US + 7),
            }],
            ..Default::default()
        };
        let query = count_sessions(Dialect::Sqlite, &filter, Micros(0));
        assert!(
            query.sql.contains(&format!("level = {}", grid::CREATION_MINUTE)),
            "{}",
            query.sql
        );
        // Hours 0..=9 from the hour counters, minutes 600..=629 from the minute cells, and the
        // first 7 µs of minute 630 row by row.
        for bound in [
            9,
            600,
            629,
            10 * HOUR_US + 30 * MINUTE_US,
            10 * HOUR_US + 30 * MINUTE_US + 6,
        ] {
            assert!(query.params.contains(&Param::I64(bound)), "{bound}: {:?}", query.params);
        }
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
    fn days_hour_runs_and_pieces_cover_the_range_exactly_once() {
        let (h, d) = (HOUR_US, DAY_US);
        for r in [
            range(0, d - 1),
            range(d + h / 2, 3 * d + 5 * h + 7),
            range(d + h, 2 * d - h - 1),
            range(h, 2 * d - 1),
            range(3 * h, i64::MAX),
            range(i64::MIN, 5 * d + 2 * h),
            range(i64::MIN, i64::MAX),
            range(-10, d),
            range(2 * d + 1, 2 * d + 9),
        ] {
            let split = r.split();
            assert!(split.hours.len() <= 2, "{r:?}: {split:?}");
            for &(h1, h2) in &split.hours {
                assert!(
                    h2 - h1 < 47,
                    "{r:?}: a run of hours outside whole days is short: {split:?}"
                );
            }
            let mut probes = vec![
                r.lo,
                r.hi,
                0,
                -1,
                h - 1,
                h,
                d - 1,
                d,
                d + h,
                2 * d - h,
                2 * d,
                3 * d + 5 * h + 8,
            ];
            probes.extend(split.pieces.iter().flat_map(|p| [p.lo, p.hi]));
            probes.extend(split.hours.iter().flat_map(|&(a, b)| [hour_start(a), hour_end(b)]));
            if let Some((a, b)) = split.days {
                probes.extend([day_start(a), day_end(b)]);
            }
            for at in probes {
                let in_range = (r.lo..=r.hi).contains(&at);
                let in_days = split.days.is_some_and(|(a, b)| (a..=b).contains(&day_of(at)));
                let in_hours = split
                    .hours
                    .iter()
                    .filter(|&&(a, b)| (a..=b).contains(&hour_of(at)))
                    .count();
                let in_pieces = split.pieces.iter().filter(|p| (p.lo..=p.hi).contains(&at)).count();
                assert_eq!(
                    usize::from(in_days) + in_hours + in_pieces,
                    usize::from(in_range),
                    "{r:?} at {at}: {split:?}"
                );
            }
        }
    }

    #[test]
    fn a_creation_and_an_expiry_range_are_counted_from_the_grid() {
        let filter = SessionFilter {
            scope: Scope::NotRevoked,
            created: vec![DateFilter {
                method: DateMethod::GreaterOrEquals,
                at: Micros(10 * DAY_US + 5 * HOUR_US + 1),
            }],
            expires: vec![DateFilter {
                method: DateMethod::Less,
                at: Micros(40 * DAY_US + 7 * HOUR_US + 5 * MINUTE_US + 3),
            }],
            ..Default::default()
        };
        let sql = count_sessions(Dialect::Sqlite, &filter, Micros(0)).sql;
        assert!(sql.contains("session_counts_grid"), "{sql}");
        for level in 0..4 {
            assert!(sql.contains(&format!("level = {level}")), "{sql}");
        }
        // Each of the two cut hours (the creation one at 05:00, the expiry one at 07:05) is
        // counted from the side its cells say is smaller: all its sessions (minute cells) less
        // the rest, or the matches.
        assert_eq!(sql.matches("CASE WHEN").count(), 2, "{sql}");
        for level in [grid::CREATION_MINUTE, grid::EXPIRY_MINUTE] {
            assert!(sql.contains(&format!("level = {level}")), "{sql}");
        }
    }

    #[test]
    fn postgres_sums_whole_days_from_day_cells_and_sqlite_from_hour_cells() {
        let created_since = |at| SessionFilter {
            scope: Scope::NotRevoked,
            created: vec![DateFilter {
                method: DateMethod::GreaterOrEquals,
                at: Micros(at),
            }],
            ..Default::default()
        };
        // From 5 hours before day 70: hours 19..=23 of day 69, then whole days from day 70 on.
        let filter = created_since(70 * DAY_US - 5 * HOUR_US);
        let postgres = count_sessions(Dialect::Postgres, &filter, Micros(0));
        assert!(
            postgres.sql.contains(&format!("level = {}", grid::CREATION_DAY)),
            "{}",
            postgres.sql
        );
        assert!(postgres.params.contains(&Param::I64(70)), "{:?}", postgres.params);
        assert!(
            postgres.params.contains(&Param::I64(69 * 24 + 19)),
            "{:?}",
            postgres.params
        );
        let sqlite = count_sessions(Dialect::Sqlite, &filter, Micros(0));
        assert!(
            !sqlite.sql.contains(&format!("level = {}", grid::CREATION_DAY)),
            "{}",
            sqlite.sql
        );
        // No filter at all: one sum of day cells, nothing counted row by row.
        let everything = count_sessions(Dialect::Postgres, &created_since(i64::MIN), Micros(0)).sql;
        assert_eq!(
            everything.matches("SELECT COALESCE(SUM(n), 0)").count(),
            1,
            "{everything}"
        );
        assert!(!everything.contains("FROM sessions"), "{everything}");
        // Sessions that never expire are in the never-day.
        let never = SessionFilter {
            scope: Scope::NotRevoked,
            expires: vec![DateFilter {
                method: DateMethod::Greater,
                at: Micros(3 * DAY_US),
            }],
            ..Default::default()
        };
        let postgres = count_sessions(Dialect::Postgres, &never, Micros(0));
        assert!(
            postgres.params.contains(&Param::I64(NEVER_DAY)),
            "{:?}",
            postgres.params
        );
        assert!(
            postgres.sql.contains(&format!("level = {}", grid::EXPIRY_DAY)),
            "{}",
            postgres.sql
        );
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
            .cells_sql(Dialect::Sqlite, CREATION_HOURS, narrowed.created_span(), true)
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
