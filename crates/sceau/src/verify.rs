//! `sceau verify`: checks an evidence bundle, a signature or a time-stamp offline, with
//! nothing but the root certificate it should lead to (and, for a bundle, the log's
//! public key): no server, no network, no database.

use anyhow::Context;
use clap::Args;
use sceau_app::clock::rfc3339;
use std::path::{Path, PathBuf};

#[derive(Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["bundle", "signature", "time_stamp"])))]
pub struct VerifyArgs {
    /// An evidence bundle (the JSON file a paid checkout's evidence download gives, or
    /// the bundle.json `sceau demo --evidence-out` writes): checks the record, its
    /// signature, time-stamp and certificates, and its entry in the log; needs --log-key.
    /// An envelope's bundle (its `format` is sceau-envelope-evidence/2, or /1) is checked
    /// as one: its records' chains and log entries, the station's signature over its
    /// manifest, each file's signature and time-stamp, the container's signed manifest.
    /// A certified delivery's receipt (`format` sceau-delivery-receipt/1) is checked as
    /// one: the delivery's chain and log entries, the recipient it names, their events,
    /// the withdrawal certificate, the signed answer and its time-stamp.
    #[arg(requires = "log_key")]
    bundle: Option<PathBuf>,
    /// The log's public key (the file served at /log/key: `origin+id+key`).
    #[arg(long = "log-key")]
    log_key: Option<PathBuf>,
    /// With a bundle: also write its parts into this directory (record.json,
    /// signature.p7s, signature-value.bin, time-stamp.tst, certificate-N.pem; for an
    /// envelope's: each file's file-N.p7s and file-N.tst, the ASiC manifest and its
    /// signature, the station certificate, the records), for openssl (see the README;
    /// an envelope's extraction prints the openssl commands).
    #[arg(long, requires = "bundle")]
    extract: Option<PathBuf>,
    /// The root certificate (PEM or DER) the signer's or the TSA's chain must lead to,
    /// e.g. the server's /pki/root.pem.
    #[arg(long)]
    root: PathBuf,
    /// A detached CMS signature (DER, .p7s) to check against --content.
    #[arg(long, requires = "content")]
    signature: Option<PathBuf>,
    /// The signed data.
    #[arg(long)]
    content: Option<PathBuf>,
    /// An RFC 3161 time-stamp (a response .tsr, or a bare token) to check against --data.
    #[arg(long = "time-stamp", requires = "data")]
    time_stamp: Option<PathBuf>,
    /// The time-stamped data.
    #[arg(long)]
    data: Option<PathBuf>,
    /// The nonce the time-stamp request carried (as `openssl ts -query` prints it).
    #[arg(long, requires = "time_stamp")]
    nonce: Option<String>,
    /// Check the certificates at this time (RFC 3339) instead of the signature's own
    /// time-stamp or signing time.
    #[arg(long, requires = "signature")]
    at: Option<String>,
    /// Refuse a signature that carries no signature time-stamp (anyone can strip one).
    #[arg(long, requires = "signature")]
    require_time_stamp: bool,
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

/// A nonce as openssl prints it: `0x` and hexadecimal, or decimal.
fn parse_nonce(text: &str) -> anyhow::Result<u64> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.with_context(|| format!("--nonce {text:?} is not a 64-bit number"))
}

/// Runs the check and prints its report. `Ok(false)` when the signature or time-stamp is
/// refused (the reason is printed).
pub fn run(args: VerifyArgs) -> anyhow::Result<bool> {
    let root = sceau_pki::Issued::from_pem_or_der(&read(&args.root)?)
        .with_context(|| format!("{} is not a certificate (PEM or DER)", args.root.display()))?
        .der;
    if let (Some(bundle), Some(log_key)) = (&args.bundle, &args.log_key) {
        return run_bundle(
            bundle,
            log_key,
            args.extract.as_deref(),
            (&root, &args.root),
        );
    }
    if let (Some(signature), Some(content)) = (&args.signature, &args.content) {
        return run_signature(&args, signature, content, &root);
    }
    if let (Some(time_stamp), Some(data)) = (&args.time_stamp, &args.data) {
        return run_time_stamp(time_stamp, data, args.nonce.as_deref(), &root);
    }
    anyhow::bail!(
        "give a bundle with --log-key, --signature with --content, or --time-stamp with --data"
    )
}

