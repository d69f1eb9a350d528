//! sceau over real HTTP: a server on `127.0.0.1:0`, a SQLite file in a temporary
//! directory, the development phone, a manual clock. Every test starts its own server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeSet;

const ALICE_PHONE: &str = "+33612345678";

/// Figure 5: a signed-in client asks for a number on the wallet, reads it on the phone, and
/// a merchant is paid with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn figure_5_client_asks_for_a_number_and_pays_with_it() {
    let server = Server::start().await;
    let shop = server.enroll_merchant("Librairie Dupont").await;
    let alice = server.enroll_client("alice", ALICE_PHONE, "500.00").await;

    // No session, or a session that does not exist: back to the sign-in page.
    for cookie in [None, Some("sceau_session=not-a-session")] {
        let reply = server.page("/wallet", cookie).await;
        assert!(
            reply.status.is_redirection(),
            "{cookie:?}: {}",
            reply.status
        );
        assert_eq!(reply.header("location"), Some("/login"), "{cookie:?}");
    }
    let reply = server
        .send(
            server
                .http
                .post(server.url("/wallet/numbers"))
                .form(&[("csrf", "x"), ("amount_cap", "80.00")]),
        )
        .await;
    assert!(reply.status.is_redirection(), "{}", reply.status);
    assert_eq!(reply.header("location"), Some("/login"));

    // A wrong password and an unknown login get the same refusal, and no cookie.
    let mut refusals = Vec::new();
    for (login, password) in [("alice", "wrong password"), ("nobody", PASSWORD)] {
        let reply = server
            .send(
                server
                    .http
                    .post(server.url("/login"))
                    .form(&[("login", login), ("password", password)]),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{login}");
        assert_eq!(reply.header("set-cookie"), None, "{login}");
        refusals.push(reply.text);
    }
    assert_eq!(refusals[0], refusals[1], "nothing says which was wrong");

    // Sign-in checks the cookie (HttpOnly, SameSite=Strict) and reads the CSRF token.
    let session = server.sign_in("alice").await;
    let other_session = server.sign_in("alice").await;
    assert_ne!(session.csrf, other_session.csrf, "a token per session");

    // A form with an empty, wrong, or another session's token is refused; nothing issued.
    let mut altered = session.csrf.clone().into_bytes();
    altered[0] = if altered[0] == b'0' { b'1' } else { b'0' };
    let altered = String::from_utf8(altered).unwrap();
    for csrf in ["", "0", altered.as_str(), other_session.csrf.as_str()] {
        let reply = server
            .ask_number(&session, &[("csrf", csrf), ("amount_cap", "80.00")])
            .await;
        check_error(&reply, 403, "csrf");
    }
    // A post from another site is refused even with the right token.
    let reply = server
        .send(
            server
                .http
                .post(server.url("/wallet/numbers"))
                .header("cookie", &session.cookie)
                .header("origin", "https://shop.example")
                .form(&[("csrf", session.csrf.as_str()), ("amount_cap", "80.00")]),
        )
        .await;
    check_error(&reply, 403, "cross_origin");
    server.deliver().await;
    assert_eq!(server.phone_messages(ALICE_PHONE).await, vec![]);
    assert_eq!(server.me(&session).await["numbers"], json!([]));

    // The number reaches the phone with its limits, and only the phone.
    let (card, text) = server
        .wallet_card(
            &session,
            &alice,
            &[
                ("amount_cap", "80.00"),
                ("uses", "1"),
                ("merchant", "any"),
                ("validity_min", "15"),
            ],
        )
        .await;
    let grouped = format!(
        "{} {} {} {}",
        &card.number[..4],
        &card.number[4..8],
        &card.number[8..12],
        &card.number[12..]
    );
    for expected in [ISSUER, grouped.as_str(), "1 payment", "up to 80.00 EUR"] {
        assert!(text.contains(expected), "{expected:?} in {text:?}");
    }
    assert!(card.number.starts_with("499999"), "{card:?}");
    let wallet = server.page("/wallet?sent=1", Some(&session.cookie)).await;
    assert_eq!(wallet.status, StatusCode::OK);
    assert!(wallet.text.contains(card.last_four()), "{}", wallet.text);
    assert!(
        !wallet.text.contains(&card.number),
        "the full number on the wallet"
    );
    assert!(
        !wallet.text.contains(&grouped),
        "the full number on the wallet"
    );
    let me = server.me(&session).await;
    assert_eq!(me["numbers"].as_array().unwrap().len(), 1, "{me}");
    assert_eq!(me["numbers"][0]["last_four"], card.last_four());
    assert_eq!(me["numbers"][0]["state"], "live");
    assert!(!me.to_string().contains(&card.number));

    // The merchant is paid with it.
    let authorized = server.authorize(&shop, &card, "42.50", "EUR").await;
    assert_eq!(
        authorized.status,
        StatusCode::CREATED,
        "{}",
        authorized.text
    );
    let body = authorized.json();
    assert_eq!(body["state"], "authorized");
    assert_eq!(body["amount"], "42.50");
    assert_eq!(body["currency"], "EUR");
    assert_eq!(body["captured"], "0.00");
    assert_eq!(body["number_last_four"], card.last_four());
    assert_eq!(body["reference"], "order-1");
    assert!(!authorized.text.contains(&card.number));
    let me = server.me(&session).await;
    assert_eq!(
        (&me["balance"], &me["held"], &me["available"]),
        (&json!("500.00"), &json!("42.50"), &json!("457.50")),
        "{me}"
    );

    let captured = server
        .act(&shop, authorized.id(), "capture", Some(json!({})))
        .await;
    assert_eq!(captured.status, StatusCode::OK, "{}", captured.text);
    assert_eq!(captured.json()["state"], "captured");
    assert_eq!(captured.json()["captured"], "42.50");

    let me = server.me(&session).await;
    assert_eq!(
        (&me["balance"], &me["held"], &me["available"]),
        (&json!("457.50"), &json!("0.00"), &json!("457.50")),
        "{me}"
    );
    assert_eq!(me["numbers"][0]["state"], "consumed", "{me}");
    assert_eq!(me["numbers"][0]["uses"], 1, "{me}");
    assert_eq!(me["numbers"][0]["amount_used"], "42.50", "{me}");
    let admin_view = server
        .admin(
            Method::GET,
            &format!("/admin/v1/clients/{}", alice.id),
            None,
        )
        .await;
    assert_eq!(admin_view.status, StatusCode::OK);
    let admin_view = admin_view.json();
    assert_eq!(admin_view["balance"], "457.50", "{admin_view}");
    assert_eq!(admin_view["held"], "0.00", "{admin_view}");
    assert_eq!(admin_view["available"], "457.50", "{admin_view}");
    assert_eq!(admin_view["client"]["login"], "alice");
    assert!(
        !admin_view.to_string().contains(&ALICE_PHONE[1..]),
        "the admin API masks the phone: {admin_view}"
    );
    server.assert_ledger_sound().await;

    // Signing out ends this session only; the other one ends with time (30 minutes).
    let reply = server
        .send(
            server
                .http
                .post(server.url("/logout"))
                .header("cookie", &session.cookie)
                .form(&[("csrf", session.csrf.as_str())]),
        )
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text);
    assert!(reply.header("set-cookie").unwrap().contains("Max-Age=0"));
    let wallet = server.page("/wallet", Some(&session.cookie)).await;
    assert_eq!(wallet.header("location"), Some("/login"));
    let wallet = server.page("/wallet", Some(&other_session.cookie)).await;
    assert_eq!(wallet.status, StatusCode::OK);
    server.clock.advance(30 * 60);
    let wallet = server.page("/wallet", Some(&other_session.cookie)).await;
    assert_eq!(wallet.header("location"), Some("/login"), "expired session");
}

/// A wallet form that carries no CSRF field at all is a forgery like any other: 403.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn wallet_form_without_csrf_field_is_forbidden() {
    let server = Server::start().await;
    server.enroll_client("alice", ALICE_PHONE, "500.00").await;
    let session = server.sign_in("alice").await;
    let reply = server
        .ask_number(&session, &[("amount_cap", "80.00"), ("uses", "1")])
        .await;
    check_error(&reply, 403, "csrf");
    server.deliver().await;
    assert_eq!(server.phone_messages(ALICE_PHONE).await, vec![]);
}

