//! A file's name as a station sends it in an envelope's manifest: never a panic; a name
//! that is taken is the text given, within its bytes, with no path separator, and is the
//! same name taken again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sceau_domain::envelope::{FILE_NAME_BYTES_MAX, FileName};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(name) = FileName::parse(text) {
        assert_eq!(name.as_str(), text);
        assert!(!text.is_empty() && text.len() <= FILE_NAME_BYTES_MAX);
        assert!(!text.contains(['/', '\\']) && text != "." && text != "..");
        assert_eq!(FileName::parse(name.as_str()), Ok(name));
    }
});
