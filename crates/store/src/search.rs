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

use crate::sql::session_count::{self, CellCount};
use crate::sql::session_query::list_sessions_with;
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
            tx.sessions(&list_sessions_with(dialect, query, now, false), query.with_devices)
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
/// per creation hour and the walk; otherwise the list query.
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
            statements.push(("page", list_sessions_with(dialect, &page, now, false)));
        }
        Some(None) => {}
        None => statements.push(("page", list_sessions_with(dialect, query, now, false))),
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
    // Rows the ordered walk reads before it has the page, at the average density of matches
    // among the hours' sessions; against reading the `total` matches through the expiry index
    // and sorting them.
    let needed = remaining + u64::from(limit);
    let walked = needed.saturating_mul(sessions_from_start) / total.max(1);
    let sort_matches = cells.filters_expiry() && total.saturating_mul(SORT_COST) < walked;
    Ok(list_sessions_with(dialect, &page, now, sort_matches))
}

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
