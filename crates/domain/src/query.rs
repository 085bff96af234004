//! One query model for both APIs: filters, a sort and a page.

use uuid::Uuid;

use crate::{Cursor, Micros};

/// ZITADEL's `TimestampQueryMethod`, also used for Lanyard's own date filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateMethod {
    Equals,
    Greater,
    GreaterOrEquals,
    Less,
    LessOrEquals,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateFilter {
    pub method: DateMethod,
    pub at: Micros,
}

/// Which sessions a list may show at all, before any client filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    /// Kratos: every session that has an identity, including revoked and expired ones.
    #[default]
    WithIdentity,
    /// ZITADEL: every session that is not revoked (nor of a deactivated identity), with or
    /// without a user. Expired sessions stay listed, as in ZITADEL.
    NotRevoked,
}

/// ZITADEL's "own sessions": the caller created the session or is its checked user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedBy {
    pub identity_id: Option<Uuid>,
    pub creator: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionFilter {
    pub scope: Scope,
    pub ids: Option<Vec<Uuid>>,
    pub identity_id: Option<Uuid>,
    /// `Some(true)`: exactly the sessions whose computed `active` is true at `now`.
    pub active: Option<bool>,
    pub created: Vec<DateFilter>,
    pub expires: Vec<DateFilter>,
    pub creator: Option<String>,
    pub fingerprint_id: Option<String>,
    pub exclude_id: Option<Uuid>,
    /// Only the caller's own sessions.
    pub owned_by: Option<OwnedBy>,
}

/// Sort orders with a total order on (created_at, id), so keyset paging is exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SessionSort {
    /// Newest first; ties broken by id ascending (the Kratos order).
    #[default]
    CreatedDesc,
    /// Oldest first; ties broken by id descending (the exact reverse, so one index serves both).
    CreatedAsc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionPage {
    /// Rows strictly after `after` in the sort order; reads `size + 1` to know if more exist.
    Keyset {
        after: Option<Cursor>,
        size: u32,
    },
    Offset {
        offset: u64,
        limit: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionQuery {
    pub filter: SessionFilter,
    pub sort: SessionSort,
    pub page: SessionPage,
    /// Whether the rows come with their devices. Without, a page skips a second read and
    /// decoding a device per row (Kratos lists show devices only with `expand=devices`).
    pub with_devices: bool,
}