/// Figure 4: the merchant's checkout asks for a number for a client and an amount; it
/// reaches the client's phone with the amount and the merchant, locked to both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn figure_4_merchant_asks_for_a_number_at_checkout() {
    let server = Server::start().await;
    let shop = server.enroll_merchant("Librairie Dupont").await;
    let other = server.enroll_merchant("Other Shop").await;
    let bob = server.enroll_client("bob", "+33611223344", "300.00").await;
    // Only a client of the shop can be reached: bob paid it once before.
    server.introduce(&shop, &bob).await;
    let before = server.newest_message_id(&bob.phone).await;

    let issued = server.checkout_number(&shop, "bob", "19.90", "EUR").await;
    assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.text);
    let body = issued.json();
    assert_eq!(body["amount"], "19.90");
    assert_eq!(body["currency"], "EUR");
    assert!(body["number_id"].as_i64().is_some(), "{body}");
    assert_eq!(
        body["valid_until"],
        sceau_server::clock::rfc3339(START_S + NUMBER_VALIDITY_S)
    );
    let sent_to = body["sent_to"].as_str().unwrap();
    assert!(
        sent_to.ends_with("44") && !sent_to.contains("611223344"),
        "{sent_to}"
    );
    let text = server.message_after(&bob.phone, before).await;
    for expected in [ISSUER, "Librairie Dupont", "19.90 EUR"] {
        assert!(text.contains(expected), "{expected:?} in {text:?}");
    }
    let card = card_from_message(&text).unwrap();
    assert_eq!(body["last_four"], card.last_four());
    assert!(!issued.text.contains(&card.number));

    // Locked to this merchant and this exact amount (details are right every time).
    check_decline(
        &server.authorize(&other, &card, "19.90", "EUR").await,
        "other_merchant",
    );
    for amount in ["20.00", "19.89", "1.00"] {
        check_decline(
            &server.authorize(&shop, &card, amount, "EUR").await,
            "amount_mismatch",
        );
    }
    let paid = server.authorize(&shop, &card, "19.90", "EUR").await;
    assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.text);
    assert_eq!(paid.json()["amount"], "19.90");
    check_decline(
        &server.authorize(&shop, &card, "19.90", "EUR").await,
        "already_used",
    );
    server.assert_figures(&bob, "300.00", "19.90").await;

    // The client can be named by phone number too.
    let newest = server.newest_message_id(&bob.phone).await;
    let by_phone = server
        .checkout_number(&shop, "+33611223344", "5.00", "EUR")
        .await;
    assert_eq!(by_phone.status, StatusCode::CREATED, "{}", by_phone.text);
    let card = server.card_after(&bob.phone, newest).await;
    assert_eq!(by_phone.json()["last_four"], card.last_four());
    let paid = server.authorize(&shop, &card, "5.00", "EUR").await;
    assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.text);

    // Unknown clients (see also `a_merchant_learns_nothing_of_clients_it_may_not_reach`),
    // and a client of the shop whose account is in another currency.
    for client in ["nobody", "+33700000000", "+not-a-phone"] {
        check_error(
            &server.checkout_number(&shop, client, "19.90", "EUR").await,
            404,
            "unknown_client",
        );
    }
    check_error(
        &server.checkout_number(&shop, "bob", "19.90", "USD").await,
        422,
        "currency_mismatch",
    );
    server.assert_figures(&bob, "300.00", "24.90").await;
    server.assert_ledger_sound().await;
}

/// Every decline code over HTTP: 402 and `{"error": {"code", "message"}}`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_decline_is_a_402_with_its_code() {
    let server = Server::start().await;
    let shop = server.enroll_merchant("Shop").await;
    let other = server.enroll_merchant("Other Shop").await;
    let carol = server
        .enroll_client("carol", "+33611111111", "1000.00")
        .await;
    let dave = server.enroll_client("dave", "+33622222222", "100.00").await;
    let carol_session = server.sign_in("carol").await;
    let dave_session = server.sign_in("dave").await;
    let mut seen = BTreeSet::new();
    let mut check = |reply: &Reply, code: &'static str| {
        check_decline(reply, code);
        seen.insert(code);
    };

    // unknown_number: a well-formed number from the range that was never issued.
    let never_issued = Card {
        number: with_luhn_digit("499999123456789"),
        month: 12,
        year: 2026,
        code: "123".into(),
    };
    check(
        &server.authorize(&shop, &never_issued, "1.00", "EUR").await,
        "unknown_number",
    );

    // wrong_card_details: the same answer whether the code or the expiry is wrong.
    let card = server.any_card(&carol_session, &carol).await;
    let wrong_code = server
        .authorize(&shop, &card.with_wrong_code(), "1.00", "EUR")
        .await;
    let wrong_expiry = server
        .authorize(&shop, &card.with_wrong_expiry(), "1.00", "EUR")
        .await;
    check(&wrong_code, "wrong_card_details");
    check(&wrong_expiry, "wrong_card_details");
    assert_eq!(wrong_code.text, wrong_expiry.text, "nothing says which");
    // Two wrong tries leave the number usable; a two-digit year is read as 20YY.
    let mut right = card.body("1.00", "EUR");
    right["expiry_year"] = json!(card.year % 100);
    let paid = server
        .merchant_post(&shop, "/v1/authorizations", &right, None)
        .await;
    assert_eq!(
        paid.status,
        StatusCode::CREATED,
        "two wrong tries: {}",
        paid.text
    );

    // already_used
    check(
        &server.authorize(&shop, &card, "1.00", "EUR").await,
        "already_used",
    );

    // blocked after three wrong tries, even with the right details afterwards.
    let card = server.any_card(&carol_session, &carol).await;
    let tried_three_times = card.clone();
    for _ in 0..3 {
        check(
            &server
                .authorize(&shop, &card.with_wrong_code(), "1.00", "EUR")
                .await,
            "wrong_card_details",
        );
    }
    check(
        &server.authorize(&shop, &card, "1.00", "EUR").await,
        "blocked",
    );
    // Without the right details, a blocked number is not revealed as blocked.
    check(
        &server
            .authorize(&shop, &card.with_wrong_expiry(), "1.00", "EUR")
            .await,
        "wrong_card_details",
    );

    // over_cap: the cap is over all uses of the number.
    let (card, _) = server
        .wallet_card(
            &carol_session,
            &carol,
            &[("amount_cap", "50.00"), ("uses", "2")],
        )
        .await;
    check(
        &server.authorize(&shop, &card, "50.01", "EUR").await,
        "over_cap",
    );
    let paid = server.authorize(&shop, &card, "30.00", "EUR").await;
    assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.text);
    check(
        &server.authorize(&shop, &card, "20.01", "EUR").await,
        "over_cap",
    );
    let paid = server.authorize(&shop, &card, "20.00", "EUR").await;
    assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.text);

    // amount_mismatch and other_merchant: a checkout number (Figure 4), for a client of
    // the shop.
    server.introduce(&shop, &carol).await;
    let card = server.checkout_card(&shop, &carol, "12.34").await;
    check(
        &server.authorize(&shop, &card, "12.35", "EUR").await,
        "amount_mismatch",
    );
    check(
        &server.authorize(&other, &card, "12.34", "EUR").await,
        "other_merchant",
    );
    // other_merchant: a wallet number for the first merchant only.
    let (card, _) = server
        .wallet_card(
            &carol_session,
            &carol,
            &[("merchant", "first"), ("uses", "2")],
        )
        .await;
    let paid = server.authorize(&shop, &card, "1.00", "EUR").await;
    assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.text);
    check(
        &server.authorize(&other, &card, "1.00", "EUR").await,
        "other_merchant",
    );

    // currency_mismatch: the account is in EUR.
    let card = server.any_card(&carol_session, &carol).await;
    check(
        &server.authorize(&shop, &card, "1.00", "USD").await,
        "currency_mismatch",
    );

    // insufficient_funds: one cent more than the balance.
    let card = server.any_card(&dave_session, &dave).await;
    check(
        &server.authorize(&shop, &card, "100.01", "EUR").await,
        "insufficient_funds",
    );
    let paid = server.authorize(&shop, &card, "100.00", "EUR").await;
    assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.text);

    // expired: valid for 15 minutes; at the 900th second it is over.
    let (card, _) = server
        .wallet_card(&dave_session, &dave, &[("validity_min", "15")])
        .await;
    let (long_lived, _) = server
        .wallet_card(&carol_session, &carol, &[("validity_min", "1440")])
        .await;
    server.clock.advance(NUMBER_VALIDITY_S - 1);
    check(
        &server.authorize(&shop, &card, "1.00", "EUR").await,
        "insufficient_funds",
    );
    server.clock.advance(1);
    check(
        &server.authorize(&shop, &card, "1.00", "EUR").await,
        "expired",
    );

    // blocked: the operator blocks the client; unblocking restores the number.
    let blocked = server
        .admin(
            Method::POST,
            &format!("/admin/v1/clients/{}/block", carol.id),
            None,
        )
        .await;
    assert_eq!(blocked.status, StatusCode::OK, "{}", blocked.text);
    assert_eq!(blocked.json()["blocked"], true);
    check(
        &server.authorize(&shop, &long_lived, "1.00", "EUR").await,
        "blocked",
    );
    // The shop is told no more than for a login nobody has.
    check_error(
        &server.checkout_number(&shop, "carol", "1.00", "EUR").await,
        404,
        "unknown_client",
    );
    let unblocked = server
        .admin(
            Method::POST,
            &format!("/admin/v1/clients/{}/unblock", carol.id),
            None,
        )
        .await;
    assert_eq!(unblocked.status, StatusCode::OK, "{}", unblocked.text);
    let paid = server.authorize(&shop, &long_lived, "1.00", "EUR").await;
    assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.text);

    let every: BTreeSet<&str> = sceau_domain::Decline::ALL
        .iter()
        .map(|decline| decline.code())
        .collect();
    assert_eq!(seen, every, "every decline code was seen over HTTP");
    server.assert_figures(&carol, "1000.00", "53.00").await;
    server.assert_figures(&dave, "100.00", "100.00").await;
    server.assert_ledger_sound().await;

    // The client sees each number's state.
    let state_of = |me: &Value, card: &Card| {
        me["numbers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["last_four"] == card.last_four())
            .map(|n| n["state"].clone())
    };
    let carol_me = server.me(&carol_session).await;
    assert_eq!(
        state_of(&carol_me, &tried_three_times),
        Some(json!("blocked"))
    );
    assert_eq!(state_of(&carol_me, &long_lived), Some(json!("consumed")));
    let dave_me = server.me(&dave_session).await;
    assert_eq!(state_of(&dave_me, &card), Some(json!("expired")));
}

