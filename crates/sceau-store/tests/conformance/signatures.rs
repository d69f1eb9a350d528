//! The legacy signature requests, read only: nothing writes them any more (a signature
//! request is a one-file envelope now), so the rows made before are written here with
//! SQL, as they were left, and read back through the store.

use crate::fixtures::*;
use sceau_store::postgres::scratch::ScratchSchema;
use sceau_store::{CertificateKind, NewClient, SignatureRequestView, SignatureState, StoredSeal};

/// A request of `client_id` under the holder certificate `5a01`, in `state`, made at
/// `created_at_s`; signed 20 s later when `state` is signed.
fn legacy(
    id: i64,
    public_id: &str,
    client_id: i64,
    state: SignatureState,
    created_at_s: i64,
) -> SignatureRequestView {
    let signed = state == SignatureState::Signed;
    SignatureRequestView {
        id,
        public_id: public_id.to_owned(),
        client_id,
        document_name: format!("{public_id}.pdf"),
        content_digest: [u8::try_from(id).unwrap(); 32],
        certificate_serial: "5a01".to_owned(),
        state,
        seal: StoredSeal {
            nonce: [7; 16],
            digits: 8,
            issued_at_s: created_at_s,
            expires_at_s: created_at_s + SEAL_S,
        },
        wrong_tries: if state == SignatureState::Failed {
            3
        } else {
            1
        },
        signature: signed.then(|| vec![0x30, 0x03, 0x02, 0x01, u8::try_from(id).unwrap()]),
        signed_at_s: signed.then_some(created_at_s + 20),
        created_at_s,
    }
}

const COLUMNS: &str = "INSERT INTO signature_requests (id, public_id, client_id, document_name, \
    content_digest, certificate_serial, state, seal_nonce, seal_digits, seal_issued_at, \
    seal_expires_at, wrong_tries, signature, signed_at, created_at)";

/// Writes `rows` as the store wrote signature requests, straight into the database that
/// `guard` keeps (SQLite's directory, or PostgreSQL's scratch schema).
async fn insert(guard: &Guard, rows: &[SignatureRequestView]) {
    if let Some(directory) = guard.downcast_ref::<tempfile::TempDir>() {
        let connection = rusqlite::Connection::open(directory.path().join("sceau.db")).unwrap();
        let sql = format!(
            "{COLUMNS} VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
        );
        for row in rows {
            let values = rusqlite::params![
                row.id,
                row.public_id,
                row.client_id,
                row.document_name,
                &row.content_digest[..],
                row.certificate_serial,
                row.state.as_str(),
                &row.seal.nonce[..],
                i16::from(row.seal.digits),
                row.seal.issued_at_s,
                row.seal.expires_at_s,
                i64::from(row.wrong_tries),
                row.signature,
                row.signed_at_s,
                row.created_at_s,
            ];
            connection.execute(&sql, values).unwrap();
        }
    } else if let Some(schema) = guard.downcast_ref::<ScratchSchema>() {
        let (client, connection) = tokio_postgres::connect(&schema.url, tokio_postgres::NoTls)
            .await
            .unwrap();
        let connection = tokio::spawn(connection);
        let sql = format!(
            "{COLUMNS} VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
        );
        for row in rows {
            let values: [&(dyn tokio_postgres::types::ToSql + Sync); 15] = [
                &row.id,
                &row.public_id,
                &row.client_id,
                &row.document_name,
                &&row.content_digest[..],
                &row.certificate_serial,
                &row.state.as_str(),
                &&row.seal.nonce[..],
                &i16::from(row.seal.digits),
                &row.seal.issued_at_s,
                &row.seal.expires_at_s,
                &i64::from(row.wrong_tries),
                &row.signature,
                &row.signed_at_s,
                &row.created_at_s,
            ];
            client.execute(&sql, &values).await.unwrap();
        }
        drop(client);
        connection.await.unwrap().unwrap();
    } else {
        panic!("a backend whose rows this test cannot write");
    }
}

/// Requests made before signature requests became one-file envelopes stay readable on
/// every backend: by public id (a signed one with its signature, to download), and a
/// client's own, newest first (the later row first at the same second), up to the
/// limit; another client's are never listed, and an unknown id is none.
#[tokio::test]
async fn legacy_signature_requests_stay_readable() {
    for backend in backends().await {
        let (name, guard) = (backend.name, &backend.guard);
        let store = std::sync::Arc::clone(&backend.store);
        let f = Fixture::new(Backend {
            name,
            store,
            archive: None,
            guard: Box::new(()),
        });
        let alice = f
            .store
            .enroll_client(NewClient {
                certificates: vec![new_certificate("5a01", CertificateKind::Holder, None)],
                ..new_client(f.next(), "EUR", 0, 0)
            })
            .await
            .unwrap();
        let bob = f.client(0, 0).await;
        let carol = f.client(0, 0).await;
        let rows = [
            legacy(1, "aa01", alice.id, SignatureState::Signed, NOW),
            legacy(2, "bb01", bob.id, SignatureState::Failed, NOW + 5),
            legacy(3, "aa02", alice.id, SignatureState::AwaitingSeal, NOW + 10),
            legacy(4, "aa03", alice.id, SignatureState::Sealed, NOW + 10),
        ];
        insert(guard, &rows).await;

        for row in &rows {
            assert_eq!(
                f.store.signature_request(&row.public_id).await.unwrap(),
                Some(row.clone()),
                "{name}"
            );
        }
        let signed = f.store.signature_request("aa01").await.unwrap().unwrap();
        assert_eq!(
            (signed.signature, signed.signed_at_s),
            (Some(vec![0x30, 0x03, 0x02, 0x01, 1]), Some(NOW + 20)),
            "{name}"
        );
        assert_eq!(f.store.signature_request("ff00").await.unwrap(), None);

        let listed = async |client_id: i64, limit: u32| -> Vec<String> {
            f.store
                .client_signature_requests(client_id, limit)
                .await
                .unwrap()
                .into_iter()
                .map(|request| request.public_id)
                .collect()
        };
        assert_eq!(
            listed(alice.id, 10).await,
            ["aa03", "aa02", "aa01"],
            "{name}"
        );
        assert_eq!(listed(alice.id, 2).await, ["aa03", "aa02"], "{name}");
        assert_eq!(listed(bob.id, 10).await, ["bb01"], "{name}");
        assert!(listed(carol.id, 10).await.is_empty(), "{name}");
        assert_eq!(
            f.store.client_signature_requests(bob.id, 10).await.unwrap(),
            [rows[1].clone()],
            "{name}"
        );
    }
}
