//! Certified delivery: a notarized envelope of the sender's sent to recipients, each
//! notice queued; a recipient's code sent within their phone's budget, typed (the right
//! one opens their session, wrong ones count and pause), the files handed over under a
//! withdrawal certificate (each later one supersedes the earlier), an answer kept only
//! with the latest certificate and, for an acceptance, the envelope's digests; the
//! deadline expires who did not answer; the notice's fate reaches the recipient; the
//! sender is told once of each state worth telling. Every step is evidence in the
//! delivery's chain, under EN 319 522's names.

use crate::envelopes::{notarized_envelope, sealed_envelope};
use crate::fixtures::*;
use sceau_domain::reach::{MessageBudget, TooMany};
use sceau_store::evidence::{contact_digest, delivery_recipient_subject, delivery_subject};
use sceau_store::{
    AnswerOutcome, CertificateKind, ClientRecord, DeliverySendOutcome, DeliveryView, EnvelopeState,
    EnvelopeView, Medium, MessageDelivery, NewCertificate, NewDelivery, NewDeliveryRecipient,
    NewMessage, RecipientAnswer, RecipientAnswerSent, RecipientCodeOutcome, RecipientCodeSend,
    RecipientRefusal, RecipientState, RecipientWithdrawal, StoredSeal, TypedCodeOutcome,
    TypedRecipientCode, WithdrawalOutcome,
};
use std::sync::Arc;

const DAY: i64 = 86_400;
const TRIES: u32 = 3;
const PAUSE_S: i64 = 900;

fn link(n: u8) -> [u8; 32] {
    [n; 32]
}

fn session(n: u8) -> [u8; 32] {
    [0x80 | n; 32]
}

fn recipient(n: u8, email: &str, phone: &str) -> NewDeliveryRecipient {
    NewDeliveryRecipient {
        email: email.to_owned(),
        phone: phone.to_owned(),
        phone_given: true,
        client_id: None,
        contact_salt: [n; 16],
        link_sha256: link(n),
        notice: NewMessage {
            address: email.to_owned(),
            sealed_body: format!("notice-{n}").into_bytes(),
            medium: Medium::Email,
            expires_at_s: NOW + 30 * DAY,
        },
    }
}

fn new_delivery(
    sender: &ClientRecord,
    envelope: &str,
    public_id: &str,
    recipients: Vec<NewDeliveryRecipient>,
    now_s: i64,
) -> NewDelivery {
    NewDelivery {
        public_id: public_id.to_owned(),
        envelope_public_id: envelope.to_owned(),
        client_id: sender.id,
        deadline_s: now_s + 15 * DAY,
        hide_sender: false,
        link_base: "https://sceau.example".into(),
        recipients,
        now_s,
    }
}

/// A delivery of a notarized envelope of a new client's to the recipients `links` names
/// (`dlv-<n>@example.org`, `+3361000000<n>`), sent at `NOW + 10`.
async fn sent(f: &Fixture, name: &str, links: &[u8]) -> (ClientRecord, DeliveryView) {
    let sender = f.client(0, 0).await;
    let serial = format!("dd{:04x}", f.next());
    let envelope = notarized_envelope(f, &sender, &format!("env-{name}"), &serial, NOW).await;
    let recipients = links
        .iter()
        .map(|n| {
            recipient(
                *n,
                &format!("dlv-{n}@example.org"),
                &format!("+3361000000{n}"),
            )
        })
        .collect();
    let delivery = new_delivery(&sender, &envelope.public_id, name, recipients, NOW + 10);
    match f.store.send_delivery(delivery).await.unwrap() {
        DeliverySendOutcome::Sent(view) => (sender, *view),
        _ => panic!("{}: delivery {name} not sent", f.name),
    }
}

fn code_send(n: u8, phone: &str, nonce: u8, now_s: i64) -> RecipientCodeSend {
    RecipientCodeSend {
        link_sha256: link(n),
        client_id: None,
        code: StoredSeal {
            nonce: [nonce; 16],
            digits: 6,
            issued_at_s: now_s,
            expires_at_s: now_s + 300,
        },
        message: NewMessage {
            address: phone.to_owned(),
            sealed_body: format!("code-{nonce}").into_bytes(),
            medium: Medium::Sms,
            expires_at_s: now_s + 300,
        },
        budget: MessageBudget::UNLIMITED,
        now_s,
    }
}

/// A code typed on the page of link `n`: right when `right` and the live code is the one
/// sent with `nonce`.
fn typed(n: u8, nonce: u8, right: bool, now_s: i64) -> TypedRecipientCode {
    TypedRecipientCode {
        link_sha256: link(n),
        check: Box::new(move |_, recipient| {
            right
                && recipient
                    .code
                    .as_ref()
                    .is_some_and(|code| code.nonce == [nonce; 16])
        }),
        session_sha256: session(n),
        session_expires_at_s: now_s + 3_600,
        tries_max: TRIES,
        pause_s: PAUSE_S,
        now_s,
    }
}

fn withdrawal_certificate(serial: &str, now_s: i64) -> NewCertificate {
    NewCertificate {
        serial: serial.to_owned(),
        kind: CertificateKind::Station,
        client_id: None,
        key_label: None,
        der: format!("withdrawal-{serial}").into_bytes(),
        not_before_s: now_s,
        not_after_s: now_s + 3_600,
        names_serial: None,
        now_s,
    }
}

fn withdrawal(n: u8, serial: &str, now_s: i64) -> RecipientWithdrawal {
    RecipientWithdrawal {
        link_sha256: link(n),
        session_sha256: session(n),
        certificate: withdrawal_certificate(serial, now_s),
        now_s,
    }
}

