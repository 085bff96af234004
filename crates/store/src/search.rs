//! One search, read from one snapshot: the exact count, the page and the sequence.
//!
//! Each backend supplies a [`ReadTx`] (its read transaction, binding and decoding); the plan
//! is the same for both. Broad offset searches (ZITADEL ListSessions without a selective
//! filter) do not walk the creation index from the first row to the offset: the counter cells
//! tell, per creation day (PostgreSQL), hour and minute, how many sessions may match, so
//! the walk starts at the minute that holds the offset-th match, and the exact number of
//! matches before that minute (a cheap cell count) turns the offset into one within that
//! minute (with an expiry range: that hour, see [`seek`]). When the matches are few and spread
//! thin over creation time (a narrow expiry range), the expiry index finds them instead.

use async_trait::async_trait;
use lanyard_domain::{DateFilter, DateMethod, Micros, SessionPage, SessionQuery, SessionSort};

use crate::sql::session_count::{self, hour_of, hour_start, CellCount, CellUnit, Range};
use crate::sql::session_query::{list_sessions_with, PageWalk};
use crate::sql::{BuiltQuery, Dialect, TimeCells, HOUR_US, MINUTE_US};
use crate::{SearchPage, SessionRow, StoreResult};

/// The reads a search needs, inside one read transaction of a backend.
#[async_trait]
pub(crate) trait ReadTx: Send {
    async fn count(&mut self, query: &BuiltQuery) -> StoreResult<u64>;
    /// Rows of `(hour or minute, possible, all)`, see [`CellCount::hours_sql`] and
    /// [`CellCount::minutes_sql`].
    async fn cells(&mut self, query: &BuiltQuery) -> StoreResult<Vec<TimeCells>>;
    async fn sessions(&mut self, query: &BuiltQuery, with_devices: bool) -> StoreResult<Vec<SessionRow>>;
    async fn sequence(&mut self) -> StoreResult<i64>;
}

/// How much cheaper reading the expiry range must look before it replaces the ordered walk:
/// its matches must be sorted, the walk's rows need not.
const SORT_COST: u64 = 4;

pub(crate) async fn search(
    tx: &mut dyn ReadTx,
    dialect: Dialect,
    query: &SessionQuery,
    now: Micros,
) -> StoreResult<SearchPage> {
    let total = tx
        .count(&session_count::count_sessions(dialect, &query.filter, now))
        .await?;
    let rows = match (CellCount::plan(&query.filter), query.page) {
        (Some(Some(cells)), SessionPage::Offset { offset, limit }) => {
            if offset >= total || limit == 0 {
                Vec::new()
            } else {
                let page = seek(tx, dialect, query, &cells, total, offset, limit, now).await?;
                tx.sessions(&page, query.with_devices).await?
            }
        }
        (Some(None), _) => Vec::new(),
        _ => {
            tx.sessions(
                &list_sessions_with(dialect, query, now, PageWalk::Ordered),
                query.with_devices,
            )
            .await?
        }
    };
    let sequence = tx.sequence().await?;
    Ok(SearchPage { rows, total, sequence })
}

/// The query a broad search walks, and the cells that guide it: with an expiry range that
/// bounds the creation dates (see [`CellCount::creation_implied_by_expiry`]), both narrowed.
fn walk(query: &SessionQuery, cells: &CellCount) -> (SessionQuery, CellCount) {
    let mut page = query.clone();
    match cells.creation_implied_by_expiry() {
        Some((narrowed, latest)) => {
            page.filter.created.push(DateFilter {
                method: DateMethod::LessOrEquals,
                at: latest,
            });
            (page, narrowed)
        }
        None => (page, cells.clone()),
    }
}

