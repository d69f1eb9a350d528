//! The scripts a station runs, served by sceau as static files: their bytes, built into
//! the binary, and the Subresource Integrity value a page names them with
//! (`<script src="/static/sha256.js" integrity="sha384-…">`), so that the browser runs
//! them only if they are these bytes.
//!
//! - `sha256.js`: an incremental SHA-256 (FIPS 180-4) over `File.stream()`, so that a file
//!   is hashed at the station in chunks, before anything is sent (`crypto.subtle.digest`
//!   takes the whole message at once). A classic script defining one global,
//!   `sceauSha256`; tested under node (`tests/js/sha256.test.mjs`) and in Chromium against
//!   `sha256sum` (`tests/station.rs`).
//! - `notary.js`: the notary's page (`/wallet/envelopes/new`), loaded after `sha256.js`:
//!   file names checked as `FileName::parse` checks them, each file hashed and shown
//!   before anything is sent, a non-extractable ECDSA P-256 key made with WebCrypto, the
//!   manifest written as `Manifest::canonical` writes it and signed, the files sent, the
//!   seal. A classic script defining one global, `sceauNotary`; tested under node
//!   against a fake of the JSON API (`tests/js/notary.test.mjs`).

use base64::Engine;
use sha2::{Digest, Sha384};

/// A script served as it is written, with what a page needs to load it safely.
#[derive(Debug, Clone, Copy)]
pub struct StaticScript {
    /// The file's name, as served.
    pub name: &'static str,
    pub bytes: &'static [u8],
}

impl StaticScript {
    /// The media type to serve it with.
    pub const CONTENT_TYPE: &'static str = "text/javascript; charset=utf-8";

    /// The value of the `integrity` attribute that names exactly these bytes.
    pub fn integrity(&self) -> String {
        integrity(self.bytes)
    }
}

/// `sha384-` and the base64 of the SHA-384 of `bytes`: the Subresource Integrity value
/// (W3C "Subresource Integrity", section 3.1) of a resource made of them.
pub fn integrity(bytes: &[u8]) -> String {
    let digest = Sha384::digest(bytes);
    format!(
        "sha384-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The station's incremental SHA-256.
pub const SHA256_JS: StaticScript = StaticScript {
    name: "sha256.js",
    bytes: include_bytes!("../static/sha256.js"),
};

/// The notary's station: the program of the page that sends an envelope.
pub const NOTARY_JS: StaticScript = StaticScript {
    name: "notary.js",
    bytes: include_bytes!("../static/notary.js"),
};

/// The DER and CMS reader of a recipient's page (certified delivery).
pub const CMS_JS: StaticScript = StaticScript {
    name: "cms.js",
    bytes: include_bytes!("../static/cms.js"),
};

/// A recipient's page: checks each delivered file and signs the answer.
pub const DELIVERY_JS: StaticScript = StaticScript {
    name: "delivery.js",
    bytes: include_bytes!("../static/delivery.js"),
};

/// Every script a recipient's files page runs, in the order it loads them.
pub const DELIVERY_SCRIPTS: [StaticScript; 3] = [SHA256_JS, CMS_JS, DELIVERY_JS];

/// Every script a station runs, in the order a page loads them.
pub const SCRIPTS: [StaticScript; 2] = [SHA256_JS, NOTARY_JS];

/// The Content-Security-Policy of the station's page, the one page that runs a script:
/// scripts from this origin only (the page names each with its integrity value), no
/// inline script, requests to this origin only (the JSON API). Every other answer has
/// the policy without `script-src` (`default-src 'none'`: no script at all).
pub const STATION_CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     connect-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::process::{Command, Stdio};

    /// The integrity value is the one `openssl dgst -sha384 -binary | base64` gives, as
    /// SRI's own documentation computes it.
    #[test]
    fn integrity_is_openssl_sha384_in_base64() {
        for script in SCRIPTS {
            let Some(expected) = openssl_sri(script.bytes) else {
                return;
            };
            assert_eq!(script.integrity(), expected, "{}", script.name);
            // And it follows the bytes: a script edited by one byte is another script.
            let mut edited = script.bytes.to_vec();
            edited[0] ^= 1;
            assert_ne!(integrity(&edited), expected);
            assert_eq!(Some(integrity(&edited)), openssl_sri(&edited));
        }
        assert_ne!(SHA256_JS.integrity(), NOTARY_JS.integrity());
    }

    #[test]
    fn the_scripts_are_what_the_static_directory_holds() {
        for script in SCRIPTS {
            let path = format!("{}/static/{}", env!("CARGO_MANIFEST_DIR"), script.name);
            assert_eq!(script.bytes, std::fs::read(&path).unwrap(), "{path}");
            assert!(
                std::str::from_utf8(script.bytes).is_ok(),
                "{path}: UTF-8 text"
            );
        }
    }

    /// `sha384-` and `openssl dgst -sha384 -binary | base64` of `bytes`; `None` when
    /// openssl is not installed (a failure under `CI=true`).
    fn openssl_sri(bytes: &[u8]) -> Option<String> {
        if let Err(error) = Command::new("openssl").arg("version").output() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "openssl is not installed (CI=true: it must be): {error}"
            );
            eprintln!("skipped: openssl is not installed ({error})");
            return None;
        }
        let mut child = Command::new("bash")
            .args([
                "-c",
                "set -o pipefail; openssl dgst -sha384 -binary | base64",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(bytes).unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "openssl dgst | base64 failed");
        let encoded = String::from_utf8(output.stdout).unwrap();
        Some(format!("sha384-{}", encoded.trim()))
    }
}