fn answer(
    n: u8,
    accept: bool,
    serial: &str,
    digests: Vec<[u8; 32]>,
    now_s: i64,
) -> RecipientAnswerSent {
    RecipientAnswerSent {
        link_sha256: link(n),
        session_sha256: session(n),
        accept,
        serial: serial.to_owned(),
        digests: digests.into_iter().map(Some).collect(),
        answer: RecipientAnswer {
            statement: format!("{{\"answer\":{accept}}}"),
            signature: vec![7; 64],
            time_stamp: vec![0x30, 0x03],
            answered_at_s: now_s,
        },
        now_s,
    }
}

/// The envelope's digests as `notarized_envelope` makes them.
fn right_digests() -> Vec<[u8; 32]> {
    vec![[1; 32], [2; 32]]
}

async fn state(f: &Fixture, n: u8) -> RecipientState {
    let view = f.store.delivery_by_link(link(n)).await.unwrap().unwrap();
    view.recipients[0].state
}

/// The delivery's records, then its first recipient's: (type, EN 319 522 event or "").
async fn records(f: &Fixture, view: &DeliveryView) -> Vec<(String, String)> {
    records_of(f, view, view.recipients[0].position).await
}

/// The delivery's records, then those of its recipient `position`.
async fn records_of(f: &Fixture, view: &DeliveryView, position: u32) -> Vec<(String, String)> {
    let mut all = f.store.evidence(&delivery_subject(view.id)).await.unwrap();
    all.extend(
        f.store
            .evidence(&delivery_recipient_subject(view.id, position))
            .await
            .unwrap(),
    );
    all.into_iter()
        .map(|record| {
            let body: serde_json::Value = serde_json::from_slice(&record.record).unwrap();
            let event = body["event"].as_str().unwrap_or("").to_owned();
            (record.kind, event)
        })
        .collect()
}

async fn authenticated(f: &Fixture, n: u8, phone: &str, now_s: i64) {
    let sent = f
        .store
        .send_recipient_code(code_send(n, phone, n, now_s))
        .await
        .unwrap();
    assert!(matches!(sent, RecipientCodeOutcome::Sent(_)), "{}", f.name);
    let typed = f
        .store
        .type_recipient_code(typed(n, n, true, now_s + 1))
        .await
        .unwrap();
    assert!(matches!(typed, TypedCodeOutcome::Right(_)), "{}", f.name);
}

#[tokio::test]
async fn a_delivery_is_sent_only_of_a_notarized_envelope_of_the_senders() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(0, 0).await;
        let mallory = f.client(0, 0).await;
        let sealed: EnvelopeView = sealed_envelope(f, &alice, "env-sealed", "dd9001", NOW).await;
        let done = notarized_envelope(f, &alice, "env-done", "dd9002", NOW).await;
        let one = || vec![recipient(1, "bob@example.org", "+33687654321")];

        let outcome = f
            .store
            .send_delivery(new_delivery(
                &alice,
                &sealed.public_id,
                "d-sealed",
                one(),
                NOW + 10,
            ))
            .await
            .unwrap();
        assert!(
            matches!(
                outcome,
                DeliverySendOutcome::NotNotarized(EnvelopeState::Sealed)
            ),
            "{}",
            f.name
        );
        let outcome = f
            .store
            .send_delivery(new_delivery(
                &mallory,
                &done.public_id,
                "d-theft",
                one(),
                NOW + 10,
            ))
            .await
            .unwrap();
        assert!(
            matches!(outcome, DeliverySendOutcome::NotFound),
            "{}",
            f.name
        );
        // Nothing of a refused delivery is kept: no row, no notice.
        assert!(f.store.delivery("d-sealed").await.unwrap().is_none());
        assert!(f.store.delivery("d-theft").await.unwrap().is_none());
        assert!(
            f.store
                .messages_to("bob@example.org", 10)
                .await
                .unwrap()
                .is_empty()
        );

        let recipients = vec![
            recipient(1, "bob@example.org", "+33687654321"),
            recipient(2, "carol@example.org", "+33611111111"),
        ];
        let DeliverySendOutcome::Sent(view) = f
            .store
            .send_delivery(new_delivery(
                &alice,
                &done.public_id,
                "d-ok",
                recipients,
                NOW + 10,
            ))
            .await
            .unwrap()
        else {
            panic!("{}: not sent", f.name);
        };
        assert_eq!(view.envelope_public_id, done.public_id);
        assert_eq!(Some(view.manifest_sha256), done.manifest_sha256);
        assert_eq!(view.file_digests, right_digests(), "{}", f.name);
        assert_eq!(view.deadline_s, NOW + 10 + 15 * DAY);
        assert_eq!(view.settled_at_s, None);
        assert_eq!(
            view.recipients
                .iter()
                .map(|r| (r.position, r.email.as_str(), r.state))
                .collect::<Vec<_>>(),
            vec![
                (0, "bob@example.org", RecipientState::Notified),
                (1, "carol@example.org", RecipientState::Notified)
            ]
        );
        assert_eq!(
            f.store.delivery("d-ok").await.unwrap().as_ref(),
            Some(&*view)
        );
        assert_eq!(
            f.store.envelope_deliveries(done.id, 10).await.unwrap(),
            vec![(*view).clone()]
        );
        // Each recipient's notice is queued to their address, by e-mail.
        for (n, address) in [(1_u8, "bob@example.org"), (2, "carol@example.org")] {
            let notices = f.store.messages_to(address, 10).await.unwrap();
            assert_eq!(notices.len(), 1, "{}", f.name);
            assert_eq!(notices[0].medium, Medium::Email);
            assert_eq!(notices[0].sealed_body, format!("notice-{n}").into_bytes());
            let position = u32::from(n - 1);
            assert_eq!(
                view.recipient(position).unwrap().notice_message_id,
                Some(notices[0].id)
            );
        }
        // The submission's record names each recipient by salted digests alone.
        let chain = f.store.evidence(&delivery_subject(view.id)).await.unwrap();
        assert_eq!(chain.len(), 1);
        assert_eq!(chain[0].kind, "delivery.sent");
        let body: serde_json::Value = serde_json::from_slice(&chain[0].record).unwrap();
        let text = String::from_utf8(chain[0].record.clone()).unwrap();
        assert!(!text.contains("bob@example.org") && !text.contains("+33687654321"));
        assert_eq!(body["event"], "SubmissionAcceptance");
        assert_eq!(
            body["recipients"][0]["phone_sha256"],
            hex_of(&contact_digest(&[1; 16], "+33687654321"))
        );
        assert_eq!(body["files"][1]["sha256"], hex_of(&[2; 32]));
        assert!(body["recipients"][0]["phone_of_client"].is_null());

        // A client's own phone, which the sender did not give: no digest of it.
        let mut own = recipient(3, "dave@example.org", "+33622223333");
        own.phone_given = false;
        let DeliverySendOutcome::Sent(view) = f
            .store
            .send_delivery(new_delivery(
                &alice,
                &done.public_id,
                "d-own",
                vec![own],
                NOW + 11,
            ))
            .await
            .unwrap()
        else {
            panic!("{}: not sent", f.name);
        };
        assert!(!view.recipients[0].phone_given);
        let chain = f.store.evidence(&delivery_subject(view.id)).await.unwrap();
        let text = String::from_utf8(chain[0].record.clone()).unwrap();
        let body: serde_json::Value = serde_json::from_slice(&chain[0].record).unwrap();
        assert_eq!(body["recipients"][0]["phone_of_client"], true, "{}", f.name);
        assert!(body["recipients"][0]["phone_sha256"].is_null());
        assert!(!text.contains(&hex_of(&contact_digest(&[3; 16], "+33622223333"))));
    })
    .await;
}

