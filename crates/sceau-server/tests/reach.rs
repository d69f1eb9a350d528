//! Who may make sceau write to a client's phone, and how often, over real HTTP: one
//! budget of messages per client whatever asks (seals, numbers, merchants' numbers), and
//! merchants reach only their own clients, learning nothing of anyone else.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const ALICE_PHONE: &str = "+33612345678";

/// A checkout of `merchant` for `amount` euros that `login` signed in on (the amount is
/// held): its page's path and the session's cookie.
async fn held_checkout(
    server: &Server,
    merchant: &Merchant,
    login: &str,
    amount: &str,
) -> (String, String) {
    let body = json!({
        "amount": amount, "currency": "EUR", "reference": "cart", "object": "Tickets",
        "return_url": "http://127.0.0.1:9/shop/return",
    });
    let created = server
        .merchant_post(merchant, "/v1/checkouts", &body, None)
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let url = created.json()["url"].as_str().unwrap().to_owned();
    let path = url.strip_prefix(&server.base).unwrap().to_owned();
    let signed_in = server
        .send(
            server
                .http
                .post(server.url(&format!("{path}/sign-in")))
                .form(&[("login", login), ("password", PASSWORD)]),
        )
        .await;
    assert_eq!(
        signed_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_in.text
    );
    let cookie = signed_in
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    (path, cookie)
}

/// "Validate payment and sign" on a held checkout: the seal is sent, or refused.
async fn validate(server: &Server, (path, cookie): &(String, String)) -> Reply {
    let wallet = server.page("/wallet", Some(cookie)).await;
    let marker = "name=\"csrf\" value=\"";
    let at = wallet.text.find(marker).unwrap() + marker.len();
    let csrf = &wallet.text[at..at + wallet.text[at..].find('"').unwrap()];
    server
        .send(
            server
                .http
                .post(server.url(&format!("{path}/validate")))
                .header("cookie", cookie)
                .form(&[("csrf", csrf)]),
        )
        .await
}

/// `POST /api/v1/signatures` for a small document.
async fn ask_signature(server: &Server, session: &Session, name: &str) -> Reply {
    server
        .send(
            server
                .http
                .post(server.url("/api/v1/signatures"))
                .query(&[("document_name", name)])
                .header("cookie", &session.cookie)
                .header("x-csrf-token", &session.csrf)
                .header("content-type", "application/octet-stream")
                .body(format!("document {name}").into_bytes()),
        )
        .await
}