/// The statements `search` runs for the first page of `query` when the matches are dense
/// enough to walk (the plans docs/STORAGE.md shows): the count; for a broad search the cells
/// per creation hour and the walk (and, where SQLite may page from the expiry hours instead,
/// the sure-match cells and that page); otherwise the list query.
pub fn first_page_statements(dialect: Dialect, query: &SessionQuery, now: Micros) -> Vec<(&'static str, BuiltQuery)> {
    let mut statements = vec![("count", session_count::count_sessions(dialect, &query.filter, now))];
    match CellCount::plan(&query.filter) {
        Some(Some(cells)) => {
            let (page, cells) = walk(query, &cells);
            let descending = query.sort == SessionSort::CreatedDesc;
            let coarsest = CellCount::creation_units(dialect)[0];
            let label = if coarsest.micros == HOUR_US {
                "cells per creation hour"
            } else {
                "cells per creation day"
            };
            statements.push((
                label,
                cells.cells_sql(dialect, coarsest, cells.created_span(), descending),
            ));
            statements.push(("page", list_sessions_with(dialect, &page, now, PageWalk::Ordered)));
            // Where SQLite pages from the expiry hours instead (see `narrow_to_sure_matches`):
            // the cells of the first window, and the page as it is when they promise one a day
            // below the newest creation the page can match.
            let near_end = cells.bounded_expiry().and_then(|expires| {
                Some((
                    expires,
                    newest_creation_near_expiry_end(expires, cells.created_span().1, now)?,
                ))
            });
            if let (Dialect::Sqlite, true, Some((expires, newest))) = (dialect, descending, near_end) {
                let top = hour_of(newest) - 1;
                if let Some(sure) = cells.sure_matches_sql(dialect, top - (SURE_MATCH_WINDOWS[0] - 1), top) {
                    let mut narrowed = page.clone();
                    statements.push(("sure matches per creation hour", sure));
                    if let Some(walk) = from_expiry_hours(&mut narrowed, expires, hour_start(hour_of(newest) - 24)) {
                        statements.push((
                            "page from the expiry hours",
                            list_sessions_with(dialect, &narrowed, now, walk),
                        ));
                    }
                }
            }
        }
        Some(None) => {}
        None => statements.push(("page", list_sessions_with(dialect, query, now, PageWalk::Ordered))),
    }
    statements
}

/// The page query of a broad offset search, starting at the creation minute (or hour) of its
/// first row, found by descending from days (where the store keeps them) to hours to minutes.
#[allow(clippy::too_many_arguments)] // the search's parts, each used once
async fn seek(
    tx: &mut dyn ReadTx,
    dialect: Dialect,
    query: &SessionQuery,
    cells: &CellCount,
    total: u64,
    offset: u64,
    limit: u32,
    now: Micros,
) -> StoreResult<BuiltQuery> {
    let descending = query.sort == SessionSort::CreatedDesc;
    let (mut page, cells) = walk(query, cells);
    let cells = &cells;
    let units = CellCount::creation_units(dialect);
    let top = tx
        .cells(&cells.cells_sql(dialect, units[0], cells.created_span(), descending))
        .await?;
    // The day or hour in which the page starts, then its hour and minute: at each resolution
    // the first cell (in sort order) before which at most `offset` sessions can match. Rows
    // before the cell found last are skipped by an exact count from the cells, so the walk
    // steps over at most a minute of sessions.
    let (start, mut possible_before) = first_reaching(&top, offset, 0);
    let sessions_from_start: u64 = top.iter().skip(start).map(|c| c.all).sum();
    let mut found = top.get(start).map(|cell| (units[0], *cell));
    let mut boundary = found.filter(|_| start > 0).map(|(unit, cell)| unit.span(cell.index));
    for &unit in &units[1..] {
        let Some((parent_unit, parent)) = found else { break };
        // Not minutes with an expiry range: the count before a minute would then count the
        // rest of the hour row by row (the grid has no minutes of creation × expiry), which
        // costs what the walk saves.
        if offset <= possible_before || parent.index < 0 || (unit.micros == MINUTE_US && cells.filters_expiry()) {
            break;
        }
        let children = tx
            .cells(&cells.cells_sql(dialect, unit, parent_unit.span(parent.index), descending))
            .await?;
        let (first, before) = first_reaching(&children, offset, possible_before);
        let Some(child) = children.get(first) else { break };
        possible_before = before;
        found = Some((unit, *child));
        // Still in the first cell of every resolution: the walk starts at the beginning.
        if first > 0 || boundary.is_some() {
            boundary = Some(unit.span(child.index));
        }
    }
    let mut remaining = offset;
    if let Some((first_instant, last_instant)) = boundary {
        // Exactly how many match before that minute (or hour); the page starts that many rows
        // later.
        let mut before = query.filter.clone();
        before.created.push(if descending {
            DateFilter {
                method: DateMethod::Greater,
                at: Micros(last_instant),
            }
        } else {
            DateFilter {
                method: DateMethod::Less,
                at: Micros(first_instant),
            }
        });
        let matched_before = tx.count(&session_count::count_sessions(dialect, &before, now)).await?;
        remaining = offset.saturating_sub(matched_before);
        page.filter.created.push(if descending {
            DateFilter {
                method: DateMethod::LessOrEquals,
                at: Micros(last_instant),
            }
        } else {
            DateFilter {
                method: DateMethod::GreaterOrEquals,
                at: Micros(first_instant),
            }
        });
    }
    page.page = SessionPage::Offset {
        offset: remaining,
        limit,
    };
    let needed = remaining + u64::from(limit);
    if descending && dialect == Dialect::Sqlite {
        let creation_cells = (units[0], top.as_slice());
        if let Some(walk) = narrow_to_sure_matches(tx, dialect, &mut page, cells, creation_cells, needed, now).await? {
            return Ok(list_sessions_with(dialect, &page, now, walk));
        }
    }
    // Rows the ordered walk reads before it has the page, at the average density of matches
    // among the hours' sessions; against reading the `total` matches through the expiry index
    // and sorting them.
    let walked = needed.saturating_mul(sessions_from_start) / total.max(1);
    let walk = if cells.filters_expiry() && total.saturating_mul(SORT_COST) < walked {
        PageWalk::SortMatches
    } else {
        PageWalk::Ordered
    };
    Ok(list_sessions_with(dialect, &page, now, walk))
}