/// An evidence bundle, checked against the root and the log's key (and taken apart into
/// `extract` if given).
fn run_bundle(
    bundle: &Path,
    log_key: &Path,
    extract: Option<&Path>,
    (root, root_path): (&[u8], &Path),
) -> anyhow::Result<bool> {
    let key_text = String::from_utf8(read(log_key)?)
        .with_context(|| format!("{} is not text", log_key.display()))?;
    let key = sceau_log::VerifierKey::parse(key_text.trim())
        .with_context(|| format!("{} is not a log verifier key", log_key.display()))?;
    let bytes = read(bundle)?;
    let envelope = is_envelope_bundle(&bytes);
    let valid = if is_delivery_receipt(&bytes) {
        if extract.is_some() {
            anyhow::bail!("--extract takes apart evidence bundles, not delivery receipts");
        }
        print_report(&sceau_app::delivery_receipt::check(&bytes, root, &key))
    } else if envelope {
        check_envelope_bundle(&bytes, root, &key)
    } else {
        check_bundle(&bytes, root, &key)
    };
    if let Some(directory) = extract {
        // Why a bundle cannot be taken apart can quote it (a field's name).
        let extracted = if envelope {
            crate::envelope_extract::extract(&bytes, directory, root_path)
        } else {
            extract_parts(&bytes, directory)
        };
        extracted.map_err(|error| anyhow::anyhow!("{}", escaped(&format!("{error:#}"))))?;
    }
    Ok(valid)
}

/// A detached signature over `content`, checked against the root (at --at, if given).
fn run_signature(
    args: &VerifyArgs,
    signature: &Path,
    content: &Path,
    root: &[u8],
) -> anyhow::Result<bool> {
    let at_s = args
        .at
        .as_deref()
        .map(|text| {
            chrono::DateTime::parse_from_rfc3339(text)
                .map(|time| time.timestamp())
                .with_context(|| format!("--at {text:?} is not an RFC 3339 time"))
        })
        .transpose()?;
    let verdict = sceau_pki::verify_signature(&read(signature)?, &read(content)?, root, at_s);
    Ok(match verdict {
        Ok(verified) if args.require_time_stamp && verified.time_stamp.is_none() => {
            say(
                "signature",
                "REFUSED: it carries no signature time-stamp (no-time-stamp)",
            );
            false
        }
        Ok(verified) => {
            say("signature", "valid");
            say("signer", &verified.signer);
            say("certificate serial", &verified.serial);
            match verified.signing_time_s {
                Some(at_s) => say("signing time (claimed by the signer)", rfc3339(at_s)),
                None => say("signing time", "none"),
            }
            match verified.time_stamp {
                Some(stamp) => print_stamp("signature time-stamp", &stamp),
                None => say("signature time-stamp", "none"),
            }
            true
        }
        Err(refusal) => {
            say(
                "signature",
                format_args!("REFUSED: {refusal} ({})", refusal.code()),
            );
            false
        }
    })
}

/// A time-stamp over `data`, checked against the root (and the nonce, if given).
fn run_time_stamp(
    time_stamp: &Path,
    data: &Path,
    nonce: Option<&str>,
    root: &[u8],
) -> anyhow::Result<bool> {
    let nonce = nonce.map(parse_nonce).transpose()?;
    Ok(
        match sceau_pki::verify_time_stamp(&read(time_stamp)?, &read(data)?, root, nonce) {
            Ok(stamp) => {
                say("time-stamp", "valid");
                print_stamp("time-stamp", &stamp);
                true
            }
            Err(refusal) => {
                say(
                    "time-stamp",
                    format_args!("REFUSED: {refusal} ({})", refusal.code()),
                );
                false
            }
        },
    )
}

fn print_stamp(what: &str, stamp: &sceau_pki::Stamp) {
    say(&format!("{what} time"), rfc3339(stamp.time_s));
    say(&format!("{what} authority"), &stamp.tsa);
    say(&format!("{what} serial"), &stamp.serial);
    say(&format!("{what} policy"), &stamp.policy);
}

/// Prints `label: text` as one line. Names, serials, record fields and error messages
/// come from files anyone can craft: every character of `text` a terminal would act on
/// or hide (see `escaped`) is printed as a visible escape, so that no file can add a
/// line to the report, or hide one.
pub(crate) fn say(label: &str, text: impl std::fmt::Display) {
    say!("{label}: {}", escaped(&text.to_string()));
}

/// `text` with every unprintable character (controls, ESC, C1 controls, line breaks,
/// invisible and bidirectional formatting: `sceau_domain::text::unprintable`) written
/// as an escape, `\u{1b}`.
pub(crate) fn escaped(text: &str) -> String {
    let mut shown = String::with_capacity(text.len());
    for c in text.chars() {
        if sceau_domain::text::unprintable(c) {
            shown.extend(c.escape_unicode());
        } else {
            shown.push(c);
        }
    }
    shown
}

