//! The ZITADEL ListSessions request parser (both transports read the body through it): any
//! bytes either parse into a search or are refused with an error, never a panic; what parses
//! keeps the bounds the store relies on.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(search) = lanyard_api::zitadel::parse_list_sessions(data) {
        assert!(
            search.offset <= i64::MAX as u64,
            "SQL OFFSET is a signed 64-bit integer"
        );
        assert!(search.created.len() + search.expires.len() <= 20, "at most 20 queries");
        assert!(
            search.ids.as_ref().is_none_or(|ids| ids.len() <= 1000),
            "at most 1000 ids"
        );
    }
});
