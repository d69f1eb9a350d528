//! Delivery receipts' texts from an SMSC: never a panic, what is found is short and
//! printable, and the forms of an id start with its normal form, once each.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sceau_channel::receipt::{id_candidates, normalize_id, parse};

fuzz_target!(|data: &[u8]| {
    if let Some(receipt) = parse(data) {
        for value in [Some(&receipt.id), receipt.err.as_ref()]
            .into_iter()
            .flatten()
        {
            assert!(!value.is_empty() && value.len() <= 64, "{value:?}");
            assert!(value.bytes().all(|b| b.is_ascii_graphic()), "{value:?}");
        }
        check_candidates(&receipt.id);
        let _ = receipt.stat.outcome();
    }
    if let Ok(text) = std::str::from_utf8(data) {
        check_candidates(text);
    }
});

fn check_candidates(id: &str) {
    let candidates = id_candidates(id);
    let normal = normalize_id(id);
    assert_eq!(
        candidates.first().map(String::as_str),
        (!normal.is_empty()).then_some(normal.as_str())
    );
    assert!(candidates.len() <= 3, "{candidates:?}");
    for (index, candidate) in candidates.iter().enumerate() {
        assert_eq!(&normalize_id(candidate), candidate);
        assert!(!candidates[..index].contains(candidate), "{candidates:?}");
    }
}