/// Checks an evidence bundle against the root (DER) and the log's key, and prints every
/// check; false if any failed.
pub fn check_bundle(bytes: &[u8], root: &[u8], key: &sceau_log::VerifierKey) -> bool {
    print_report(&sceau_app::bundle::check(bytes, root, key))
}

/// Prints every check of a report, then the verdict; true if every check passed.
fn print_report(report: &sceau_app::bundle::Report) -> bool {
    for check in &report.checks {
        match &check.outcome {
            Ok(found) => say(check.part, format_args!("ok: {found}")),
            Err(why) => say(check.part, format_args!("FAILED: {why}")),
        }
    }
    let valid = report.valid();
    say(
        "bundle",
        if valid {
            "VALID: every check passed"
        } else {
            "REFUSED: a check failed (see above)"
        },
    );
    valid
}

/// Whether `bytes` are a delivery's receipt (by its `format`).
fn is_delivery_receipt(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(bytes).is_ok_and(|value| {
        value["format"]
            .as_str()
            .is_some_and(|format| format.starts_with("sceau-delivery-receipt/"))
    })
}

/// Whether `bytes` are an envelope's bundle (by its `format`); anything else is checked
/// as a payment's, whose checker says what is wrong with it.
fn is_envelope_bundle(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(bytes).is_ok_and(|value| {
        value["format"]
            .as_str()
            .is_some_and(|format| format.starts_with("sceau-envelope-evidence/"))
    })
}

/// Checks an envelope's evidence bundle against the root (DER) and the log's key, and
/// prints every check; false if any failed.
pub fn check_envelope_bundle(bytes: &[u8], root: &[u8], key: &sceau_log::VerifierKey) -> bool {
    print_report(&sceau_app::envelope_bundle::check(bytes, root, key))
}

/// Writes a bundle's parts as files, for openssl.
fn extract_parts(bytes: &[u8], directory: &Path) -> anyhow::Result<()> {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    let bundle: sceau_app::bundle::Bundle =
        serde_json::from_slice(bytes).context("the bundle cannot be read: nothing extracted")?;
    std::fs::create_dir_all(directory)
        .with_context(|| format!("creating {}", directory.display()))?;
    let write = |name: &str, contents: &[u8]| {
        let path = directory.join(name);
        std::fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))
    };
    let decode = |field: &str, text: &str| {
        STANDARD
            .decode(text)
            .with_context(|| format!("the bundle's {field} is not base64"))
    };
    write("record.json", &decode("record", &bundle.record)?)?;
    let signature = decode("signature", &bundle.signature)?;
    write("signature.p7s", &signature)?;
    // What the signature time-stamp stamps: the signature value, for `openssl ts -data`.
    let parts = sceau_pki::signature_parts(&signature)
        .map_err(|refusal| anyhow::anyhow!("the bundle's signature: {refusal}"))?;
    write("signature-value.bin", &parts.signature_value)?;
    write("time-stamp.tst", &decode("time_stamp", &bundle.time_stamp)?)?;
    for (index, certificate) in bundle.certificates.iter().enumerate() {
        let der = decode("certificates", certificate)?;
        let pem = sceau_pki::Issued::from_der(&der)
            .and_then(|issued| issued.to_pem())
            .with_context(|| format!("certificates[{index}] is not a certificate"))?;
        write(&format!("certificate-{index}.pem"), pem.as_bytes())?;
    }
    say!("parts written to {}", directory.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::escaped;

    #[test]
    fn text_from_a_file_cannot_act_on_the_terminal() {
        let check = |text: &str, expected: &str| assert_eq!(escaped(text), expected, "{text:?}");
        check("Librairie Dupont – é…", "Librairie Dupont – é…");
        check(r"a \u{1b} written out", r"a \u{1b} written out");
        check(
            "shop\u{1b}[8m\r\nbundle: VALID",
            r"shop\u{1b}[8m\u{d}\u{a}bundle: VALID",
        );
        // C1 controls (CSI, NEL), DEL, a tab.
        check("\u{9b}8m\u{85}\u{7f}\t", r"\u{9b}8m\u{85}\u{7f}\u{9}");
        // Bidirectional overrides and isolates, zero-width characters, soft hyphen.
        check(
            "\u{202e}cba\u{2066}\u{200b}\u{feff}\u{ad}",
            r"\u{202e}cba\u{2066}\u{200b}\u{feff}\u{ad}",
        );
    }
}
