//! SQL text shared by every store. Each backend binds the returned [`Param`]s itself.

mod session_query;

pub use session_query::{count_sessions, list_sessions, BuiltQuery, Dialect, Param};

/// The columns every session read selects, in the order [`crate::rows`] decodes them.
pub const SESSION_COLUMNS: &str = "s.id, s.identity_id, s.created_us, s.changed_us, s.authenticated_us, \
     s.expires_us, s.revoked_us, s.user_checked_us, s.factors, s.metadata, s.creator, s.sequence, \
     i.state AS identity_state";
