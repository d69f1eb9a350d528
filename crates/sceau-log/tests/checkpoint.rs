//! Signed notes and checkpoints. The golden vector is the example of Go's
//! `golang.org/x/mod/sumdb/note` (package documentation and `note_test.go`): PeterNeumann's
//! verifier key, signing key and signed note, and EnochRoot's co-signature.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::SigningKey;
use proptest::prelude::*;
use sceau_log::note::NOTE_SIGNATURES_MAX;
use sceau_log::{
    Checkpoint, CheckpointError, NoteError, NoteSigner, VerifierKey, leaf_hash, parse_and_verify,
};

const PETER_KEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
/// The key of "PRIVATE+KEY+PeterNeumann+c74f20a3+<this>": 0x01 || Ed25519 seed.
const PETER_PRIVATE: &str = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const ENOCH_KEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                    then you don't know what your problem is.\n";
const PETER_SIG: &str = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_SIG: &str = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

fn peter_signer() -> NoteSigner {
    let key = BASE64.decode(PETER_PRIVATE).unwrap();
    assert_eq!(key[0], 0x01);
    let seed: [u8; 32] = key[1..].try_into().unwrap();
    NoteSigner::new("PeterNeumann", SigningKey::from_bytes(&seed)).unwrap()
}

fn signer(name: &str, seed: u8) -> NoteSigner {
    NoteSigner::new(name, SigningKey::from_bytes(&[seed; 32])).unwrap()
}

#[test]
fn go_note_golden_vector() {
    let peter = VerifierKey::parse(PETER_KEY).unwrap();
    assert_eq!(peter.to_string(), PETER_KEY);
    assert_eq!(peter.key_id(), 0xc74f20a3);
    let enoch = VerifierKey::parse(ENOCH_KEY).unwrap();
    assert_eq!(enoch.to_string(), ENOCH_KEY);

    let note = format!("{TEXT}\n{PETER_SIG}");
    assert_eq!(peter.open(&note), Ok(TEXT));
    // Ed25519 is deterministic: signing with Go's key gives Go's note byte for byte.
    let signer = peter_signer();
    assert_eq!(signer.verifier_key(), peter);
    assert_eq!(signer.sign(TEXT).unwrap(), note);

    // Co-signed: each key finds its own signature and ignores the other.
    let cosigned = format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}");
    assert_eq!(peter.open(&cosigned), Ok(TEXT));
    assert_eq!(enoch.open(&cosigned), Ok(TEXT));
    assert_eq!(enoch.open(&note), Err(NoteError::NoSignatureFromKey));
}

