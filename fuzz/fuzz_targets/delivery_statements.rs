//! What a recipient's browser sends as its answer (certified delivery): the statement's
//! text, and the recipients a sender's form names one a line. Never a panic; a statement
//! read is of its type, answers accept or reject, names each file once in order with a
//! digest (or none, in a refusal only), and accepts only files whose checks passed.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(statement) = sceau_server::api::delivery::parse_statement(text) {
        assert!(text.len() <= sceau_server::api::delivery::STATEMENT_BYTES_MAX);
        assert!(text.contains(sceau_server::api::delivery::STATEMENT_TYPE));
        if statement.accept {
            assert!(statement.digests.iter().all(Option::is_some));
        }
    }
    let _ = sceau_server::api::notary_pages::recipients_of(text);
});