#[tokio::test]
async fn a_recipient_authenticates_withdraws_and_accepts_once() {
    each_backend(async |f: &Fixture| {
        let (_, view) = sent(f, "d-accept", &[3]).await;
        let phone = view.recipients[0].phone.clone();
        // Before any code: nothing to type, nothing to withdraw.
        let outcome = f
            .store
            .type_recipient_code(typed(3, 1, true, NOW + 20))
            .await
            .unwrap();
        assert!(matches!(outcome, TypedCodeOutcome::NoCode), "{}", f.name);
        let outcome = f
            .store
            .withdraw_delivery(withdrawal(3, "aa01", NOW + 20))
            .await
            .unwrap();
        assert!(matches!(outcome, WithdrawalOutcome::NotFound), "{}", f.name);
        assert!(f.store.certificate("aa01").await.unwrap().is_none());
        // An unknown link is no one.
        let outcome = f
            .store
            .send_recipient_code(code_send(99, &phone, 1, NOW + 20))
            .await
            .unwrap();
        assert!(matches!(outcome, RecipientCodeOutcome::NotFound));

        let RecipientCodeOutcome::Sent(after) = f
            .store
            .send_recipient_code(code_send(3, &phone, 1, NOW + 20))
            .await
            .unwrap()
        else {
            panic!("{}: code not sent", f.name);
        };
        assert_eq!(after.recipients[0].codes_sent, 1);
        assert_eq!(
            f.store.messages_to(&phone, 10).await.unwrap().len(),
            1,
            "{}: the code is queued to the recipient's phone",
            f.name
        );
        let outcome = f
            .store
            .type_recipient_code(typed(3, 1, false, NOW + 21))
            .await
            .unwrap();
        assert!(
            matches!(outcome, TypedCodeOutcome::Wrong { tries_left: 2 }),
            "{}",
            f.name
        );
        // A code resent voids the first: the first's right digits no longer open.
        f.store
            .send_recipient_code(code_send(3, &phone, 2, NOW + 22))
            .await
            .unwrap();
        let outcome = f
            .store
            .type_recipient_code(typed(3, 1, true, NOW + 23))
            .await
            .unwrap();
        assert!(
            matches!(outcome, TypedCodeOutcome::Wrong { tries_left: 1 }),
            "{}",
            f.name
        );
        let outcome = f
            .store
            .type_recipient_code(typed(3, 2, true, NOW + 24))
            .await
            .unwrap();
        let TypedCodeOutcome::Right(right) = outcome else {
            panic!("{}: the right code refused", f.name);
        };
        let recipient = &right.recipients[0];
        assert_eq!(recipient.state, RecipientState::Authenticated);
        assert_eq!((recipient.wrong_tries, recipient.code.is_none()), (0, true));
        assert_eq!(recipient.session_expires_at_s, Some(NOW + 24 + 3_600));
        // The code is used up.
        let outcome = f
            .store
            .type_recipient_code(typed(3, 2, true, NOW + 25))
            .await
            .unwrap();
        assert!(matches!(outcome, TypedCodeOutcome::NoCode), "{}", f.name);
        // The session names this recipient on this link only, while it lasts.
        assert!(
            f.store
                .delivery_by_session(link(3), session(3), NOW + 30)
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            f.store
                .delivery_by_session(link(4), session(3), NOW + 30)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            f.store
                .delivery_by_session(link(3), session(4), NOW + 30)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            f.store
                .delivery_by_session(link(3), session(3), NOW + 24 + 3_600)
                .await
                .unwrap()
                .is_none()
        );
        // An answer before the files were handed over is refused.
        let outcome = f
            .store
            .answer_delivery(answer(3, true, "aa01", right_digests(), NOW + 30))
            .await
            .unwrap();
        assert!(
            matches!(
                outcome,
                AnswerOutcome::Refused(RecipientRefusal::NotWithdrawn)
            ),
            "{}",
            f.name
        );

        let outcome = f
            .store
            .withdraw_delivery(withdrawal(3, "aa01", NOW + 31))
            .await
            .unwrap();
        let WithdrawalOutcome::Withdrawn(first) = outcome else {
            panic!("{}: not withdrawn", f.name);
        };
        assert_eq!(first.recipients[0].state, RecipientState::Withdrawn);
        assert_eq!(
            first.recipients[0].withdrawal_serial.as_deref(),
            Some("aa01")
        );
        let outcome = f
            .store
            .withdraw_delivery(withdrawal(3, "aa02", NOW + 32))
            .await
            .unwrap();
        assert!(
            matches!(outcome, WithdrawalOutcome::Withdrawn(_)),
            "{}",
            f.name
        );
        // The first certificate is superseded: revoked, and no answer is taken under it.
        let superseded = f.store.certificate("aa01").await.unwrap().unwrap();
        assert_eq!(superseded.revoked_at_s, Some(NOW + 32), "{}", f.name);
        let outcome = f
            .store
            .answer_delivery(answer(3, true, "aa01", right_digests(), NOW + 33))
            .await
            .unwrap();
        assert!(
            matches!(outcome, AnswerOutcome::CertificateUnusable),
            "{}",
            f.name
        );
        // An acceptance of other content keeps nothing, and says which file differs.
        let outcome = f
            .store
            .answer_delivery(answer(3, true, "aa02", vec![[1; 32], [9; 32]], NOW + 34))
            .await
            .unwrap();
        let AnswerOutcome::DigestsDiffer(differ) = outcome else {
            panic!("{}: other content accepted", f.name);
        };
        assert_eq!(differ, vec![1]);
        let outcome = f
            .store
            .answer_delivery(answer(3, true, "aa02", vec![[1; 32]], NOW + 34))
            .await
            .unwrap();
        assert!(
            matches!(outcome, AnswerOutcome::DigestsDiffer(_)),
            "{}",
            f.name
        );
        assert_eq!(state(f, 3).await, RecipientState::Withdrawn);
        assert_eq!(
            f.store
                .certificate("aa02")
                .await
                .unwrap()
                .unwrap()
                .used_at_s,
            None
        );

        let outcome = f
            .store
            .answer_delivery(answer(3, true, "aa02", right_digests(), NOW + 35))
            .await
            .unwrap();
        let AnswerOutcome::Answered(done) = outcome else {
            panic!("{}: the acceptance refused", f.name);
        };
        let recipient = &done.recipients[0];
        assert_eq!(recipient.state, RecipientState::Accepted);
        let kept = recipient.answer.as_ref().unwrap();
        assert_eq!(
            (kept.statement.as_str(), kept.answered_at_s),
            ("{\"answer\":true}", NOW + 35)
        );
        assert_eq!(
            done.settled_at_s,
            Some(NOW + 35),
            "{}: the only recipient answered",
            f.name
        );
        let used = f.store.certificate("aa02").await.unwrap().unwrap();
        assert_eq!(used.used_at_s, Some(NOW + 35), "{}", f.name);
        // The session ended with the answer; nothing more is taken.
        assert!(
            f.store
                .delivery_by_session(link(3), session(3), NOW + 36)
                .await
                .unwrap()
                .is_none()
        );
        let outcome = f
            .store
            .send_recipient_code(code_send(3, &phone, 5, NOW + 36))
            .await
            .unwrap();
        assert!(matches!(
            outcome,
            RecipientCodeOutcome::Refused(RecipientRefusal::Over)
        ));

        assert_eq!(
            records(f, &view).await,
            [
                ("delivery.sent", "SubmissionAcceptance"),
                ("delivery.code_sent", ""),
                ("delivery.code_wrong", ""),
                ("delivery.code_sent", ""),
                ("delivery.code_wrong", ""),
                ("delivery.authenticated", ""),
                ("delivery.withdrawn", "ContentHandover"),
                ("delivery.withdrawn", "ContentAccessTracking"),
                ("delivery.accepted", "ConsignmentAcceptance"),
            ]
            .map(|(kind, event)| (kind.to_owned(), event.to_owned())),
            "{}",
            f.name
        );
        let chain = f
            .store
            .evidence(&delivery_recipient_subject(view.id, 0))
            .await
            .unwrap();
        let accepted: serde_json::Value =
            serde_json::from_slice(&chain.last().unwrap().record).unwrap();
        assert_eq!(accepted["withdrawal_certificate"], "aa02");
        assert_eq!(accepted["differ"], serde_json::json!([]));
        assert_eq!(accepted["computed"][0]["sha256"], hex_of(&[1; 32]));
        assert_eq!(accepted["recipient"]["position"], 0);
    })
    .await;
}