/// The burst that once made sceau send one client 40 messages in ten seconds (10
/// signature seals, 3 payment seals, 20 numbers, 7 numbers asked for by merchants):
/// now the phone receives exactly the budget, every refusal is a 429 with its code, and
/// nothing of a refused request is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_budget_bounds_every_message_to_a_client() {
    let server = Server::start().await;
    let shop = server.enroll_merchant("Shop").await;
    let cafe = server.enroll_merchant("Cafe").await;
    let alice = server.enroll_client("alice", ALICE_PHONE, "500.00").await;
    // Three checkouts held (signing in sends nothing, and makes alice a client of both
    // merchants, who may then ask for numbers for her).
    let payers = [
        held_checkout(&server, &shop, "alice", "10.00").await,
        held_checkout(&server, &shop, "alice", "20.00").await,
        held_checkout(&server, &cafe, "alice", "30.00").await,
    ];
    let session = server.sign_in("alice").await;

    // 10 signature seals: all the seals of the hour.
    for index in 0..10 {
        let reply = ask_signature(&server, &session, &format!("doc-{index}.pdf")).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    }
    check_error(
        &ask_signature(&server, &session, "doc-10.pdf").await,
        429,
        "too_many_signatures",
    );
    // 3 payment seals: refused, the seals of the hour were sent.
    for payer in &payers {
        let refused = validate(&server, payer).await;
        assert_eq!(
            refused.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{}",
            refused.text
        );
        assert!(
            refused
                .text
                .contains("too many seals were sent to your phone this hour"),
            "{}",
            refused.text
        );
    }
    // 20 numbers the client asks for: what the total leaves.
    for _ in 0..NUMBERS_PER_HOUR_MAX {
        let asked = server
            .ask_number(&session, &[("csrf", session.csrf.as_str())])
            .await;
        assert_eq!(asked.status, StatusCode::SEE_OTHER, "{}", asked.text);
    }
    check_error(
        &server
            .ask_number(&session, &[("csrf", session.csrf.as_str())])
            .await,
        429,
        "too_many_numbers",
    );
    // 7 numbers merchants ask for: the total is reached.
    for merchant in [&shop, &shop, &shop, &shop, &cafe, &cafe, &cafe] {
        check_error(
            &server
                .checkout_number(merchant, "alice", "5.00", "EUR")
                .await,
            429,
            "too_many_messages",
        );
    }

    server.deliver().await;
    assert_eq!(
        server.phone_messages(ALICE_PHONE).await.len(),
        CLIENT_SMS_PER_HOUR_MAX as usize,
        "the phone received exactly the budget"
    );
    // Nothing half-written: 10 signature requests (envelopes of one file, each with its
    // seal), no seal on the checkouts, the client's numbers and the checkouts' own (zone
    // 25), none of the merchants'.
    let store = &server.service.store;
    let envelopes = store.client_envelopes(alice.id, 100).await.unwrap();
    assert_eq!(envelopes.len(), 10);
    assert!(envelopes.iter().all(|view| view.seal.is_some()));
    for (path, _) in &payers {
        let view = store
            .checkout(path.trim_start_matches("/pay/"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((view.seal_sends, view.seal.is_some()), (0, false), "{path}");
    }
    let numbers = store.client_numbers(alice.id, 100).await.unwrap();
    let by_merchant = numbers
        .iter()
        .filter(|n| n.origin == sceau_store::Origin::Merchant)
        .count();
    assert_eq!(
        (numbers.len(), by_merchant),
        (NUMBERS_PER_HOUR_MAX as usize + 3, 3)
    );

    // An hour later the burst no longer counts: a seal goes out.
    server.clock.advance(3_600);
    let payer = held_checkout(&server, &shop, "alice", "1.00").await;
    let validated = validate(&server, &payer).await;
    assert_eq!(
        validated.status,
        StatusCode::SEE_OTHER,
        "{}",
        validated.text
    );
    server.deliver().await;
    assert_eq!(
        server.phone_messages(ALICE_PHONE).await.len(),
        CLIENT_SMS_PER_HOUR_MAX as usize + 1
    );
    server.assert_ledger_sound().await;
}

/// A merchant may have a number sent only to a client who paid it or signed in on one of
/// its checkouts. For anyone else (nobody with that login or phone, someone else's
/// client, a client of its own who is blocked or paused) the answer is one and the same,
/// and no message is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_learns_nothing_of_clients_it_may_not_reach() {
    let server = Server::start().await;
    let shop = server.enroll_merchant("Shop").await;
    let other = server.enroll_merchant("Other Shop").await;
    let alice = server.enroll_client("alice", ALICE_PHONE, "500.00").await;
    let bob = server.enroll_client("bob", "+33611223344", "500.00").await;
    let carol = server
        .enroll_client("carol", "+33622334455", "500.00")
        .await;
    let dave = server.enroll_client("dave", "+33633445566", "500.00").await;
    // bob, carol and dave paid the shop; alice paid only the other shop.
    for client in [&bob, &carol, &dave] {
        server.introduce(&shop, client).await;
    }
    server.introduce(&other, &alice).await;
    // carol is blocked by the operator; dave is paused (five wrong card details).
    let blocked = server
        .admin(
            Method::POST,
            &format!("/admin/v1/clients/{}/block", carol.id),
            None,
        )
        .await;
    assert_eq!(blocked.status, StatusCode::OK, "{}", blocked.text);
    let dave_session = server.sign_in("dave").await;
    let card = server.any_card(&dave_session, &dave).await;
    for _ in 0..sceau_domain::limits::CLIENT_FAILURES_MAX {
        check_decline(
            &server
                .authorize(&shop, &card.with_wrong_code(), "1.00", "EUR")
                .await,
            "wrong_card_details",
        );
    }
    server.deliver().await;
    let phones = [ALICE_PHONE, &bob.phone, &carol.phone, &dave.phone];
    let mut sent_before = Vec::new();
    for phone in phones {
        sent_before.push(server.phone_messages(phone).await.len());
    }

    let ask = async |merchant: &Merchant, client: &str, currency: &str| {
        let body = json!({ "client": client, "amount": "5.00", "currency": currency });
        server
            .merchant_post(merchant, "/v1/numbers", &body, None)
            .await
    };
    let nobody = ask(&shop, "nobody", "EUR").await;
    check_error(&nobody, 404, "unknown_client");
    let refusal: Value = nobody.json();
    let cases = [
        (
            "a phone nobody has",
            ask(&shop, "+33700000000", "EUR").await,
        ),
        (
            "another merchant's client",
            ask(&shop, "alice", "EUR").await,
        ),
        (
            "another merchant's client, by phone",
            ask(&shop, ALICE_PHONE, "EUR").await,
        ),
        (
            "another merchant's client, in another currency",
            ask(&shop, "alice", "USD").await,
        ),
        (
            "a client of another merchant only",
            ask(&other, "bob", "EUR").await,
        ),
        ("a blocked client", ask(&shop, "carol", "EUR").await),
        ("a paused client", ask(&shop, "dave", "EUR").await),
        (
            "a paused client, by phone",
            ask(&shop, &dave.phone, "EUR").await,
        ),
    ];
    for (case, reply) in &cases {
        assert_eq!(
            (
                reply.status,
                reply.json(),
                reply.header("idempotent-replayed")
            ),
            (StatusCode::NOT_FOUND, refusal.clone(), None),
            "{case}: {}",
            reply.text
        );
    }
    // A request refused for itself is refused alike, whoever it names.
    for client in ["nobody", "alice", "bob"] {
        let body =
            json!({ "client": client, "amount": "5.00", "currency": "EUR", "validity_s": 10 });
        check_error(
            &server
                .merchant_post(&shop, "/v1/numbers", &body, None)
                .await,
            422,
            "invalid_validity",
        );
    }
    server.deliver().await;
    for (phone, before) in phones.iter().zip(&sent_before) {
        assert_eq!(
            server.phone_messages(phone).await.len(),
            *before,
            "nothing was sent to {phone}"
        );
    }

    // The shop's own client is reached, told the amount and the shop; in another
    // currency, the shop is told so.
    let before = server.newest_message_id(&bob.phone).await;
    let issued = ask(&shop, "bob", "EUR").await;
    assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.text);
    let text = server.message_after(&bob.phone, before).await;
    assert!(text.contains("Shop asks you to pay 5.00 EUR"), "{text}");
    check_error(&ask(&shop, "bob", "USD").await, 422, "currency_mismatch");
    // Unblocked, carol is the shop's client again.
    let unblocked = server
        .admin(
            Method::POST,
            &format!("/admin/v1/clients/{}/unblock", carol.id),
            None,
        )
        .await;
    assert_eq!(unblocked.status, StatusCode::OK, "{}", unblocked.text);
    assert_eq!(ask(&shop, "carol", "EUR").await.status, StatusCode::CREATED);
    server.assert_ledger_sound().await;
}

