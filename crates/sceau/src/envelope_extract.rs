//! `sceau verify ENVELOPE-BUNDLE --extract DIR`: an envelope's evidence bundle taken
//! apart into files that openssl reads, and the openssl commands that check them.
//!
//! Files are named by position, never by the names the bundle gives (a bundle is a file
//! anyone can craft): `file-N.p7s` (the detached signature of file N), `file-N.tst` (its
//! signature time-stamp token) and `file-N.signature-value.bin` (what that token
//! stamps: the signature value); `ASiCManifest.xml`, `ASiCManifest.p7s` (the container's
//! signature over it), `ASiCManifest.tst` and `ASiCManifest.signature-value.bin`;
//! `station.pem`, `manifest.json` (the manifest the station signed) and `manifest.sig`
//! (the station's signature over it, DER, for `openssl dgst`), `record-NN.json`
//! and `station-record-NN.json` (the records, in order), `certificate-N.pem`.

use crate::verify::escaped;
use anyhow::Context;
use sceau_app::envelope_bundle::{EnvelopeBundle, decode};
use std::path::Path;

/// `text` quoted for a POSIX shell.
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Writes the parts of the envelope bundle `bytes` into `directory` and prints the
/// openssl commands that check them against the root at `root_path`.
pub fn extract(bytes: &[u8], directory: &Path, root_path: &Path) -> anyhow::Result<()> {
    let bundle: EnvelopeBundle =
        serde_json::from_slice(bytes).context("the bundle cannot be read: nothing extracted")?;
    let contents = decode(&bundle)
        .map_err(|why| anyhow::anyhow!("the bundle cannot be taken apart: {why}"))?;
    std::fs::create_dir_all(directory)
        .with_context(|| format!("creating {}", directory.display()))?;
    let write = |name: &str, contents: &[u8]| {
        let path = directory.join(name);
        std::fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))
    };
    let pem = |field: &str, der: &[u8]| {
        sceau_pki::Issued::from_der(der)
            .and_then(|issued| issued.to_pem())
            .with_context(|| format!("{field} is not a certificate"))
    };
    for (at, logged) in contents.records.iter().enumerate() {
        write(&format!("record-{:02}.json", at + 1), &logged.record)?;
    }
    for (at, logged) in contents.station_records.iter().enumerate() {
        write(
            &format!("station-record-{:02}.json", at + 1),
            &logged.record,
        )?;
    }
    write(
        "station.pem",
        pem("station_certificate", &contents.station_certificate)?.as_bytes(),
    )?;
    if let Some(manifest) = &contents.manifest {
        write("manifest.json", manifest.as_bytes())?;
    }
    let station_signed = match &contents.manifest_signature {
        Some(signature) => {
            let der = sceau_pki::station::signature_der(signature)
                .context("manifest_signature is not a P-256 signature")?;
            write("manifest.sig", &der)?;
            true
        }
        None => false,
    };
    for (at, certificate) in contents.certificates.iter().enumerate() {
        write(
            &format!("certificate-{at}.pem"),
            pem(&format!("certificates[{at}]"), certificate)?.as_bytes(),
        )?;
    }
    // Each signature, its time-stamp token and what the token stamps.
    let mut signatures = Vec::new();
    for (at, file) in contents.files.iter().enumerate() {
        let stem = format!("file-{at}");
        write(&format!("{stem}.p7s"), &file.signature)?;
        write(&format!("{stem}.tst"), &file.time_stamp)?;
        let value = sceau_pki::signature_parts(&file.signature)
            .map_err(|refusal| anyhow::anyhow!("files[{at}].signature: {refusal}"))?
            .signature_value;
        write(&format!("{stem}.signature-value.bin"), &value)?;
        signatures.push((stem, Some(file.name.clone())));
    }
    if let Some(container) = &contents.container {
        write("ASiCManifest.xml", &container.manifest)?;
        write("ASiCManifest.p7s", &container.signature)?;
        let parts = sceau_pki::signature_parts(&container.signature)
            .map_err(|refusal| anyhow::anyhow!("container.signature: {refusal}"))?;
        write("ASiCManifest.signature-value.bin", &parts.signature_value)?;
        if let Some(token) = &parts.time_stamp_token {
            write("ASiCManifest.tst", token)?;
        }
        signatures.push(("ASiCManifest".to_owned(), None));
    }
    say!("parts written to {}", directory.display());
    print_commands(directory, root_path, &signatures);
    if station_signed {
        say!("the station's signature over its manifest, with its certificate's key:");
        say!("  openssl x509 -in station.pem -pubkey -noout > station-key.pem");
        say!(
            "  openssl dgst -sha256 -verify station-key.pem -signature manifest.sig manifest.json"
        );
    }
    Ok(())
}

/// The openssl commands for each signature (`stem.p7s` over the file `name`, or over
/// `stem.xml` when `None`) and its time-stamp token.
fn print_commands(directory: &Path, root_path: &Path, signatures: &[(String, Option<String>)]) {
    let root = std::fs::canonicalize(root_path).unwrap_or_else(|_| root_path.to_path_buf());
    let root = quoted(&root.display().to_string());
    if signatures.is_empty() {
        return;
    }
    say!("check them with openssl (the files themselves are not in the bundle: give yours):");
    say!(
        "  cd {}",
        escaped(&quoted(&directory.display().to_string()))
    );
    for (stem, name) in signatures {
        let content = match name {
            Some(name) => quoted(name),
            None => format!("{stem}.xml"),
        };
        say!(
            "  openssl cms -verify -binary -inform DER -in {stem}.p7s -content {} -CAfile {} \
             -purpose any -out /dev/null",
            escaped(&content),
            escaped(&root)
        );
        say!(
            "  openssl ts -verify -token_in -in {stem}.tst -data {stem}.signature-value.bin \
             -CAfile {}",
            escaped(&root)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::quoted;

    #[test]
    fn names_are_quoted_for_the_shell() {
        assert_eq!(quoted("contrat.pdf"), "'contrat.pdf'");
        assert_eq!(quoted("l'acte $(x).pdf"), r"'l'\''acte $(x).pdf'");
    }
}
