//! Payment by seal over real HTTP (Figures 1–3): a merchant's checkout, the client's
//! sign-in on the payment page, the electronic check, the seal on the phone typed back,
//! the signed webhook, and the ways it must fail.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::body::Bytes;
use axum::http::HeaderMap as AxumHeaders;
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};

/// A merchant's webhook endpoint: a real HTTP server on loopback that keeps what it got.
struct Hooks {
    url: String,
    received: Arc<Mutex<Vec<(AxumHeaders, Bytes)>>>,
}

impl Hooks {
    async fn start() -> Hooks {
        let received: Arc<Mutex<Vec<(AxumHeaders, Bytes)>>> = Arc::default();
        let kept = Arc::clone(&received);
        let app = axum::Router::new().route(
            "/hooks",
            axum::routing::post(move |headers: AxumHeaders, body: Bytes| {
                let kept = Arc::clone(&kept);
                async move {
                    kept.lock().unwrap().push((headers, body));
                    StatusCode::NO_CONTENT
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Hooks { url, received }
    }

    fn taken(&self) -> Vec<(AxumHeaders, Bytes)> {
        std::mem::take(&mut *self.received.lock().unwrap())
    }
}

async fn create_checkout(server: &Server, merchant: &Merchant, body: Value) -> Value {
    let reply = server
        .merchant_post(merchant, "/v1/checkouts", &body, None)
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    reply.json()
}

fn checkout_body(amount: &str, webhook_url: &str) -> Value {
    json!({
        "amount": amount, "currency": "EUR", "reference": "cart-42",
        "object": "Two concert tickets", "return_url": "http://127.0.0.1:9/shop/return",
        "webhook_url": webhook_url,
    })
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

fn another_seal(seal: &str) -> String {
    let value: u32 = seal.parse().unwrap();
    format!("{:08}", (value + 1) % 100_000_000)
}

#[tokio::test]
async fn a_client_pays_a_checkout_with_the_seal_sent_to_their_phone() {
    let server = Server::start().await;
    let hooks = Hooks::start().await;
    let shop = server.enroll_merchant("Le Petit Théâtre").await;
    let alice = server
        .enroll_client("alice", "+33612345678", "500.00")
        .await;
    let checkout = create_checkout(&server, &shop, checkout_body("1234.56", &hooks.url)).await;
    assert_eq!(checkout["state"], "open");
    assert_eq!(checkout["paid"], false);
    let id = checkout["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("co_") && id.len() == 35, "{id}");

    // Not enough money: refused on sign-in, nothing held.
    let (_, refused) = sign_in_to_pay(&server, &checkout, "alice").await;
    assert_eq!(
        refused.status,
        StatusCode::PAYMENT_REQUIRED,
        "{}",
        refused.text
    );
    assert!(refused.text.contains("cannot cover"), "{}", refused.text);
    server.assert_figures(&alice, "500.00", "0.00").await;

    let checkout = create_checkout(&server, &shop, checkout_body("49.90", &hooks.url)).await;
    let id = checkout["id"].as_str().unwrap().to_owned();
    let (payer, signed_in) = sign_in_to_pay(&server, &checkout, "alice").await;
    assert_eq!(
        signed_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_in.text
    );
    assert_eq!(signed_in.header("location"), Some(payer.path.as_str()));
    server.assert_figures(&alice, "500.00", "49.90").await;

    // The electronic check: every zone of Figure 3.
    let check = payer.page(&server).await;
    assert_eq!(check.status, StatusCode::OK, "{}", check.text);
    for zone in 21..=29 {
        assert!(
            check.text.contains(&format!("data-zone=\"{zone}\"")),
            "zone {zone} missing"
        );
    }
    for shown in [
        ISSUER,
        "Client alice",
        "49.90 EUR",
        "forty-nine euros and ninety cents",
        "quarante-neuf euros et quatre-vingt-dix centimes",
        "Le Petit Théâtre",
        "Two concert tickets",
        "cart-42",
        "Validate payment and sign",
    ] {
        assert!(
            check.text.contains(&escape_html(shown)),
            "{shown:?} not on the check"
        );
    }
    assert_eq!(check.header("cache-control"), Some("no-store"));
    let csp = check.header("content-security-policy").unwrap();
    assert!(
        !csp.contains("unsafe-inline") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert!(!check.text.contains("<script"), "no script on the check");

    // Validate: a seal for exactly this payment goes to the phone, with amount and payee.
    let before = server.newest_message_id(&alice.phone).await;
    let validated = payer.post(&server, "validate", &[]).await;
    assert_eq!(
        validated.status,
        StatusCode::SEE_OTHER,
        "{}",
        validated.text
    );
    let (seal, sms) = seal_on_phone(&server, &alice.phone, before).await;
    assert!(
        sms.contains("49.90 EUR") && sms.contains("Le Petit Théâtre"),
        "{sms}"
    );
    assert!(sms.contains("Two concert tickets"), "{sms}");
    // The seal is shown only on the phone: not on the page.
    let seal_page = payer.page(&server).await;
    assert!(!seal_page.text.contains(&seal));
    assert!(
        seal_page.text.contains("Sign and pay"),
        "{}",
        seal_page.text
    );

    let paid = payer.post(&server, "seal", &[("seal", &seal)]).await;
    assert_eq!(paid.status, StatusCode::SEE_OTHER, "{}", paid.text);
    let done = payer.page(&server).await;
    assert!(done.text.contains("id=\"paid\""), "{}", done.text);
    assert!(
        done.text
            .contains(&format!("shop/return?checkout={id}&#38;state=paid")),
        "{}",
        done.text
    );
    server.assert_figures(&alice, "450.10", "0.00").await;

    // A seal is accepted once.
    let again = payer.post(&server, "seal", &[("seal", &seal)]).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);

    // The merchant polls, and gets the signed webhook.
    let polled = server
        .merchant_get(&shop, &format!("/v1/checkouts/{id}"))
        .await;
    assert_eq!(polled.status, StatusCode::OK, "{}", polled.text);
    let polled = polled.json();
    assert_eq!(
        (polled["state"].as_str(), polled["paid"].as_bool()),
        (Some("paid"), Some(true))
    );
    let authorization_id = polled["authorization_id"].as_i64().unwrap();
    let authorization = server
        .merchant_get(&shop, &format!("/v1/authorizations/{authorization_id}"))
        .await;
    assert_eq!(authorization.json()["state"], "captured");
    server.deliver_webhooks().await;
    let received = hooks.taken();
    assert_eq!(received.len(), 1);
    let (headers, body) = &received[0];
    let event: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(
        (event["type"].as_str(), event["checkout_id"].as_str()),
        (Some("checkout.paid"), Some(id.as_str()))
    );
    assert_eq!(event["amount"], "49.90");
    let signature = headers["sceau-signature"].to_str().unwrap();
    let (t, v1) = signature.split_once(",v1=").unwrap();
    let t: i64 = t.strip_prefix("t=").unwrap().parse().unwrap();
    let secret = server.service.keys.webhook_secret(shop.id);
    assert_eq!(v1, sceau_crypto::webhook_signature(&secret, t, body));
    assert_ne!(v1, sceau_crypto::webhook_signature(&secret, t, b"{}"));
    server.deliver_webhooks().await;
    assert!(hooks.taken().is_empty(), "acknowledged: not sent again");

    // The image of the check, for the client who paid, and nobody else.
    let image = server
        .page(&format!("{}/check.svg", payer.path), Some(&payer.cookie))
        .await;
    assert_eq!(image.status, StatusCode::OK);
    assert_eq!(
        image.header("content-type"),
        Some("image/svg+xml; charset=utf-8")
    );
    assert!(
        image.text.starts_with("<?xml") && image.text.contains("PAID"),
        "{}",
        image.text
    );
    assert!(!image.text.contains("<script"));
    let anonymous = server
        .page(&format!("{}/check.svg", payer.path), None)
        .await;
    assert_eq!(anonymous.status, StatusCode::NOT_FOUND);
    server.assert_ledger_sound().await;
    server.stop().await;
}

#[tokio::test]
async fn three_wrong_seals_fail_the_payment_and_the_merchant_is_told() {
    let server = Server::start().await;
    let hooks = Hooks::start().await;
    let shop = server.enroll_merchant("Shop").await;
    let alice = server
        .enroll_client("alice", "+33612345678", "100.00")
        .await;
    let checkout = create_checkout(&server, &shop, checkout_body("10.00", &hooks.url)).await;
    let (payer, _) = sign_in_to_pay(&server, &checkout, "alice").await;
    let before = server.newest_message_id(&alice.phone).await;
    payer.post(&server, "validate", &[]).await;
    let (seal, _) = seal_on_phone(&server, &alice.phone, before).await;
    let wrong = another_seal(&seal);
    for (typed, expected) in [
        (wrong.as_str(), "2 tries left"),
        ("not a seal", "1 try left"),
    ] {
        let reply = payer.post(&server, "seal", &[("seal", typed)]).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            reply.text
        );
        assert!(
            reply.text.contains("That seal is not right."),
            "{}",
            reply.text
        );
        assert!(reply.text.contains(expected), "{}", reply.text);
        assert!(!reply.text.contains(&seal));
    }
    server.assert_figures(&alice, "100.00", "10.00").await;
    let last = payer.post(&server, "seal", &[("seal", &wrong)]).await;
    assert_eq!(last.status, StatusCode::SEE_OTHER, "{}", last.text);
    let page = payer.page(&server).await;
    assert!(page.text.contains("id=\"failed\""), "{}", page.text);
    server.assert_figures(&alice, "100.00", "0.00").await;
    // Dead: the right seal does nothing now.
    let late = server
        .send(
            server
                .http
                .post(server.url(&format!("{}/seal", payer.path)))
                .header("cookie", &payer.cookie)
                .form(&[
                    ("csrf", payer.csrf(&server).await.as_str()),
                    ("seal", &seal),
                ]),
        )
        .await;
    assert_eq!(late.status, StatusCode::CONFLICT, "{}", late.text);
    let polled = server
        .merchant_get(
            &shop,
            &format!("/v1/checkouts/{}", checkout["id"].as_str().unwrap()),
        )
        .await
        .json();
    assert_eq!(
        (polled["state"].as_str(), polled["failure"].as_str()),
        (Some("failed"), Some("seal_tries_exhausted"))
    );
    server.deliver_webhooks().await;
    let received = hooks.taken();
    assert_eq!(received.len(), 1);
    let event: Value = serde_json::from_slice(&received[0].1).unwrap();
    assert_eq!(event["type"], "checkout.failed");
    server.assert_ledger_sound().await;
    server.stop().await;
}

#[tokio::test]
async fn a_checkout_is_bound_to_the_client_who_signed_in_first() {
    let server = Server::start().await;
    let shop = server.enroll_merchant("Shop").await;
    let alice = server
        .enroll_client("alice", "+33612345678", "100.00")
        .await;
    let bob = server.enroll_client("bob", "+33612345679", "100.00").await;
    let checkout = create_checkout(
        &server,
        &shop,
        checkout_body("10.00", "http://127.0.0.1:9/hooks"),
    )
    .await;
    let (alice_payer, _) = sign_in_to_pay(&server, &checkout, "alice").await;
    let (bob_payer, reply) = sign_in_to_pay(&server, &checkout, "bob").await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text);
    server.assert_figures(&bob, "100.00", "0.00").await;
    let page = bob_payer.page(&server).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(!page.text.contains("Validate payment"), "{}", page.text);
    // Bob's own valid CSRF token does not let him validate Alice's payment.
    let bob_csrf = bob_payer.csrf(&server).await;
    let forged = server
        .send(
            server
                .http
                .post(server.url(&format!("{}/validate", bob_payer.path)))
                .header("cookie", &bob_payer.cookie)
                .form(&[("csrf", bob_csrf.as_str())]),
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.text);
    // No CSRF token, or a cross-site origin: refused, nothing sent.
    let before = server.newest_message_id(&alice.phone).await;
    let no_token = server
        .send(
            server
                .http
                .post(server.url(&format!("{}/validate", alice_payer.path)))
                .header("cookie", &alice_payer.cookie)
                .form(&[("csrf", "")]),
        )
        .await;
    check_error(&no_token, 403, "csrf");
    let alice_csrf = alice_payer.csrf(&server).await;
    let cross_site = server
        .send(
            server
                .http
                .post(server.url(&format!("{}/validate", alice_payer.path)))
                .header("cookie", &alice_payer.cookie)
                .header("origin", "https://evil.example")
                .form(&[("csrf", alice_csrf.as_str())]),
        )
        .await;
    check_error(&cross_site, 403, "cross_origin");
    server.deliver().await;
    assert_eq!(
        server.newest_message_id(&alice.phone).await,
        before,
        "no seal was sent"
    );
    // The seal form checks the session in the store: Bob's session cannot type a seal
    // on Alice's payment, nor can a form without its token, from another site, or
    // without a session.
    let seal_post = |cookie: Option<&str>, csrf: &str, origin: Option<&str>| {
        let mut request = server
            .http
            .post(server.url(&format!("{}/seal", alice_payer.path)))
            .form(&[("csrf", csrf), ("seal", "12345678")]);
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        server.send(request)
    };
    // (A page's refusals are pages, with their status.)
    let by_bob = seal_post(Some(&bob_payer.cookie), &bob_csrf, None).await;
    assert_eq!(by_bob.status, StatusCode::FORBIDDEN, "{}", by_bob.text);
    assert!(by_bob.text.contains("another client"), "{}", by_bob.text);
    let untokened = seal_post(Some(&alice_payer.cookie), "", None).await;
    check_error(&untokened, 403, "csrf");
    let elsewhere = seal_post(
        Some(&alice_payer.cookie),
        &alice_csrf,
        Some("https://evil.example"),
    )
    .await;
    check_error(&elsewhere, 403, "cross_origin");
    let anonymous = seal_post(None, &alice_csrf, None).await;
    check_error(&anonymous, 401, "unauthorized");
    let unsent = seal_post(Some(&alice_payer.cookie), &alice_csrf, None).await;
    assert_eq!(unsent.status, StatusCode::CONFLICT, "{}", unsent.text);
    assert!(unsent.text.contains("no longer valid"), "{}", unsent.text);
    server.stop().await;
}

#[tokio::test]
async fn a_new_seal_replaces_the_old_one_after_a_cooldown() {
    let server = Server::start().await;
    let shop = server.enroll_merchant("Shop").await;
    let alice = server
        .enroll_client("alice", "+33612345678", "100.00")
        .await;
    let checkout = create_checkout(
        &server,
        &shop,
        checkout_body("10.00", "http://127.0.0.1:9/hooks"),
    )
    .await;
    let (payer, _) = sign_in_to_pay(&server, &checkout, "alice").await;
    let before = server.newest_message_id(&alice.phone).await;
    payer.post(&server, "validate", &[]).await;
    let (first, _) = seal_on_phone(&server, &alice.phone, before).await;
    let too_soon = payer.post(&server, "resend", &[]).await;
    assert_eq!(
        too_soon.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        too_soon.text
    );
    server.clock.advance(30);
    let before = server.newest_message_id(&alice.phone).await;
    let resent = payer.post(&server, "resend", &[]).await;
    assert_eq!(resent.status, StatusCode::SEE_OTHER, "{}", resent.text);
    let (second, _) = seal_on_phone(&server, &alice.phone, before).await;
    // The first seal died with the resend (a wrong try now), the second one pays.
    if first != second {
        let stale = payer.post(&server, "seal", &[("seal", &first)]).await;
        assert_eq!(
            stale.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            stale.text
        );
    }
    // A seal typed after its time is refused without counting a try.
    server.clock.advance(300);
    let expired = payer.post(&server, "seal", &[("seal", &second)]).await;
    assert_eq!(
        expired.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        expired.text
    );
    assert!(expired.text.contains("expired"), "{}", expired.text);
    let before = server.newest_message_id(&alice.phone).await;
    payer.post(&server, "resend", &[]).await;
    let (third, _) = seal_on_phone(&server, &alice.phone, before).await;
    let paid = payer.post(&server, "seal", &[("seal", &third)]).await;
    assert_eq!(paid.status, StatusCode::SEE_OTHER, "{}", paid.text);
    server.assert_figures(&alice, "90.00", "0.00").await;
    server.stop().await;
}

/// The date and time in zone 29 of the check, as the page shows it and as its
/// `datetime` attribute says it.
fn check_time_in(page: &str) -> (String, String) {
    let zone = &page[page.find("data-zone=\"29\"").expect("zone 29")..];
    let zone = &zone[zone.find("<time").unwrap()..];
    let attribute = zone.split("datetime=\"").nth(1).unwrap();
    let datetime = attribute[..attribute.find('"').unwrap()].to_owned();
    let shown = zone[zone.find('>').unwrap()..zone.find("</time>").unwrap()].to_owned();
    let shown = shown
        .split('>')
        .map(|part| part.split('<').next().unwrap_or_default())
        .collect::<String>();
    (datetime, shown.trim().to_owned())
}

#[tokio::test]
async fn the_check_shows_the_checkouts_own_time_on_every_reload() {
    let server = Server::start().await;
    let shop = server.enroll_merchant("Shop").await;
    let alice = server
        .enroll_client("alice", "+33612345678", "100.00")
        .await;
    let checkout = create_checkout(
        &server,
        &shop,
        checkout_body("10.00", "http://127.0.0.1:9/hooks"),
    )
    .await;
    let created_at = checkout["created_at"].as_str().unwrap().to_owned();
    // Hold, first seal and reloads each at another time than the checkout's creation.
    server.clock.advance(61);
    let (payer, _) = sign_in_to_pay(&server, &checkout, "alice").await;
    let first = check_time_in(&payer.page(&server).await.text);
    server.clock.advance(7);
    let reloaded = check_time_in(&payer.page(&server).await.text);
    assert_eq!(first, reloaded, "a reload shows the same time");
    let readable = created_at.replace('T', " ").replace('Z', " UTC");
    assert_eq!(first, (created_at.clone(), readable.clone()));

    server.clock.advance(45);
    let before = server.newest_message_id(&alice.phone).await;
    payer.post(&server, "validate", &[]).await;
    let (seal, _) = seal_on_phone(&server, &alice.phone, before).await;
    server.clock.advance(30);
    let sealing = payer.page(&server).await;
    assert!(sealing.text.contains("Sign and pay"), "{}", sealing.text);
    assert_eq!(
        check_time_in(&sealing.text),
        first,
        "a seal sent moves nothing"
    );
    let image = server
        .page(&format!("{}/check.svg", payer.path), Some(&payer.cookie))
        .await;
    assert!(
        image.text.contains(&format!(">{readable}</text>")),
        "{}",
        image.text
    );

    // The merchant's checkout says the same time after the payment the seal made.
    let paid = payer.post(&server, "seal", &[("seal", &seal)]).await;
    assert_eq!(paid.status, StatusCode::SEE_OTHER, "{}", paid.text);
    let id = checkout["id"].as_str().unwrap();
    let polled = server
        .merchant_get(&shop, &format!("/v1/checkouts/{id}"))
        .await
        .json();
    assert_eq!(polled["state"], "paid");
    assert_eq!(polled["created_at"].as_str(), Some(created_at.as_str()));
    assert_ne!(polled["updated_at"], polled["created_at"]);
    let image = server
        .page(&format!("{}/check.svg", payer.path), Some(&payer.cookie))
        .await;
    assert!(
        image.text.contains(&format!(">{readable}</text>")),
        "{}",
        image.text
    );
    server.stop().await;
}

#[tokio::test]
async fn the_wallet_shows_the_clients_payments_with_what_became_of_them() {
    let server = Server::start().await;
    let shop = server.enroll_merchant("Shop").await;
    let alice = server
        .enroll_client("alice", "+33612345678", "100.00")
        .await;
    let bob = server.enroll_client("bob", "+33612345679", "100.00").await;
    let (paid, _) = pay_with_seal(&server, &shop, "alice", &alice.phone, "12.00").await;
    pay_with_seal(&server, &shop, "bob", &bob.phone, "3.00").await;
    // A card payment the merchant voids: a hold released, nothing paid.
    let card = server.checkout_card(&shop, &alice, "7.50").await;
    let authorized = server.authorize(&shop, &card, "7.50", "EUR").await;
    assert_eq!(
        authorized.status,
        StatusCode::CREATED,
        "{}",
        authorized.text
    );
    let voided = server.act(&shop, authorized.id(), "void", None).await;
    assert_eq!(voided.status, StatusCode::OK, "{}", voided.text);

    let session = server.sign_in("alice").await;
    let wallet = server.page("/wallet", Some(&session.cookie)).await;
    assert_eq!(wallet.status, StatusCode::OK, "{}", wallet.text);
    let history = &wallet.text[wallet.text.find("id=\"history\"").unwrap()..];
    let voided_at = history.find("Voided: nothing paid").expect("the void");
    let paid_at = history.find("Paid by seal").expect("the payment by seal");
    assert!(voided_at < paid_at, "newest first: {history}");
    for link in [
        format!("href=\"/pay/{paid}\""),
        format!("href=\"/pay/{paid}/check.svg\""),
        format!("href=\"/api/v1/payments/{paid}/evidence\""),
    ] {
        assert!(history.contains(&link), "{link} missing: {history}");
    }
    assert!(history.contains("Two concert tickets") && history.contains(" UTC</time>"));
    assert_eq!(
        history.matches("class=\"payment\"").count(),
        2,
        "bob's is not alice's"
    );
    // The numbers: the one drawn for the check says so, the voided one paid nothing.
    let numbers = &wallet.text[..wallet.text.find("id=\"history\"").unwrap()];
    assert!(numbers.contains("<td>a payment by seal</td>"), "{numbers}");
    assert!(numbers.contains("<td>12.00 EUR paid</td>"), "{numbers}");
    assert!(
        numbers.contains("<td>a hold released unpaid</td>"),
        "{numbers}"
    );
    assert!(!numbers.contains("7.50 EUR paid"), "{numbers}");

    // The same as JSON, a page at a time.
    let page = |query: &str| {
        let path = format!("/api/v1/me/payments{query}");
        let cookie = session.cookie.clone();
        let server = &server;
        async move { server.page(&path, Some(&cookie)).await }
    };
    let json = page("").await.json();
    let payments = json["payments"].as_array().unwrap();
    assert_eq!(payments.len(), 2);
    assert_eq!(
        (
            payments[0]["state"].as_str(),
            payments[0]["amount"].as_str()
        ),
        (Some("voided"), Some("7.50"))
    );
    assert_eq!(payments[1]["checkout"]["id"].as_str(), Some(paid.as_str()));
    assert_eq!(payments[1]["checkout"]["state"], "paid");
    assert_eq!(payments[1]["captured"], "12.00");
    assert_eq!(json["older"], Value::Null);
    let newest = payments[0]["authorization_id"].as_i64().unwrap();
    let older = page(&format!("?before={newest}")).await.json();
    assert_eq!(older["payments"].as_array().unwrap().len(), 1);
    assert_eq!(older["payments"][0], payments[1]);
    let me = server.me(&session).await;
    let drawn: Vec<bool> = me["numbers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["for_checkout"].as_bool().unwrap())
        .collect();
    assert_eq!(drawn, vec![false, true]);

    // A page that is not one is a clear 400, on the page and in the JSON API.
    for bad in ["abc", "0", "-3", "99999999999999999999"] {
        let reply = server
            .page(&format!("/wallet?before={bad}"), Some(&session.cookie))
            .await;
        check_error(&reply, 400, "invalid_field");
        check_error(&page(&format!("?before={bad}")).await, 400, "invalid_field");
    }
    let anonymous = server.page("/api/v1/me/payments", None).await;
    check_error(&anonymous, 401, "unauthorized");
    server.stop().await;
}

#[tokio::test]
async fn merchants_get_clear_errors_and_only_their_own_checkouts() {
    let server = Server::start().await;
    let shop = server.enroll_merchant("Shop").await;
    let other = server.enroll_merchant("Other").await;
    let post = async |body: Value| {
        server
            .merchant_post(&shop, "/v1/checkouts", &body, None)
            .await
    };
    let good = checkout_body("10.00", "https://shop.example/hooks");
    let with = |field: &str, value: Value| {
        let mut body = good.clone();
        body[field] = value;
        body
    };
    check_error(
        &post(with("return_url", json!("http://shop.example/return"))).await,
        422,
        "invalid_url",
    );
    check_error(
        &post(with("webhook_url", json!("javascript:alert(1)"))).await,
        422,
        "invalid_url",
    );
    check_error(
        &post(with("amount", json!("-1"))).await,
        422,
        "amount_not_positive",
    );
    check_error(
        &post(with("currency", json!("XXX1"))).await,
        422,
        "unknown_currency",
    );
    check_error(&post(with("object", json!(""))).await, 422, "invalid_field");
    check_error(
        &post(with("validity_s", json!(99_999))).await,
        422,
        "invalid_validity",
    );
    let unknown = post(with("surprise", json!(1))).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST, "{}", unknown.text);
    let unauthenticated = server
        .send(server.http.post(server.url("/v1/checkouts")).json(&good))
        .await;
    check_error(&unauthenticated, 401, "unauthorized");
    // Idempotent creation.
    let keyed = |key: &'static str| {
        server.send(
            server
                .http
                .post(server.url("/v1/checkouts"))
                .bearer_auth(&shop.key)
                .header("idempotency-key", key)
                .json(&good),
        )
    };
    let first = keyed("cart-42").await;
    let second = keyed("cart-42").await;
    assert_eq!(
        (first.status, second.status),
        (StatusCode::CREATED, StatusCode::CREATED)
    );
    assert_eq!(first.json()["id"], second.json()["id"]);
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    let id = first.json()["id"].as_str().unwrap().to_owned();
    // Another merchant's checkout does not exist for this one.
    check_error(
        &server
            .merchant_get(&other, &format!("/v1/checkouts/{id}"))
            .await,
        404,
        "checkout_not_found",
    );
    check_error(
        &server
            .merchant_get(&shop, "/v1/checkouts/co_00000000000000000000000000000000")
            .await,
        404,
        "checkout_not_found",
    );
    check_error(
        &server.merchant_get(&shop, "/v1/checkouts/not-an-id").await,
        404,
        "checkout_not_found",
    );
    let page = server.page("/pay/co_zzz", None).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    // The enrolment answer gives the webhook secret.
    let enrolled = server
        .admin(
            Method::POST,
            "/admin/v1/merchants",
            Some(json!({"name": "Third"})),
        )
        .await
        .json();
    assert!(
        enrolled["webhook_secret"]
            .as_str()
            .unwrap()
            .starts_with("whsec_")
    );
    server.stop().await;
}

/// A checkout's object is the merchant's own text, and the seal's SMS carries it: it may
/// not close the quotation marks it is shown in (nor hold invisible characters, nor run
/// long), and it comes last in the SMS, quoted, after everything sceau says, so that an
/// object written to read like sceau ("Correction by Test Bank: to pay 9.00 EUR…")
/// cannot pass for sceau's words.
#[tokio::test]
async fn a_checkouts_object_cannot_pass_for_sceaus_words_in_the_sms() {
    let server = Server::start().await;
    let shop = server.enroll_merchant("Shady Shop").await;
    let alice = server
        .enroll_client("alice", "+33612345678", "1000.00")
        .await;
    // Written to read like sceau, within the length allowed.
    let forged = "1 book). Correction: to pay 9.00 EUR to Dupont (1 book";
    let body = |object: &str| {
        let mut body = checkout_body("900.00", "http://127.0.0.1:9/");
        body["object"] = json!(object);
        body
    };
    let post = async |object: &str| {
        server
            .merchant_post(&shop, "/v1/checkouts", &body(object), Some("order-9"))
            .await
    };
    for refused in [
        "1 book\"), your seal is 00000000. \"(".to_owned(),
        "1 book\". Correction".to_owned(),
        "1 book». Correction «".to_owned(),
        "1 book”. Correction “".to_owned(),
        "1 book„. Correction".to_owned(),
        "1 book''. Correction".to_owned(),
        "1 book‘’. Correction".to_owned(),
        "1 book\u{202e}21.009".to_owned(),
        "1 book\nCorrection".to_owned(),
        "b".repeat(61),
        String::new(),
    ] {
        check_error(&post(&refused).await, 422, "invalid_field");
    }
    // Nothing was kept of the refused ones, not even their idempotency key.
    let created = post(forged).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.header("idempotent-replayed"), None);
    let checkout = created.json();
    assert_eq!(checkout["object"], forged);

    // The check shows the object as it was written.
    let (payer, signed_in) = sign_in_to_pay(&server, &checkout, "alice").await;
    assert_eq!(
        signed_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_in.text
    );
    let check = payer.page(&server).await;
    assert!(check.text.contains(&escape_html(forged)), "{}", check.text);

    // In the SMS, sceau's words first, whole; the merchant's last, quoted.
    let before = server.newest_message_id(&alice.phone).await;
    let validated = payer.post(&server, "validate", &[]).await;
    assert_eq!(
        validated.status,
        StatusCode::SEE_OTHER,
        "{}",
        validated.text
    );
    let (seal, sms) = seal_on_phone(&server, &alice.phone, before).await;
    let (sceaus, merchants) = sms
        .split_once(" describes the purchase as \"")
        .unwrap_or_else(|| panic!("no quoted object in {sms:?}"));
    assert!(
        sceaus.starts_with(&format!(
            "{ISSUER}: to pay 900.00 EUR to Shady Shop, your seal is {seal}. Valid until "
        )),
        "{sms}"
    );
    assert!(
        sceaus.ends_with(&format!(
            "Type it only on the {ISSUER} payment page; nobody will ever ask you for it. Shady Shop"
        )),
        "{sms}"
    );
    assert!(
        !sceaus.contains("Correction") && !sceaus.contains("9.00 EUR to"),
        "{sms}"
    );
    assert_eq!(merchants, format!("{forged}\"."), "{sms}");
    // The seal read where sceau put it pays what sceau said.
    let paid = payer.post(&server, "seal", &[("seal", &seal)]).await;
    assert_eq!(paid.status, StatusCode::SEE_OTHER, "{}", paid.text);
    server.assert_figures(&alice, "100.00", "0.00").await;
    server.stop().await;
}

/// With `webhooks_to_private_networks = false`, this machine and private networks are
/// refused under every name a URL parser gives them, not only as written.
#[tokio::test]
async fn addresses_of_this_machine_by_other_names_are_refused() {
    let server =
        Server::start_adjusted(|settings| settings.webhooks_to_private_networks = false).await;
    let shop = server.enroll_merchant("Shop").await;
    let body = |field: &str, url: &str| {
        let mut body = checkout_body("10.00", "https://shop.example/hooks");
        body["return_url"] = json!("https://shop.example/return");
        body[field] = json!(url);
        body
    };
    for url in [
        "https://127.1/",
        "https://0x7f.0.0.1/",
        "https://2130706433/",
        "https://0177.0.0.1/",
        "https://LOCALHOST/",
        "https://127.0.0.1./",
        "https://[::ffff:127.0.0.1]/",
        "https://Shop.LocalHost./",
        "https://0x0a.1/",
        "https://0xa9.0xfe.0xa9.0xfe/latest/meta-data",
    ] {
        for field in ["return_url", "webhook_url"] {
            let reply = server
                .merchant_post(&shop, "/v1/checkouts", &body(field, url), None)
                .await;
            assert_eq!(reply.status.as_u16(), 422, "{field} {url}: {}", reply.text);
            check_error(&reply, 422, "invalid_url");
        }
    }
    let public = server
        .merchant_post(
            &shop,
            "/v1/checkouts",
            &body("webhook_url", "https://Shop.Example./hooks"),
            None,
        )
        .await;
    assert_eq!(public.status, StatusCode::CREATED, "{}", public.text);
    server.stop().await;
}

/// Pays `amount` of a new checkout of `shop` as `login` (whose phone is `phone`), with
/// the seal sent to the phone: the checkout's id and the payer's browser.
async fn pay_with_seal(
    server: &Server,
    shop: &Merchant,
    login: &str,
    phone: &str,
    amount: &str,
) -> (String, Payer) {
    let checkout =
        create_checkout(server, shop, checkout_body(amount, "http://127.0.0.1:9/")).await;
    let id = checkout["id"].as_str().unwrap().to_owned();
    let (payer, signed_in) = sign_in_to_pay(server, &checkout, login).await;
    assert_eq!(
        signed_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_in.text
    );
    let before = server.newest_message_id(phone).await;
    let validated = payer.post(server, "validate", &[]).await;
    assert_eq!(
        validated.status,
        StatusCode::SEE_OTHER,
        "{}",
        validated.text
    );
    let (seal, _) = seal_on_phone(server, phone, before).await;
    let paid = payer.post(server, "seal", &[("seal", &seal)]).await;
    assert_eq!(paid.status, StatusCode::SEE_OTHER, "{}", paid.text);
    (id, payer)
}

/// Issue 6's end-to-end test: pay with a seal, download the bundle (client and merchant),
/// verify it offline with the root and the log's key alone (sceau's checker, and openssl
/// for the signature and the time-stamp as the README shows), then change each byte in
/// turn: every change is refused, and the report says which part failed.
#[tokio::test]
async fn a_paid_checkout_has_an_evidence_bundle_that_anyone_can_verify_offline() {
    let server = Server::start().await;
    let shop = server.enroll_merchant("Le Petit Théâtre").await;
    let alice = server
        .enroll_client("alice", "+33612345678", "500.00")
        .await;
    server.enroll_client("bob", "+33698765432", "10.00").await;

    // Not paid: no receipt.
    let open = create_checkout(&server, &shop, checkout_body("5.00", "http://127.0.0.1:9/")).await;
    let early = server
        .merchant_get(
            &shop,
            &format!("/v1/checkouts/{}/evidence", open["id"].as_str().unwrap()),
        )
        .await;
    check_error(&early, 409, "checkout_not_paid");

    let (id, payer) = pay_with_seal(&server, &shop, "alice", &alice.phone, "49.90").await;
    // The receipt workers sign the payment's record without anyone asking for a bundle
    // (waited for as a condition, bounded generously).
    let paid = server.service.store.checkout(&id).await.unwrap().unwrap();
    let record = server
        .service
        .store
        .evidence(&format!("checkout:{}", paid.id))
        .await
        .unwrap()
        .into_iter()
        .find(|record| record.kind == "checkout.paid")
        .expect("the payment's record");
    let mut signed = None;
    for _ in 0..3_000 {
        signed = server.service.store.receipt(record.id).await.unwrap();
        if signed.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let signed = signed.expect("the receipt was signed as the seal paid");
    let verified = sceau_pki::verify_signature(
        &signed,
        &record.record,
        &server.service.pki.as_ref().unwrap().authority.root().der,
        None,
    )
    .unwrap();
    assert!(verified.signer.contains("alice"), "{}", verified.signer);
    assert!(verified.time_stamp.is_some());
    let done = payer.page(&server).await;
    assert!(
        done.text
            .contains(&format!("/api/v1/payments/{id}/evidence")),
        "{}",
        done.text
    );
    let from_client = server
        .page(
            &format!("/api/v1/payments/{id}/evidence"),
            Some(&payer.cookie),
        )
        .await;
    assert_eq!(from_client.status, StatusCode::OK, "{}", from_client.text);
    assert_eq!(from_client.header("content-type"), Some("application/json"));
    let from_merchant = server
        .merchant_get(&shop, &format!("/v1/checkouts/{id}/evidence"))
        .await;
    assert_eq!(
        from_merchant.status,
        StatusCode::OK,
        "{}",
        from_merchant.text
    );
    // Nobody else's: another client's session, no session, another merchant.
    let (bob, _) = sign_in_to_pay(
        &server,
        &create_checkout(&server, &shop, checkout_body("1.00", "http://127.0.0.1:9/")).await,
        "bob",
    )
    .await;
    let stranger = server
        .page(
            &format!("/api/v1/payments/{id}/evidence"),
            Some(&bob.cookie),
        )
        .await;
    check_error(&stranger, 404, "checkout_not_found");
    let anonymous = server
        .page(&format!("/api/v1/payments/{id}/evidence"), None)
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let other_shop = server.enroll_merchant("Another shop").await;
    let other = server
        .merchant_get(&other_shop, &format!("/v1/checkouts/{id}/evidence"))
        .await;
    check_error(&other, 404, "checkout_not_found");

    // Offline: the root certificate and the log's key, fetched once, and nothing else.
    let root_pem = server.page("/pki/root.pem", None).await.text;
    let root = sceau_pki::Issued::from_pem_or_der(root_pem.as_bytes())
        .unwrap()
        .der;
    let key_text = server.page("/log/key", None).await.text;
    let key = sceau_log::VerifierKey::parse(key_text.trim()).unwrap();
    server.stop().await;
    let bundle = from_client.text.into_bytes();
    let report = sceau_server::bundle::check(&bundle, &root, &key);
    assert!(report.valid(), "{report:#?}");
    let parts: Vec<&str> = report.checks.iter().map(|check| check.part).collect();
    assert_eq!(
        parts,
        [
            "bundle",
            "signature",
            "time-stamp",
            "certificates",
            "record",
            "checkpoint",
            "log entry"
        ]
    );
    let said = |part: &str| {
        report
            .checks
            .iter()
            .find(|check| check.part == part)
            .and_then(|check| check.outcome.clone().ok())
            .unwrap()
    };
    assert!(said("record").contains("49.90 EUR"), "{}", said("record"));
    assert!(said("signature").contains("alice"), "{}", said("signature"));
    assert!(sceau_server::bundle::check(from_merchant.text.as_bytes(), &root, &key).valid());
    assert!(
        said("log entry").contains("is entry"),
        "{}",
        said("log entry")
    );

    // The record altered (its amount raised): its hash is not the logged entry, and the
    // log entry's line says so rather than "ok".
    let mut forged: sceau_server::bundle::Bundle = serde_json::from_slice(&bundle).unwrap();
    let record = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(&forged.record)
            .unwrap()
    };
    let record = String::from_utf8(record).unwrap();
    assert!(record.contains("\"49.90\""), "{record}");
    forged.record = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(record.replace("\"49.90\"", "\"94.90\""))
    };
    let forged = sceau_log::canonical(&serde_json::to_value(&forged).unwrap()).unwrap();
    let report = sceau_server::bundle::check(&forged, &root, &key);
    let entry = report
        .checks
        .iter()
        .find(|check| check.part == "log entry")
        .unwrap_or_else(|| panic!("no log entry line: {report:#?}"));
    let why = entry.outcome.clone().unwrap_err();
    assert!(why.contains("is not shown to be entry"), "{why}");
    assert!(!report.valid(), "{report:#?}");

    // openssl agrees on the signature and on its time-stamp (the README's commands).
    let bundle_value: sceau_server::bundle::Bundle = serde_json::from_slice(&bundle).unwrap();
    let directory = tempfile::tempdir().unwrap();
    let decode = |text: &str| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap()
    };
    let signature = decode(&bundle_value.signature);
    std::fs::write(
        directory.path().join("record.json"),
        decode(&bundle_value.record),
    )
    .unwrap();
    std::fs::write(directory.path().join("signature.p7s"), &signature).unwrap();
    std::fs::write(
        directory.path().join("time-stamp.tst"),
        decode(&bundle_value.time_stamp),
    )
    .unwrap();
    std::fs::write(directory.path().join("root.pem"), &root_pem).unwrap();
    let (verified, text) = openssl(
        directory.path(),
        &[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            "signature.p7s",
            "-content",
            "record.json",
            "-CAfile",
            "root.pem",
            "-purpose",
            "any",
            "-out",
            "/dev/null",
        ],
    );
    assert!(
        verified && text.contains("Verification successful"),
        "{text}"
    );
    let value = sceau_pki::signature_parts(&signature)
        .unwrap()
        .signature_value;
    let digest = hex::encode(Sha256::digest(&value));
    let (verified, text) = openssl(
        directory.path(),
        &[
            "ts",
            "-verify",
            "-token_in",
            "-in",
            "time-stamp.tst",
            "-digest",
            &digest,
            "-CAfile",
            "root.pem",
        ],
    );
    assert!(verified && text.contains("Verification: OK"), "{text}");