/// Capture (partial, once), void, refunds (partial, within what was captured), and the
/// lookups of an authorization.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capture_void_and_refund() {
    let server = Server::start().await;
    let shop = server.enroll_merchant("Shop").await;
    let other = server.enroll_merchant("Other Shop").await;
    let frank = server
        .enroll_client("frank", "+33633333333", "500.00")
        .await;
    let session = server.sign_in("frank").await;
    let (card, _) = server.wallet_card(&session, &frank, &[("uses", "3")]).await;

    let first = server.authorize(&shop, &card, "40.00", "EUR").await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    let id = first.id();
    let read = server
        .merchant_get(&shop, &format!("/v1/authorizations/{id}"))
        .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text);
    assert_eq!(read.json(), first.json(), "GET shows what was answered");
    server.assert_figures(&frank, "500.00", "40.00").await;

    let eur = |amount: &str| Some(json!({ "amount": amount, "currency": "EUR" }));
    check_error(
        &server.act(&shop, id, "capture", eur("40.01")).await,
        422,
        "amount_exceeds_authorized",
    );
    check_error(
        &server
            .act(
                &shop,
                id,
                "capture",
                Some(json!({"amount": "1.00", "currency": "USD"})),
            )
            .await,
        422,
        "currency_mismatch",
    );
    check_error(
        &server
            .act(&shop, id, "capture", Some(json!({"amount": "1.00"})))
            .await,
        400,
        "invalid_field",
    );

    let captured = server.act(&shop, id, "capture", eur("30.00")).await;
    assert_eq!(captured.status, StatusCode::OK, "{}", captured.text);
    let body = captured.json();
    assert_eq!(
        (&body["state"], &body["amount"], &body["captured"]),
        (&json!("captured"), &json!("40.00"), &json!("30.00")),
        "{body}"
    );
    server.assert_figures(&frank, "470.00", "0.00").await;
    check_error(
        &server.act(&shop, id, "capture", None).await,
        409,
        "already_captured",
    );
    check_error(
        &server.act(&shop, id, "void", None).await,
        409,
        "already_captured",
    );

    let refunded = server.act(&shop, id, "refunds", eur("10.00")).await;
    assert_eq!(refunded.status, StatusCode::OK, "{}", refunded.text);
    let body = refunded.json();
    assert_eq!(body["refunded"], "10.00", "{body}");
    assert_eq!(body["refund"]["amount"], "10.00", "{body}");
    assert!(body["refund"]["id"].as_i64().is_some(), "{body}");
    server.assert_figures(&frank, "480.00", "0.00").await;
    check_error(
        &server.act(&shop, id, "refunds", eur("20.01")).await,
        422,
        "amount_exceeds_refundable",
    );
    let rest = server.act(&shop, id, "refunds", None).await;
    assert_eq!(rest.status, StatusCode::OK, "{}", rest.text);
    assert_eq!(rest.json()["refund"]["amount"], "20.00");
    assert_eq!(rest.json()["refunded"], "30.00");
    check_error(
        &server.act(&shop, id, "refunds", eur("0.01")).await,
        422,
        "amount_exceeds_refundable",
    );
    server.assert_figures(&frank, "500.00", "0.00").await;

    // A second authorization: refunds need a capture; a void releases the hold.
    let second = server.authorize(&shop, &card, "15.00", "EUR").await;
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.text);
    let second = second.id();
    server.assert_figures(&frank, "500.00", "15.00").await;
    check_error(
        &server.act(&shop, second, "refunds", eur("1.00")).await,
        409,
        "not_captured",
    );
    let voided = server.act(&shop, second, "void", Some(json!({}))).await;
    assert_eq!(voided.status, StatusCode::OK, "{}", voided.text);
    assert_eq!(voided.json()["state"], "voided");
    server.assert_figures(&frank, "500.00", "0.00").await;
    for action in ["capture", "void"] {
        check_error(
            &server.act(&shop, second, action, None).await,
            409,
            "authorization_voided",
        );
    }
    check_error(
        &server.act(&shop, second, "void", eur("1.00")).await,
        400,
        "invalid_field",
    );

    // Another merchant's authorization, or none at all, is not found.
    for (merchant, id) in [(&other, id), (&other, second), (&shop, 999_999)] {
        check_error(
            &server
                .merchant_get(merchant, &format!("/v1/authorizations/{id}"))
                .await,
            404,
            "authorization_not_found",
        );
        for (action, body) in [
            ("capture", None),
            ("capture", eur("1.00")),
            ("void", None),
            ("refunds", None),
            ("refunds", eur("1.00")),
        ] {
            check_error(
                &server.act(merchant, id, action, body).await,
                404,
                "authorization_not_found",
            );
        }
    }
    // Ids that are not positive integers: a JSON 404 too.
    for id in ["abc", "0", "-1", "1.5", "99999999999999999999"] {
        check_error(
            &server
                .merchant_get(&shop, &format!("/v1/authorizations/{id}"))
                .await,
            404,
            "not_found",
        );
        check_error(
            &server.act(&shop, id, "capture", None).await,
            404,
            "not_found",
        );
    }

    let read = server
        .merchant_get(&shop, &format!("/v1/authorizations/{id}"))
        .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text);
    let body = read.json();
    assert_eq!(
        (&body["state"], &body["captured"], &body["refunded"]),
        (&json!("captured"), &json!("30.00"), &json!("30.00")),
        "{body}"
    );
    assert!(body.get("refund").is_none(), "{body}");
    server.assert_figures(&frank, "500.00", "0.00").await;
    server.assert_ledger_sound().await;

    // A hold past its time cannot be captured; the sweep releases it.
    let third = server.authorize(&shop, &card, "5.00", "EUR").await;
    assert_eq!(third.status, StatusCode::CREATED, "{}", third.text);
    let third = third.id();
    server.clock.advance(HOLD_TTL_S);
    check_error(
        &server.act(&shop, third, "capture", None).await,
        409,
        "authorization_expired",
    );
    server.assert_figures(&frank, "500.00", "5.00").await;
    let swept = server
        .service
        .store
        .expire(server.service.now_s())
        .await
        .unwrap();
    assert_eq!(swept.holds_released, 1, "{swept:?}");
    server.assert_figures(&frank, "500.00", "0.00").await;
    let read = server
        .merchant_get(&shop, &format!("/v1/authorizations/{third}"))
        .await;
    assert_eq!(read.json()["state"], "expired", "{}", read.text);
    for action in ["capture", "void"] {
        check_error(
            &server.act(&shop, third, action, None).await,
            409,
            "authorization_expired",
        );
    }
    check_error(
        &server.act(&shop, third, "refunds", None).await,
        409,
        "not_captured",
    );
    server.assert_ledger_sound().await;
}

