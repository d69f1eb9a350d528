//! A file a client says is a PDF, given to the PAdES signer: never a panic; either a clear
//! refusal, or bytes to append whose `/Contents` holds the signature given (a stand-in
//! CMS), in hex, followed by its reserved zeros.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sceau_notary::pades::{PadesOptions, sign_pdf};

/// A stand-in for the CMS: the signer is not what is fuzzed.
const CMS: &[u8] = &[0x30, 0x03, 0x02, 0x01, 0x07];

fuzz_target!(|data: &[u8]| {
    let options = PadesOptions {
        pdf_bytes_max: 1 << 20,
        ..PadesOptions::new(1_800_000_000)
    };
    if let Ok(appended) = sign_pdf(data, &options, |_digest| Ok::<_, ()>(CMS.to_vec())) {
        let hex: String = CMS.iter().map(|byte| format!("{byte:02X}")).collect();
        let text = String::from_utf8_lossy(&appended);
        assert!(
            text.contains(&format!("/Contents <{hex}000")),
            "the CMS is in /Contents"
        );
    }
});