/// How far below the expiry range's end a descending page may start for
/// [`narrow_to_sure_matches`]: further down, matches are no longer thin, and each creation
/// hour has more expiry hours of cells to read than the ordered walk has rows.
const NEAR_EXPIRY_END_US: i64 = 48 * HOUR_US;

/// The creation hours [`narrow_to_sure_matches`] reads the cells of, in turn (12, then the 36
/// below, then the 96 below those): each read is a seek per hour, and ends at the first window
/// that holds enough matches.
const SURE_MATCH_WINDOWS: [i64; 3] = [12, 36, 96];

/// SQLite, a descending page with an expiry range that ends near the top of its creation range
/// ("expired more than 30 days ago"): the newest sessions created before the expiry bound
/// rarely match (a session created x before it matches only if it lived less than x), so the
/// ordered walk reads many rows per match, and their number grows like the square root of the
/// table (78,779 entries for 100 matches at 10M sessions, 27,487 at 1M). Instead: the creation
/// × expiry hour cells say from which creation hour down at least `needed` sessions surely
/// match; every match created since then expires between that hour and the range's end, so the
/// page seeks those expiry hours in `sessions_expiry_hour` to the creation range, and sorts
/// what it finds (about a page, whatever the table's size). The page is exact: every match
/// above the new lower bound is among the candidates, and there are at least `needed` of them.
/// Where the sessions down to that hour match densely ("expired before now": a sixth of them),
/// the walk passes few entries per match and stays ([`CANDIDATE_COST`]). `None` leaves the
/// page to the ordered walk.
async fn narrow_to_sure_matches(
    tx: &mut dyn ReadTx,
    dialect: Dialect,
    page: &mut SessionQuery,
    cells: &CellCount,
    (creation_unit, creation_cells): (CellUnit, &[TimeCells]),
    needed: u64,
    now: Micros,
) -> StoreResult<Option<PageWalk>> {
    let (Some(expires), Some(created)) = (cells.bounded_expiry(), Range::of(&page.filter.created)) else {
        return Ok(None);
    };
    let Some(newest) = newest_creation_near_expiry_end(expires, created.hi, now) else {
        return Ok(None);
    };
    let Some((first_hour, top)) = created.full_hours() else {
        return Ok(None);
    };
    let mut top = top.min(hour_of(newest));
    // The hour of the newest creation, when it is not whole: its sessions are no sure matches,
    // but the seeks would read those in the expiry hours.
    let mut partial_top = Some(hour_of(newest)).filter(|&hour| hour > top);
    let (mut sure, mut read) = (0u64, 0u64);
    for window in SURE_MATCH_WINDOWS {
        if top < first_hour {
            break;
        }
        let bottom = top.saturating_sub(window - 1).max(first_hour);
        let Some(query) = cells.sure_matches_sql(dialect, bottom, partial_top.take().unwrap_or(top)) else {
            return Ok(None);
        };
        for cell in tx.cells(&query).await? {
            read += cell.all;
            if cell.index > top {
                continue;
            }
            sure += cell.possible;
            if sure < needed {
                continue;
            }
            let lo = hour_start(cell.index);
            // The sessions the ordered walk would pass from the top down to its last row, at the
            // density of the sessions the seeks would read among those created since `lo`,
            // against what the seeks read: where matches are dense ("expired before now": a
            // sixth of the sessions), the walk is cheaper.
            let created_since: u64 = creation_cells
                .iter()
                .filter(|c| creation_unit.span(c.index).1 >= lo)
                .map(|c| c.all)
                .sum();
            let walked = needed.saturating_mul(created_since) / read.max(1);
            if walked <= CANDIDATE_COST.saturating_mul(read) {
                return Ok(None);
            }
            return Ok(from_expiry_hours(page, expires, lo));
        }
        top = bottom - 1;
    }
    Ok(None)
}