/// The same Idempotency-Key with the same request replays the first answer (one effect);
/// with another request it is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_key_replays_the_first_answer() {
    let server = Server::start().await;
    let shop = server.enroll_merchant("Shop").await;
    let other = server.enroll_merchant("Other Shop").await;
    let grace = server
        .enroll_client("grace", "+33644444444", "200.00")
        .await;
    let session = server.sign_in("grace").await;
    let (card, _) = server.wallet_card(&session, &grace, &[("uses", "3")]).await;
    let body = card.body("25.00", "EUR");

    let first = server
        .merchant_post(&shop, "/v1/authorizations", &body, Some("order-1"))
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    assert_eq!(first.header("idempotent-replayed"), None);
    for _ in 0..2 {
        let again = server
            .merchant_post(&shop, "/v1/authorizations", &body, Some("order-1"))
            .await;
        assert_eq!(again.status, first.status);
        assert_eq!(again.text, first.text, "the same body, byte for byte");
        assert_eq!(again.header("idempotent-replayed"), Some("true"));
    }
    server.assert_figures(&grace, "200.00", "25.00").await;
    assert_eq!(server.me(&session).await["numbers"][0]["uses"], 1);

    // Eight copies of a new request at once: one runs, seven replay its answer.
    let race = card.body("1.00", "EUR");
    let mut copies = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let request = server
            .http
            .post(server.url("/v1/authorizations"))
            .bearer_auth(&shop.key)
            .header("Idempotency-Key", "race-1")
            .json(&race);
        copies.spawn(async move {
            let response = request.send().await.unwrap();
            let replayed = response.headers().get("idempotent-replayed").is_some();
            (response.status(), replayed, response.text().await.unwrap())
        });
    }
    let mut answers = Vec::new();
    while let Some(copy) = copies.join_next().await {
        answers.push(copy.unwrap());
    }
    assert_eq!(
        answers.iter().filter(|(_, replayed, _)| !replayed).count(),
        1
    );
    for (status, _, text) in &answers {
        assert_eq!((*status, text), (StatusCode::CREATED, &answers[0].2));
    }
    server.assert_figures(&grace, "200.00", "26.00").await;

    let changed = card.body("26.00", "EUR");
    check_error(
        &server
            .merchant_post(&shop, "/v1/authorizations", &changed, Some("order-1"))
            .await,
        422,
        "idempotency_key_reused",
    );
    server.assert_figures(&grace, "200.00", "26.00").await;

    // Keys belong to a merchant: another merchant's "order-1" is its own request.
    let elsewhere = server
        .merchant_post(&other, "/v1/authorizations", &body, Some("order-1"))
        .await;
    assert_eq!(elsewhere.status, StatusCode::CREATED, "{}", elsewhere.text);
    assert_ne!(elsewhere.id(), first.id());
    assert_eq!(elsewhere.header("idempotent-replayed"), None);
    server.assert_figures(&grace, "200.00", "51.00").await;

    // Captures replay too, and move money once.
    let path = format!("/v1/authorizations/{}/capture", first.id());
    let captured = server
        .merchant_post(&shop, &path, &json!({}), Some("capture-1"))
        .await;
    assert_eq!(captured.status, StatusCode::OK, "{}", captured.text);
    let again = server
        .merchant_post(&shop, &path, &json!({}), Some("capture-1"))
        .await;
    assert_eq!(
        (again.status, again.text.as_str()),
        (captured.status, captured.text.as_str())
    );
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    server.assert_figures(&grace, "175.00", "26.00").await;
    // A key used for an authorization cannot be used for a capture.
    check_error(
        &server
            .merchant_post(&shop, &path, &json!({}), Some("order-1"))
            .await,
        422,
        "idempotency_key_reused",
    );

    // Declines replay, and a replayed wrong try is not another try.
    let card = server.any_card(&session, &grace).await;
    let wrong = card.with_wrong_code().body("5.00", "EUR");
    let declined = server
        .merchant_post(&shop, "/v1/authorizations", &wrong, Some("try-1"))
        .await;
    check_decline(&declined, "wrong_card_details");
    for _ in 0..3 {
        let again = server
            .merchant_post(&shop, "/v1/authorizations", &wrong, Some("try-1"))
            .await;
        check_decline(&again, "wrong_card_details");
        assert_eq!(again.text, declined.text);
        assert_eq!(again.header("idempotent-replayed"), Some("true"));
    }
    check_decline(
        &server
            .merchant_post(&shop, "/v1/authorizations", &wrong, Some("try-2"))
            .await,
        "wrong_card_details",
    );
    let paid = server
        .merchant_post(
            &shop,
            "/v1/authorizations",
            &card.body("5.00", "EUR"),
            Some("try-3"),
        )
        .await;
    assert_eq!(
        paid.status,
        StatusCode::CREATED,
        "two tries only: {}",
        paid.text
    );
    let used = server
        .merchant_post(
            &shop,
            "/v1/authorizations",
            &card.body("5.00", "EUR"),
            Some("try-4"),
        )
        .await;
    check_decline(&used, "already_used");
    let replayed = server
        .merchant_post(
            &shop,
            "/v1/authorizations",
            &card.body("5.00", "EUR"),
            Some("try-4"),
        )
        .await;
    assert_eq!(replayed.text, used.text);
    assert_eq!(replayed.header("idempotent-replayed"), Some("true"));

    server.assert_figures(&grace, "175.00", "31.00").await;
    server.assert_ledger_sound().await;
}

/// How one bad request is sent.
enum Bad {
    /// `POST /v1/authorizations` with the merchant's key and this JSON.
    Authorize(Value),
    /// `POST path` with this raw body and content type, with the merchant's key.
    Raw {
        path: &'static str,
        content_type: Option<&'static str>,
        body: String,
    },
    /// `method path` with this `Authorization` header (or none) and a JSON body.
    Auth {
        method: Method,
        path: &'static str,
        authorization: Option<String>,
    },
}