#[tokio::test]
async fn a_rejection_names_the_files_that_differ() {
    each_backend(async |f: &Fixture| {
        let (_, view) = sent(f, "d-reject", &[5]).await;
        let phone = view.recipients[0].phone.clone();
        authenticated(f, 5, &phone, NOW + 20).await;
        f.store
            .withdraw_delivery(withdrawal(5, "ab01", NOW + 30))
            .await
            .unwrap();
        let outcome = f
            .store
            .answer_delivery(answer(5, false, "ab01", vec![[9; 32], [2; 32]], NOW + 31))
            .await
            .unwrap();
        let AnswerOutcome::Answered(done) = outcome else {
            panic!("{}: the rejection refused", f.name);
        };
        assert_eq!(done.recipients[0].state, RecipientState::Rejected);
        let chain = f
            .store
            .evidence(&delivery_recipient_subject(view.id, 0))
            .await
            .unwrap();
        let last = chain.last().unwrap();
        assert_eq!(last.kind, "delivery.rejected");
        let body: serde_json::Value = serde_json::from_slice(&last.record).unwrap();
        assert_eq!(body["event"], "ConsignmentRejection");
        assert_eq!(body["differ"], serde_json::json!([0]), "{}", f.name);
    })
    .await;
}

#[tokio::test]
async fn wrong_codes_pause_a_recipient_until_the_pause_ends() {
    each_backend(async |f: &Fixture| {
        let (_, view) = sent(f, "d-pause", &[6]).await;
        let phone = view.recipients[0].phone.clone();
        f.store.send_recipient_code(code_send(6, &phone, 1, NOW + 20)).await.unwrap();
        for (at, left) in [(21, 2), (22, 1)] {
            let outcome = f.store.type_recipient_code(typed(6, 1, false, NOW + at)).await.unwrap();
            assert!(
                matches!(outcome, TypedCodeOutcome::Wrong { tries_left } if tries_left == left),
                "{}",
                f.name
            );
        }
        let outcome = f.store.type_recipient_code(typed(6, 1, false, NOW + 23)).await.unwrap();
        assert!(
            matches!(outcome, TypedCodeOutcome::Paused { until_s } if until_s == NOW + 23 + PAUSE_S),
            "{}",
            f.name
        );
        assert_eq!(state(f, 6).await, RecipientState::Paused);
        // During the pause: no code sent, none taken (even the right one).
        let outcome = f.store.send_recipient_code(code_send(6, &phone, 2, NOW + 30)).await.unwrap();
        assert!(matches!(outcome, RecipientCodeOutcome::Refused(RecipientRefusal::Paused)));
        let outcome = f.store.type_recipient_code(typed(6, 1, true, NOW + 30)).await.unwrap();
        assert!(matches!(outcome, TypedCodeOutcome::Refused(RecipientRefusal::Paused)));
        assert_eq!(f.store.messages_to(&phone, 10).await.unwrap().len(), 1);
        // The sender is told of the pause, once.
        let notices: sceau_store::SenderNotice = Box::new(|_, recipient| {
            Some(NewMessage {
                address: "sender@example.org".into(),
                sealed_body: recipient.state.as_str().as_bytes().to_vec(),
                medium: Medium::Email,
                expires_at_s: NOW + DAY,
            })
        });
        assert_eq!(f.store.tell_senders(notices, 10, NOW + 31).await.unwrap(), 1);
        let again: sceau_store::SenderNotice = Box::new(|_, _| None);
        assert_eq!(f.store.tell_senders(again, 10, NOW + 32).await.unwrap(), 0);
        let told = f.store.messages_to("sender@example.org", 10).await.unwrap();
        assert_eq!(told.len(), 1);
        assert_eq!(told[0].sealed_body, b"paused".to_vec());
        // After the pause, a new code, and the right code opens.
        let later = NOW + 23 + PAUSE_S;
        let outcome = f.store.send_recipient_code(code_send(6, &phone, 3, later)).await.unwrap();
        let RecipientCodeOutcome::Sent(after) = outcome else {
            panic!("{}: no code after the pause", f.name);
        };
        assert_eq!(after.recipients[0].state, RecipientState::Notified);
        assert_eq!(after.recipients[0].wrong_tries, 0);
        let outcome = f.store.type_recipient_code(typed(6, 3, true, later + 1)).await.unwrap();
        assert!(matches!(outcome, TypedCodeOutcome::Right(_)), "{}", f.name);
        let kinds: Vec<String> = records(f, &view).await.into_iter().map(|(k, _)| k).collect();
        assert!(kinds.contains(&"delivery.paused".to_owned()), "{kinds:?}");
    })
    .await;
}