/// The newest creation a page with creation range up to `created_hi` can match, when the expiry
/// range ends at most [`NEAR_EXPIRY_END_US`] above it: where [`narrow_to_sure_matches`] may
/// apply. Sessions are created up to now: the hours above hold no cells to read (and a session
/// created later would still be found: the lower bound is all the page adds).
fn newest_creation_near_expiry_end(expires: Range, created_hi: i64, now: Micros) -> Option<i64> {
    let newest = created_hi.min(now.0);
    (expires.hi.saturating_sub(newest) <= NEAR_EXPIRY_END_US).then_some(newest)
}

/// Narrows `page` to sessions created from `lo` (the start of an hour inside its creation
/// range) and returns the expiry hours it seeks: those from `lo` (or the expiry range's start)
/// to the range's end. `None` when they are too many, or before 1970.
fn from_expiry_hours(page: &mut SessionQuery, expires: Range, lo: i64) -> Option<PageWalk> {
    // The expression `expires_us / 3600000000` the index is built on (truncating, as Rust's `/`
    // does; only instants after 1970 come here).
    let (first, last) = (lo.max(expires.lo) / HOUR_US, expires.hi / HOUR_US);
    if lo < 0 || first > last || last - first > MAX_EXPIRY_HOURS {
        return None;
    }
    // `lo` lies inside the creation range, so it replaces the range's lower bounds: SQLite
    // seeks each expiry hour with one of them, which must be the tightest.
    page.filter
        .created
        .retain(|f| !matches!(f.method, DateMethod::Greater | DateMethod::GreaterOrEquals));
    page.filter.created.push(DateFilter {
        method: DateMethod::GreaterOrEquals,
        at: Micros(lo),
    });
    Some(PageWalk::ExpiryHours { first, last })
}

/// How much more a candidate of the expiry-hour seeks costs than an entry the ordered walk
/// passes: a row read, an identity probe and a place in the sort, against an index entry tested
/// in place. Measured on the 10M seed: 85 ns per walked entry (78,779 in 6.7 ms), 630 ns per
/// candidate (1,100 in 0.7 ms).
const CANDIDATE_COST: u64 = 8;

/// The most expiry hours a page seeks (the windows and the distance to the range's end, in
/// hours, with room).
const MAX_EXPIRY_HOURS: i64 = 400;

