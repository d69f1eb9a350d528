//! The time-stamp authority against the real `openssl ts`: requests made by
//! `openssl ts -query`, responses checked by `openssl ts -verify` and `-reply -text`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{now_s, openssl};
use der::Encode;
use der::asn1::{ObjectIdentifier, OctetString};
use sceau_pki::{Answer, Authority, Failure, FileKeystore, KeyLabel, Keystore, TimeStampAuthority};
use std::path::Path;
use std::sync::Arc;
use x509_cert::spki::AlgorithmIdentifier;

/// A policy for the tests only.
const POLICY: &str = "1.2.3.4.1";

/// An authority and a TSA in a fresh keystore; root.pem written in `directory`.
fn tsa(directory: &Path) -> TimeStampAuthority {
    let keystore: Arc<dyn Keystore> =
        Arc::new(FileKeystore::open(&directory.join("keys"), &[9; 32]).unwrap());
    let authority = Authority::create(Arc::clone(&keystore), "sceau", now_s() - 60).unwrap();
    let key = KeyLabel::new("tsa").unwrap();
    keystore.generate(&key).unwrap();
    let certificate = authority
        .issue_time_stamping(&key, "sceau TSA", now_s() - 60, 86_400)
        .unwrap();
    std::fs::write(
        directory.join("root.pem"),
        authority.root().to_pem().unwrap(),
    )
    .unwrap();
    std::fs::write(directory.join("tsa.pem"), certificate.to_pem().unwrap()).unwrap();
    TimeStampAuthority::new(
        keystore,
        key,
        certificate,
        vec![authority.issuing().clone()],
        POLICY.parse().unwrap(),
    )
    .unwrap()
}

#[test]
fn openssl_verifies_the_time_stamps_and_detects_any_change() {
    let directory = tempfile::tempdir().unwrap();
    let dir = directory.path();
    let tsa = tsa(dir);
    std::fs::write(dir.join("f"), b"a contract worth time-stamping\n").unwrap();
    let (made, text) = openssl(
        dir,
        &[
            "ts", "-query", "-data", "f", "-sha256", "-cert", "-out", "q.tsq",
        ],
    );
    assert!(made, "{text}");
    let request = std::fs::read(dir.join("q.tsq")).unwrap();
    let answer = tsa.answer(&request, now_s());
    assert!(matches!(answer, Answer::Granted { .. }), "{answer:?}");
    std::fs::write(dir.join("r.tsr"), answer.response()).unwrap();

    let (verified, text) = openssl(
        dir,
        &[
            "ts", "-verify", "-data", "f", "-in", "r.tsr", "-CAfile", "root.pem",
        ],
    );
    assert!(verified && text.contains("Verification: OK"), "{text}");
    let (verified, text) = openssl(
        dir,
        &[
            "ts",
            "-verify",
            "-queryfile",
            "q.tsq",
            "-in",
            "r.tsr",
            "-CAfile",
            "root.pem",
        ],
    );
    assert!(
        verified && text.contains("Verification: OK"),
        "with the nonce: {text}"
    );
    let (read, text) = openssl(dir, &["ts", "-reply", "-in", "r.tsr", "-text"]);
    assert!(read, "{text}");
    for expected in [
        "Status: Granted.",
        "Policy OID: ",
        "Nonce: 0x",
        "Hash Algorithm: sha256",
        "Accuracy: 0x01 seconds",
    ] {
        assert!(text.contains(expected), "{expected:?} missing:\n{text}");
    }
    // openssl's own configuration names 1.2.3.4.1 "tsa_policy1".
    assert!(text.contains("Policy OID: 1.2.3.4.1") || text.contains("Policy OID: tsa_policy1"));
    // The TSA certificate: extended key usage timeStamping only, critical.
    let (_, text) = openssl(dir, &["x509", "-in", "tsa.pem", "-noout", "-text"]);
    assert!(
        text.contains("X509v3 Extended Key Usage: critical"),
        "{text}"
    );
    assert!(text.contains("Time Stamping"), "{text}");

    // Other data: refused.
    std::fs::write(dir.join("g"), b"a contract worth time-stamping!\n").unwrap();
    let (verified, _) = openssl(
        dir,
        &[
            "ts", "-verify", "-data", "g", "-in", "r.tsr", "-CAfile", "root.pem",
        ],
    );
    assert!(!verified);
    // Any changed byte of the signature value (the last bytes), of the signed message
    // digest or of the signed hash of the TSA's certificate: refused. (Some bytes of a
    // token are not signed by design, such as the signature algorithm's name.)
    let response = answer.response().to_vec();
    let refused = |altered: &[u8], what: &str| {
        std::fs::write(dir.join("altered.tsr"), altered).unwrap();
        let (verified, text) = openssl(
            dir,
            &[
                "ts",
                "-verify",
                "-data",
                "f",
                "-in",
                "altered.tsr",
                "-CAfile",
                "root.pem",
            ],
        );
        assert!(!verified, "{what} changed, still verified: {text}");
    };
    for back in 1..=64 {
        let mut altered = response.clone();
        let index = altered.len() - back;
        altered[index] ^= 0x01;
        refused(&altered, &format!("byte -{back}"));
    }
    let after = |pattern: &[u8]| {
        response
            .windows(pattern.len())
            .position(|w| w == pattern)
            .expect("attribute in the token")
            + pattern.len()
    };
    // id-messageDigest, then SET, OCTET STRING, 32 bytes.
    let digest_at = after(&[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x04,
    ]);
    let mut altered = response.clone();
    altered[digest_at + 4 + 10] ^= 0x01;
    refused(&altered, "the message digest");
    // id-aa-signingCertificateV2, then SET, SEQUENCE, SEQUENCE, SEQUENCE, OCTET STRING.
    let ess_at = after(&[
        0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x02, 0x2f,
    ]);
    let mut altered = response.clone();
    altered[ess_at + 10 + 10] ^= 0x01;
    refused(&altered, "the certificate hash");
    let at = response
        .windows(2)
        .position(|w| w == [0x18, 0x0f])
        .expect("genTime");
    let mut retimed = response.clone();
    retimed[at + 5] ^= 0x01;
    std::fs::write(dir.join("retimed.tsr"), &retimed).unwrap();
    let (verified, _) = openssl(
        dir,
        &[
            "ts",
            "-verify",
            "-data",
            "f",
            "-in",
            "retimed.tsr",
            "-CAfile",
            "root.pem",
        ],
    );
    assert!(!verified, "a changed time still verified");

    // Without -cert the token carries no certificate (RFC 3161 §2.4.1): openssl then
    // needs the TSA's certificate given.
    let (_, _) = openssl(
        dir,
        &["ts", "-query", "-data", "f", "-sha256", "-out", "bare.tsq"],
    );
    let bare = tsa.answer(&std::fs::read(dir.join("bare.tsq")).unwrap(), now_s());
    std::fs::write(dir.join("bare.tsr"), bare.response()).unwrap();
    let (verified, _) = openssl(
        dir,
        &[
            "ts", "-verify", "-data", "f", "-in", "bare.tsr", "-CAfile", "root.pem",
        ],
    );
    assert!(!verified, "no certificate: openssl cannot find the signer");
}

