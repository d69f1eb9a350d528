//! Issue 23 (7): the operator's console over real HTTP: its own sign-in (not a client's
//! session, not the admin token), the service's figures, finding a client, blocking and
//! unblocking them with CSRF tokens, each action an evidence record in the log.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use zeroize::Zeroizing;

const OPERATOR_PASSWORD: &str = "an operator's long password";

/// Signs in as operator `login` with `password`: the console's cookie (`name=value`).
async fn operator_sign_in(server: &Server, login: &str, password: &str) -> String {
    let reply = server
        .send(
            server
                .http
                .post(server.url("/admin/login"))
                .form(&[("login", login), ("password", password)]),
        )
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text);
    assert_eq!(reply.header("location"), Some("/admin"));
    let set_cookie = reply.header("set-cookie").expect("a console cookie");
    let attributes: Vec<&str> = set_cookie.split(';').map(str::trim).collect();
    for attribute in ["Path=/admin", "HttpOnly", "SameSite=Strict"] {
        assert!(attributes.contains(&attribute), "{set_cookie}");
    }
    assert!(attributes[0].starts_with("sceau_operator="), "{set_cookie}");
    attributes[0].to_owned()
}

async fn post_form(server: &Server, path: &str, cookie: &str, form: &[(&str, &str)]) -> Reply {
    server
        .send(
            server
                .http
                .post(server.url(path))
                .header("cookie", cookie)
                .form(form),
        )
        .await
}