/// Bad input: a 4xx with the error shape and a stable code, the card number never echoed,
/// and nothing written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_with_a_stable_code_and_changes_nothing() {
    let server = Server::start().await;
    let shop = server.enroll_merchant("Shop").await;
    let heidi = server
        .enroll_client("heidi", "+33655555555", "100.00")
        .await;
    let session = server.sign_in("heidi").await;
    let card = server.any_card(&session, &heidi).await;
    let good = card.body("10.00", "EUR");
    let with = |field: &str, value: Value| {
        let mut body = good.clone();
        body[field] = value;
        body
    };
    let without = |field: &str| {
        let mut body = good.clone();
        body.as_object_mut().unwrap().remove(field);
        body
    };
    let luhn_failure = {
        let mut digits = card.number.clone().into_bytes();
        digits[15] = b'0' + (digits[15] - b'0' + 1) % 10;
        String::from_utf8(digits).unwrap()
    };
    let bearer = |token: &str| Some(format!("Bearer {token}"));
    let big = format!(
        "{{\"number\": \"{}\", \"reference\": \"{}\"}}",
        card.number,
        "x".repeat(17 * 1024)
    );

    #[rustfmt::skip]
    let cases: Vec<(&str, Bad, u16, &str)> = vec![
        ("not JSON", Bad::Raw { path: "/v1/authorizations", content_type: Some("application/json"), body: format!("{{\"number\": \"{}\"", card.number) }, 400, "invalid_json"),
        ("empty body", Bad::Raw { path: "/v1/authorizations", content_type: Some("application/json"), body: String::new() }, 400, "invalid_json"),
        ("JSON array", Bad::Authorize(json!([good.clone()])), 400, "invalid_field"),
        ("text/plain", Bad::Raw { path: "/v1/authorizations", content_type: Some("text/plain"), body: good.to_string() }, 415, "unsupported_media_type"),
        ("form encoded", Bad::Raw { path: "/v1/authorizations", content_type: Some("application/x-www-form-urlencoded"), body: format!("number={}", card.number) }, 415, "unsupported_media_type"),
        ("no content type", Bad::Raw { path: "/v1/authorizations", content_type: None, body: good.to_string() }, 415, "unsupported_media_type"),
        ("capture as text/plain", Bad::Raw { path: "/v1/authorizations/1/capture", content_type: Some("text/plain"), body: "{}".into() }, 415, "unsupported_media_type"),
        ("unknown field", Bad::Authorize(with("cardholder", json!("H. Smith"))), 400, "invalid_field"),
        ("missing amount", Bad::Authorize(without("amount")), 400, "invalid_field"),
        ("missing number", Bad::Authorize(without("number")), 400, "invalid_field"),
        ("missing security code", Bad::Authorize(without("security_code")), 400, "invalid_field"),
        ("number as a JSON number", Bad::Authorize(with("number", json!(card.number.parse::<u64>().unwrap()))), 400, "invalid_field"),
        ("amount as a JSON number", Bad::Authorize(with("amount", json!(10))), 400, "invalid_field"),
        ("expiry month 300", Bad::Authorize(with("expiry_month", json!(300))), 400, "invalid_field"),
        ("negative amount", Bad::Authorize(with("amount", json!("-10.00"))), 422, "amount_not_positive"),
        ("zero amount", Bad::Authorize(with("amount", json!("0"))), 422, "amount_not_positive"),
        ("zero amount with decimals", Bad::Authorize(with("amount", json!("0.00"))), 422, "amount_not_positive"),
        ("overflowing amount", Bad::Authorize(with("amount", json!("99999999999999999999"))), 422, "amount_too_large"),
        ("amount beyond the maximum", Bad::Authorize(with("amount", json!("10000000000000.01"))), 422, "amount_too_large"),
        ("not an amount", Bad::Authorize(with("amount", json!("ten"))), 422, "invalid_amount"),
        ("amount ending in a point", Bad::Authorize(with("amount", json!("1."))), 422, "invalid_amount"),
        ("amount starting with a point", Bad::Authorize(with("amount", json!(".5"))), 422, "invalid_amount"),
        ("amount with a sign", Bad::Authorize(with("amount", json!("+1.00"))), 422, "invalid_amount"),
        ("amount with spaces", Bad::Authorize(with("amount", json!(" 1.00"))), 422, "invalid_amount"),
        ("amount with a comma", Bad::Authorize(with("amount", json!("10,00"))), 422, "invalid_amount"),
        ("EUR with three decimals", Bad::Authorize(with("amount", json!("1.001"))), 422, "too_many_decimals"),
        ("JPY with decimals", Bad::Authorize(json!({"number": card.number, "expiry_month": card.month, "expiry_year": card.year, "security_code": card.code, "amount": "1.5", "currency": "JPY"})), 422, "too_many_decimals"),
        ("unknown currency", Bad::Authorize(with("currency", json!("XYZ"))), 422, "unknown_currency"),
        ("lower-case currency", Bad::Authorize(with("currency", json!("eur"))), 422, "unknown_currency"),
        ("15-digit number", Bad::Authorize(with("number", json!(card.number[..15]))), 422, "invalid_number"),
        ("17-digit number", Bad::Authorize(with("number", json!(format!("{}0", card.number)))), 422, "invalid_number"),
        ("Luhn failure", Bad::Authorize(with("number", json!(luhn_failure))), 422, "invalid_number"),
        ("number with dashes", Bad::Authorize(with("number", json!(format!("{}-{}", &card.number[..8], &card.number[8..])))), 422, "invalid_number"),
        ("expiry month 13", Bad::Authorize(with("expiry_month", json!(13))), 422, "invalid_expiry"),
        ("expiry month 0", Bad::Authorize(with("expiry_month", json!(0))), 422, "invalid_expiry"),
        ("security code 12a", Bad::Authorize(with("security_code", json!("12a"))), 422, "invalid_security_code"),
        ("security code of 4 digits", Bad::Authorize(with("security_code", json!(format!("{}0", card.code)))), 422, "invalid_security_code"),
        ("reference too long", Bad::Authorize(with("reference", json!("r".repeat(129)))), 422, "invalid_reference"),
        ("reference with a control character", Bad::Authorize(with("reference", json!("a\u{7}b"))), 422, "invalid_reference"),
        ("body over 16 KiB", Bad::Raw { path: "/v1/authorizations", content_type: Some("application/json"), body: big.clone() }, 413, "body_too_large"),
        ("no API key", Bad::Auth { method: Method::POST, path: "/v1/authorizations", authorization: None }, 401, "unauthorized"),
        ("wrong API key", Bad::Auth { method: Method::POST, path: "/v1/authorizations", authorization: bearer("sk_0000000000000000000000000000000000000000000000000000000000000000") }, 401, "unauthorized"),
        ("API key not as a bearer", Bad::Auth { method: Method::POST, path: "/v1/authorizations", authorization: Some(shop.key.clone()) }, 401, "unauthorized"),
        ("admin token as API key", Bad::Auth { method: Method::POST, path: "/v1/authorizations", authorization: bearer(ADMIN_TOKEN) }, 401, "unauthorized"),
        ("very long API key", Bad::Auth { method: Method::POST, path: "/v1/authorizations", authorization: bearer(&"k".repeat(300)) }, 401, "unauthorized"),
        ("no key for a lookup", Bad::Auth { method: Method::GET, path: "/v1/authorizations/1", authorization: None }, 401, "unauthorized"),
        ("admin API without a token", Bad::Auth { method: Method::GET, path: "/admin/v1/clients", authorization: None }, 401, "unauthorized"),
        ("admin API with a wrong token", Bad::Auth { method: Method::GET, path: "/admin/v1/clients", authorization: bearer("adm_wrong") }, 401, "unauthorized"),
        ("admin API with a merchant key", Bad::Auth { method: Method::GET, path: "/admin/v1/ledger/check", authorization: bearer(&shop.key) }, 401, "unauthorized"),
        ("admin enrolment with a wrong token", Bad::Auth { method: Method::POST, path: "/admin/v1/merchants", authorization: bearer("adm_wrong") }, 401, "unauthorized"),
        ("admin block with a wrong token", Bad::Auth { method: Method::POST, path: "/admin/v1/clients/1/block", authorization: bearer("adm_wrong") }, 401, "unauthorized"),
        ("unknown route", Bad::Auth { method: Method::GET, path: "/v1/nothing-here", authorization: bearer(&shop.key) }, 404, "not_found"),
        ("unknown admin route", Bad::Auth { method: Method::GET, path: "/admin/v1/nothing-here", authorization: bearer(ADMIN_TOKEN) }, 404, "not_found"),
        ("wrong method", Bad::Auth { method: Method::DELETE, path: "/v1/authorizations", authorization: bearer(&shop.key) }, 405, "method_not_allowed"),
    ];

    for (name, how, status, code) in cases {
        let request = match how {
            Bad::Authorize(body) => server
                .http
                .post(server.url("/v1/authorizations"))
                .bearer_auth(&shop.key)
                .json(&body),
            Bad::Raw {
                path,
                content_type,
                body,
            } => {
                let mut request = server
                    .http
                    .post(server.url(path))
                    .bearer_auth(&shop.key)
                    .body(body);
                if let Some(content_type) = content_type {
                    request = request.header("content-type", content_type);
                }
                request
            }
            Bad::Auth {
                method,
                path,
                authorization,
            } => {
                let mut request = server.http.request(method, server.url(path)).json(&good);
                if let Some(authorization) = authorization {
                    request = request.header("authorization", authorization);
                }
                request
            }
        };
        let reply = server.send(request).await;
        assert_eq!(
            (
                reply.status.as_u16(),
                reply.json()["error"]["code"].as_str()
            ),
            (status, Some(code)),
            "{name}: {}",
            reply.text
        );
        check_error(&reply, status, code);
        for secret in [
            card.number.as_str(),
            &card.number[..15],
            luhn_failure.as_str(),
            &card.number[4..12],
        ] {
            assert!(
                !reply.text.contains(secret),
                "{name} echoes the number: {}",
                reply.text
            );
        }
    }

    // Checkout numbers are checked the same way.
    #[rustfmt::skip]
    let checkout_cases: Vec<(Value, u16, &str)> = vec![
        (json!({"client": "heidi", "amount": "0", "currency": "EUR"}), 422, "amount_not_positive"),
        (json!({"client": "heidi", "amount": "1.001", "currency": "EUR"}), 422, "too_many_decimals"),
        (json!({"client": "heidi", "amount": "1", "currency": "XYZ"}), 422, "unknown_currency"),
        (json!({"client": "heidi", "amount": "1.00", "currency": "EUR", "validity_s": 10}), 422, "invalid_validity"),
        (json!({"client": "heidi", "amount": "1.00", "currency": "EUR", "validity_s": 86_401}), 422, "invalid_validity"),
        (json!({"client": "heidi", "amount": "1.00"}), 400, "invalid_field"),
        (json!({"client": "heidi", "amount": "1.00", "currency": "EUR", "uses": 2}), 400, "invalid_field"),
    ];
    for (body, status, code) in checkout_cases {
        let reply = server
            .merchant_post(&shop, "/v1/numbers", &body, None)
            .await;
        assert_eq!(reply.status.as_u16(), status, "{body}: {}", reply.text);
        check_error(&reply, status, code);
    }
    // Enrolments are checked too, and a refused one creates nothing.
    let enrol = |login: &str, password: &str, phone: &str| {
        json!({"login": login, "display_name": "New Client", "password": password,
               "phone": phone, "currency": "EUR"})
    };
    #[rustfmt::skip]
    let enrolment_cases: Vec<(Value, u16, &str)> = vec![
        (enrol("heidi", PASSWORD, "+33698989898"), 409, "login_taken"),
        (enrol("ivan", PASSWORD, &heidi.phone), 409, "phone_taken"),
        (enrol("ivan", "short", "+33698989898"), 422, "weak_password"),
        (enrol("i van", PASSWORD, "+33698989898"), 422, "invalid_field"),
        (enrol("ivan", PASSWORD, "0698989898"), 422, "invalid_phone"),
        (json!({"login": "ivan", "display_name": "New Client", "password": PASSWORD, "phone": "+33698989898", "currency": "EUR", "opening_balance": "-1"}), 422, "amount_not_positive"),
        (json!({"login": "ivan", "display_name": "New Client", "password": PASSWORD, "phone": "+33698989898", "currency": "XYZ"}), 422, "unknown_currency"),
        (json!({"login": "ivan", "display_name": "New Client", "password": PASSWORD, "phone": "+33698989898"}), 400, "invalid_field"),
        (json!({"login": "ivan", "display_name": "New Client", "password": PASSWORD, "phone": "+33698989898", "currency": "EUR", "email": "Ivan <ivan@example.org>"}), 422, "invalid_field"),
        (json!({"login": "ivan", "display_name": "New Client", "password": PASSWORD, "phone": "+33698989898", "currency": "EUR", "email": "ivan@example.org\r\nBcc: eve@example.org"}), 422, "invalid_field"),
        (json!({"login": "ivan", "display_name": "New Client", "password": PASSWORD, "phone": "+33698989898", "currency": "EUR", "email": "ivan@example.org, eve@example.org"}), 422, "invalid_field"),
        (json!({"login": "ivan", "display_name": "New Client", "password": PASSWORD, "phone": "+33698989898", "currency": "EUR", "email": format!("{}@example.org", "i".repeat(250))}), 422, "invalid_field"),
    ];
    for (body, status, code) in enrolment_cases {
        let reply = server
            .admin(Method::POST, "/admin/v1/clients", Some(body.clone()))
            .await;
        assert_eq!(reply.status.as_u16(), status, "{body}: {}", reply.text);
        check_error(&reply, status, code);
        assert!(!reply.text.contains(PASSWORD), "{}", reply.text);
    }
    let clients = server.admin(Method::GET, "/admin/v1/clients", None).await;
    assert_eq!(
        clients.json().as_array().unwrap().len(),
        1,
        "{}",
        clients.text
    );

    let long_key = "k".repeat(256);
    check_error(
        &server
            .merchant_post(&shop, "/v1/authorizations", &good, Some(&long_key))
            .await,
        400,
        "invalid_idempotency_key",
    );

    // Nothing was written: no hold, no number, no merchant, no message, a sound ledger.
    server.assert_figures(&heidi, "100.00", "0.00").await;
    let me = server.me(&session).await;
    assert_eq!(me["numbers"].as_array().unwrap().len(), 1, "{me}");
    assert_eq!(me["numbers"][0]["uses"], 0, "{me}");
    assert_eq!(me["numbers"][0]["state"], "live", "{me}");
    server.deliver().await;
    assert_eq!(server.phone_messages(&heidi.phone).await.len(), 1);
    let merchants = server.admin(Method::GET, "/admin/v1/merchants", None).await;
    assert_eq!(
        merchants.json().as_array().unwrap().len(),
        1,
        "{}",
        merchants.text
    );
    server.assert_ledger_sound().await;
    // The number was good all along.
    let paid = server
        .merchant_post(&shop, "/v1/authorizations", &good, None)
        .await;
    assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.text);
}