/// The [`ReadTx`] of a backend: `impl_search_tx!(sqlx::Postgres, bind_all, devices_into)`
/// names its database, its parameter binder and its device loader.
macro_rules! impl_search_tx {
    ($db:ty, $bind_all:path, $devices_into:path) => {
        /// A search's read transaction (see [`crate::search`]).
        pub(crate) struct SearchTx<'t, 'c>(pub(crate) &'t mut sqlx::Transaction<'c, $db>);

        #[async_trait::async_trait]
        impl crate::search::ReadTx for SearchTx<'_, '_> {
            async fn count(&mut self, query: &crate::sql::BuiltQuery) -> $crate::StoreResult<u64> {
                let count: i64 = $bind_all(sqlx::query(&query.sql), &query.params)
                    .fetch_one(&mut **self.0)
                    .await
                    .and_then(|row| sqlx::Row::try_get(&row, 0))?;
                Ok(u64::try_from(count).unwrap_or(0))
            }

            async fn cells(
                &mut self,
                query: &crate::sql::BuiltQuery,
            ) -> $crate::StoreResult<Vec<crate::sql::TimeCells>> {
                let rows = $bind_all(sqlx::query(&query.sql), &query.params)
                    .fetch_all(&mut **self.0)
                    .await?;
                rows.iter()
                    .map(|row| {
                        let index: i64 = sqlx::Row::try_get(row, 0)?;
                        let possible: i64 = sqlx::Row::try_get(row, 1)?;
                        let all: i64 = sqlx::Row::try_get(row, 2)?;
                        Ok(crate::sql::TimeCells {
                            index,
                            possible: u64::try_from(possible).unwrap_or(0),
                            all: u64::try_from(all).unwrap_or(0),
                        })
                    })
                    .collect()
            }

            async fn sessions(
                &mut self,
                query: &crate::sql::BuiltQuery,
                with_devices: bool,
            ) -> $crate::StoreResult<Vec<crate::SessionRow>> {
                let rows = $bind_all(sqlx::query(&query.sql), &query.params)
                    .fetch_all(&mut **self.0)
                    .await?;
                let rows = rows
                    .iter()
                    .map(crate::rows::decode_session)
                    .collect::<$crate::StoreResult<Vec<_>>>()?;
                if !with_devices {
                    return Ok(rows);
                }
                $devices_into(self.0, rows).await
            }

            async fn sequence(&mut self) -> $crate::StoreResult<i64> {
                let value: i64 = sqlx::query_scalar($crate::sql::reads::CURRENT_SEQUENCE)
                    .fetch_one(&mut **self.0)
                    .await?;
                Ok(value)
            }
        }
    };
}
pub(crate) use impl_search_tx;