/// A merchant reaches so many distinct clients an hour (`merchant_clients_per_hour_max`),
/// then is refused with its own code until the hour has passed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_reaches_so_many_clients_an_hour() {
    let server = Server::start().await;
    let shop = server.enroll_merchant("Shop").await;
    let mut clients = Vec::new();
    for n in 0..=MERCHANT_CLIENTS_PER_HOUR_MAX {
        let client = server
            .enroll_client(&format!("client{n}"), &format!("+3361{n:07}"), "10.00")
            .await;
        server.introduce(&shop, &client).await;
        clients.push(client);
    }
    let (last, reached) = clients.split_last().unwrap();
    for client in reached {
        let issued = server
            .checkout_number(&shop, &client.login, "1.00", "EUR")
            .await;
        assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.text);
    }
    // A client reached this hour may be reached again; one more may not.
    let again = server
        .checkout_number(&shop, &reached[0].login, "1.00", "EUR")
        .await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.text);
    check_error(
        &server
            .checkout_number(&shop, &last.login, "1.00", "EUR")
            .await,
        429,
        "too_many_clients",
    );
    server.clock.advance(3_600);
    let later = server
        .checkout_number(&shop, &last.login, "1.00", "EUR")
        .await;
    assert_eq!(later.status, StatusCode::CREATED, "{}", later.text);
}