/// A reference is text people read (the merchant's pages, the client's statement): the
/// invisible and bidirectional characters that checkouts refuse are refused here too,
/// before anything is written: no authorization, no hold, no evidence record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invisible_characters_in_a_reference_are_refused_and_nothing_is_recorded() {
    let server = Server::start().await;
    let shop = server.enroll_merchant("Shop").await;
    let heidi = server
        .enroll_client("heidi", "+33655555555", "100.00")
        .await;
    let session = server.sign_in("heidi").await;
    let card = server.any_card(&session, &heidi).await;
    let numbers = server
        .service
        .store
        .client_numbers(heidi.id, 10)
        .await
        .unwrap();
    let subject = sceau_store::evidence::number_subject(numbers[0].id);
    let records = async || server.service.store.evidence(&subject).await.unwrap();
    let issued = records().await;
    assert_eq!(issued.len(), 1, "{issued:?}");
    for invisible in ['\u{202E}', '\u{2066}', '\u{200B}', '\u{FEFF}', '\u{061C}'] {
        let mut body = card.body("10.00", "EUR");
        body["reference"] = json!(format!("order{invisible}-77"));
        let reply = server
            .merchant_post(&shop, "/v1/authorizations", &body, None)
            .await;
        assert_eq!(
            reply.status.as_u16(),
            422,
            "U+{:04X}: {}",
            u32::from(invisible),
            reply.text
        );
        check_error(&reply, 422, "invalid_reference");
    }
    assert_eq!(records().await.len(), issued.len());
    server.assert_figures(&heidi, "100.00", "0.00").await;
    let me = server.me(&session).await;
    assert_eq!(me["numbers"][0]["uses"], 0, "{me}");
    // The same card and amount with a plain reference: authorized, and recorded.
    let authorized = server
        .merchant_post(
            &shop,
            "/v1/authorizations",
            &card.body("10.00", "EUR"),
            None,
        )
        .await;
    assert_eq!(
        authorized.status,
        StatusCode::CREATED,
        "{}",
        authorized.text
    );
    assert_eq!(authorized.json()["reference"], "order-1");
    assert_eq!(records().await.len(), issued.len() + 1);
    server.stop().await;
}

/// `Idempotency-Key` is 1 to 255 visible ASCII characters, as documented: a space, a tab
/// or a byte beyond ASCII is a 400 with a stable code, and nothing is done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_are_visible_ascii() {
    let server = Server::start().await;
    let shop = server.enroll_merchant("Shop").await;
    let heidi = server
        .enroll_client("heidi", "+33655555555", "100.00")
        .await;
    let session = server.sign_in("heidi").await;
    let card = server.any_card(&session, &heidi).await;
    let body = card.body("10.00", "EUR");
    let keyed = async |key: reqwest::header::HeaderValue| {
        server
            .send(
                server
                    .http
                    .post(server.url("/v1/authorizations"))
                    .bearer_auth(&shop.key)
                    .header("idempotency-key", key)
                    .json(&body),
            )
            .await
    };
    for key in [
        "order 77".as_bytes(),
        "order\t77".as_bytes(),
        " ".as_bytes(),
        "commande-été".as_bytes(),
        b"order-\xff",
    ] {
        let reply = keyed(reqwest::header::HeaderValue::from_bytes(key).unwrap()).await;
        assert_eq!(reply.status.as_u16(), 400, "{key:?}: {}", reply.text);
        check_error(&reply, 400, "invalid_idempotency_key");
    }
    server.assert_figures(&heidi, "100.00", "0.00").await;
    let first = keyed(reqwest::header::HeaderValue::from_static("order-77!~")).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    let again = keyed(reqwest::header::HeaderValue::from_static("order-77!~")).await;
    assert_eq!(
        again.header("idempotent-replayed"),
        Some("true"),
        "{}",
        again.text
    );
    server.stop().await;
}