    // The wrong key or root: refused, and said where.
    let failed = |report: &sceau_server::bundle::Report| -> Vec<&'static str> {
        report
            .checks
            .iter()
            .filter(|check| check.outcome.is_err())
            .map(|check| check.part)
            .collect()
    };
    let other_key =
        sceau_log::NoteSigner::new(key.name(), ed25519_dalek::SigningKey::from_bytes(&[7; 32]))
            .unwrap()
            .verifier_key();
    assert_eq!(
        failed(&sceau_server::bundle::check(&bundle, &root, &other_key)),
        ["checkpoint"]
    );
    let stranger_root = common::white_room(&directory.path().join("other").join("x.db"), START_S);
    let stranger_root = stranger_root.authority.root().der.clone();
    assert_eq!(
        failed(&sceau_server::bundle::check(&bundle, &stranger_root, &key)),
        ["signature"]
    );

    // Every byte changed, one at a time: refused every time, and some part is named.
    let record_at = std::str::from_utf8(&bundle)
        .unwrap()
        .find(&bundle_value.record)
        .unwrap();
    let checkpoint_at = std::str::from_utf8(&bundle)
        .unwrap()
        .find("\"checkpoint\":")
        .unwrap();
    // Bit 0 of every byte; bit 1 too inside the CMS and the token, whose structure has
    // fields no signature covers (each must be checked for what it must be).
    let text = String::from_utf8(bundle.clone()).unwrap();
    let field = |name: &str, value: &str| {
        let at = text.find(&format!("\"{name}\":\"{value}\"")).unwrap() + name.len() + 4;
        at..at + value.len()
    };
    let binary = [
        field("signature", &bundle_value.signature),
        field("time_stamp", &bundle_value.time_stamp),
    ];
    let changes = (0..bundle.len()).map(|at| (at, 0x01_u8)).chain(
        binary
            .iter()
            .flat_map(|range| range.clone().map(|at| (at, 0x02_u8))),
    );
    for (at, bit) in changes {
        let mut tampered = bundle.clone();
        tampered[at] ^= bit;
        let report = sceau_server::bundle::check(&tampered, &root, &key);
        assert!(
            !report.valid(),
            "a change of bit {bit:#04x} at byte {at} went unnoticed: {:?}",
            String::from_utf8_lossy(&bundle[at.saturating_sub(40)..(at + 40).min(bundle.len())])
        );
        let failed = failed(&report);
        assert!(!failed.is_empty(), "byte {at}: no part named");
        // Inside the record's base64: the record no longer matches its signature or
        // its log entry (or is no longer base64 at all).
        if (record_at + 4..record_at + bundle_value.record.len() - 4).contains(&at) {
            assert!(
                failed.contains(&"signature")
                    || failed.contains(&"bundle")
                    || failed.contains(&"record"),
                "byte {at}: {report:#?}"
            );
        }
        if (checkpoint_at + 20..checkpoint_at + 60).contains(&at) {
            assert!(
                failed.contains(&"checkpoint") || failed.contains(&"bundle"),
                "byte {at}: {report:#?}"
            );
        }
    }

    // Whole parts moved, repeated, swapped, written another way or grown: refused, the
    // one part that fails named, and nothing after a bundle that cannot be read.
    let value: Value = serde_json::from_slice(&bundle).unwrap();
    let changed = |change: &dyn Fn(&mut Value)| {
        let mut changed = value.clone();
        change(&mut changed);
        sceau_log::canonical(&changed).unwrap()
    };
    let swap = |at: &'static str, left: usize, right: usize| {
        move |bundle: &mut Value| {
            let list = bundle.pointer_mut(at).unwrap().as_array_mut().unwrap();
            list.swap(left, right);
        }
    };
    let repeat = |at: &'static str| {
        move |bundle: &mut Value| {
            let list = bundle.pointer_mut(at).unwrap().as_array_mut().unwrap();
            list.push(list[0].clone());
        }
    };
    let reordered = value
        .as_object()
        .unwrap()
        .iter()
        .rev()
        .map(|(name, member)| {
            let member = String::from_utf8(sceau_log::canonical(member).unwrap()).unwrap();
            format!("{}:{member}", serde_json::to_string(name).unwrap())
        })
        .collect::<Vec<_>>()
        .join(",");
    let index = format!("\"index\":{},", bundle_value.log.index);
    let tampered: [(&str, Vec<u8>, &str); 17] = [
        (
            "members reordered",
            format!("{{{reordered}}}").into(),
            "bundle",
        ),
        (
            "a member repeated",
            text.replacen('{', "{\"record\":\"e30=\",", 1).into(),
            "bundle",
        ),
        (
            "a name escaped",
            text.replacen("\"format\"", "\"\\u0066ormat\"", 1).into(),
            "bundle",
        ),
        ("white space", text.replacen(',', ", ", 1).into(), "bundle"),
        (
            "a number written as a decimal",
            text.replacen(&index, &index.replace(',', ".0,"), 1).into(),
            "bundle",
        ),
        (
            "larger than the limit",
            (text.clone() + &" ".repeat(sceau_server::bundle::BUNDLE_LEN_MAX)).into(),
            "bundle",
        ),
        ("cut short", bundle[..bundle.len() / 2].to_vec(), "bundle"),
        (
            "another format",
            changed(&|bundle| bundle["format"] = "sceau-evidence-bundle/2".into()),
            "bundle",
        ),
        (
            "base64 in lines",
            changed(&|bundle| {
                let record = bundle["record"].as_str().unwrap();
                bundle["record"] = format!("{}\n{}", &record[..76], &record[76..]).into();
            }),
            "bundle",
        ),
        (
            "hexadecimal in capitals",
            changed(&|bundle| {
                let hash = &mut bundle["log"]["inclusion_proof"][0];
                *hash = hash.as_str().unwrap().to_uppercase().into();
            }),
            "bundle",
        ),
        (
            "signature and time-stamp swapped",
            changed(&|bundle| {
                let signature = bundle["signature"].take();
                bundle["signature"] = std::mem::replace(&mut bundle["time_stamp"], signature);
            }),
            "signature",
        ),
        (
            "certificates swapped",
            changed(&swap("/certificates", 0, 1)),
            "certificates",
        ),
        (
            "a certificate repeated",
            changed(&repeat("/certificates")),
            "certificates",
        ),
        (
            "the root left out",
            changed(&|bundle| {
                bundle["certificates"].as_array_mut().unwrap().pop();
            }),
            "certificates",
        ),
        (
            "proof hashes swapped",
            changed(&swap("/log/inclusion_proof", 0, 1)),
            "log entry",
        ),
        (
            "a proof hash repeated",
            changed(&repeat("/log/inclusion_proof")),
            "log entry",
        ),
        (
            "another index",
            changed(&|bundle| bundle["log"]["index"] = (bundle_value.log.index + 1).into()),
            "log entry",
        ),
    ];
    for (what, tampered, part) in tampered {
        assert_ne!(tampered, bundle, "{what}: unchanged");
        let report = sceau_server::bundle::check(&tampered, &root, &key);
        assert_eq!(failed(&report), [part], "{what}: {report:#?}");
    }
}

