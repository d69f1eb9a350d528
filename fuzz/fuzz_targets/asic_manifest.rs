//! An ASiC-E container's manifest and the container itself from anyone (`sceau verify`
//! reads them): never a panic; a manifest that parses renders back to one that parses
//! the same; random bytes are never a container.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sceau_notary::asic;

fuzz_target!(|data: &[u8]| {
    if let Ok(manifest) = asic::parse_manifest(data) {
        let rendered = asic::render_manifest(&manifest.references);
        let again = asic::parse_manifest(&rendered).expect("a rendered manifest parses");
        assert_eq!(again, manifest, "the manifest changed through render and parse");
    }
    let _ = asic::check_container(std::io::Cursor::new(data));
});
