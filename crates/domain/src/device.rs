use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Micros;

/// Where a session was created from. Kratos calls it a device, ZITADEL a user agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub id: Uuid,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub location: Option<String>,
    /// ZITADEL `userAgent.fingerprintId`.
    pub fingerprint_id: Option<String>,
    /// ZITADEL `userAgent.header`: header name to values.
    pub headers: BTreeMap<String, Vec<String>>,
    pub created_at: Micros,
}

/// Kratos truncates the joined user agent to this many bytes.
pub const MAX_USER_AGENT_BYTES: usize = 512;

/// Truncates to at most `max` bytes without splitting a UTF-8 character.
pub fn truncate_utf8(value: &str, max: usize) -> &str {
    if value.len() <= max {
        return value;
    }
    let mut end = max;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_whole_characters() {
        let value = "é".repeat(300); // 600 bytes
        let cut = truncate_utf8(&value, MAX_USER_AGENT_BYTES);
        assert_eq!(cut.len(), 512);
        assert!(truncate_utf8("aé", 2) == "a");
    }
}