fn request(algorithm: &str, digest_len: usize, policy: Option<&str>) -> Vec<u8> {
    x509_tsp::TimeStampReq {
        version: x509_tsp::TspVersion::V1,
        message_imprint: x509_tsp::MessageImprint {
            hash_algorithm: AlgorithmIdentifier {
                oid: algorithm.parse::<ObjectIdentifier>().unwrap(),
                parameters: None,
            },
            hashed_message: OctetString::new(vec![7; digest_len]).unwrap(),
        },
        req_policy: policy.map(|p| p.parse().unwrap()),
        nonce: None,
        cert_req: true,
        extensions: None,
    }
    .to_der()
    .unwrap()
}

#[test]
fn bad_requests_get_the_rfcs_rejection() {
    let directory = tempfile::tempdir().unwrap();
    let dir = directory.path();
    let tsa = tsa(dir);
    let sha256 = "2.16.840.1.101.3.4.2.1";
    let md5 = "1.2.840.113549.2.5";
    let cases: [(&str, Vec<u8>, Failure, &str); 5] = [
        (
            "not DER",
            b"hello, time".to_vec(),
            Failure::BadDataFormat,
            "badDataFormat",
        ),
        ("MD5", request(md5, 16, None), Failure::BadAlg, "badAlg"),
        (
            "short digest",
            request(sha256, 20, None),
            Failure::BadDataFormat,
            "badDataFormat",
        ),
        (
            "other policy",
            request(sha256, 32, Some("1.2.3.4.99")),
            Failure::UnacceptedPolicy,
            "unacceptedPolicy",
        ),
        (
            "too long",
            vec![0x30; 5_000],
            Failure::BadDataFormat,
            "badDataFormat",
        ),
    ];
    for (name, bytes, expected, words) in cases {
        let answer = tsa.answer(&bytes, now_s());
        let Answer::Rejected { failure, response } = &answer else {
            panic!("{name}: not rejected: {answer:?}");
        };
        assert_eq!(*failure, expected, "{name}");
        std::fs::write(dir.join("rejected.tsr"), response).unwrap();
        let (read, text) = openssl(dir, &["ts", "-reply", "-in", "rejected.tsr", "-text"]);
        assert!(read, "{name}: {text}");
        assert!(text.contains("Status: Rejected"), "{name}: {text}");
        assert!(
            text.contains(&format!("Failure info: {}", words_of(words))),
            "{name}: {text}"
        );
    }
    // Our own policy, asked for by name: granted.
    assert!(matches!(
        tsa.answer(&request(sha256, 32, Some(POLICY)), now_s()),
        Answer::Granted { .. }
    ));
}