#[tokio::test]
async fn an_operator_signs_in_finds_a_client_and_blocks_them_with_evidence() {
    let server = Server::start().await;
    let alice = server
        .enroll_client("alice", "+33612345678", "100.00")
        .await;
    let operator = server
        .service
        .add_operator("ops", Zeroizing::new(OPERATOR_PASSWORD.to_owned()))
        .await
        .unwrap();

    // Nobody signed in, a client's session, the admin token: to the sign-in.
    let anonymous = server.page("/admin", None).await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    assert_eq!(anonymous.header("location"), Some("/admin/login"));
    let client = server.sign_in("alice").await;
    let as_client = server.page("/admin", Some(&client.cookie)).await;
    assert_eq!(as_client.header("location"), Some("/admin/login"));
    // Nor a client's token given as the console's cookie.
    let token = client.cookie.strip_prefix("sceau_session=").unwrap();
    let borrowed = format!("sceau_operator={token}");
    let as_operator = server.page("/admin", Some(&borrowed)).await;
    assert_eq!(as_operator.header("location"), Some("/admin/login"));
    let with_token = server
        .send(
            server
                .http
                .get(server.url("/admin"))
                .bearer_auth(ADMIN_TOKEN),
        )
        .await;
    assert_eq!(with_token.header("location"), Some("/admin/login"));
    let form = server.page("/admin/login", None).await;
    assert_eq!(form.status, StatusCode::OK);
    let policy = form.header("content-security-policy").unwrap();
    assert!(!policy.contains("script-src"), "no script: {policy}");
    let wrong = server
        .send(
            server
                .http
                .post(server.url("/admin/login"))
                .form(&[("login", "ops"), ("password", "not the password")]),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(
        wrong.text.contains("Wrong login or password"),
        "{}",
        wrong.text
    );
    assert!(wrong.header("set-cookie").is_none());

    let cookie = operator_sign_in(&server, "ops", OPERATOR_PASSWORD).await;
    let home = server.page("/admin", Some(&cookie)).await;
    assert_eq!(home.status, StatusCode::OK, "{}", home.text);
    for shown in ["id=\"operator\">ops<", "id=\"outbox\">", "id=\"log-size\">"] {
        assert!(home.text.contains(shown), "{shown}: {}", home.text);
    }
    // The routes of the second channel with their health (the development phone here).
    let routes = &home.text[home.text.find("id=\"routes\"").expect("the routes")..];
    assert!(
        routes.contains("<td>SMS</td><td>dev-phone</td>") && routes.contains("<td>ok</td>"),
        "{routes}"
    );
    let csrf = csrf_in(&home.text);

    // Found by number, phone or login; nothing for a stranger.
    let client_page = format!("/admin/clients/{}", alice.id);
    for query in [alice.id.to_string(), "+33612345678".into(), "alice".into()] {
        let found = post_form(
            &server,
            "/admin/clients",
            &cookie,
            &[("csrf", &csrf), ("q", &query)],
        )
        .await;
        assert_eq!(found.status, StatusCode::SEE_OTHER, "{query}");
        assert_eq!(found.header("location"), Some(client_page.as_str()));
    }
    let none = post_form(
        &server,
        "/admin/clients",
        &cookie,
        &[("csrf", &csrf), ("q", "nobody")],
    )
    .await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
    assert!(none.text.contains("No client matches"), "{}", none.text);
    let unsigned = post_form(&server, "/admin/clients", &cookie, &[("q", "alice")]).await;
    check_error(&unsigned, 403, "csrf");
    for missing in ["/admin/clients/999999", "/admin/clients/abc"] {
        let reply = server.page(missing, Some(&cookie)).await;
        check_error(&reply, 404, "unknown_client");
    }
    let page = server.page(&client_page, Some(&cookie)).await;
    assert!(page.text.contains("id=\"state\">active<"), "{}", page.text);
    assert!(!page.text.contains("+33612345678"), "the phone is masked");

    // A checkout, by its identifier.
    let shop = server.enroll_merchant("Shop").await;
    let body = serde_json::json!({
        "amount": "12.50", "currency": "EUR", "reference": "cart-7",
        "object": "A book", "return_url": "http://127.0.0.1:9/return",
    });
    let created = server
        .merchant_post(&shop, "/v1/checkouts", &body, None)
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let checkout_id = created.json()["id"].as_str().unwrap().to_owned();
    let found = post_form(
        &server,
        "/admin/checkouts",
        &cookie,
        &[("csrf", &csrf), ("q", &checkout_id)],
    )
    .await;
    let checkout_page = format!("/admin/checkouts/{checkout_id}");
    assert_eq!(found.header("location"), Some(checkout_page.as_str()));
    let page = server.page(&checkout_page, Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    for shown in [
        "id=\"state\">open<",
        "id=\"amount\">12.50 EUR<",
        "cart-7",
        "A book",
        "Shop",
    ] {
        assert!(page.text.contains(shown), "{shown}: {}", page.text);
    }
    let absent = format!("co_{}", "0".repeat(32));
    for q in [absent.as_str(), "co_nothex", "'; DROP TABLE checkouts"] {
        let none = post_form(
            &server,
            "/admin/checkouts",
            &cookie,
            &[("csrf", &csrf), ("q", q)],
        )
        .await;
        assert_eq!(none.status, StatusCode::NOT_FOUND, "{q}");
        assert!(
            none.text.contains("No checkout has this identifier"),
            "{}",
            none.text
        );
    }
    check_error(
        &server
            .page(&format!("/admin/checkouts/{absent}"), Some(&cookie))
            .await,
        404,
        "checkout_not_found",
    );
    check_error(
        &server.page("/admin/checkouts/nothing", Some(&cookie)).await,
        404,
        "checkout_not_found",
    );
    let anonymous = server.page(&checkout_page, None).await;
    assert_eq!(anonymous.header("location"), Some("/admin/login"));

    // A merchant, by name (any case) or number; an operator rotates its webhook secret.
    let found = post_form(
        &server,
        "/admin/merchants",
        &cookie,
        &[("csrf", &csrf), ("q", "SHOP")],
    )
    .await;
    let merchant_page = format!("/admin/merchants/{}", shop.id);
    assert_eq!(found.header("location"), Some(merchant_page.as_str()));
    let by_number = post_form(
        &server,
        "/admin/merchants",
        &cookie,
        &[("csrf", &csrf), ("q", &shop.id.to_string())],
    )
    .await;
    assert_eq!(by_number.header("location"), Some(merchant_page.as_str()));
    let none = post_form(
        &server,
        "/admin/merchants",
        &cookie,
        &[("csrf", &csrf), ("q", "Nobody")],
    )
    .await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
    let page = server.page(&merchant_page, Some(&cookie)).await;
    assert!(page.text.contains("id=\"name\">Shop<"), "{}", page.text);
    assert!(!page.text.contains("whsec_"), "no secret before a rotation");
    let rotate = format!("{merchant_page}/webhook-secret");
    let marker = "name=\"rotation\" value=\"";
    let at = page.text.find(marker).expect("the form's rotation token") + marker.len();
    let rotation = page.text[at..at + 32].to_owned();
    let refused = post_form(
        &server,
        &rotate,
        &cookie,
        &[("overlap_s", "0"), ("rotation", &rotation)],
    )
    .await;
    check_error(&refused, 403, "csrf");
    let tokenless = post_form(
        &server,
        &rotate,
        &cookie,
        &[("csrf", &csrf), ("overlap_s", "0")],
    )
    .await;
    check_error(&tokenless, 400, "invalid_form");
    let too_long = post_form(
        &server,
        &rotate,
        &cookie,
        &[
            ("csrf", &csrf),
            ("overlap_s", "604801"),
            ("rotation", &rotation),
        ],
    )
    .await;
    check_error(&too_long, 422, "invalid_field");
    let form = [
        ("csrf", csrf.as_str()),
        ("overlap_s", "0"),
        ("rotation", rotation.as_str()),
    ];
    let rotated = post_form(&server, &rotate, &cookie, &form).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text);
    // The same form again (a reload): the same secret, nothing rotated.
    let reloaded = post_form(&server, &rotate, &cookie, &form).await;
    assert_eq!(reloaded.status, StatusCode::OK, "{}", reloaded.text);
    assert_eq!(rotated.header("cache-control"), Some("no-store"));
    let secret = server.service.keys.webhook_secret_version(shop.id, 1);
    assert!(rotated.text.contains(secret.as_str()), "{}", rotated.text);
    assert!(reloaded.text.contains(secret.as_str()), "{}", reloaded.text);
    assert!(
        rotated.text.contains("The one before has ended"),
        "{}",
        rotated.text
    );
    let chain = server
        .service
        .store
        .evidence(&format!("merchant:{}", shop.id))
        .await
        .unwrap();
    assert_eq!(chain.len(), 1);
    let said: serde_json::Value = serde_json::from_slice(&chain[0].record).unwrap();
    assert_eq!(said["by"]["operator"]["login"], "ops");
    assert!(!String::from_utf8_lossy(&chain[0].record).contains("whsec_"));
    check_error(
        &server.page("/admin/merchants/999999", Some(&cookie)).await,
        404,
        "not_found",
    );

    // A block needs the session's token, and the page's origin.
    let block = format!("{client_page}/block");
    let forged = post_form(&server, &block, &cookie, &[("csrf", &"0".repeat(64))]).await;
    check_error(&forged, 403, "csrf");
    // The client pages' token for the same session token is not the console's.
    let operator_token = cookie.strip_prefix("sceau_operator=").unwrap();
    let pages_token = {
        use sha2::Digest;
        let mut hasher = sha2::Sha256::new();
        hasher.update(b"sceau csrf v1\0");
        hasher.update(operator_token.as_bytes());
        hex::encode(hasher.finalize())
    };
    let other_kind = post_form(&server, &block, &cookie, &[("csrf", &pages_token)]).await;
    check_error(&other_kind, 403, "csrf");
    let missing = post_form(&server, &block, &cookie, &[]).await;
    check_error(&missing, 403, "csrf");
    let cross = server
        .send(
            server
                .http
                .post(server.url(&block))
                .header("cookie", &cookie)
                .header("origin", "http://evil.example")
                .form(&[("csrf", csrf.as_str())]),
        )
        .await;
    check_error(&cross, 403, "cross_origin");
    let admin_view = server
        .admin(
            Method::GET,
            &format!("/admin/v1/clients/{}", alice.id),
            None,
        )
        .await;
    assert_eq!(
        admin_view.json()["client"]["blocked"],
        false,
        "nothing done yet"
    );

    let blocked = post_form(&server, &block, &cookie, &[("csrf", &csrf)]).await;
    assert_eq!(blocked.status, StatusCode::SEE_OTHER, "{}", blocked.text);
    let after = format!("{client_page}?done=blocked");
    assert_eq!(blocked.header("location"), Some(after.as_str()));
    let page = server.page(&after, Some(&cookie)).await;
    assert!(page.text.contains("id=\"state\">blocked<"), "{}", page.text);
    assert!(page.text.contains("Recorded as evidence"), "{}", page.text);
    let admin_view = server
        .admin(
            Method::GET,
            &format!("/admin/v1/clients/{}", alice.id),
            None,
        )
        .await;
    assert_eq!(admin_view.json()["client"]["blocked"], true);
    let again = post_form(&server, &block, &cookie, &[("csrf", &csrf)]).await;
    assert_eq!(
        again.header("location"),
        Some(format!("{client_page}?done=already").as_str())
    );
    let unblocked = post_form(
        &server,
        &format!("{client_page}/unblock"),
        &cookie,
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(
        unblocked.header("location"),
        Some(format!("{client_page}?done=unblocked").as_str())
    );

    // Each action is a record of the client's chain naming the operator, and goes into
    // the public log; the admin API's block is one too, naming the token's holder.
    let blocked_by_api = server
        .admin(
            Method::POST,
            &format!("/admin/v1/clients/{}/block", alice.id),
            None,
        )
        .await;
    assert_eq!(
        blocked_by_api.status,
        StatusCode::OK,
        "{}",
        blocked_by_api.text
    );
    let chain = server
        .service
        .store
        .evidence(&format!("client:{}", alice.id))
        .await
        .unwrap();
    let kinds: Vec<&str> = chain.iter().map(|record| record.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["client.blocked", "client.unblocked", "client.blocked"]
    );
    let said: serde_json::Value = serde_json::from_slice(&chain[0].record).unwrap();
    assert_eq!(said["by"]["operator"]["login"], "ops");
    assert_eq!(said["by"]["operator"]["id"], operator.id.to_string());
    assert_eq!(said["client"], alice.id.to_string());
    let said: serde_json::Value = serde_json::from_slice(&chain[2].record).unwrap();
    assert_eq!(said["by"]["admin"], true);
    server.service.integrate_log_once().await.unwrap();
    let logged = server
        .service
        .store
        .evidence(&format!("client:{}", alice.id))
        .await
        .unwrap();
    assert!(logged.iter().all(|record| record.log_index.is_some()));

    // A blocked client's payments are declined: a number of theirs asked for is refused.
    let asked = server
        .ask_number(
            &client,
            &[("csrf", &client.csrf), ("uses", "1"), ("merchant", "any")],
        )
        .await;
    assert_ne!(asked.status, StatusCode::SEE_OTHER, "{}", asked.text);
    assert!(
        asked.text.to_lowercase().contains("blocked"),
        "{}",
        asked.text
    );

    // A new password for the operator ends their sessions.
    server
        .service
        .reset_operator_password("ops", Zeroizing::new("another long password".to_owned()))
        .await
        .unwrap();
    let ended = server.page("/admin", Some(&cookie)).await;
    assert_eq!(ended.header("location"), Some("/admin/login"));
    let cookie = operator_sign_in(&server, "ops", "another long password").await;
    let csrf = csrf_in(&server.page("/admin", Some(&cookie)).await.text);

    // Signing out ends the session: its cookie opens nothing any more.
    let out = post_form(&server, "/admin/logout", &cookie, &[("csrf", &csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
    let stale = server.page("/admin", Some(&cookie)).await;
    assert_eq!(stale.header("location"), Some("/admin/login"));
    server.stop().await;
}

/// A new operator `ops`, signed in: their record, the console's cookie and CSRF token.
async fn console_of(server: &Server) -> (sceau_store::OperatorRecord, String, String) {
    let operator = server
        .service
        .add_operator("ops", Zeroizing::new(OPERATOR_PASSWORD.to_owned()))
        .await
        .unwrap();
    let cookie = operator_sign_in(server, "ops", OPERATOR_PASSWORD).await;
    let csrf = csrf_in(&server.page("/admin", Some(&cookie)).await.text);
    (operator, cookie, csrf)
}

/// Where a search leads: the `Location` of its 303.
async fn found_at(server: &Server, path: &str, cookie: &str, csrf: &str, q: &str) -> String {
    let reply = post_form(server, path, cookie, &[("csrf", csrf), ("q", q)]).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{q}: {}", reply.text);
    reply.header("location").unwrap().to_owned()
}

/// A search that finds nothing: the first page again, 404, saying `none`.
async fn found_nothing(server: &Server, path: &str, cookie: &str, csrf: &str, q: &str, none: &str) {
    let reply = post_form(server, path, cookie, &[("csrf", csrf), ("q", q)]).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{q}: {}", reply.text);
    assert!(reply.text.contains(none), "{q}: {}", reply.text);
}

#[tokio::test]
async fn an_operator_finds_numbers_messages_envelopes_and_deliveries() {
    use common::notary::*;
    let server = Server::start().await;
    let alice = server
        .enroll_client("alice", "+33612345678", "100.00")
        .await;
    let bob = server.enroll_client("bob", "+33687654321", "0").await;
    let session = server.sign_in("alice").await;
    let card = server.any_card(&session, &alice).await;
    let (_, cookie, csrf) = console_of(&server).await;
    let anonymous = server.page("/admin/messages", None).await;
    assert_eq!(anonymous.header("location"), Some("/admin/login"));

    // A number, by its client and last four digits: only those four are shown.
    let alice_id = alice.id.to_string();
    let numbers = |client: String, last_four: String| {
        let (server, cookie, csrf) = (&server, &cookie, &csrf);
        async move {
            post_form(
                server,
                "/admin/numbers",
                cookie,
                &[
                    ("csrf", csrf),
                    ("client", &client),
                    ("last_four", &last_four),
                ],
            )
            .await
        }
    };
    let found = numbers(alice_id.clone(), card.last_four().to_owned()).await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.text);
    let table = &found.text[found.text.find("id=\"numbers\"").unwrap()..];
    assert!(
        table.contains(&format!("•••• {}", card.last_four())),
        "{table}"
    );
    assert!(table.contains("class=\"state\">live<"), "{table}");
    let other_four = if card.last_four() == "0000" {
        "1111"
    } else {
        "0000"
    };
    let none = numbers(alice_id.clone(), other_four.to_owned()).await;
    assert_eq!(none.status, StatusCode::NOT_FOUND, "{}", none.text);
    assert!(
        none.text.contains("No number of this client"),
        "{}",
        none.text
    );
    // Bob's numbers are not Alice's.
    let strangers = numbers(bob.id.to_string(), card.last_four().to_owned()).await;
    assert_eq!(
        strangers.status,
        StatusCode::NOT_FOUND,
        "{}",
        strangers.text
    );
    check_error(
        &numbers(alice_id.clone(), "12a4".into()).await,
        422,
        "invalid_field",
    );
    check_error(
        &numbers("999999".into(), card.last_four().to_owned()).await,
        404,
        "unknown_client",
    );
    let unsigned = post_form(
        &server,
        "/admin/numbers",
        &cookie,
        &[("client", &alice_id), ("last_four", card.last_four())],
    )
    .await;
    check_error(&unsigned, 403, "csrf");
    // The client's page lists their numbers and certificates.
    let page = server
        .page(&format!("/admin/clients/{}", alice.id), Some(&cookie))
        .await;
    assert!(
        page.text.contains(&format!("•••• {}", card.last_four())),
        "{}",
        page.text
    );
    let certificates = server
        .service
        .store
        .client_certificates(alice.id)
        .await
        .unwrap();
    assert!(!certificates.is_empty(), "a holder certificate");
    assert!(
        page.text
            .contains(&format!("/admin/certificates/{}", certificates[0].serial)),
        "{}",
        page.text
    );

    // A message: its course, never its body (which held the number).
    let sent = server
        .service
        .store
        .messages_to(alice.phone.as_str(), 10)
        .await
        .unwrap();
    let message = sent.iter().max_by_key(|message| message.id).unwrap();
    let place = found_at(
        &server,
        "/admin/messages",
        &cookie,
        &csrf,
        &message.id.to_string(),
    )
    .await;
    assert_eq!(place, format!("/admin/messages/{}", message.id));
    let page = server.page(&place, Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    for shown in [
        "id=\"state\">delivered<",
        "id=\"route\">dev-phone<",
        "id=\"address\">+•••••••••78<",
    ] {
        assert!(page.text.contains(shown), "{shown}: {}", page.text);
    }
    let outbox = server.page("/admin/messages", Some(&cookie)).await;
    assert_eq!(outbox.status, StatusCode::OK, "{}", outbox.text);
    assert!(
        outbox.text.contains(&format!("href=\"{place}\"")),
        "{}",
        outbox.text
    );
    // The message's text held the number, as the phone shows it: no page does.
    let body = server
        .phone_messages(alice.phone.as_str())
        .await
        .into_iter()
        .find(|(id, _)| *id == message.id)
        .map(|(_, text)| text)
        .expect("the number's message on the phone");
    let grouped = [0, 4, 8, 12].map(|at| &card.number[at..at + 4]).join(" ");
    assert!(body.contains(&grouped), "{body}");
    for shown in [&page.text, &outbox.text] {
        assert!(!shown.contains(&grouped) && !shown.contains(&card.number));
        assert!(!shown.contains(&body));
    }
    for q in ["999999", "abc", "-1", "0"] {
        found_nothing(
            &server,
            "/admin/messages",
            &cookie,
            &csrf,
            q,
            "No message has this number",
        )
        .await;
    }
    for missing in [
        "/admin/messages/999999",
        "/admin/messages/abc",
        "/admin/messages/0",
    ] {
        check_error(&server.page(missing, Some(&cookie)).await, 404, "not_found");
    }

    // An envelope, notarized and sent by certified delivery, and its delivery.
    let files: Files = vec![("contrat.txt".to_owned(), b"Contrat de bail\n".to_vec())];
    let destinations = vec![sceau_domain::envelope::Destination {
        email: Some("carol@example.org".parse().unwrap()),
        phone: Some("+33611112222".parse().unwrap()),
    }];
    let envelope = server
        .new_notarized_envelope(&session, alice.phone.as_str(), &files, destinations)
        .await;
    let sent = server
        .notary_post(
            &session,
            &format!("/api/v1/envelopes/{envelope}/deliveries"),
            serde_json::json!({"deadline_days": 10}),
        )
        .await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.text);
    let delivery = sent.json()["id"].as_str().unwrap().to_owned();
    let place = found_at(&server, "/admin/envelopes", &cookie, &csrf, &envelope).await;
    assert_eq!(place, format!("/admin/envelopes/{envelope}"));
    let page = server.page(&place, Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    for shown in [
        "id=\"state\">notarized<",
        "<td>contrat.txt</td><td>16</td><td>yes</td>",
        &format!("href=\"/admin/deliveries/{delivery}\""),
        &format!("href=\"/admin/clients/{}\"", alice.id),
    ] {
        assert!(page.text.contains(shown), "{shown}: {}", page.text);
    }
    assert!(
        !page.text.contains("Contrat de bail"),
        "never a file's content"
    );
    let place = found_at(&server, "/admin/deliveries", &cookie, &csrf, &delivery).await;
    assert_eq!(place, format!("/admin/deliveries/{delivery}"));
    let page = server.page(&place, Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let recipients = &page.text[page.text.find("id=\"recipients\"").unwrap()..];
    assert!(
        recipients.contains("class=\"state\">notified<"),
        "{recipients}"
    );
    assert!(recipients.contains("@example.org"), "{recipients}");
    assert!(!page.text.contains("carol@"), "the address masked");
    assert!(!page.text.contains("+33611112222"), "the phone masked");
    let absent = "0".repeat(32);
    for q in [absent.as_str(), "nothing", &delivery] {
        found_nothing(
            &server,
            "/admin/envelopes",
            &cookie,
            &csrf,
            q,
            "No envelope has this identifier",
        )
        .await;
    }
    for q in [absent.as_str(), "nothing", &envelope] {
        found_nothing(
            &server,
            "/admin/deliveries",
            &cookie,
            &csrf,
            q,
            "No delivery has this identifier",
        )
        .await;
    }
    check_error(
        &server
            .page(&format!("/admin/envelopes/{absent}"), Some(&cookie))
            .await,
        404,
        "unknown_envelope",
    );
    check_error(
        &server
            .page(&format!("/admin/deliveries/{absent}"), Some(&cookie))
            .await,
        404,
        "unknown_delivery",
    );
    let anonymous = server
        .page(&format!("/admin/envelopes/{envelope}"), None)
        .await;
    assert_eq!(anonymous.header("location"), Some("/admin/login"));
    server.stop().await;
}

#[tokio::test]
async fn an_operator_revokes_a_certificate_and_closes_a_clearing_batch_with_evidence() {
    let server = Server::start().await;
    let alice = server
        .enroll_client("alice", "+33612345678", "100.00")
        .await;
    let (operator, cookie, csrf) = console_of(&server).await;

    // A certificate, by its serial (any case), and revoked from its page.
    let holder = server
        .service
        .store
        .client_certificates(alice.id)
        .await
        .unwrap()
        .remove(0);
    let place = found_at(
        &server,
        "/admin/certificates",
        &cookie,
        &csrf,
        &holder.serial.to_uppercase(),
    )
    .await;
    assert_eq!(place, format!("/admin/certificates/{}", holder.serial));
    let page = server.page(&place, Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(
        page.text.contains("id=\"state\">not revoked<"),
        "{}",
        page.text
    );
    assert!(page.text.contains("id=\"kind\">holder<"), "{}", page.text);
    for q in ["ffffffff", "not hex", ""] {
        found_nothing(
            &server,
            "/admin/certificates",
            &cookie,
            &csrf,
            q,
            "No certificate has this serial",
        )
        .await;
    }
    for missing in ["/admin/certificates/ffffffff", "/admin/certificates/zz"] {
        check_error(
            &server.page(missing, Some(&cookie)).await,
            404,
            "unknown_certificate",
        );
    }
    let revoke = format!("{place}/revoke");
    let unsigned = post_form(&server, &revoke, &cookie, &[("reason", "key-compromise")]).await;
    check_error(&unsigned, 403, "csrf");
    let unreasoned = post_form(
        &server,
        &revoke,
        &cookie,
        &[("csrf", &csrf), ("reason", "bored")],
    )
    .await;
    check_error(&unreasoned, 422, "invalid_field");
    let unknown = post_form(
        &server,
        "/admin/certificates/ffffffff/revoke",
        &cookie,
        &[("csrf", &csrf), ("reason", "key-compromise")],
    )
    .await;
    check_error(&unknown, 404, "unknown_certificate");
    // A link that says it was revoked says nothing while it is not.
    let made_up = server
        .page(&format!("{place}?done=revoked"), Some(&cookie))
        .await;
    assert!(!made_up.text.contains("id=\"notice\""), "{}", made_up.text);
    assert!(
        server
            .service
            .certificate(&holder.serial)
            .await
            .unwrap()
            .revoked_at_s
            .is_none(),
        "nothing revoked by a refusal"
    );
    let form = [("csrf", csrf.as_str()), ("reason", "key-compromise")];
    let revoked = post_form(&server, &revoke, &cookie, &form).await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER, "{}", revoked.text);
    assert_eq!(
        revoked.header("location"),
        Some(format!("{place}?done=revoked").as_str())
    );
    let page = server
        .page(&format!("{place}?done=revoked"), Some(&cookie))
        .await;
    assert!(page.text.contains("(key-compromise)"), "{}", page.text);
    assert!(page.text.contains("Recorded as evidence"), "{}", page.text);
    assert!(
        !page.text.contains("id=\"revoke\""),
        "no second revocation offered"
    );
    let again = post_form(&server, &revoke, &cookie, &form).await;
    assert_eq!(
        again.header("location"),
        Some(format!("{place}?done=already").as_str())
    );
    // On the CRL, and its record (one: the second revocation wrote none) names the operator.
    let record = server.service.certificate(&holder.serial).await.unwrap();
    assert_eq!(record.revocation_reason, Some(1));
    let crl = server.service.crl().await.unwrap();
    let serial_bytes = hex::decode(if holder.serial.len() % 2 == 1 {
        format!("0{}", holder.serial)
    } else {
        holder.serial.clone()
    })
    .unwrap();
    assert!(
        crl.windows(serial_bytes.len())
            .any(|window| window == serial_bytes),
        "the serial is on the CRL"
    );
    let chain = server
        .service
        .store
        .evidence(&format!("certificate:{}", holder.serial))
        .await
        .unwrap();
    let kinds: Vec<&str> = chain.iter().map(|record| record.kind.as_str()).collect();
    assert_eq!(kinds, ["certificate.issued", "certificate.revoked"]);
    let said: serde_json::Value = serde_json::from_slice(&chain[1].record).unwrap();
    assert_eq!(
        said["by"],
        serde_json::json!({"operator": {"id": operator.id.to_string()}}),
        "named by number: the chain goes into evidence given to clients"
    );
    assert_eq!(said["by"]["operator"]["id"], operator.id.to_string());
    assert_eq!(said["reason"], 1);

    // A clearing batch, closed from the console: a merchant with bank details paid.
    let (shop, _) = server
        .enroll_paid_merchant("Shop", "DE89370400440532013000", "COBADEFFXXX")
        .await;
    let session = server.sign_in("alice").await;
    let card = server.any_card(&session, &alice).await;
    let authorized = server.authorize(&shop, &card, "12.00", "EUR").await;
    assert_eq!(
        authorized.status,
        StatusCode::CREATED,
        "{}",
        authorized.text
    );
    let captured = server.act(&shop, authorized.id(), "capture", None).await;
    assert_eq!(captured.status, StatusCode::OK, "{}", captured.text);

    let list = server.page("/admin/clearing/batches", Some(&cookie)).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    assert!(
        list.text.contains("No batch was closed yet"),
        "{}",
        list.text
    );
    let close = |fields: Vec<(&'static str, String)>| {
        let (server, cookie) = (&server, &cookie);
        async move {
            let form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post_form(server, "/admin/clearing/batches", cookie, &form).await
        }
    };
    check_error(&close(vec![("currency", "EUR".into())]).await, 403, "csrf");
    let wrong = close(vec![("csrf", csrf.clone()), ("currency", "EU".into())]).await;
    assert_eq!(wrong.status.as_u16(), 422, "{}", wrong.text);
    assert!(wrong.text.contains("role=\"alert\""), "{}", wrong.text);
    assert!(server.service.clearing_batches().await.unwrap().is_empty());
    let closed = close(vec![("csrf", csrf.clone()), ("currency", "EUR".into())]).await;
    assert_eq!(closed.status, StatusCode::SEE_OTHER, "{}", closed.text);
    let batches = server.service.clearing_batches().await.unwrap();
    assert_eq!(batches.len(), 1);
    let place = format!("/admin/clearing/batches/{}?done=closed", batches[0].id);
    assert_eq!(closed.header("location"), Some(place.as_str()));
    let page = server.page(&place, Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(
        page.text.contains("id=\"total\">12.00 EUR<"),
        "{}",
        page.text
    );
    assert!(
        page.text
            .contains(&format!("href=\"/admin/merchants/{}\"", shop.id)),
        "{}",
        page.text
    );
    // Again: nothing left to pay, said on the clearing page; no second batch.
    let again = close(vec![("csrf", csrf.clone()), ("currency", "EUR".into())]).await;
    assert_eq!(again.status.as_u16(), 409, "{}", again.text);
    assert!(
        again
            .text
            .contains("no merchant with bank details has money"),
        "{}",
        again.text
    );
    assert_eq!(server.service.clearing_batches().await.unwrap().len(), 1);
    let list = server.page("/admin/clearing/batches", Some(&cookie)).await;
    assert!(list.text.contains(&format!(
        "href=\"/admin/clearing/batches/{}\"",
        batches[0].id
    )));
    let chain = server
        .service
        .store
        .evidence(&format!("clearing:{}", batches[0].id))
        .await
        .unwrap();
    assert_eq!(chain.len(), 1);
    let said: serde_json::Value = serde_json::from_slice(&chain[0].record).unwrap();
    assert_eq!(said["by"]["operator"]["login"], "ops");
    check_error(
        &server
            .page("/admin/clearing/batches/999999", Some(&cookie))
            .await,
        404,
        "not_found",
    );
    let anonymous = server.page("/admin/clearing/batches", None).await;
    assert_eq!(anonymous.header("location"), Some("/admin/login"));
    server.assert_ledger_sound().await;
    server.stop().await;
}
