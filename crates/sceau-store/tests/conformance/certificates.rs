//! Certificates: recorded with their client, revoked, listed for the CRL, used once.

use crate::fixtures::*;
use sceau_store::{
    ActedBy, CertificateKind, NewCertificate, NewClient, REVOKED_AFTER_USE, RevokeOutcome,
    StoreError, UseOutcome,
};
use std::sync::Arc;

/// Certificates: recorded with their client at enrolment (or not at all), revoked once,
/// listed for the CRL until they expire; a disposable one is used once, under a race.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_are_recorded_revoked_and_used_once() {
    each_backend(async |f: &Fixture| {
        let n = f.next();
        let enrolled = f
            .store
            .enroll_client(NewClient {
                certificates: vec![
                    new_certificate("0a01", CertificateKind::Holder, None),
                    new_certificate("0a02", CertificateKind::Pseudonym, Some("0a01")),
                ],
                ..new_client(n, "EUR", 0, 0)
            })
            .await
            .unwrap();
        let held = f.store.client_certificates(enrolled.id).await.unwrap();
        assert_eq!(held.len(), 2, "{}", f.name);
        assert!(held.iter().all(|c| c.client_id == Some(enrolled.id)));
        assert_eq!(held[1].names_serial.as_deref(), Some("0a01"));
        assert_eq!(held[0].der, b"0a01");
        // A refused enrolment leaves no certificate behind.
        let refused = f
            .store
            .enroll_client(NewClient {
                certificates: vec![new_certificate("0b01", CertificateKind::Holder, None)],
                ..new_client(n, "EUR", 0, 0)
            })
            .await;
        assert!(
            matches!(refused, Err(StoreError::Conflict(_))),
            "{}: {refused:?}",
            f.name
        );
        assert!(f.store.certificate("0b01").await.unwrap().is_none());
        // A serial or a key seen before is a conflict.
        let same_serial = NewCertificate {
            key_label: Some("another-key".into()),
            ..new_certificate("0a01", CertificateKind::Disposable, None)
        };
        let again = f.store.record_certificate(same_serial).await;
        assert!(
            matches!(again, Err(StoreError::Conflict("certificate_serial_taken"))),
            "{again:?}"
        );
        let same_key = NewCertificate {
            key_label: Some("key-0a01".into()),
            ..new_certificate("0a09", CertificateKind::Disposable, None)
        };
        let again = f.store.record_certificate(same_key).await;
        assert!(
            matches!(again, Err(StoreError::Conflict("certificate_key_taken"))),
            "{again:?}"
        );

        // Revocation: the first stands.
        match f
            .store
            .revoke_certificate("0a01", 1, ActedBy::Admin, NOW + 5)
            .await
            .unwrap()
        {
            RevokeOutcome::Revoked(record) => {
                assert_eq!(
                    (record.revoked_at_s, record.revocation_reason),
                    (Some(NOW + 5), Some(1))
                );
            }
            _ => panic!("{}: not revoked", f.name),
        }
        match f
            .store
            .revoke_certificate("0a01", 4, ActedBy::Admin, NOW + 9)
            .await
            .unwrap()
        {
            RevokeOutcome::AlreadyRevoked(record) => assert_eq!(record.revocation_reason, Some(1)),
            _ => panic!("{}: revoked twice", f.name),
        }
        assert!(matches!(
            f.store
                .revoke_certificate("ffff", 1, ActedBy::Admin, NOW)
                .await
                .unwrap(),
            RevokeOutcome::Unknown
        ));

        // Disposable certificates: used once, then revoked.
        let disposable = new_certificate("0c01", CertificateKind::Disposable, None);
        f.store.record_certificate(disposable).await.unwrap();
        let short = NewCertificate {
            not_after_s: NOW + 10,
            ..new_certificate("0c02", CertificateKind::Disposable, None)
        };
        f.store.record_certificate(short).await.unwrap();
        assert!(matches!(
            f.store.use_certificate("0c01", NOW - 1).await.unwrap(),
            UseOutcome::NotYetValid
        ));
        assert!(matches!(
            f.store.use_certificate("0c02", NOW + 11).await.unwrap(),
            UseOutcome::Expired
        ));
        assert!(matches!(
            f.store.use_certificate("0a02", NOW).await.unwrap(),
            UseOutcome::NotDisposable
        ));
        assert!(matches!(
            f.store.use_certificate("0000", NOW).await.unwrap(),
            UseOutcome::Unknown
        ));
        let racers: Vec<_> = (0..8)
            .map(|_| {
                let store = Arc::clone(&f.store);
                tokio::spawn(async move { store.use_certificate("0c01", NOW + 20).await })
            })
            .collect();
        let mut granted = Vec::new();
        for racer in racers {
            match racer.await.unwrap().unwrap() {
                UseOutcome::Granted(record) => granted.push(record),
                UseOutcome::AlreadyUsed => {}
                _ => panic!(
                    "{}: a second use neither granted nor refused as used",
                    f.name
                ),
            }
        }
        assert_eq!(granted.len(), 1, "{}: used {} times", f.name, granted.len());
        assert_eq!(granted[0].used_at_s, Some(NOW + 20));
        assert_eq!(granted[0].revoked_at_s, Some(NOW + 21));
        assert_eq!(granted[0].revocation_reason, Some(REVOKED_AFTER_USE));
        assert!(matches!(
            f.store.use_certificate("0c01", NOW + 30).await.unwrap(),
            UseOutcome::AlreadyUsed
        ));

        // The CRL lists revoked certificates until they expire.
        let listed: Vec<String> = f
            .store
            .revocations(NOW + 30)
            .await
            .unwrap()
            .into_iter()
            .map(|record| record.serial)
            .collect();
        assert_eq!(listed, ["0a01", "0c01"], "{}", f.name);
        assert!(f.store.revocations(NOW + 601).await.unwrap().is_empty());

        // The first PKI pinned to the database stays pinned.
        assert_eq!(f.store.pin_pki_root([1; 32], NOW).await.unwrap(), [1; 32]);
        assert_eq!(
            f.store.pin_pki_root([2; 32], NOW + 1).await.unwrap(),
            [1; 32]
        );
    })
    .await;
}