/// How `openssl ts -reply -text` names a failure bit.
fn words_of(bit: &str) -> &'static str {
    match bit {
        "badAlg" => "unrecognized or unsupported algorithm identifier",
        "badDataFormat" => "the data submitted has the wrong format",
        "unacceptedPolicy" => "the requested TSA policy is not supported by the TSA",
        _ => "?",
    }
}

#[test]
fn the_query_helper_makes_requests_openssl_reads() {
    let directory = tempfile::tempdir().unwrap();
    let dir = directory.path();
    let tsa = tsa(dir);
    for nonce in [0_u64, 1, 0x7f, 0x80, 0xdead_beef, u64::MAX] {
        let request = sceau_pki::tsa::query(&[0x5a; 32], nonce, true).unwrap();
        std::fs::write(dir.join("h.tsq"), &request).unwrap();
        let (read, text) = openssl(dir, &["ts", "-query", "-in", "h.tsq", "-text"]);
        assert!(
            read && text.contains("Certificate required: yes"),
            "{nonce}: {text}"
        );
        let answer = tsa.answer(&request, now_s());
        assert!(
            matches!(answer, Answer::Granted { .. }),
            "{nonce}: {answer:?}"
        );
    }
}

/// Requests answered together (one use of the key for the group): each granted one
/// gets the token of its own imprint and nonce, which `openssl ts -verify` accepts with
/// its own query; a bad request among them is rejected alone.
#[test]
fn requests_answered_together_get_their_own_tokens() {
    let directory = tempfile::tempdir().unwrap();
    let dir = directory.path();
    let tsa = tsa(dir);
    let mut queries = Vec::new();
    for n in 0..3 {
        std::fs::write(dir.join(format!("data{n}")), format!("data {n}")).unwrap();
        let (made, text) = openssl(
            dir,
            &[
                "ts",
                "-query",
                "-data",
                &format!("data{n}"),
                "-sha256",
                "-cert",
                "-out",
                &format!("q{n}.tsq"),
            ],
        );
        assert!(made, "{text}");
        queries.push(std::fs::read(dir.join(format!("q{n}.tsq"))).unwrap());
    }
    let garbage = b"not a request".to_vec();
    let requests: Vec<&[u8]> = vec![&queries[0], &garbage, &queries[1], &queries[2]];
    let answers = tsa.answer_many(&requests, now_s());
    assert_eq!(answers.len(), 4);
    assert!(matches!(
        answers[1],
        Answer::Rejected {
            failure: Failure::BadDataFormat,
            ..
        }
    ));
    for (n, answer) in [(0, &answers[0]), (1, &answers[2]), (2, &answers[3])] {
        assert!(matches!(answer, Answer::Granted { .. }), "{n}");
        std::fs::write(dir.join(format!("r{n}.tsr")), answer.response()).unwrap();
        for against in [
            vec!["-data".to_owned(), format!("data{n}")],
            vec!["-queryfile".to_owned(), format!("q{n}.tsq")],
        ] {
            let mut args = vec!["ts", "-verify", "-in"];
            let response = format!("r{n}.tsr");
            args.push(&response);
            args.extend(against.iter().map(String::as_str));
            args.extend(["-CAfile", "root.pem", "-untrusted", "tsa.pem"]);
            let (verified, text) = openssl(dir, &args);
            assert!(verified && text.contains("Verification: OK"), "{n}: {text}");
        }
        // Not another request's.
        let other = format!("q{}.tsq", (n + 1) % 3);
        let (verified, _) = openssl(
            dir,
            &[
                "ts",
                "-verify",
                "-in",
                &format!("r{n}.tsr"),
                "-queryfile",
                &other,
                "-CAfile",
                "root.pem",
                "-untrusted",
                "tsa.pem",
            ],
        );
        assert!(!verified, "{n} verified against {other}");
    }
}