#[tokio::test]
async fn a_code_is_sent_within_the_phones_budget() {
    each_backend(async |f: &Fixture| {
        let (_, view) = sent(f, "d-budget", &[7]).await;
        let phone = view.recipients[0].phone.clone();
        let mut send = code_send(7, &phone, 1, NOW + 20);
        send.budget = MessageBudget {
            seals_max: 1,
            ..MessageBudget::UNLIMITED
        };
        assert!(matches!(
            f.store.send_recipient_code(send).await.unwrap(),
            RecipientCodeOutcome::Sent(_)
        ));
        let mut send = code_send(7, &phone, 2, NOW + 21);
        send.budget = MessageBudget {
            seals_max: 1,
            ..MessageBudget::UNLIMITED
        };
        assert!(
            matches!(
                f.store.send_recipient_code(send).await.unwrap(),
                RecipientCodeOutcome::Throttled(TooMany::Seals)
            ),
            "{}",
            f.name
        );
        // The first code stands.
        let outcome = f
            .store
            .type_recipient_code(typed(7, 1, true, NOW + 22))
            .await
            .unwrap();
        assert!(matches!(outcome, TypedCodeOutcome::Right(_)), "{}", f.name);
    })
    .await;
}

#[tokio::test]
async fn the_deadline_expires_those_who_did_not_answer() {
    each_backend(async |f: &Fixture| {
        let (_, view) = sent(f, "d-expire", &[8, 9]).await;
        let phone = view.recipients[0].phone.clone();
        authenticated(f, 8, &phone, NOW + 20).await;
        f.store
            .withdraw_delivery(withdrawal(8, "ac01", NOW + 30))
            .await
            .unwrap();
        let accepted = f
            .store
            .answer_delivery(answer(8, true, "ac01", right_digests(), NOW + 31))
            .await
            .unwrap();
        assert!(matches!(accepted, AnswerOutcome::Answered(_)), "{}", f.name);
        assert_eq!(
            f.store
                .delivery(&view.public_id)
                .await
                .unwrap()
                .unwrap()
                .settled_at_s,
            None
        );

        let deadline = view.deadline_s;
        assert_eq!(
            f.store.expire_deliveries(deadline - 1, 10).await.unwrap(),
            0
        );
        assert_eq!(
            f.store.expire_deliveries(deadline, 10).await.unwrap(),
            1,
            "{}",
            f.name
        );
        assert_eq!(
            f.store.expire_deliveries(deadline + 1, 10).await.unwrap(),
            0
        );
        let after = f.store.delivery(&view.public_id).await.unwrap().unwrap();
        assert_eq!(
            after.recipients.iter().map(|r| r.state).collect::<Vec<_>>(),
            vec![RecipientState::Accepted, RecipientState::Expired]
        );
        assert_eq!(after.settled_at_s, Some(deadline));
        let last = records_of(f, &view, 1).await.pop().unwrap();
        assert_eq!(
            last,
            (
                "delivery.expired".into(),
                "AcceptanceRejectionExpiry".into()
            )
        );
        let outcome = f
            .store
            .send_recipient_code(code_send(9, "+33610000009", 1, deadline + 2))
            .await
            .unwrap();
        assert!(matches!(
            outcome,
            RecipientCodeOutcome::Refused(RecipientRefusal::Over)
        ));
        // Past the deadline and before the sweep, nothing is taken either.
        let (_, other) = sent(f, "d-late", &[10]).await;
        let outcome = f
            .store
            .send_recipient_code(code_send(
                10,
                &other.recipients[0].phone,
                1,
                other.deadline_s,
            ))
            .await
            .unwrap();
        assert!(matches!(
            outcome,
            RecipientCodeOutcome::Refused(RecipientRefusal::DeadlinePassed)
        ));
    })
    .await;
}

