//! Signature requests: created with their seal's message, sealed, signed once.

use crate::fixtures::*;
use sceau_domain::reach::TooMany;
use sceau_store::{
    CertificateKind, NewClient, NewSession, SignatureRequestOutcome, SignatureSealOutcome,
    SignatureState, TypedSignatureSeal,
};
use std::sync::Arc;

fn typed_signature(
    public_id: &str,
    token: [u8; 32],
    right: bool,
    now_s: i64,
) -> TypedSignatureSeal {
    TypedSignatureSeal {
        public_id: public_id.to_owned(),
        session_token_hash: token,
        check: Box::new(move |_| right),
        now_s,
    }
}

/// Signature requests: created with their seal's message (a few an hour), sealed only by
/// the right seal typed in the client's own session, failed by the third wrong one,
/// signed once.
#[tokio::test]
async fn signature_requests_are_sealed_then_signed_once() {
    each_backend(async |f: &Fixture| {
        let alice = f
            .store
            .enroll_client(NewClient {
                certificates: vec![new_certificate("5a01", CertificateKind::Holder, None)],
                ..new_client(f.next(), "EUR", 0, 0)
            })
            .await
            .unwrap();
        let bob = f.client(0, 0).await;
        let (alice_token, bob_token) = (bytes32(TOKEN_TAG, f.next()), bytes32(TOKEN_TAG, f.next()));
        for (token, client) in [(alice_token, &alice), (bob_token, &bob)] {
            f.store
                .create_session(NewSession {
                    token_hash: token,
                    client_id: client.id,
                    now_s: NOW,
                    expires_at_s: NOW + 3_600,
                })
                .await
                .unwrap();
        }
        let created = |public_id: &str, now_s: i64| {
            let store = Arc::clone(&f.store);
            let request = signature_request(alice.id, public_id, now_s);
            async move { store.create_signature_request(request).await.unwrap() }
        };
        let SignatureRequestOutcome::Created(first) = created("aa01", NOW).await else {
            panic!("{}: not created", f.name);
        };
        assert_eq!(first.state, SignatureState::AwaitingSeal);
        assert_eq!(first.content_digest, [9; 32]);
        assert_eq!(first.certificate_serial, "5a01");
        assert!(
            f.store
                .pending_messages(100)
                .await
                .unwrap()
                .iter()
                .any(|message| message.address == "+33600000001"),
            "{}: the seal's message was not queued",
            f.name
        );
        assert!(matches!(
            created("aa02", NOW + 1).await,
            SignatureRequestOutcome::Created(_)
        ));
        assert!(matches!(
            created("aa03", NOW + 2).await,
            SignatureRequestOutcome::Created(_)
        ));
        assert!(matches!(
            created("aa04", NOW + 3).await,
            SignatureRequestOutcome::Throttled(TooMany::Seals)
        ));
        assert!(f.store.signature_request("aa04").await.unwrap().is_none());

        // Another client's session learns nothing of the request.
        assert!(matches!(
            f.store
                .type_signature_seal(typed_signature("aa01", bob_token, true, NOW + 5))
                .await
                .unwrap(),
            SignatureSealOutcome::NotFound
        ));
        // Three wrong seals fail the request.
        for tries_left in [2, 1] {
            match f
                .store
                .type_signature_seal(typed_signature("aa01", alice_token, false, NOW + 5))
                .await
                .unwrap()
            {
                SignatureSealOutcome::Wrong {
                    tries_left: left, ..
                } => assert_eq!(left, tries_left),
                _ => panic!("{}: not counted as wrong", f.name),
            }
        }
        assert!(matches!(
            f.store
                .type_signature_seal(typed_signature("aa01", alice_token, false, NOW + 5))
                .await
                .unwrap(),
            SignatureSealOutcome::Failed { .. }
        ));
        assert!(matches!(
            f.store
                .type_signature_seal(typed_signature("aa01", alice_token, true, NOW + 5))
                .await
                .unwrap(),
            SignatureSealOutcome::NotAwaiting(_)
        ));
        assert!(
            !f.store
                .record_signature("aa01", vec![1], NOW + 6)
                .await
                .unwrap()
        );

        // A seal typed after its time counts for nothing.
        assert!(matches!(
            f.store
                .type_signature_seal(typed_signature("aa02", alice_token, true, NOW + 301))
                .await
                .unwrap(),
            SignatureSealOutcome::Expired
        ));
        // The right seal seals it, once; it is signed once.
        let SignatureSealOutcome::Sealed(sealed) = f
            .store
            .type_signature_seal(typed_signature("aa03", alice_token, true, NOW + 10))
            .await
            .unwrap()
        else {
            panic!("{}: not sealed", f.name);
        };
        assert_eq!(sealed.state, SignatureState::Sealed);
        assert!(matches!(
            f.store
                .type_signature_seal(typed_signature("aa03", alice_token, true, NOW + 11))
                .await
                .unwrap(),
            SignatureSealOutcome::NotAwaiting(_)
        ));
        assert!(
            f.store
                .record_signature("aa03", vec![0x30, 0x00], NOW + 12)
                .await
                .unwrap()
        );
        assert!(
            !f.store
                .record_signature("aa03", vec![0x30, 0x01], NOW + 13)
                .await
                .unwrap()
        );
        let signed = f.store.signature_request("aa03").await.unwrap().unwrap();
        assert_eq!(
            (signed.state, signed.signature, signed.signed_at_s),
            (
                SignatureState::Signed,
                Some(vec![0x30, 0x00]),
                Some(NOW + 12)
            )
        );
        let listed = f
            .store
            .client_signature_requests(alice.id, 10)
            .await
            .unwrap();
        assert_eq!(
            listed
                .iter()
                .map(|r| r.public_id.as_str())
                .collect::<Vec<_>>(),
            ["aa03", "aa02", "aa01"]
        );
        assert!(
            f.store
                .client_signature_requests(bob.id, 10)
                .await
                .unwrap()
                .is_empty()
        );
        // A sealed request that can no longer be signed fails; only a sealed one.
        assert!(!f.store.fail_sealed_signature("aa03").await.unwrap());
        assert!(!f.store.fail_sealed_signature("aa02").await.unwrap());
        let later = NOW + 3_700;
        let later_token = bytes32(TOKEN_TAG, f.next());
        f.store
            .create_session(NewSession {
                token_hash: later_token,
                client_id: alice.id,
                now_s: later,
                expires_at_s: later + 600,
            })
            .await
            .unwrap();
        assert!(matches!(
            created("aa05", later).await,
            SignatureRequestOutcome::Created(_)
        ));
        assert!(matches!(
            f.store
                .type_signature_seal(typed_signature("aa05", later_token, true, later + 1))
                .await
                .unwrap(),
            SignatureSealOutcome::Sealed(_)
        ));
        assert!(f.store.fail_sealed_signature("aa05").await.unwrap());
        let failed = f.store.signature_request("aa05").await.unwrap().unwrap();
        assert_eq!(failed.state, SignatureState::Failed);
        assert!(
            !f.store
                .record_signature("aa05", vec![1], later + 2)
                .await
                .unwrap()
        );
    })
    .await;
}
