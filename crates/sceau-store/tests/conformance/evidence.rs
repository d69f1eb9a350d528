//! Evidence records: one per event, chained per subject, their hashes appended to the log
//! (the clearing batch's record is here too: the rule it checks is the record's).

use crate::fixtures::*;
use sceau_domain::policy::{AmountRule, MerchantLock};
use sceau_store::{
    ActedBy, CertificateKind, CheckoutRefusal, EvidenceRecord, IntegrateLog, MerchantCommand,
    SealOutcome, SendOutcome,
};
use sha2::{Digest, Sha256};

impl Fixture {
    pub(crate) async fn evidence(&self, subject: &str) -> Vec<EvidenceRecord> {
        self.store.evidence(subject).await.expect("read evidence")
    }
}

/// The types of a subject's records, after checking the chain: `seq` from 1, each
/// record canonical JSON whose hash is stored, naming its subject and the hash of the
/// one before; and no record holds the phone number or a seal's nonce.
pub(crate) fn checked_chain(name: &str, records: &[EvidenceRecord], phone: &str) -> Vec<String> {
    let mut previous: Option<[u8; 32]> = None;
    for (index, record) in records.iter().enumerate() {
        let value: serde_json::Value = serde_json::from_slice(&record.record).unwrap();
        assert_eq!(
            sceau_log::canonical(&value).unwrap(),
            record.record,
            "{name}: a record is not in canonical form"
        );
        let hash: [u8; 32] = Sha256::digest(&record.record).into();
        assert_eq!(hash, record.hash, "{name}: stored hash");
        assert_eq!(record.seq, index as i64 + 1, "{name}: seq");
        assert_eq!(value["seq"], serde_json::json!(record.seq));
        assert_eq!(value["v"], serde_json::json!(1));
        assert_eq!(value["type"], serde_json::json!(record.kind));
        assert_eq!(value["subject"], serde_json::json!(record.subject));
        let prev = previous.map(|hash| serde_json::json!(hex_of(&hash)));
        assert_eq!(value["prev"], prev.unwrap_or(serde_json::Value::Null));
        let text = String::from_utf8(record.record.clone()).unwrap();
        assert!(!text.contains(phone), "{name}: a record holds the phone");
        assert!(!text.contains("nonce"), "{name}: a record holds a nonce");
        previous = Some(hash);
    }
    records.iter().map(|record| record.kind.clone()).collect()
}

