//! NUL characters: PostgreSQL cannot store U+0000 in text, and no identifier, trait or user
//! agent needs one, so requests carrying them are refused up front on every store alike.

use serde_json::Value;

/// The first place in a JSON document where a string (or key) contains U+0000.
pub fn find_nul(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if s.contains('\0') => Some("a string value".to_owned()),
        Value::Array(items) => items.iter().find_map(find_nul),
        Value::Object(map) => map.iter().find_map(|(key, v)| {
            if key.contains('\0') {
                Some(format!("the key {:?}", key.replace('\0', "\\u0000")))
            } else {
                find_nul(v).map(|inner| format!("{inner} under {key:?}"))
            }
        }),
        _ => None,
    }
}

/// Whether a raw path or query string encodes a NUL byte.
pub fn uri_has_nul(text: &str) -> bool {
    text.contains('\0') || text.to_ascii_lowercase().contains("%00")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_nul_anywhere() {
        assert!(find_nul(&json!({"traits": {"email": "a\u{0}b"}})).is_some());
        assert!(find_nul(&json!([{"k\u{0}": 1}])).is_some());
        assert!(find_nul(&json!({"traits": {"email": "ab"}})).is_none());
        assert!(uri_has_nul("/admin/identities/by/external/%00x"));
    }
}