#[tokio::test]
async fn a_notice_sent_or_failed_reaches_its_recipient() {
    each_backend(async |f: &Fixture| {
        let (_, view) = sent(f, "d-notice", &[11, 12]).await;
        let id_of = |position: u32| view.recipient(position).unwrap().notice_message_id.unwrap();
        let claimed = f.store.claim_messages(NOW + 11, 60, 100).await.unwrap();
        assert!(claimed.iter().any(|m| m.id == id_of(0)), "{}", f.name);
        let submitted = MessageDelivery::Submitted {
            route: "smtp".into(),
            parts: vec!["<1@sceau>".into()],
            now_s: NOW + 12,
        };
        assert!(f.store.mark_message(id_of(0), submitted).await.unwrap());
        let failed = MessageDelivery::Failed {
            route: Some("smtp".into()),
            reason: "550 no such mailbox".into(),
            now_s: NOW + 12,
        };
        assert!(f.store.mark_message(id_of(1), failed).await.unwrap());
        let after = f.store.delivery(&view.public_id).await.unwrap().unwrap();
        assert_eq!(
            after.recipients[0].notice_sent_at_s,
            Some(NOW + 12),
            "{}",
            f.name
        );
        assert_eq!(after.recipients[0].state, RecipientState::Notified);
        assert_eq!(
            after.recipients[1].state,
            RecipientState::NoticeFailed,
            "{}",
            f.name
        );
        let mut first = records_of(f, &view, 0).await;
        first.remove(0);
        assert_eq!(
            first,
            vec![("delivery.notified".into(), "ConsignmentNotification".into())],
            "{}",
            f.name
        );
        let mut second = records_of(f, &view, 1).await;
        second.remove(0);
        assert_eq!(
            second,
            vec![(
                "delivery.notice_failed".into(),
                "ConsignmentNotificationFailure".into()
            )],
            "{}",
            f.name
        );
        // The recipient whose notice failed takes nothing more.
        let outcome = f
            .store
            .send_recipient_code(code_send(12, &after.recipients[1].phone, 1, NOW + 13))
            .await
            .unwrap();
        assert!(matches!(
            outcome,
            RecipientCodeOutcome::Refused(RecipientRefusal::Over)
        ));
    })
    .await;
}

/// Wrong codes typed at once for one recipient are counted one after the other, on
/// several instances of one database too: of twelve, two are wrong, the third pauses,
/// the others find the recipient paused. (Without the recipient's row lock, two
/// instances read the same count: checked by removing it.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wrong_codes_typed_at_once_are_counted_one_by_one() {
    let setups = instances_of_each_backend().await;
    for (name, stores, _guard) in setups {
        let f = on_first_instance(name, &stores);
        let (_, view) = sent(&f, "d-race", &[13]).await;
        let phone = view.recipients[0].phone.clone();
        f.store
            .send_recipient_code(code_send(13, &phone, 1, NOW + 20))
            .await
            .unwrap();
        let barrier = Arc::new(tokio::sync::Barrier::new(12));
        let tasks: Vec<_> = (0..12)
            .map(|racer| {
                let store = Arc::clone(&stores[racer % stores.len()]);
                let barrier = Arc::clone(&barrier);
                tokio::spawn(async move {
                    barrier.wait().await;
                    store
                        .type_recipient_code(typed(13, 1, false, NOW + 21))
                        .await
                })
            })
            .collect();
        let (mut wrong, mut paused, mut refused) = (0, 0, 0);
        for task in tasks {
            match task.await.unwrap() {
                Ok(TypedCodeOutcome::Wrong { .. }) => wrong += 1,
                Ok(TypedCodeOutcome::Paused { .. }) => paused += 1,
                Ok(TypedCodeOutcome::Refused(RecipientRefusal::Paused)) => refused += 1,
                Ok(_) => panic!("{name}: an unexpected outcome"),
                Err(error) => panic!("{name}: a racer failed: {error:?}"),
            }
        }
        assert_eq!((wrong, paused, refused), (2, 1, 9), "{name}");
        let after = f.store.delivery_by_link(link(13)).await.unwrap().unwrap();
        assert_eq!(after.recipients[0].wrong_tries, TRIES, "{name}");
    }
}