/// An oversized body on capture, void or refund is refused like any other: JSON 413.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_body_on_capture_is_a_json_413() {
    let server = Server::start().await;
    let shop = server.enroll_merchant("Shop").await;
    let big = json!({ "amount": "1".repeat(17 * 1024), "currency": "EUR" });
    for action in ["capture", "void", "refunds"] {
        check_error(
            &server.act(&shop, 1, action, Some(big.clone())).await,
            413,
            "body_too_large",
        );
    }
}

/// A form body over 16 KiB is refused like any other oversized body: 413 body_too_large.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn oversized_form_is_a_413() {
    let server = Server::start().await;
    server.enroll_client("alice", ALICE_PHONE, "500.00").await;
    let session = server.sign_in("alice").await;
    let big = "x".repeat(17 * 1024);
    let login = server
        .send(
            server
                .http
                .post(server.url("/login"))
                .form(&[("login", "alice"), ("password", big.as_str())]),
        )
        .await;
    check_error(&login, 413, "body_too_large");
    let wallet = server
        .ask_number(
            &session,
            &[
                ("csrf", session.csrf.as_str()),
                ("amount_cap", big.as_str()),
            ],
        )
        .await;
    check_error(&wallet, 413, "body_too_large");
}

/// Media types are case-insensitive (RFC 9110 §8.3.1): capture, void and refund accept
/// `APPLICATION/JSON` as the authorization endpoint does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn capture_accepts_the_json_media_type_in_any_case() {
    let server = Server::start().await;
    let shop = server.enroll_merchant("Shop").await;
    let alice = server.enroll_client("alice", ALICE_PHONE, "500.00").await;
    let session = server.sign_in("alice").await;
    let card = server.any_card(&session, &alice).await;
    let authorized = server
        .send(
            server
                .http
                .post(server.url("/v1/authorizations"))
                .bearer_auth(&shop.key)
                .header("content-type", "Application/JSON")
                .body(card.body("10.00", "EUR").to_string()),
        )
        .await;
    assert_eq!(
        authorized.status,
        StatusCode::CREATED,
        "{}",
        authorized.text
    );
    let captured = server
        .send(
            server
                .http
                .post(server.url(&format!("/v1/authorizations/{}/capture", authorized.id())))
                .bearer_auth(&shop.key)
                .header("content-type", "Application/JSON")
                .body(r#"{"amount": "4.00", "currency": "EUR"}"#),
        )
        .await;
    assert_eq!(captured.status, StatusCode::OK, "{}", captured.text);
    assert_eq!(captured.json()["captured"], "4.00");
}

/// An error message never repeats the card number, whatever part of the body it was in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn card_number_sent_as_a_field_name_is_not_echoed() {
    let server = Server::start().await;
    let shop = server.enroll_merchant("Shop").await;
    let number = with_luhn_digit("499999123456789");
    let body = json!({ number.clone(): "123", "amount": "1.00", "currency": "EUR" });
    let reply = server
        .merchant_post(&shop, "/v1/authorizations", &body, None)
        .await;
    check_error(&reply, 400, "invalid_field");
    assert!(!reply.text.contains(&number), "{}", reply.text);
}

/// 64 merchants submit the same one-use number at once: exactly one is authorized.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_merchants_race_for_one_number() {
    const MERCHANTS: usize = 64;
    let server = std::sync::Arc::new(Server::start().await);
    let ivan = server.enroll_client("ivan", "+33666666666", "100.00").await;
    let session = server.sign_in("ivan").await;
    let card = server.any_card(&session, &ivan).await;
    let mut merchants = Vec::with_capacity(MERCHANTS);
    for index in 0..MERCHANTS {
        merchants.push(server.enroll_merchant(&format!("Merchant {index}")).await);
    }
    let ids: BTreeSet<i64> = merchants.iter().map(|m| m.id).collect();
    assert_eq!(ids.len(), MERCHANTS, "distinct merchants");

    let start = std::sync::Arc::new(tokio::sync::Barrier::new(MERCHANTS));
    let mut tasks = tokio::task::JoinSet::new();
    for merchant in merchants {
        let (server, card, start) = (server.clone(), card.clone(), start.clone());
        tasks.spawn(async move {
            let request = server
                .http
                .post(server.url("/v1/authorizations"))
                .bearer_auth(&merchant.key)
                .json(&card.body("10.00", "EUR"));
            start.wait().await;
            server.send(request).await
        });
    }
    let mut authorized = 0;
    let mut already_used = 0;
    while let Some(reply) = tasks.join_next().await {
        let reply = reply.unwrap();
        if reply.status == StatusCode::CREATED {
            authorized += 1;
        } else {
            check_decline(&reply, "already_used");
            already_used += 1;
        }
    }
    assert_eq!((authorized, already_used), (1, MERCHANTS - 1));
    server.assert_figures(&ivan, "100.00", "10.00").await;
    server.assert_ledger_sound().await;
}

/// Everything acknowledged before a stop is there after a restart on the same file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_authorizations_survive_a_restart() {
    let directory = tempfile::tempdir().unwrap();
    let database = directory.path().join("sceau.db");
    let clock = sceau_server::clock::ManualClock::starting_at(START_S);

    let server = Server::start_on(&database, clock.clone()).await;
    let shop = server.enroll_merchant("Shop").await;
    let judy = server.enroll_client("judy", "+33677777777", "300.00").await;
    let session = server.sign_in("judy").await;
    let (card, _) = server.wallet_card(&session, &judy, &[("uses", "3")]).await;
    let mut acknowledged = Vec::new();
    let mut first_answers = Vec::new();
    for amount in ["70.00", "20.00", "5.00"] {
        let reply = server
            .merchant_post(
                &shop,
                "/v1/authorizations",
                &card.body(amount, "EUR"),
                Some(amount),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        acknowledged.push(reply.id());
        first_answers.push((amount, reply.text));
    }
    let captured = server.act(&shop, acknowledged[0], "capture", None).await;
    assert_eq!(captured.status, StatusCode::OK, "{}", captured.text);
    let voided = server.act(&shop, acknowledged[2], "void", None).await;
    assert_eq!(voided.status, StatusCode::OK, "{}", voided.text);
    let mut before = Vec::new();
    for id in &acknowledged {
        let reply = server
            .merchant_get(&shop, &format!("/v1/authorizations/{id}"))
            .await;
        assert_eq!(reply.status, StatusCode::OK);
        before.push(reply.json());
    }
    let states: Vec<&Value> = before.iter().map(|b| &b["state"]).collect();
    assert_eq!(
        states,
        [&json!("captured"), &json!("authorized"), &json!("voided")]
    );
    let figures_before = server.figures(&judy).await;
    assert_eq!(figures_before, ("230.00".to_owned(), "20.00".to_owned()));
    let messages_before = server.phone_messages(&judy.phone).await;
    server.stop().await;

    let server = Server::start_on(&database, clock).await;
    for (id, expected) in acknowledged.iter().zip(&before) {
        let reply = server
            .merchant_get(&shop, &format!("/v1/authorizations/{id}"))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{id}: {}", reply.text);
        assert_eq!(&reply.json(), expected, "authorization {id}");
    }
    assert_eq!(server.figures(&judy).await, figures_before);
    assert_eq!(server.phone_messages(&judy.phone).await, messages_before);
    server.assert_ledger_sound().await;
    // Idempotency keys are durable too: the same requests replay the first answers.
    for (amount, text) in &first_answers {
        let again = server
            .merchant_post(
                &shop,
                "/v1/authorizations",
                &card.body(amount, "EUR"),
                Some(amount),
            )
            .await;
        assert_eq!(again.status, StatusCode::CREATED, "{}", again.text);
        assert_eq!(&again.text, text);
        assert_eq!(again.header("idempotent-replayed"), Some("true"));
    }
    assert_eq!(server.figures(&judy).await, figures_before);
    // The number keeps its uses, and the kept hold can still be captured.
    check_decline(
        &server.authorize(&shop, &card, "1.00", "EUR").await,
        "already_used",
    );
    let captured = server.act(&shop, acknowledged[1], "capture", None).await;
    assert_eq!(captured.status, StatusCode::OK, "{}", captured.text);
    server.assert_figures(&judy, "210.00", "0.00").await;
    server.assert_ledger_sound().await;
    server.stop().await;
}