/// The malformed messages of Go's `TestOpen`, and its limits.
#[test]
fn go_note_malformed_messages() {
    use NoteError::*;
    let peter = VerifierKey::parse(PETER_KEY).unwrap();
    let open = |note: &str| peter.open(note).map(str::to_owned);
    assert_eq!(open(TEXT), Err(Malformed));
    assert_eq!(open(&format!("{TEXT}\n")), Err(Malformed));
    assert_eq!(
        open(&format!("{TEXT}\n{}", &PETER_SIG[..PETER_SIG.len() - 1])),
        Err(Malformed)
    );
    assert_eq!(
        open(&format!("\x01{TEXT}\n{PETER_SIG}")),
        Err(ControlCharacter)
    );
    assert_eq!(
        open(&format!(
            "{TEXT}\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
        )),
        Err(MalformedSignatureLine)
    );
    assert_eq!(
        open(&format!("{TEXT}\n{PETER_SIG}Unexpected line.\n")),
        Err(MalformedSignatureLine)
    );
    let stretched = format!("{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
    assert_eq!(open(&format!("{TEXT}\n{stretched}")), Err(BadSignature));
    let many = PETER_SIG.repeat(NOTE_SIGNATURES_MAX + 1);
    assert_eq!(open(&format!("{TEXT}\n{many}")), Err(TooManySignatures));
    let enough = PETER_SIG.repeat(NOTE_SIGNATURES_MAX);
    assert_eq!(open(&format!("{TEXT}\n{enough}")), Ok(TEXT.to_owned()));
    let huge = format!("{}\n\n{PETER_SIG}", "a".repeat(200_000));
    assert_eq!(open(&huge), Err(TooLarge));
}

#[test]
fn verifier_keys_are_parsed_strictly() {
    use NoteError::*;
    let parse = VerifierKey::parse;
    assert_eq!(
        parse("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        Err(KeyIdMismatch)
    );
    assert_eq!(
        parse("PeterNeumannX+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        Err(KeyIdMismatch)
    );
    assert_eq!(
        parse("PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        Err(MalformedVerifierKey)
    );
    assert_eq!(
        parse("PeterNeumann++c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        Err(MalformedVerifierKey)
    );
    assert_eq!(parse("PeterNeumann+c74f20a3"), Err(MalformedVerifierKey));
    assert_eq!(
        parse("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T"),
        Err(MalformedVerifierKey)
    );
    assert_eq!(
        parse("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy1w=="),
        Err(MalformedVerifierKey)
    );
    let mut other_type = BASE64
        .decode("ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
        .unwrap();
    other_type[0] = 0x04;
    assert_eq!(
        parse(&format!(
            "PeterNeumann+c74f20a3+{}",
            BASE64.encode(other_type)
        )),
        Err(UnknownKeyType)
    );
    assert_eq!(
        parse("Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        Err(InvalidKeyName)
    );
    assert_eq!(
        parse("+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        Err(InvalidKeyName)
    );
    assert_eq!(
        parse("PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
            .map(|k| k.to_string()),
        Ok(PETER_KEY.to_owned())
    );
    // A '+' inside the base64 key is part of the key.
    let key = signer("example.com/log", 9).verifier_key();
    assert_eq!(VerifierKey::parse(&key.to_string()), Ok(key));
}

#[test]
fn checkpoint_round_trip() {
    let signer = signer("example.com/log", 1);
    let checkpoint = Checkpoint::new("example.com/log", 20852163, leaf_hash(b"root")).unwrap();
    let note = checkpoint.sign(&signer);
    assert!(note.starts_with("example.com/log\n20852163\n"));
    assert!(note.contains("\n\n— example.com/log "));
    assert_eq!(
        parse_and_verify(&note, &signer.verifier_key()),
        Ok(checkpoint)
    );
}

#[test]
fn checkpoint_refused_by_other_keys() {
    let signer = signer("example.com/log", 1);
    let note = Checkpoint::new("example.com/log", 5, [3; 32])
        .unwrap()
        .sign(&signer);
    let no_signature = Err(CheckpointError::Note(NoteError::NoSignatureFromKey));
    // Another key under the same name, the same key under another name.
    assert_eq!(
        parse_and_verify(&note, &self::signer("example.com/log", 2).verifier_key()),
        no_signature
    );
    let renamed =
        VerifierKey::new("example.com/other", *signer.verifier_key().public_key()).unwrap();
    assert_eq!(parse_and_verify(&note, &renamed), no_signature);
    // The trusted key's name and ID on a signature made by another key: checked, refused.
    let other = self::signer("example.com/log", 2)
        .sign(&checkpoint_body(&note))
        .unwrap();
    let relabelled = relabel(&other, signer.verifier_key().key_id());
    assert_eq!(
        parse_and_verify(&relabelled, &signer.verifier_key()),
        Err(CheckpointError::Note(NoteError::BadSignature))
    );
}

fn checkpoint_body(note: &str) -> String {
    note[..=note.rfind("\n\n").unwrap()].to_owned()
}

/// Rewrites the key ID of the (single) signature line of `note`.
fn relabel(note: &str, key_id: u32) -> String {
    let split = note.rfind("\n\n").unwrap();
    let (text, line) = (&note[..=split], &note[split + 2..]);
    let (prefix, encoded) = line.trim_end().rsplit_once(' ').unwrap();
    let mut bytes = BASE64.decode(encoded).unwrap();
    bytes[..4].copy_from_slice(&key_id.to_be_bytes());
    format!("{text}\n{prefix} {}\n", BASE64.encode(bytes))
}

#[test]
fn checkpoint_refuses_every_single_byte_change() {
    let signer = signer("example.com/log", 7);
    let key = signer.verifier_key();
    let note = Checkpoint::new("example.com/log", 1234, leaf_hash(b"x"))
        .unwrap()
        .sign(&signer);
    let bytes = note.as_bytes();
    let mut tried = 0;
    for position in 0..bytes.len() {
        for mask in [0x01u8, 0x20, 0x80] {
            let mut changed = bytes.to_vec();
            changed[position] ^= mask;
            let Ok(changed) = String::from_utf8(changed) else {
                continue; // not text: refused before it reaches us
            };
            tried += 1;
            assert!(
                parse_and_verify(&changed, &key).is_err(),
                "accepted a change of byte {position} with mask {mask:#x}: {changed:?}"
            );
        }
    }
    assert!(tried > bytes.len());
    // Cutting the note anywhere is refused too.
    for end in 0..bytes.len() {
        if let Some(prefix) = note.get(..end) {
            assert!(
                parse_and_verify(prefix, &key).is_err(),
                "accepted a prefix of {end} bytes"
            );
        }
    }
}

#[test]
fn checkpoint_body_is_checked_after_the_signature() {
    let signer = signer("example.com/log", 3);
    let key = signer.verifier_key();
    for (body, expected) in [
        (
            "example.com/log\n01\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
            CheckpointError::InvalidSize,
        ),
        (
            "example.com/log\n1\nAAAA\n",
            CheckpointError::InvalidRootHash,
        ),
        ("example.com/log\n1\n", CheckpointError::MissingLine),
    ] {
        let note = signer.sign(body).unwrap();
        assert_eq!(parse_and_verify(&note, &key), Err(expected), "{body:?}");
    }
    assert_eq!(
        signer.sign("no final newline"),
        Err(NoteError::MalformedText)
    );
    assert_eq!(signer.sign(""), Err(NoteError::MalformedText));
    assert_eq!(signer.sign("tab\there\n"), Err(NoteError::ControlCharacter));
    assert!(Checkpoint::new("", 1, [0; 32]).is_err());
    assert!(Checkpoint::new("a\nb", 1, [0; 32]).is_err());
    assert!(NoteSigner::new("has space", SigningKey::from_bytes(&[1; 32])).is_err());
    assert!(NoteSigner::new("has+plus", SigningKey::from_bytes(&[1; 32])).is_err());
}

#[test]
fn signer_debug_hides_the_key() {
    let shown = format!("{:?}", signer("example.com/log", 5));
    assert!(
        shown.contains("example.com/log") && shown.contains("***"),
        "{shown}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_checkpoint_round_trips(
        origin in "[a-z0-9./-]{1,40}",
        size in any::<u64>(),
        root_hash in any::<[u8; 32]>(),
        seed in any::<[u8; 32]>(),
    ) {
        let signer = NoteSigner::new(&origin, SigningKey::from_bytes(&seed)).unwrap();
        let checkpoint = Checkpoint::new(&origin, size, root_hash).unwrap();
        let note = checkpoint.sign(&signer);
        prop_assert_eq!(parse_and_verify(&note, &signer.verifier_key()), Ok(checkpoint));
        let key_text = signer.verifier_key().to_string();
        prop_assert_eq!(VerifierKey::parse(&key_text), Ok(signer.verifier_key()));
    }
}