/// Every event of the evidence list leaves one record, in the event's transaction,
/// chained to its subject's previous record, and its hash reaches the log.
#[tokio::test]
async fn every_event_leaves_one_chained_record_whose_hash_the_log_appends() {
    each_backend(async |f: &Fixture| {
        let shop = f.merchant().await;
        let alice = f.client(10_000, 0).await;
        let phone = alice.phone.as_str().to_owned();
        // A checkout paid with its second seal, after a wrong one.
        let held = f.held(&shop, &alice, 4_990).await;
        f.sent(&held, &alice, 1, NOW + 10).await;
        assert!(matches!(
            f.type_seal(&held, &alice, 1, false, NOW + 11).await,
            SealOutcome::Wrong { .. }
        ));
        let SealOutcome::Paid(paid, paid_record) =
            f.type_seal(&held, &alice, 1, true, NOW + 12).await
        else {
            panic!("{}: the right seal did not pay", f.name);
        };
        let checkout = f.evidence(&format!("checkout:{}", held.id)).await;
        // The outcome carries the record it wrote (what the receipt signs).
        assert_eq!(*paid_record, checkout[3], "{}", f.name);
        // A receipt per record: the first stands.
        let (_, newest_before) = f.store.receipts_after(0).await.unwrap();
        assert!(
            f.store
                .record_receipt(paid_record.id, b"first".to_vec(), NOW + 13)
                .await
                .unwrap()
        );
        assert!(
            !f.store
                .record_receipt(paid_record.id, b"second".to_vec(), NOW + 14)
                .await
                .unwrap()
        );
        assert_eq!(
            f.store.receipt(paid_record.id).await.unwrap(),
            Some(b"first".to_vec())
        );
        assert_eq!(f.store.receipt(checkout[0].id).await.unwrap(), None);
        assert_eq!(
            f.store.receipts_after(newest_before).await.unwrap(),
            (1, paid_record.id),
            "{}: one receipt more, the second refused",
            f.name
        );
        assert_eq!(
            f.store.receipts_after(paid_record.id).await.unwrap(),
            (0, paid_record.id),
            "{}: none after the newest",
            f.name
        );
        assert_eq!(
            checked_chain(f.name, &checkout, &phone),
            ["seal.sent", "seal.failed", "seal.verified", "checkout.paid"],
            "{}",
            f.name
        );
        let receipt: serde_json::Value = serde_json::from_slice(&checkout[3].record).unwrap();
        assert_eq!(receipt["checkout"]["amount"], "49.90");
        assert_eq!(receipt["checkout"]["currency"], "EUR");
        assert_eq!(receipt["checkout"]["merchant"], shop.id.to_string());
        assert_eq!(receipt["client"], alice.id.to_string());
        assert_eq!(receipt["at"], "2023-11-14T22:13:32Z");
        let authorization = f
            .store
            .authorization(shop.id, paid.authorization_id.unwrap())
            .await
            .unwrap()
            .unwrap();
        let drawn = f
            .evidence(&format!("number:{}", authorization.number_id))
            .await;
        assert_eq!(
            checked_chain(f.name, &drawn, &phone),
            ["number.issued", "number.authorized", "number.captured"]
        );
        // A checkout failed by three wrong seals.
        let failing = f.held(&shop, &alice, 100).await;
        f.sent(&failing, &alice, 2, NOW).await;
        for tries in 0..3 {
            f.type_seal(&failing, &alice, 2, false, NOW + 1 + tries)
                .await;
        }
        assert_eq!(
            checked_chain(
                f.name,
                &f.evidence(&format!("checkout:{}", failing.id)).await,
                &phone
            ),
            [
                "seal.sent",
                "seal.failed",
                "seal.failed",
                "seal.failed",
                "checkout.failed"
            ]
        );
        // A number of the merchant API: authorized, captured, refunded twice; another
        // voided; a third left to expire.
        let card = f
            .issue(&alice, policy(1, AmountRule::Any, MerchantLock::Any))
            .await;
        let first = authorized(f.authorize(shop.id, &card, 1_000, NOW).await);
        let capture = MerchantCommand::Capture {
            authorization_id: first.id,
            amount: Some(eur(800)),
        };
        f.run(shop.id, capture, NOW + 1).await;
        for amount in [300, 200] {
            let refund = MerchantCommand::Refund {
                authorization_id: first.id,
                amount: Some(eur(amount)),
            };
            f.run(shop.id, refund, NOW + 2).await;
        }
        let number = f.evidence(&format!("number:{}", card.view.id)).await;
        assert_eq!(
            checked_chain(f.name, &number, &phone),
            [
                "number.issued",
                "number.authorized",
                "number.captured",
                "number.refunded",
                "number.refunded"
            ]
        );
        let last: serde_json::Value = serde_json::from_slice(&number[4].record).unwrap();
        assert_eq!(
            (
                &last["authorization"]["captured"],
                &last["authorization"]["refunded"],
                &last["refund"]["amount"]
            ),
            (
                &serde_json::json!("8.00"),
                &serde_json::json!("5.00"),
                &serde_json::json!("2.00")
            )
        );
        assert_eq!(last["number"]["last_four"], card.view.last_four);
        let voided = f.issue(&alice, one_use()).await;
        let hold = authorized(f.authorize(shop.id, &voided, 50, NOW).await);
        f.run(
            shop.id,
            MerchantCommand::Void {
                authorization_id: hold.id,
            },
            NOW + 1,
        )
        .await;
        let expiring = f.issue(&alice, one_use()).await;
        authorized(f.authorize(shop.id, &expiring, 60, NOW).await);
        f.store.expire(NOW + HOLD_TTL_S + 1).await.unwrap();
        for (card, last) in [(&voided, "number.voided"), (&expiring, "number.expired")] {
            let chain = f.evidence(&format!("number:{}", card.view.id)).await;
            assert_eq!(
                checked_chain(f.name, &chain, &phone),
                ["number.issued", "number.authorized", last]
            );
        }
        // A certificate issued, then revoked once (the second revocation changes nothing).
        f.store
            .record_certificate(new_certificate("e1", CertificateKind::Disposable, None))
            .await
            .unwrap();
        // By an operator: the record names them.
        let jane = ActedBy::Operator {
            id: 3,
            login: "jane".into(),
        };
        for _ in 0..2 {
            let by = jane.clone();
            f.store
                .revoke_certificate("e1", 4, by, NOW + 5)
                .await
                .unwrap();
        }
        let certificate = f.evidence("certificate:e1").await;
        assert_eq!(
            checked_chain(f.name, &certificate, &phone),
            ["certificate.issued", "certificate.revoked"]
        );
        let revoked: serde_json::Value = serde_json::from_slice(&certificate[1].record).unwrap();
        assert_eq!(revoked["reason"], 4);
        assert_eq!(revoked["used"], false);
        assert_eq!(
            revoked["by"],
            serde_json::json!({"operator": {"id": "3"}}),
            "by number only: the chain goes into evidence given to others"
        );
        // A refused step writes nothing.
        assert!(matches!(
            f.send_seal(&held, &alice, 3, NOW + 100).await,
            SendOutcome::Refused(CheckoutRefusal::WrongState)
        ));
        assert_eq!(f.evidence(&format!("checkout:{}", held.id)).await.len(), 4);
        // Every record's hash is a log entry once integrated, in the records' order.
        let checkpoint = f
            .store
            .integrate_log(IntegrateLog {
                batch_max: 4_096,
                sign: test_signer(),
                now_s: NOW,
            })
            .await
            .unwrap()
            .unwrap();
        let checkout = f.evidence(&format!("checkout:{}", held.id)).await;
        let mut indices = Vec::new();
        for record in &checkout {
            let index = record.log_index.expect("integrated");
            assert!(index < checkpoint.size);
            assert_eq!(
                f.store.log_entry(index).await.unwrap().unwrap(),
                record.hash.to_vec()
            );
            indices.push(index);
        }
        assert!(indices.windows(2).all(|pair| pair[0] < pair[1]));
        f.assert_sound().await;
    })
    .await;
}

