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
