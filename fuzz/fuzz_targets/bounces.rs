//! What a mail system hands `sceau admin bounce`: any mail at all. Never a panic; a
//! bounce read names only sceau's own message ids and a permanent (5.x.x) status.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(bounce) = sceau_channel::email::bounce::parse(data) {
        assert!(!bounce.message_ids.is_empty() && bounce.message_ids.len() <= 8);
        for id in &bounce.message_ids {
            assert!(id.starts_with("sceau.") && id.contains('@'), "{id}");
        }
        assert!(bounce.status.starts_with("5."), "{}", bounce.status);
    }
});