#[tokio::test]
async fn a_client_cancels_the_payment_and_the_merchant_is_told() {
    let server = Server::start().await;
    let hooks = Hooks::start().await;
    let shop = server.enroll_merchant("Shop").await;
    let alice = server
        .enroll_client("alice", "+33612345678", "100.00")
        .await;
    server.enroll_client("bob", "+33612345679", "100.00").await;
    let checkout = create_checkout(&server, &shop, checkout_body("10.00", &hooks.url)).await;
    let id = checkout["id"].as_str().unwrap();
    let (payer, _) = sign_in_to_pay(&server, &checkout, "alice").await;
    let before = server.newest_message_id(&alice.phone).await;
    payer.post(&server, "validate", &[]).await;
    let (seal, _) = seal_on_phone(&server, &alice.phone, before).await;
    server.assert_figures(&alice, "100.00", "10.00").await;
    let page = payer.page(&server).await;
    assert!(
        page.text
            .contains(&format!("action=\"{}/cancel\"", payer.path))
            && page.text.contains("Cancel this payment"),
        "{}",
        page.text
    );
    // Without the session's CSRF token, or from another site: refused, nothing changes.
    let cancel_url = server.url(&format!("{}/cancel", payer.path));
    let no_token = server
        .send(
            server
                .http
                .post(&cancel_url)
                .header("cookie", &payer.cookie)
                .form(&[("csrf", "")]),
        )
        .await;
    check_error(&no_token, 403, "csrf");
    let csrf = payer.csrf(&server).await;
    let cross_site = server
        .send(
            server
                .http
                .post(&cancel_url)
                .header("cookie", &payer.cookie)
                .header("origin", "https://evil.example")
                .form(&[("csrf", csrf.as_str())]),
        )
        .await;
    check_error(&cross_site, 403, "cross_origin");
    let signed_out = server
        .send(
            server
                .http
                .post(&cancel_url)
                .form(&[("csrf", csrf.as_str())]),
        )
        .await;
    check_error(&signed_out, 401, "unauthorized");
    // The check's other forms refuse a signed-out post the same way.
    for step in ["hold", "validate", "resend"] {
        let url = server.url(&format!("{}/{step}", payer.path));
        let signed_out = server
            .send(server.http.post(&url).form(&[("csrf", csrf.as_str())]))
            .await;
        check_error(&signed_out, 401, "unauthorized");
    }
    // Another client, signed in with a valid token of their own: refused.
    let (bob_payer, _) = sign_in_to_pay(&server, &checkout, "bob").await;
    let other = bob_payer.post(&server, "cancel", &[]).await;
    assert_eq!(other.status, StatusCode::FORBIDDEN, "{}", other.text);
    server.assert_figures(&alice, "100.00", "10.00").await;
    let polled = server
        .merchant_get(&shop, &format!("/v1/checkouts/{id}"))
        .await;
    assert_eq!(polled.json()["state"], "held");

    let canceled = payer.post(&server, "cancel", &[]).await;
    assert_eq!(canceled.status, StatusCode::SEE_OTHER, "{}", canceled.text);
    let page = payer.page(&server).await;
    assert!(page.text.contains("id=\"canceled\""), "{}", page.text);
    assert!(
        page.text.contains("href=\"http://127.0.0.1:9/shop/return"),
        "{}",
        page.text
    );
    assert!(!page.text.contains("Cancel this payment"), "{}", page.text);
    server.assert_figures(&alice, "100.00", "0.00").await;
    let polled = server
        .merchant_get(&shop, &format!("/v1/checkouts/{id}"))
        .await
        .json();
    assert_eq!(
        (polled["state"].as_str(), polled["failure"].as_str()),
        (Some("canceled"), Some("canceled_by_client"))
    );
    // The seal sent before is dead; canceling again is a clear refusal.
    let late = payer.post(&server, "seal", &[("seal", &seal)]).await;
    assert_eq!(late.status, StatusCode::CONFLICT, "{}", late.text);
    let again = payer.post(&server, "cancel", &[]).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
    assert!(again.text.contains("id=\"canceled\""), "{}", again.text);
    server.assert_figures(&alice, "100.00", "0.00").await;
    server.deliver_webhooks().await;
    let received = hooks.taken();
    assert_eq!(received.len(), 1);
    let event: Value = serde_json::from_slice(&received[0].1).unwrap();
    assert_eq!(
        (event["type"].as_str(), event["checkout_id"].as_str()),
        (Some("checkout.canceled"), Some(id))
    );
    assert_eq!(event["state"], "canceled");
    server.assert_ledger_sound().await;
    server.stop().await;
}