/// Pages carry a Content-Security-Policy without 'unsafe-inline' and nosniff, and need
/// neither inline script nor inline style.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_carry_security_headers() {
    let server = Server::start().await;
    server.enroll_client("alice", ALICE_PHONE, "10.00").await;
    let session = server.sign_in("alice").await;
    let pages = [
        ("/", None),
        ("/login", None),
        ("/wallet", Some(session.cookie.as_str())),
        ("/wallet", None),
        ("/phone", None),
        ("/phone?to=%2B33612345678", None),
        ("/api/v1/me", Some(session.cookie.as_str())),
        ("/static/sceau.css", None),
        ("/health", None),
        ("/no-such-page", None),
    ];
    for (path, cookie) in pages {
        let reply = server.page(path, cookie).await;
        assert!(
            reply.status.is_success() || reply.status.is_redirection() || path == "/no-such-page",
            "{path}: {}",
            reply.status
        );
        let policy = reply
            .header("content-security-policy")
            .unwrap_or_else(|| panic!("{path}: no Content-Security-Policy"));
        assert!(!policy.contains("unsafe-inline"), "{path}: {policy}");
        assert!(!policy.contains("unsafe-eval"), "{path}: {policy}");
        assert!(policy.contains("default-src 'none'"), "{path}: {policy}");
        assert!(
            policy.contains("frame-ancestors 'none'"),
            "{path}: {policy}"
        );
        assert_eq!(
            reply.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(reply.header("x-frame-options"), Some("DENY"), "{path}");
        if reply
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/html"))
        {
            for inline in ["<script", " style=", " onclick=", " onload=", " onsubmit="] {
                assert!(
                    !reply.text.contains(inline),
                    "{path} needs {inline:?}, which the policy forbids"
                );
            }
        }
    }
    let phone = server.page("/phone?to=%2B33612345678", None).await;
    assert_eq!(phone.header("cache-control"), Some("no-store"));
}

/// `/phone?to=+33612345678` as people type it: in a query `+` reads as a space, so a
/// leading space before digits only is the `+` it was; anything else is still refused.
/// The page shows its own address with the `+` written `%2B`, which works when copied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_phone_page_takes_the_number_as_typed_and_shows_the_address_that_works() {
    let server = Server::start().await;
    let alice = server.enroll_client("alice", ALICE_PHONE, "10.00").await;
    let session = server.sign_in("alice").await;
    server
        .wallet_card(&session, &alice, &[("amount_cap", "5.00")])
        .await;
    let expected = server.phone_messages(ALICE_PHONE).await;
    assert_eq!(expected.len(), 1, "{expected:?}");
    let link = "href=\"/phone?to=%2B33612345678\"";
    for path in [
        "/phone?to=+33612345678",
        "/phone?to=%2B33612345678",
        "/phone?to=%2033612345678",
    ] {
        let reply = server.page(path, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.text);
        assert_eq!(messages_in_page(&reply.text), expected, "{path}");
        assert!(reply.text.contains(link), "{path}: {}", reply.text);
        assert!(
            reply.text.contains(">+33612345678<"),
            "{path}: {}",
            reply.text
        );
    }
    for path in [
        "/phone?to=33612345678",
        "/phone?to=++33612345678",
        "/phone?to=+33612345678+",
        "/phone?to=%20%2B33612345678",
        "/phone?to=+3361234567x",
        "/phone?to=+",
    ] {
        let reply = server.page(path, None).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{path}: {}",
            reply.text
        );
        assert!(reply.text.contains("Not a phone number"), "{path}");
        assert_eq!(messages_in_page(&reply.text), vec![], "{path}");
        assert!(!reply.text.contains("href=\"/phone?to="), "{path}");
    }
    // `limit` shows the newest texts only (what reading a seal needs); out of 1 to 50,
    // or not a number, it is refused.
    server
        .wallet_card(&session, &alice, &[("amount_cap", "6.00")])
        .await;
    let both = server.phone_messages(ALICE_PHONE).await;
    assert_eq!(both.len(), 2, "{both:?}");
    let reply = server.page("/phone?to=%2B33612345678&limit=1", None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(messages_in_page(&reply.text), both[..1].to_vec());
    let reply = server.page("/phone?to=%2B33612345678&limit=50", None).await;
    assert_eq!(messages_in_page(&reply.text), both);
    for limit in ["0", "51", "-1", "x", "", "4294967296", "1&limit=2"] {
        let path = format!("/phone?to=%2B33612345678&limit={limit}");
        check_error(&server.page(&path, None).await, 400, "invalid_query");
    }
    server.stop().await;
}

/// The JSON API answers JSON without a session, and ids are plain digits only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_api_without_session_and_odd_ids() {
    let server = Server::start().await;
    let me = server.page("/api/v1/me", None).await;
    check_error(&me, 401, "unauthorized");
    let shop = server.enroll_merchant("Shop").await;
    for id in ["+1", "01x", "1e3", " 1"] {
        let reply = server
            .merchant_get(&shop, &format!("/v1/authorizations/{id}"))
            .await;
        check_error(&reply, 404, "not_found");
    }
}

/// Five wrong card details in a row across a client's numbers pause the client, who is
/// told on their phone; the merchant sees only the usual declines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consecutive_failures_pause_the_client_and_tell_them() {
    let server = Server::start().await;
    let shop = server.enroll_merchant("Shop").await;
    let alice = server.enroll_client("alice", ALICE_PHONE, "500.00").await;
    server.introduce(&shop, &alice).await;
    let session = server.sign_in("alice").await;
    let cards = [
        server.any_card(&session, &alice).await,
        server.any_card(&session, &alice).await,
        server.any_card(&session, &alice).await,
    ];
    for card in [&cards[0], &cards[0], &cards[1], &cards[1], &cards[2]] {
        let reply = server
            .authorize(&shop, &card.with_wrong_code(), "1.00", "EUR")
            .await;
        check_decline(&reply, "wrong_card_details");
        assert!(!reply.text.contains("pause"), "{}", reply.text);
    }
    server.deliver().await;
    let (_, newest) = server.phone_messages(ALICE_PHONE).await.remove(0);
    assert!(
        newest.contains("5 times in a row") && newest.contains("paused until"),
        "{newest}"
    );
    check_decline(
        &server.authorize(&shop, &cards[2], "1.00", "EUR").await,
        "blocked",
    );
    // The shop, whose client she is, is told no more than for a login nobody has.
    check_error(
        &server.checkout_number(&shop, "alice", "1.00", "EUR").await,
        404,
        "unknown_client",
    );
    server.assert_ledger_sound().await;
}

/// A merchant retrying a checkout number with the same Idempotency-Key gets the same
/// answer and the client receives one SMS; another body under that key is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkout_number_retries_send_one_sms() {
    let server = Server::start().await;
    let shop = server.enroll_merchant("Shop").await;
    let alice = server.enroll_client("alice", ALICE_PHONE, "500.00").await;
    server.introduce(&shop, &alice).await;
    server.deliver().await;
    let before = server.phone_messages(ALICE_PHONE).await.len();
    let body = json!({ "client": "alice", "amount": "19.90", "currency": "EUR" });
    let first = server
        .merchant_post(&shop, "/v1/numbers", &body, Some("checkout-77"))
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    let again = server
        .merchant_post(&shop, "/v1/numbers", &body, Some("checkout-77"))
        .await;
    assert_eq!((again.status, again.json()), (first.status, first.json()));
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    server.deliver().await;
    assert_eq!(
        server.phone_messages(ALICE_PHONE).await.len(),
        before + 1,
        "one SMS for one checkout"
    );
    let other = json!({ "client": "alice", "amount": "25.00", "currency": "EUR" });
    let reused = server
        .merchant_post(&shop, "/v1/numbers", &other, Some("checkout-77"))
        .await;
    check_error(&reused, 422, "idempotency_key_reused");
}

/// Ten wrong passwords in a row lock sign-in to that account for 15 minutes; during the
/// lock even the right password is answered like a wrong one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_lock_sign_in() {
    let server = Server::start().await;
    server.enroll_client("alice", ALICE_PHONE, "500.00").await;
    let attempt = async |password: &str| {
        server
            .send(
                server
                    .http
                    .post(server.url("/login"))
                    .form(&[("login", "alice"), ("password", password)]),
            )
            .await
    };
    for _ in 0..sceau_domain::limits::SIGN_IN_FAILURES_MAX {
        assert_eq!(
            attempt("not the password").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let locked = attempt(PASSWORD).await;
    assert_eq!(locked.status, StatusCode::UNAUTHORIZED, "{}", locked.text);
    assert!(locked.header("set-cookie").is_none());
    server.clock.advance(sceau_domain::limits::SIGN_IN_LOCK_S);
    server.sign_in("alice").await;
}