/// The first of `cells` (in order) before which at most `offset` sessions can match, counting
/// `possible_before` for what lies before the first; and the sessions possible before it.
fn first_reaching(cells: &[TimeCells], offset: u64, mut possible_before: u64) -> (usize, u64) {
    for (i, cell) in cells.iter().enumerate() {
        if possible_before + cell.possible > offset {
            return (i, possible_before);
        }
        possible_before += cell.possible;
    }
    (cells.len(), possible_before)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::Param;
    use lanyard_domain::query::Scope;
    use lanyard_domain::SessionFilter;

    /// A read transaction that answers from fixed cells and records the page query it is given.
    struct Scripted {
        total: u64,
        /// `(hour, sessions)` per creation hour, newest first.
        creation_hours: Vec<(i64, u64)>,
        /// `(hour, sure matches)`, the cells of creation hour × expiry hour inside the range.
        sure: Vec<(i64, u64)>,
        page: Option<BuiltQuery>,
    }

    fn cells(pairs: impl Iterator<Item = (i64, u64)>) -> Vec<TimeCells> {
        pairs
            .map(|(index, n)| TimeCells {
                index,
                possible: n,
                all: n,
            })
            .collect()
    }

    #[async_trait]
    impl ReadTx for Scripted {
        async fn count(&mut self, _query: &BuiltQuery) -> StoreResult<u64> {
            Ok(self.total)
        }

        async fn cells(&mut self, query: &BuiltQuery) -> StoreResult<Vec<TimeCells>> {
            // Level 3: creation hour × expiry hour, the sure-match cells.
            if !query.sql.contains("level = 3") {
                return Ok(cells(self.creation_hours.iter().copied()));
            }
            // The hours the query lists, as the database would select them.
            let listed = |hour: i64| query.sql.contains(&format!("{hour},")) || query.sql.contains(&format!("{hour})"));
            Ok(cells(self.sure.iter().copied().filter(|(hour, _)| listed(*hour))))
        }

        async fn sessions(&mut self, query: &BuiltQuery, _with_devices: bool) -> StoreResult<Vec<SessionRow>> {
            self.page = Some(query.clone());
            Ok(Vec::new())
        }

        async fn sequence(&mut self) -> StoreResult<i64> {
            Ok(1)
        }
    }

    const BOUND_HOUR: i64 = 470_000;

    /// "Expired before hour 470,000", newest first, `limit` rows from the top.
    async fn first_page(dialect: Dialect, sure: Vec<(i64, u64)>, limit: u32) -> BuiltQuery {
        first_page_created_since(dialect, sure, limit, None).await
    }

    /// The same, of the sessions created since `since` (microseconds) when given.
    async fn first_page_created_since(
        dialect: Dialect,
        sure: Vec<(i64, u64)>,
        limit: u32,
        since: Option<i64>,
    ) -> BuiltQuery {
        let mut tx = Scripted {
            total: 5_000,
            creation_hours: (1..=200).map(|back| (BOUND_HOUR - back, 100)).collect(),
            sure,
            page: None,
        };
        let query = SessionQuery {
            filter: SessionFilter {
                scope: Scope::NotRevoked,
                created: since
                    .map(|at| DateFilter {
                        method: DateMethod::GreaterOrEquals,
                        at: Micros(at),
                    })
                    .into_iter()
                    .collect(),
                expires: vec![DateFilter {
                    method: DateMethod::Less,
                    at: Micros(BOUND_HOUR * HOUR_US),
                }],
                ..Default::default()
            },
            sort: SessionSort::CreatedDesc,
            page: SessionPage::Offset { offset: 0, limit },
            with_devices: false,
        };
        let now = Micros((BOUND_HOUR + 24 * 30) * HOUR_US);
        search(&mut tx, dialect, &query, now).await.expect("search");
        tx.page.expect("a page query")
    }

    #[tokio::test]
    async fn a_page_of_long_expired_sessions_seeks_only_the_expiry_hours_its_sure_matches_allow() {
        // 4 sure matches created 3 hours below the bound, 7 more 5 hours below: 10 rows surely
        // lie in creation hours 469,995 and later.
        let page = first_page(Dialect::Sqlite, vec![(BOUND_HOUR - 3, 4), (BOUND_HOUR - 5, 7)], 10).await;
        let lo = (BOUND_HOUR - 5) * HOUR_US;
        let hours: Vec<String> = (BOUND_HOUR - 5..BOUND_HOUR).map(|h| h.to_string()).collect();
        assert!(page.sql.contains("INDEXED BY sessions_expiry_hour"), "{}", page.sql);
        assert!(
            page.sql
                .contains(&format!("s.expires_us / 3600000000 IN ({})", hours.join(", "))),
            "{}",
            page.sql
        );
        assert!(page.params.contains(&Param::I64(lo)), "{page:?}");
        assert!(page.sql.contains("ORDER BY +s.created_us DESC"), "{}", page.sql);

        // With a creation range of its own, the hour found replaces its lower bound: SQLite
        // seeks with one of them, and the looser one would read each expiry hour from there.
        let since = (BOUND_HOUR - 150) * HOUR_US + 7;
        let page = first_page_created_since(Dialect::Sqlite, vec![(BOUND_HOUR - 5, 11)], 10, Some(since)).await;
        assert!(page.sql.contains("INDEXED BY sessions_expiry_hour"), "{}", page.sql);
        assert_eq!(page.sql.matches("s.created_us >=").count(), 1, "{}", page.sql);
        assert!(
            page.params.contains(&Param::I64(lo)) && !page.params.contains(&Param::I64(since)),
            "{page:?}"
        );
    }

    #[tokio::test]
    async fn the_ordered_walk_stays_when_the_cells_do_not_promise_a_page() {
        // 11 sure matches in the 144 hours the windows read: too few for 20 rows.
        let sure = vec![(BOUND_HOUR - 3, 4), (BOUND_HOUR - 100, 7), (BOUND_HOUR - 150, 50)];
        let page = first_page(Dialect::Sqlite, sure.clone(), 20).await;
        assert!(!page.sql.contains("sessions_expiry_hour"), "{}", page.sql);
        // Enough within the third window.
        let page = first_page(Dialect::Sqlite, sure.clone(), 11).await;
        assert!(page.sql.contains("sessions_expiry_hour"), "{}", page.sql);
        assert!(
            page.params.contains(&Param::I64((BOUND_HOUR - 100) * HOUR_US)),
            "{page:?}"
        );
        // Dense matches: the walk passes 100 sessions for 50 matches; the seeks would sort 50.
        let page = first_page(Dialect::Sqlite, vec![(BOUND_HOUR - 1, 50)], 10).await;
        assert!(!page.sql.contains("sessions_expiry_hour"), "{}", page.sql);
        // PostgreSQL has no such index, and its planner picks its own way.
        let page = first_page(Dialect::Postgres, sure, 11).await;
        assert!(!page.sql.contains("expires_us / 3600000000"), "{}", page.sql);
    }
}