#[tokio::test]
async fn a_paid_checkout_cannot_be_canceled() {
    let server = Server::start().await;
    let shop = server.enroll_merchant("Shop").await;
    let alice = server
        .enroll_client("alice", "+33612345678", "100.00")
        .await;
    let checkout = create_checkout(
        &server,
        &shop,
        checkout_body("10.00", "http://127.0.0.1:9/hooks"),
    )
    .await;
    let (payer, _) = sign_in_to_pay(&server, &checkout, "alice").await;
    let before = server.newest_message_id(&alice.phone).await;
    payer.post(&server, "validate", &[]).await;
    let (seal, _) = seal_on_phone(&server, &alice.phone, before).await;
    let paid = payer.post(&server, "seal", &[("seal", &seal)]).await;
    assert_eq!(paid.status, StatusCode::SEE_OTHER, "{}", paid.text);
    let refused = payer.post(&server, "cancel", &[]).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
    assert!(refused.text.contains("id=\"paid\""), "{}", refused.text);
    server.assert_figures(&alice, "90.00", "0.00").await;
    let id = checkout["id"].as_str().unwrap();
    let polled = server
        .merchant_get(&shop, &format!("/v1/checkouts/{id}"))
        .await
        .json();
    assert_eq!(polled["state"], "paid");
    let unknown = server
        .send(
            server
                .http
                .post(server.url("/pay/co_00000000000000000000000000000000/cancel"))
                .header("cookie", &payer.cookie)
                .form(&[("csrf", payer.csrf(&server).await.as_str())]),
        )
        .await;
    check_error(&unknown, 404, "checkout_not_found");
    server.assert_ledger_sound().await;
    server.stop().await;
}