/// A clearing batch's record lists what it paid and the hash of its settlement file.
#[tokio::test]
async fn a_closed_clearing_batch_leaves_its_record() {
    each_backend(async |f: &Fixture| {
        let shop = f.merchant_paid_to(Some(bank(7))).await;
        let alice = f.client(10_000, 0).await;
        f.pay(&alice, &shop, 1_234).await;
        let (writer, _) = listing_writer();
        let (batch, payouts, _) =
            closed(f.close_batch(close("EUR", "EV-1", &writer, NOW + 5)).await);
        let file = f.store.settlement_file(batch.id).await.unwrap().unwrap();
        let records = f.evidence(&format!("clearing:{}", batch.id)).await;
        assert_eq!(
            checked_chain(f.name, &records, alice.phone.as_str()),
            ["clearing.closed"]
        );
        let record: serde_json::Value = serde_json::from_slice(&records[0].record).unwrap();
        assert_eq!(record["batch"]["total"], "12.34");
        assert_eq!(record["batch"]["message_id"], "EV-1");
        assert_eq!(
            record["payouts"],
            serde_json::json!([{
                "merchant": shop.id.to_string(),
                "amount": "12.34",
                "transfer": payouts[0].transfer_id.to_string(),
            }])
        );
        assert_eq!(
            record["settlement_file_sha256"],
            hex_of(&Sha256::digest(file.as_bytes()))
        );
        assert_eq!(record["by"], serde_json::json!({"admin": true}));
    })
    .await;
}
