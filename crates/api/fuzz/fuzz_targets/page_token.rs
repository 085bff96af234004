//! Page-token decoding: any input either decodes or is refused, never panics; a token that
//! decodes re-encodes to one that decodes to the same cursor.
#![no_main]

use std::sync::OnceLock;

use lanyard_domain::PageTokenKeys;
use libfuzzer_sys::fuzz_target;

fn keys() -> &'static PageTokenKeys {
    static KEYS: OnceLock<PageTokenKeys> = OnceLock::new();
    KEYS.get_or_init(|| PageTokenKeys::new(vec![b"fuzz-key".to_vec(), b"retired-key".to_vec()]).expect("keys"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else { return };
    if let Ok(cursor) = keys().decode(token) {
        assert_eq!(keys().decode(&keys().encode(cursor)), Ok(cursor));
    }
});
