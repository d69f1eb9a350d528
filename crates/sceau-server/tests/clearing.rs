//! Clearing over real HTTP (step 10): merchants enrolled with their bank details are paid,
//! an operator closes a batch, and the settlement file (pain.001.001.03) pays each
//! merchant exactly its settlement balance from the issuer's account.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;

const ALICE_PHONE: &str = "+33612345601";
/// Two merchants' accounts: a German one written as printed, in lower case, and a
/// Belgian one.
const SHOP_IBAN_PRINTED: &str = "de89 3704 0044 0532 0130 00";
const SHOP_IBAN: &str = "DE89370400440532013000";
const SHOP_BIC: &str = "COBADEFFXXX";
const CAFE_IBAN: &str = "BE68539007547034";
const CAFE_BIC: &str = "GEBABEBB";

/// The texts of every `element` in `xml`, in document order (enough for the flat,
/// attribute-light documents sceau writes).
fn texts<'a>(xml: &'a str, element: &str) -> Vec<&'a str> {
    let close = format!("</{element}>");
    let mut found = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&format!("<{element}")) {
        rest = &rest[start + 1 + element.len()..];
        if !rest.starts_with(['>', ' ']) {
            continue;
        }
        let open_end = rest.find('>').expect("end of the start tag") + 1;
        let end = rest.find(&close).expect("an end tag");
        found.push(&rest[open_end..end]);
        rest = &rest[end..];
    }
    found
}

impl Server {
    /// `client` pays `merchant` `amount` euros: a number of their own (a merchant may ask
    /// for one only for a client who paid it before), authorized, captured.
    async fn pay(&self, merchant: &Merchant, client: &Client, amount: &str) -> i64 {
        let session = self.sign_in(&client.login).await;
        let card = self.any_card(&session, client).await;
        let authorized = self.authorize(merchant, &card, amount, "EUR").await;
        assert_eq!(
            authorized.status,
            StatusCode::CREATED,
            "{}",
            authorized.text
        );
        let captured = self.act(merchant, authorized.id(), "capture", None).await;
        assert_eq!(captured.status, StatusCode::OK, "{}", captured.text);
        authorized.id()
    }

    async fn close_batch(&self, currency: &str) -> Reply {
        self.admin(
            Method::POST,
            "/admin/v1/clearing/batches",
            Some(json!({ "currency": currency })),
        )
        .await
    }

