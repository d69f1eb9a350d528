//! The manifest a station sends (`POST /api/v1/envelopes/{id}/manifest`, from anyone
//! signed in): never a panic; a manifest accepted is exactly its canonical form, and is
//! accepted again from it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sceau_server::notary::parse_manifest;
use sceau_domain::envelope::EnvelopeLimits;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let limits = EnvelopeLimits::default();
    if let Ok(manifest) = parse_manifest(text, &limits) {
        let canonical = manifest.canonical().expect("an accepted manifest is canonical");
        assert_eq!(canonical, text, "accepted in another form than its canonical one");
        let again = parse_manifest(&canonical, &limits).expect("its canonical form parses");
        assert_eq!(again, manifest);
    }
});