/// Recipients who have not answered are reminded once, when the deadline is near; an
/// answered one is not.
#[tokio::test]
async fn recipients_who_did_not_answer_are_reminded_once() {
    each_backend(async |f: &Fixture| {
        let (_, view) = sent(f, "d-remind", &[14, 15]).await;
        let phone = view.recipients[0].phone.clone();
        authenticated(f, 14, &phone, NOW + 20).await;
        f.store
            .withdraw_delivery(withdrawal(14, "ad01", NOW + 30))
            .await
            .unwrap();
        let answered = f
            .store
            .answer_delivery(answer(14, false, "ad01", right_digests(), NOW + 31))
            .await
            .unwrap();
        assert!(matches!(answered, AnswerOutcome::Answered(_)));
        let reminder = || -> sceau_store::SenderNotice {
            Box::new(|view, recipient| {
                Some(NewMessage {
                    address: recipient.email.clone(),
                    sealed_body: format!("reminder-{}", view.link_base).into_bytes(),
                    medium: Medium::Email,
                    expires_at_s: view.deadline_s,
                })
            })
        };
        let ahead = 3 * DAY;
        let early = view.deadline_s - ahead - 1;
        assert_eq!(
            f.store
                .remind_recipients(reminder(), ahead, 10, early)
                .await
                .unwrap(),
            0
        );
        let due = view.deadline_s - ahead;
        assert_eq!(
            f.store
                .remind_recipients(reminder(), ahead, 10, due)
                .await
                .unwrap(),
            1,
            "{}",
            f.name
        );
        assert_eq!(
            f.store
                .remind_recipients(reminder(), ahead, 10, due + 1)
                .await
                .unwrap(),
            0
        );
        let to = &view.recipients[1].email;
        let reminders: Vec<_> = f
            .store
            .messages_to(to, 10)
            .await
            .unwrap()
            .into_iter()
            .filter(|m| m.sealed_body.starts_with(b"reminder"))
            .collect();
        assert_eq!(reminders.len(), 1);
        assert_eq!(
            reminders[0].sealed_body,
            b"reminder-https://sceau.example".to_vec()
        );
        let after = f.store.delivery(&view.public_id).await.unwrap().unwrap();
        assert_eq!(after.recipients[1].reminded_at_s, Some(due));
        assert_eq!(after.recipients[0].reminded_at_s, None);
    })
    .await;
}

/// A recipient who opened the delivery is paused by wrong codes as one who never did:
/// three in a row void the code and end the session, and nothing is taken until the
/// pause ends; they stay where they were.
#[tokio::test]
async fn wrong_codes_pause_a_recipient_who_already_opened_the_delivery() {
    each_backend(async |f: &Fixture| {
        let (_, view) = sent(f, "d-pause-open", &[16]).await;
        let phone = view.recipients[0].phone.clone();
        authenticated(f, 16, &phone, NOW + 20).await;
        f.store.send_recipient_code(code_send(16, &phone, 2, NOW + 30)).await.unwrap();
        for at in [31, 32] {
            let outcome = f.store.type_recipient_code(typed(16, 2, false, NOW + at)).await.unwrap();
            assert!(matches!(outcome, TypedCodeOutcome::Wrong { .. }), "{}", f.name);
        }
        let outcome = f.store.type_recipient_code(typed(16, 2, false, NOW + 33)).await.unwrap();
        assert!(
            matches!(outcome, TypedCodeOutcome::Paused { until_s } if until_s == NOW + 33 + PAUSE_S),
            "{}",
            f.name
        );
        let after = f.store.delivery_by_link(link(16)).await.unwrap().unwrap();
        let recipient = &after.recipients[0];
        assert_eq!(recipient.state, RecipientState::Authenticated, "{}", f.name);
        assert!(recipient.code.is_none() && recipient.session_expires_at_s.is_none());
        assert!(
            f.store.delivery_by_session(link(16), session(16), NOW + 34).await.unwrap().is_none(),
            "{}: the session ended",
            f.name
        );
        let outcome = f.store.send_recipient_code(code_send(16, &phone, 3, NOW + 34)).await.unwrap();
        assert!(matches!(outcome, RecipientCodeOutcome::Refused(RecipientRefusal::Paused)));
        let later = NOW + 33 + PAUSE_S;
        f.store.send_recipient_code(code_send(16, &phone, 4, later)).await.unwrap();
        let outcome = f.store.type_recipient_code(typed(16, 4, true, later + 1)).await.unwrap();
        let TypedCodeOutcome::Right(right) = outcome else {
            panic!("{}: no code after the pause", f.name);
        };
        assert_eq!(right.recipients[0].state, RecipientState::Authenticated);
        assert_eq!(right.recipients[0].wrong_tries, 0);
    })
    .await;
}