    async fn settlement_file(&self, batch_id: i64) -> Reply {
        self.admin(
            Method::GET,
            &format!("/admin/v1/clearing/batches/{batch_id}/pain.001.xml"),
            None,
        )
        .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_pays_each_merchant_its_balance_in_a_settlement_file() {
    let server = Server::start().await;
    let (shop, enrolled) = server
        .enroll_paid_merchant("Librairie Dupont & Fils", SHOP_IBAN_PRINTED, "cobadeffxxx")
        .await;
    assert_eq!(
        (&enrolled["iban"], &enrolled["bic"]),
        (&json!(SHOP_IBAN), &json!(SHOP_BIC)),
        "stored in electronic form"
    );
    let (cafe, _) = server
        .enroll_paid_merchant("Café Déjà Vu", CAFE_IBAN, CAFE_BIC)
        .await;
    let bare = server.enroll_merchant("Stand sans banque").await;
    let alice = server.enroll_client("alice", ALICE_PHONE, "500.00").await;

    let first = server.pay(&shop, &alice, "120.50").await;
    server.pay(&shop, &alice, "30.00").await;
    let refund = server
        .act(
            &shop,
            first,
            "refunds",
            Some(json!({ "amount": "0.50", "currency": "EUR" })),
        )
        .await;
    assert_eq!(refund.status, StatusCode::OK, "{}", refund.text);
    server.pay(&cafe, &alice, "45.25").await;
    server.pay(&bare, &alice, "10.00").await;
    // Authorized, not captured: not the merchant's money yet.
    let card = server.checkout_card(&cafe, &alice, "5.00").await;
    let held = server.authorize(&cafe, &card, "5.00", "EUR").await;
    assert_eq!(held.status, StatusCode::CREATED, "{}", held.text);

    let closed = server.close_batch("EUR").await;
    assert_eq!(closed.status, StatusCode::CREATED, "{}", closed.text);
    let batch = closed.json();
    let batch_id = batch["id"].as_i64().unwrap();
    assert_eq!(
        closed.header("location"),
        Some(format!("/admin/v1/clearing/batches/{batch_id}").as_str())
    );
    assert_eq!(batch["currency"], "EUR");
    assert_eq!(batch["payouts_count"], 2);
    assert_eq!(batch["total"], "195.25");
    let created_at = sceau_server::clock::rfc3339(START_S);
    assert_eq!(batch["created_at"], created_at.as_str());
    let payouts: Vec<(i64, &str)> = batch["payouts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|payout| {
            (
                payout["merchant_id"].as_i64().unwrap(),
                payout["amount"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(payouts, vec![(shop.id, "150.00"), (cafe.id, "45.25")]);
    assert_eq!(
        batch["skipped"],
        json!([{ "merchant_id": bare.id, "balance": "10.00" }])
    );
    let message_id = batch["message_id"].as_str().unwrap().to_owned();
    assert!(message_id.starts_with("SC20260921-"), "{message_id}");

    let file = server.settlement_file(batch_id).await;
    assert_eq!(file.status, StatusCode::OK, "{}", file.text);
    assert_eq!(
        file.header("content-type"),
        Some("application/xml; charset=utf-8")
    );
    let xml = &file.text;
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"));
    assert!(xml.contains("<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.001.001.03\">"));
    assert_eq!(texts(xml, "MsgId"), vec![message_id.as_str()]);
    assert_eq!(
        texts(xml, "CreDtTm"),
        vec![created_at.trim_end_matches('Z')]
    );
    assert_eq!(texts(xml, "ReqdExctnDt"), vec!["2026-09-21"]);
    // Group header, then the one (SEPA) block: two transfers, 195.25 in all.
    assert_eq!(texts(xml, "NbOfTxs"), vec!["2", "2"]);
    assert_eq!(texts(xml, "CtrlSum"), vec!["195.25", "195.25"]);
    assert_eq!(texts(xml, "Cd"), vec!["SEPA"]);
    assert_eq!(texts(xml, "IBAN"), vec![ISSUER_IBAN, SHOP_IBAN, CAFE_IBAN]);
    assert_eq!(texts(xml, "BIC"), vec![ISSUER_BIC, SHOP_BIC, CAFE_BIC]);
    assert_eq!(texts(xml, "InstdAmt"), vec!["150.00", "45.25"]);
    assert_eq!(xml.matches("<InstdAmt Ccy=\"EUR\">").count(), 2);
    assert_eq!(
        texts(xml, "Nm"),
        vec![ISSUER, ISSUER, "Librairie Dupont + Fils", "Cafe Deja Vu"]
    );
    assert_eq!(
        texts(xml, "EndToEndId"),
        vec![format!("{message_id}-1"), format!("{message_id}-2")]
    );
    assert_eq!(
        texts(xml, "Ustrd"),
        vec![
            format!("Settlement {message_id} merchant {}", shop.id),
            format!("Settlement {message_id} merchant {}", cafe.id)
        ]
    );
    assert!(!xml.contains("Stand sans banque"));

    // The file is kept: downloaded again, byte for byte; the batch reads back.
    assert_eq!(server.settlement_file(batch_id).await.text, file.text);
    let read = server
        .admin(
            Method::GET,
            &format!("/admin/v1/clearing/batches/{batch_id}"),
            None,
        )
        .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text);
    let mut expected = batch.clone();
    expected.as_object_mut().unwrap().remove("skipped");
    assert_eq!(read.json(), expected);
    let list = server
        .admin(Method::GET, "/admin/v1/clearing/batches", None)
        .await;
    assert_eq!(list.json()[0]["id"], batch_id);
    assert_eq!(list.json()[0].get("payouts"), None);

    // Nothing left to pay: refused, no empty batch.
    check_error(&server.close_batch("EUR").await, 409, "nothing_to_clear");
    server.assert_figures(&alice, "294.75", "5.00").await;
    server.assert_ledger_sound().await;

    // The merchant without bank details gives them: the next batch pays them.
    let reply = server
        .admin(
            Method::PUT,
            &format!("/admin/v1/merchants/{}/bank", bare.id),
            Some(json!({ "iban": "FR76 3000 4000 0312 3456 7890 143", "bic": "BNPAFRPP" })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json()["iban"], "FR7630004000031234567890143");
    let closed = server.close_batch("EUR").await;
    assert_eq!(closed.status, StatusCode::CREATED, "{}", closed.text);
    assert_eq!(
        closed.json()["payouts"],
        json!([{ "merchant_id": bare.id, "amount": "10.00", "transfer_id": closed.json()["payouts"][0]["transfer_id"] }])
    );
    assert_eq!(closed.json()["skipped"], json!([]));
    let second = server
        .settlement_file(closed.json()["id"].as_i64().unwrap())
        .await;
    assert_eq!(texts(&second.text, "CtrlSum"), vec!["10.00", "10.00"]);
    assert_ne!(texts(&second.text, "MsgId"), vec![message_id.as_str()]);
    server.assert_ledger_sound().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bank_details_are_checked_where_they_are_given() {
    let server = Server::start().await;
    let enrol = |iban: Value, bic: Value| {
        let server = &server;
        async move {
            server
                .admin(
                    Method::POST,
                    "/admin/v1/merchants",
                    Some(json!({ "name": "Shop", "iban": iban, "bic": bic })),
                )
                .await
        }
    };
    check_error(
        &enrol(json!("DE88370400440532013000"), json!(SHOP_BIC)).await,
        422,
        "iban_checksum",
    );
    check_error(
        &enrol(json!("DE89-3704-0044"), json!(SHOP_BIC)).await,
        422,
        "invalid_iban",
    );
    check_error(
        &enrol(json!("DE8937040044053201300"), json!(SHOP_BIC)).await,
        422,
        "iban_length",
    );
    check_error(
        &enrol(json!(SHOP_IBAN), json!("COBADE")).await,
        422,
        "invalid_bic",
    );
    check_error(
        &enrol(json!(SHOP_IBAN), Value::Null).await,
        422,
        "incomplete_bank_details",
    );
    let merchants = server.admin(Method::GET, "/admin/v1/merchants", None).await;
    assert_eq!(merchants.json(), json!([]), "nothing enrolled");

    let shop = server.enroll_merchant("Shop").await;
    let listed = server.admin(Method::GET, "/admin/v1/merchants", None).await;
    assert_eq!(listed.json(), json!([{ "id": shop.id, "name": "Shop" }]));
    let put = |id: i64, body: Value| {
        let server = &server;
        async move {
            server
                .admin(
                    Method::PUT,
                    &format!("/admin/v1/merchants/{id}/bank"),
                    Some(body),
                )
                .await
        }
    };
    check_error(
        &put(
            shop.id,
            json!({ "iban": "DE89370400440532013001", "bic": SHOP_BIC }),
        )
        .await,
        422,
        "iban_checksum",
    );
    check_error(
        &put(shop.id, json!({ "iban": SHOP_IBAN })).await,
        400,
        "invalid_field",
    );
    check_error(
        &put(shop.id + 1, json!({ "iban": SHOP_IBAN, "bic": SHOP_BIC })).await,
        404,
        "not_found",
    );
    let reply = put(shop.id, json!({ "iban": SHOP_IBAN, "bic": "cobadeff xxx" })).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        reply.json(),
        json!({ "id": shop.id, "name": "Shop", "iban": SHOP_IBAN, "bic": SHOP_BIC })
    );
    let listed = server.admin(Method::GET, "/admin/v1/merchants", None).await;
    assert_eq!(listed.json(), json!([reply.json()]));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_a_batch_is_for_operators_and_needs_the_issuers_account() {
    let server = Server::start().await;
    let (shop, _) = server
        .enroll_paid_merchant("Shop", SHOP_IBAN, SHOP_BIC)
        .await;
    let alice = server.enroll_client("alice", ALICE_PHONE, "100.00").await;
    server.pay(&shop, &alice, "12.00").await;

    let anonymous = server
        .send(
            server
                .http
                .post(server.url("/admin/v1/clearing/batches"))
                .json(&json!({ "currency": "EUR" })),
        )
        .await;
    check_error(&anonymous, 401, "unauthorized");
    let as_merchant = server
        .merchant_post(
            &shop,
            "/admin/v1/clearing/batches",
            &json!({ "currency": "EUR" }),
            None,
        )
        .await;
    check_error(&as_merchant, 401, "unauthorized");
    check_error(&server.settlement_file(1).await, 404, "not_found");
    check_error(&server.close_batch("XYZ").await, 422, "unknown_currency");
    check_error(&server.close_batch("USD").await, 409, "nothing_to_clear");

    // Without the issuer's account configured, nothing is paid.
    let unconfigured = sceau_server::Service {
        settings: Arc::new(sceau_server::Settings {
            issuer_bank: None,
            ..(*server.service.settings).clone()
        }),
        ..server.service.clone()
    };
    let refused = sceau_server::error::ApiError::from(
        unconfigured
            .close_clearing_batch("EUR", sceau_store::ActedBy::Admin)
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (refused.status.as_u16(), refused.code),
        (409, "issuer_bank_missing")
    );
    let closed = server.close_batch("EUR").await;
    assert_eq!(closed.status, StatusCode::CREATED, "{}", closed.text);
    assert_eq!(closed.json()["total"], "12.00");
    server.assert_ledger_sound().await;
    server.stop().await;
}