/// Issue 23 (9): a merchant rotates its webhook secret with an overlap of its choice:
/// meanwhile each webhook is signed with both secrets (the shop's verifier accepts it
/// with either), afterwards with the new one alone.
#[tokio::test]
async fn a_rotated_webhook_secret_signs_beside_the_old_one_for_the_overlap() {
    let server = Server::start().await;
    let hooks = Hooks::start().await;
    let shop = server.enroll_merchant("Shop").await;
    server
        .enroll_client("alice", "+33612345678", "500.00")
        .await;
    let old = server.service.keys.webhook_secret(shop.id).to_string();
    let rotate = async |overlap: Value, key: Option<&str>| {
        let body = json!({ "overlap_s": overlap });
        server
            .merchant_post(&shop, "/v1/webhook-secret", &body, key)
            .await
    };
    for (refused, status) in [(json!(-1), 422), (json!(604_801), 422), (json!("1h"), 400)] {
        let reply = rotate(refused.clone(), None).await;
        check_error(&reply, status, "invalid_field");
    }
    let anonymous = server
        .send(
            server
                .http
                .post(server.url("/v1/webhook-secret"))
                .json(&json!({ "overlap_s": 60 })),
        )
        .await;
    check_error(&anonymous, 401, "unauthorized");
    let first = rotate(json!(3_600), Some("rotate-1")).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    let rotated = first.json();
    let new = rotated["webhook_secret"].as_str().unwrap().to_owned();
    assert!(
        new.starts_with("whsec_") && new.len() == 70 && new != old,
        "{new}"
    );
    assert_eq!(
        rotated["previous_valid_until"],
        sceau_server::clock::rfc3339(START_S + 3_600)
    );
    // Its answer lost, asked again under the same key: the same secret, not another.
    let again = rotate(json!(3_600), Some("rotate-1")).await;
    assert_eq!(
        (again.status, again.json()),
        (first.status, rotated.clone())
    );
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    let reused = rotate(json!(60), Some("rotate-1")).await;
    check_error(&reused, 422, "idempotency_key_reused");

    // A payment during the overlap: two signatures, either secret verifies it.
    let pay = async || {
        let checkout = create_checkout(&server, &shop, checkout_body("10.00", &hooks.url)).await;
        let (payer, _) = sign_in_to_pay(&server, &checkout, "alice").await;
        let before = server.newest_message_id("+33612345678").await;
        let validated = payer.post(&server, "validate", &[]).await;
        assert_eq!(
            validated.status,
            StatusCode::SEE_OTHER,
            "{}",
            validated.text
        );
        let (seal, _) = seal_on_phone(&server, "+33612345678", before).await;
        let paid = payer.post(&server, "seal", &[("seal", &seal)]).await;
        assert_eq!(paid.status, StatusCode::SEE_OTHER, "{}", paid.text);
        // Delivered here, or by the server's own deliverer: waited for.
        let mut received = Vec::new();
        for _ in 0..1_000 {
            server.deliver_webhooks().await;
            received.extend(hooks.taken());
            if !received.is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(received.len(), 1);
        let (headers, body) = received.remove(0);
        let header = headers["sceau-signature"].to_str().unwrap().to_owned();
        let t: i64 = header
            .split(',')
            .find_map(|part| part.strip_prefix("t="))
            .unwrap()
            .parse()
            .unwrap();
        (header, body, t)
    };
    let (header, body, t) = pay().await;
    assert_eq!(header.matches(",v1=").count(), 2, "{header}");
    assert!(sceau_shop::verify_signature(&new, &header, &body, t));
    assert!(sceau_shop::verify_signature(&old, &header, &body, t));
    let other = server.service.keys.webhook_secret(shop.id + 1).to_string();
    assert!(!sceau_shop::verify_signature(&other, &header, &body, t));

    // Rotated again during the overlap: the one in use becomes the one before, the
    // oldest ends.
    let second = rotate(json!(60), None).await.json();
    let second = second["webhook_secret"].as_str().unwrap().to_owned();
    let (header, body, t) = pay().await;
    assert_eq!(header.matches(",v1=").count(), 2, "{header}");
    assert!(sceau_shop::verify_signature(&second, &header, &body, t));
    assert!(sceau_shop::verify_signature(&new, &header, &body, t));
    assert!(!sceau_shop::verify_signature(&old, &header, &body, t));

    // After the overlap: the newest secret alone.
    server.clock.advance(60);
    let (header, body, t) = pay().await;
    assert_eq!(header.matches(",v1=").count(), 1, "{header}");
    assert!(sceau_shop::verify_signature(&second, &header, &body, t));
    assert!(!sceau_shop::verify_signature(&new, &header, &body, t));
    let new = second;

    // No overlap: the one in use ends at once.
    let newest = rotate(json!(0), None).await.json();
    assert_eq!(newest["previous_valid_until"], Value::Null);
    let newest = newest["webhook_secret"].as_str().unwrap().to_owned();
    let (header, body, t) = pay().await;
    assert_eq!(header.matches(",v1=").count(), 1, "{header}");
    assert!(sceau_shop::verify_signature(&newest, &header, &body, t));
    assert!(!sceau_shop::verify_signature(&new, &header, &body, t));
    server.stop().await;
}

/// Issue 23 (8): the check as a PDF, for the client who paid: qpdf finds it sound,
/// poppler reads the check's words from it, and its rendering draws the SVG's paper,
/// frame, amount box and rule where the SVG does, with ink at each of the SVG's lines.
#[tokio::test]
async fn the_check_is_also_a_pdf_that_renders_like_the_image() {
    // qpdf and poppler's tools (Debian's `qpdf`, `poppler-utils`; `.ci/run` installs them).
    let tools = ["qpdf", "pdftotext", "pdftoppm"];
    if let Some(missing) = tools
        .iter()
        .find(|tool| std::process::Command::new(tool).arg("-v").output().is_err())
    {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{missing} is missing under CI (.ci/run installs qpdf and poppler-utils)"
        );
        eprintln!("note: {missing} is missing: the check's PDF test was not run");
        return;
    }
    let server = Server::start().await;
    let shop = server.enroll_merchant("Le Petit Théâtre").await;
    let alice = server
        .enroll_client("alice", "+33612345678", "500.00")
        .await;
    let (id, payer) = pay_with_seal(&server, &shop, "alice", &alice.phone, "123.45").await;
    let fetch = async |path: &str, cookie: Option<&str>| {
        let mut request = server.http.get(server.url(path));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        (status, headers, response.bytes().await.unwrap().to_vec())
    };
    let (status, headers, pdf) = fetch(&format!("/pay/{id}/check.pdf"), Some(&payer.cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/pdf");
    assert_eq!(
        headers["content-disposition"],
        format!("attachment; filename=\"check-{id}.pdf\"").as_str()
    );
    assert_eq!(headers["cache-control"], "no-store");
    assert!(pdf.starts_with(b"%PDF-"));
    // The same check twice: the same bytes.
    let (_, _, again) = fetch(&format!("/pay/{id}/check.pdf"), Some(&payer.cookie)).await;
    assert_eq!(again, pdf);
    // Nobody else's: neither a visitor's nor another client's, in either form; and no
    // check of a checkout canceled.
    server.enroll_client("bob", "+33612345679", "10.00").await;
    let bob = server.sign_in("bob").await;
    for form in ["pdf", "svg"] {
        let path = format!("/pay/{id}/check.{form}");
        assert_eq!(fetch(&path, None).await.0, StatusCode::NOT_FOUND);
        assert_eq!(
            fetch(&path, Some(&bob.cookie)).await.0,
            StatusCode::NOT_FOUND
        );
    }
    let canceled =
        create_checkout(&server, &shop, checkout_body("5.00", "http://127.0.0.1:9/")).await;
    let (canceler, _) = sign_in_to_pay(&server, &canceled, "alice").await;
    let reply = canceler.post(&server, "cancel", &[]).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text);
    let path = format!("{}/check.pdf", canceler.path);
    assert_eq!(
        fetch(&path, Some(&canceler.cookie)).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, _, svg) = fetch(&format!("/pay/{id}/check.svg"), Some(&payer.cookie)).await;
    let svg = String::from_utf8(svg).unwrap();

    let directory = tempfile::tempdir().unwrap();
    let file = directory.path().join("check.pdf");
    std::fs::write(&file, &pdf).unwrap();
    let run = |program: &str, args: &[&str]| {
        let output = std::process::Command::new(program)
            .args(args)
            .current_dir(directory.path())
            .output()
            .unwrap_or_else(|error| panic!("{program} (qpdf, poppler-utils): {error}"));
        assert!(
            output.status.success(),
            "{program}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        output.stdout
    };
    let checked = String::from_utf8(run("qpdf", &["--check", "check.pdf"])).unwrap();
    assert!(
        checked.contains("No syntax or stream encoding errors"),
        "{checked}"
    );
    let text = String::from_utf8(run("pdftotext", &["-layout", "check.pdf", "-"])).unwrap();
    for words in [
        "Le Petit Théâtre",
        "123.45 EUR",
        "PAID · signed with a seal on the client's phone",
        "Two concert tickets (reference cart-42)",
        &format!("checkout {id}"),
    ] {
        assert!(
            text.contains(words),
            "{words:?} not in the PDF's text:\n{text}"
        );
    }

    // The rendering, at 72 dpi: one pixel a point, as the SVG's one a unit.
    run(
        "pdftoppm",
        &["-r", "72", "-singlefile", "check.pdf", "check"],
    );
    let image = std::fs::read(directory.path().join("check.ppm")).unwrap();
    let header = b"P6\n900 400\n255\n";
    assert!(image.starts_with(header), "a 900 by 400 rendering");
    let pixels = &image[header.len()..];
    let pixel = |x: usize, y: usize| {
        let at = (y * 900 + x) * 3;
        (pixels[at], pixels[at + 1], pixels[at + 2])
    };
    let near = |(r, g, b): (u8, u8, u8), hex: u32| {
        let (hr, hg, hb) = ((hex >> 16) as u8, (hex >> 8) as u8, hex as u8);
        r.abs_diff(hr) <= 12 && g.abs_diff(hg) <= 12 && b.abs_diff(hb) <= 12
    };
    // Where the SVG draws them: the paper, its border, the amount's white box, the rule.
    assert!(
        near(pixel(450, 170), 0xfbf8ef),
        "paper: {:?}",
        pixel(450, 170)
    );
    assert!(near(pixel(4, 200), 0xb9a77a), "border: {:?}", pixel(4, 200));
    assert!(
        near(pixel(855, 110), 0xffffff),
        "amount box: {:?}",
        pixel(855, 110)
    );
    assert!(
        near(pixel(450, 240), 0xd8cba5),
        "rule: {:?}",
        pixel(450, 240)
    );
    assert!(near(pixel(1, 1), 0xffffff), "outside the rounded corner");
    // Ink where each of the SVG's lines begins, and none in the margin before it.
    let ink = |x0: usize, y0: usize, x1: usize, y1: usize| {
        (y0..y1).any(|y| (x0..x1).any(|x| pixel(x, y).0 < 160))
    };
    let mut lines = 0;
    for element in svg.split("<text ").skip(1) {
        let attribute = |name: &str| -> usize {
            let start = element.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
            element[start..].split('"').next().unwrap().parse().unwrap()
        };
        let (x, y) = (attribute("x"), attribute("y"));
        let content = element
            .split('>')
            .nth(1)
            .unwrap()
            .split('<')
            .next()
            .unwrap();
        if content.is_empty() {
            continue;
        }
        assert!(
            ink(x, y - 8, x + 24, y + 1),
            "no ink at ({x}, {y}): {content}"
        );
        assert!(!ink(x - 10, y - 8, x - 2, y + 1), "ink before ({x}, {y})");
        lines += 1;
    }
    assert!(lines >= 17, "{lines} lines in the SVG");
    server.stop().await;
}
