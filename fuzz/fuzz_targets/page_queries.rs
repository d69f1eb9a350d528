//! What the pages read from an address's query: the development phone's `to` (a leading
//! space is the `+` a query turned into one) and the wallet history's `before` cursor.
//! Never a panic; `to` is only ever given its `+` back; a cursor is a positive id of at
//! most 19 characters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sceau_server::api::pages::{history_cursor, phone_as_typed};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let typed = phone_as_typed(text);
    if typed != text {
        let digits = text
            .strip_prefix(' ')
            .expect("only a leading space is read back");
        assert_eq!(typed, format!("+{digits}"));
        assert!(!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()));
    }
    if let Ok(Some(id)) = history_cursor(Some(text)) {
        assert!(id > 0 && text.len() <= 19);
    }
});