/// Codes are bounded per recipient, and withdrawals per session (a new session, by the
/// right code, may withdraw again): what bounds the records and certificates one
/// recipient can cause.
#[tokio::test]
async fn codes_and_withdrawals_are_bounded() {
    each_backend(async |f: &Fixture| {
        let (_, view) = sent(f, "d-bounds", &[17]).await;
        let phone = view.recipients[0].phone.clone();
        authenticated(f, 17, &phone, NOW + 20).await;
        for n in 0..sceau_domain::delivery::SESSION_WITHDRAWALS_MAX {
            let serial = format!("ae{n:02x}");
            let outcome = f
                .store
                .withdraw_delivery(withdrawal(17, &serial, NOW + 30))
                .await
                .unwrap();
            assert!(
                matches!(outcome, WithdrawalOutcome::Withdrawn(_)),
                "{}",
                f.name
            );
        }
        let outcome = f
            .store
            .withdraw_delivery(withdrawal(17, "aeff", NOW + 31))
            .await
            .unwrap();
        assert!(
            matches!(
                outcome,
                WithdrawalOutcome::Refused(RecipientRefusal::TooManyWithdrawals)
            ),
            "{}",
            f.name
        );
        assert!(f.store.certificate("aeff").await.unwrap().is_none());
        // The right code again: a new session, which may withdraw.
        f.store
            .send_recipient_code(code_send(17, &phone, 9, NOW + 40))
            .await
            .unwrap();
        let outcome = f
            .store
            .type_recipient_code(typed(17, 9, true, NOW + 41))
            .await
            .unwrap();
        assert!(matches!(outcome, TypedCodeOutcome::Right(_)), "{}", f.name);
        let outcome = f
            .store
            .withdraw_delivery(withdrawal(17, "aefe", NOW + 42))
            .await
            .unwrap();
        let WithdrawalOutcome::Withdrawn(view) = outcome else {
            panic!("{}: a new session may withdraw", f.name);
        };
        assert_eq!(
            view.recipients[0].withdrawals,
            sceau_domain::delivery::SESSION_WITHDRAWALS_MAX + 1
        );
        let (_, other) = sent(f, "d-bounds-codes", &[18]).await;
        let phone = other.recipients[0].phone.clone();
        for n in 0..sceau_domain::delivery::CODES_MAX {
            let at = NOW + 40 + i64::from(n);
            let outcome = f
                .store
                .send_recipient_code(code_send(18, &phone, 1, at))
                .await
                .unwrap();
            assert!(
                matches!(outcome, RecipientCodeOutcome::Sent(_)),
                "{}",
                f.name
            );
        }
        let outcome = f
            .store
            .send_recipient_code(code_send(18, &phone, 1, NOW + 1_000))
            .await
            .unwrap();
        assert!(
            matches!(
                outcome,
                RecipientCodeOutcome::Refused(RecipientRefusal::TooManyCodes)
            ),
            "{}",
            f.name
        );
    })
    .await;
}

/// The sender is told once of a state, however many tell at once (an answer's own
/// telling, the sweep, other instances): the row is marked first, and only who marked it
/// queues the notice. (Queuing before marking told twice on two PostgreSQL instances.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn senders_are_told_once_when_many_tell_at_once() {
    let setups = instances_of_each_backend().await;
    for (name, stores, _guard) in setups {
        let f = on_first_instance(name, &stores);
        let (_, view) = sent(&f, "d-told", &[19, 20, 21]).await;
        for position in 0..3 {
            let n = 19 + position;
            let phone = view.recipients[usize::from(position)].phone.clone();
            authenticated(&f, n, &phone, NOW + 20).await;
            let serial = format!("af{n:02x}");
            f.store
                .withdraw_delivery(withdrawal(n, &serial, NOW + 30))
                .await
                .unwrap();
            let outcome = f
                .store
                .answer_delivery(answer(n, true, &serial, right_digests(), NOW + 31))
                .await
                .unwrap();
            assert!(matches!(outcome, AnswerOutcome::Answered(_)), "{name}");
        }
        let barrier = Arc::new(tokio::sync::Barrier::new(8));
        let tasks: Vec<_> = (0..8)
            .map(|racer| {
                let store = Arc::clone(&stores[racer % stores.len()]);
                let barrier = Arc::clone(&barrier);
                tokio::spawn(async move {
                    let notice: sceau_store::SenderNotice = Box::new(|_, recipient| {
                        Some(NewMessage {
                            address: "told@example.org".into(),
                            sealed_body: format!("{}", recipient.position).into_bytes(),
                            medium: Medium::Email,
                            expires_at_s: NOW + DAY,
                        })
                    });
                    barrier.wait().await;
                    store.tell_senders(notice, 1, NOW + 40).await
                })
            })
            .collect();
        let mut told = 0;
        for task in tasks {
            told += task.await.unwrap().unwrap();
        }
        // Each racer takes at most one; whoever found none to tell left them to others.
        let rest: sceau_store::SenderNotice = Box::new(|_, recipient| {
            Some(NewMessage {
                address: "told@example.org".into(),
                sealed_body: format!("{}", recipient.position).into_bytes(),
                medium: Medium::Email,
                expires_at_s: NOW + DAY,
            })
        });
        told += f.store.tell_senders(rest, 10, NOW + 41).await.unwrap();
        assert_eq!(told, 3, "{name}");
        let mut queued: Vec<Vec<u8>> = f
            .store
            .messages_to("told@example.org", 100)
            .await
            .unwrap()
            .into_iter()
            .map(|message| message.sealed_body)
            .collect();
        queued.sort();
        assert_eq!(
            queued,
            vec![b"0".to_vec(), b"1".to_vec(), b"2".to_vec()],
            "{name}"
        );
    }
}
