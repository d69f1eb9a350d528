//! `sceau demo`: the whole story end to end over real HTTP, on a fresh SQLite file in a
//! temporary directory, with every step printed: single-use card numbers (asked for by the
//! client, then by a merchant), a payment confirmed with a seal and its evidence checked
//! offline; with `--keep-serving`, a demo bookshop (a merchant of its own) to buy from in
//! a browser until Ctrl-C or SIGTERM, after which the directory (master key included) is
//! removed.

use crate::config::Config;
use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;

const ALICE_PHONE: &str = "+33612345678";
/// The recipient of the demo's certified delivery (not a client of the bank).
const BOB_EMAIL: &str = "bob@example.org";
const BOB_PHONE: &str = "+33687654321";
/// The merchant the scripted steps pay (through its API, as a program would).
const SCRIPTED_MERCHANT: &str = "Librairie Dupont";
/// The demo bookshop's own merchant name (`--keep-serving`).
const SHOP_NAME: &str = "Librairie des Quais";
const ALICE_PASSWORD: &str = "correct horse battery";

struct Demo {
    http: reqwest::Client,
    base: String,
    admin_token: String,
    /// Where to write the seal payment's evidence bundle, root and log key.
    evidence_out: Option<std::path::PathBuf>,
}

fn step(title: &str) {
    say!(
        "\n── {title} {}",
        "─".repeat(70usize.saturating_sub(title.chars().count()))
    );
}

impl Demo {
    async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.admin_token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status();
        let body: Value = response.json().await?;
        if !status.is_success() {
            bail!("{path}: {status} {body}");
        }
        Ok(body)
    }

    async fn merchant(
        &self,
        key: &str,
        path: &str,
        body: Value,
        idempotency_key: &str,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(key)
            .header("Idempotency-Key", idempotency_key)
            .json(&body)
            .send()
            .await?;
        Ok((response.status(), response.json().await?))
    }

    async fn balance(&self, client_id: i64) -> anyhow::Result<String> {
        let body = self
            .admin(
                reqwest::Method::GET,
                &format!("/admin/v1/clients/{client_id}"),
                None,
            )
            .await?;
        Ok(format!(
            "balance {} {cur}, on hold {} {cur}, available {} {cur}",
            body["balance"].as_str().unwrap_or("?"),
            body["held"].as_str().unwrap_or("?"),
            body["available"].as_str().unwrap_or("?"),
            cur = body["client"]["currency"].as_str().unwrap_or("")
        ))
    }

    /// Reads the newest message on the phone simulator page, as the client would.
    async fn read_phone(&self, phone: &str) -> anyhow::Result<String> {
        let page = self
            .http
            .get(format!("{}/phone", self.base))
            .query(&[("to", phone)])
            .send()
            .await?
            .text()
            .await?;
        let start = page
            .find("<li class=\"sms\"")
            .context("no message on the phone")?;
        let paragraph = page[start..].find("<p>").context("message without text")? + start + 3;
        let end = page[paragraph..]
            .find("</p>")
            .context("message without end")?
            + paragraph;
        Ok(unescape(&page[paragraph..end]))
    }
}

fn unescape(text: &str) -> String {
    text.replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#38;", "&")
}

fn show(value: &Value) -> String {
    serde_json::to_string_pretty(value)
        .unwrap_or_default()
        .replace('\n', "\n    ")
}

/// Runs the demo on a fresh SQLite file, or, given a PostgreSQL URL, in a fresh schema
/// of that database (dropped at the end).
pub async fn run(
    keep_serving: bool,
    database_url: Option<String>,
    evidence_out: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    // From here on Ctrl-C and SIGTERM end the demo through the code below, so that the
    // temporary directory (it holds a master key) and the scratch schema are removed.
    let mut stop = Stop::new()?;
    let directory = tempfile::tempdir()?;
    let scratch = match &database_url {
        Some(url) => Some(
            sceau_store::postgres::scratch::ScratchSchema::create(url)
                .await
                .context("creating a fresh schema for the demo")?,
        ),
        None => None,
    };
    let database = match &scratch {
        Some(schema) => schema.url.clone(),
        None => directory.path().join("sceau.db").display().to_string(),
    };
    let config = demo_config(directory.path(), database);
    let service = crate::open_service(&config, Arc::new(sceau_app::clock::SystemClock)).await?;
    let admin_token = sceau_crypto::new_token("adm_");
    let state = crate::app_state(&config, service, sceau_crypto::token_hash(&admin_token));
    let running = sceau_server::start(
        state,
        sceau_server::dispatch::Channels::development(),
        config.listen,
    )
    .await?;
    let base = format!("http://{}", running.address);
    say!(
        "sceau demo: server on {base}, fresh database {}",
        config.database_for_display()
    );
    let demo = Demo {
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?,
        base: base.clone(),
        admin_token: admin_token.to_string(),
        evidence_out,
    };
    let result = tokio::select! {
        result = scenario(&demo) => result,
        signal = stop.signalled() => Err(anyhow::anyhow!("stopped by {signal}")),
    };
    let result = match result {
        Ok(()) if keep_serving => serve_the_shop(&demo, &mut stop).await,
        other => other,
    };
    running.stop().await;
    drop(scratch);
    let removed = directory
        .close()
        .context("removing the demo's temporary directory");
    result.and(removed)
}

/// Ctrl-C, SIGTERM or SIGHUP (the terminal closed, the SSH session lost), whichever
/// comes first. All are listened for from the start, so that one that comes between two
/// waits is not lost.
struct Stop {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
    hang_up: tokio::signal::unix::Signal,
}

impl Stop {
    fn new() -> anyhow::Result<Stop> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Stop {
            interrupt: signal(SignalKind::interrupt()).context("listening for Ctrl-C")?,
            terminate: signal(SignalKind::terminate()).context("listening for SIGTERM")?,
            hang_up: signal(SignalKind::hangup()).context("listening for SIGHUP")?,
        })
    }

    /// Waits for Ctrl-C, SIGTERM or SIGHUP: which one came.
    async fn signalled(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "Ctrl-C",
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.hang_up.recv() => "SIGHUP",
        }
    }
}

/// Enrols the demo bookshop as a merchant of its own and serves it next to sceau until
/// Ctrl-C or SIGTERM.
async fn serve_the_shop(demo: &Demo, stop: &mut Stop) -> anyhow::Result<()> {
    step("The demo bookshop");
    let credentials = enrol_merchant(demo, SHOP_NAME).await?;
    let shop_config = sceau_shop::ShopConfig {
        name: SHOP_NAME.into(),
        sceau_url: demo.base.clone(),
        api_key: credentials.api_key,
        webhook_secret: credentials.webhook_secret,
        clock: sceau_shop::system_clock(),
    };
    let shop =
        sceau_shop::start(shop_config, std::net::SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let base = &demo.base;
    say!(
        "\nServing until Ctrl-C (or SIGTERM):\n  the bookshop (pick books, then \"Pay with \
         sceau\"): {}\n  sign in as alice / {ALICE_PASSWORD}; her phone: \
         {base}/phone?to=%2B33612345678\n  her wallet: {base}/login",
        shop.url()
    );
    let signal = stop.signalled().await;
    say!("{signal}: stopping, and removing the demo's temporary directory");
    shop.stop();
    Ok(())
}

/// The demo's server: on a free loopback port, its files in `directory`.
fn demo_config(directory: &std::path::Path, database: String) -> Config {
    Config {
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        database,
        master_key_file: directory.join("master.key"),
        admin_token_file: directory.join("admin.token"),
        keys_directory: directory.join("keys"),
        pki_directory: directory.join("pki"),
        archive_directory: directory.join("archive"),
        issuer_name: "Banque Sceau".into(),
        // The demo shop runs on this machine.
        webhooks_to_private_networks: true,
        ..Config::default()
    }
}

/// A merchant's API key and webhook secret, as its enrolment shows them once.
struct Credentials {
    api_key: String,
    webhook_secret: String,
}

/// A card read from a text: number, expiry month and year, security code.
type Card = (String, u8, u16, String);

async fn scenario(demo: &Demo) -> anyhow::Result<()> {
    step("Enrolment (admin API)");
    let merchant = enrol_merchant(demo, SCRIPTED_MERCHANT).await?;
    let alice_id = enrol_alice(demo).await?;

    step("A single-use number, asked for by the client: Alice asks her wallet for one");
    let cookie = sign_in(demo).await?;
    let csrf = wallet_csrf(demo, &cookie).await?;
    let text = ask_for_number(demo, &cookie, &csrf).await?;
    let card =
        sceau_app::service::card_in_message(&text).context("cannot read the card in the SMS")?;

    step("Alice pays Librairie Dupont with it, as with a card");
    pay_with_number(demo, &merchant.api_key, alice_id, &card).await?;

    step("A single-use number, asked for by the merchant at its checkout");
    let text = checkout_asks_for_number(demo, &merchant.api_key, &card.0).await?;
    let card =
        sceau_app::service::card_in_message(&text).context("cannot read the card in the SMS")?;
    pay_checkout_with_number(demo, &merchant.api_key, alice_id, &card).await?;

    seal_flow(demo, &merchant.api_key, &cookie, &csrf, alice_id).await?;
    delivery_flow(demo, &cookie, &csrf).await?;

    step("Ledger");
    check_ledger(demo).await?;
    say!("\nDemo complete.");
    Ok(())
}

/// The admin enrols the merchant `name`; its API key and webhook secret are shown this
/// once.
async fn enrol_merchant(demo: &Demo, name: &str) -> anyhow::Result<Credentials> {
    let merchant = demo
        .admin(
            Method::POST,
            "/admin/v1/merchants",
            Some(json!({ "name": name })),
        )
        .await?;
    let api_key = merchant["api_key"].as_str().context("api key")?.to_owned();
    let webhook_secret = merchant["webhook_secret"]
        .as_str()
        .context("webhook secret")?
        .to_owned();
    say!(
        "merchant #{} {} enrolled; its API key is shown once and stored only as a hash",
        merchant["id"],
        merchant["name"]
    );
    Ok(Credentials {
        api_key,
        webhook_secret,
    })
}

/// The admin enrols Alice with 500.00 EUR; returns her client id.
async fn enrol_alice(demo: &Demo) -> anyhow::Result<i64> {
    let alice = demo
        .admin(
            Method::POST,
            "/admin/v1/clients",
            Some(json!({"login": "alice", "display_name": "Alice Martin", "password": ALICE_PASSWORD,
                        "phone": ALICE_PHONE, "currency": "EUR", "opening_balance": "500.00", "credit_limit": "0"})),
        )
        .await?;
    let alice_id = alice["id"].as_i64().context("client id")?;
    say!(
        "client #{alice_id} Alice Martin enrolled, phone {} — {}",
        alice["phone"].as_str().unwrap_or(""),
        demo.balance(alice_id).await?
    );
    Ok(alice_id)
}

/// Alice signs in on the web; returns her session cookie.
async fn sign_in(demo: &Demo) -> anyhow::Result<String> {
    let login = demo
        .http
        .post(format!("{}/login", demo.base))
        .form(&[("login", "alice"), ("password", ALICE_PASSWORD)])
        .send()
        .await?;
    let cookie = crate::cookie_set(login.headers(), None).context("no session cookie")?;
    say!(
        "POST /login → {} (session cookie: HttpOnly, SameSite=Strict)",
        login.status()
    );
    Ok(cookie)
}

/// The CSRF token of Alice's wallet page, which her forms carry.
async fn wallet_csrf(demo: &Demo, cookie: &str) -> anyhow::Result<String> {
    let wallet = demo
        .http
        .get(format!("{}/wallet", demo.base))
        .header("cookie", cookie)
        .send()
        .await?
        .text()
        .await?;
    let csrf_at = wallet
        .find("name=\"csrf\" value=\"")
        .context("no CSRF token on the wallet")?
        + 19;
    Ok(wallet[csrf_at..csrf_at + 64].to_owned())
}

/// Alice asks her wallet for a number (one payment, up to 80.00 EUR); returns the text
/// that brings it to her phone.
async fn ask_for_number(demo: &Demo, cookie: &str, csrf: &str) -> anyhow::Result<String> {
    let asked = demo
        .http
        .post(format!("{}/wallet/numbers", demo.base))
        .header("cookie", cookie)
        .form(&[
            ("csrf", csrf),
            ("amount_cap", "80.00"),
            ("uses", "1"),
            ("merchant", "any"),
            ("validity_min", "15"),
        ])
        .send()
        .await?;
    say!(
        "POST /wallet/numbers (one payment, up to 80.00 EUR, 15 minutes) → {}",
        asked.status()
    );
    let text = wait_for_message(demo, ALICE_PHONE, None).await?;
    say!("📱 SMS to {ALICE_PHONE}:\n    {text}");
    Ok(text)
}

/// The shop authorizes 42.50 EUR on Alice's number and captures it; the same request
/// replayed is the same authorization, the number used again is refused.
async fn pay_with_number(
    demo: &Demo,
    shop_key: &str,
    alice_id: i64,
    (number, month, year, code): &Card,
) -> anyhow::Result<()> {
    say!("before: {}", demo.balance(alice_id).await?);
    let body = json!({"number": number, "expiry_month": month, "expiry_year": year, "security_code": code,
                      "amount": "42.50", "currency": "EUR", "reference": "order-1001"});
    let (status, authorization) = demo
        .merchant(
            shop_key,
            "/v1/authorizations",
            body.clone(),
            "order-1001-auth",
        )
        .await?;
    say!(
        "merchant POST /v1/authorizations 42.50 EUR → {status}\n    {}",
        show(&authorization)
    );
    say!("after authorization: {}", demo.balance(alice_id).await?);
    let id = authorization["id"].as_i64().context("authorization id")?;
    let (status, captured) = demo
        .merchant(
            shop_key,
            &format!("/v1/authorizations/{id}/capture"),
            json!({}),
            "order-1001-capture",
        )
        .await?;
    say!(
        "merchant POST /v1/authorizations/{id}/capture → {status}, state {}",
        captured["state"]
    );
    say!("after capture: {}", demo.balance(alice_id).await?);
    let (status, replay) = demo
        .merchant(
            shop_key,
            "/v1/authorizations",
            body.clone(),
            "order-1001-auth",
        )
        .await?;
    say!(
        "the same request replayed with the same Idempotency-Key → {status}, same authorization #{}",
        replay["id"]
    );
    let (status, again) = demo
        .merchant(shop_key, "/v1/authorizations", body, "order-1002-auth")
        .await?;
    say!(
        "the number used again (new request) → {status} {}",
        again["error"]["code"]
    );
    Ok(())
}

/// The shop has a number for 19.90 EUR sent to Alice; returns the text that brings it
/// (the one after the text of `previous_number`).
async fn checkout_asks_for_number(
    demo: &Demo,
    shop_key: &str,
    previous_number: &str,
) -> anyhow::Result<String> {
    // A merchant may have numbers sent only to its own clients (who paid it, or signed in
    // on one of its checkouts): Alice has just paid Librairie Dupont.
    say!("Alice paid Librairie Dupont above: the shop may have a number sent to her");
    let (status, issued) = demo
        .merchant(
            shop_key,
            "/v1/numbers",
            json!({"client": "alice", "amount": "19.90", "currency": "EUR"}),
            "checkout-77-number",
        )
        .await?;
    say!(
        "merchant POST /v1/numbers (client alice, 19.90 EUR) → {status}\n    {}",
        show(&issued)
    );
    let text = wait_for_message(demo, ALICE_PHONE, Some(previous_number)).await?;
    say!("📱 SMS to {ALICE_PHONE}:\n    {text}");
    Ok(text)
}

/// The shop submits the number Alice typed: refused with another amount, authorized with
/// its own, captured, then partly refunded.
async fn pay_checkout_with_number(
    demo: &Demo,
    shop_key: &str,
    alice_id: i64,
    (number, month, year, code): &Card,
) -> anyhow::Result<()> {
    say!("Alice types the number into the shop's page; the shop submits it:");
    let wrong_amount = json!({"number": number, "expiry_month": month, "expiry_year": year, "security_code": code,
                              "amount": "25.00", "currency": "EUR", "reference": "checkout-77"});
    let (status, declined) = demo
        .merchant(
            shop_key,
            "/v1/authorizations",
            wrong_amount,
            "checkout-77-auth-a",
        )
        .await?;
    say!(
        "  with another amount (25.00) → {status} {}",
        declined["error"]["code"]
    );
    let body = json!({"number": number, "expiry_month": month, "expiry_year": year, "security_code": code,
                      "amount": "19.90", "currency": "EUR", "reference": "checkout-77"});
    let (status, authorization) = demo
        .merchant(shop_key, "/v1/authorizations", body, "checkout-77-auth-b")
        .await?;
    say!(
        "  with 19.90 → {status}, state {}, number ••••{}",
        authorization["state"],
        authorization["number_last_four"].as_str().unwrap_or("")
    );
    let id = authorization["id"].as_i64().context("authorization id")?;
    let (status, _) = demo
        .merchant(
            shop_key,
            &format!("/v1/authorizations/{id}/capture"),
            json!({}),
            "checkout-77-capture",
        )
        .await?;
    say!("  capture → {status}");
    let (status, refunded) = demo
        .merchant(
            shop_key,
            &format!("/v1/authorizations/{id}/refunds"),
            json!({"amount": "5.00", "currency": "EUR"}),
            "checkout-77-refund",
        )
        .await?;
    say!(
        "  partial refund 5.00 → {status}, refunded {}",
        refunded["refunded"]
    );
    say!("after: {}", demo.balance(alice_id).await?);
    Ok(())
}

/// The admin checks the ledger: balances sum to nothing per currency.
async fn check_ledger(demo: &Demo) -> anyhow::Result<()> {
    let check = demo
        .admin(Method::GET, "/admin/v1/ledger/check", None)
        .await?;
    say!(
        "sound: {}, sums of balances per currency: {}",
        check["sound"],
        check["currency_sums"]
    );
    if check["sound"] != json!(true) {
        bail!("the ledger is not sound: {check}");
    }
    Ok(())
}

/// A payment by seal: the merchant hands a payment to sceau; Alice sees the electronic
/// check, validates, and types back the seal sent to her phone.
async fn seal_flow(
    demo: &Demo,
    shop_key: &str,
    cookie: &str,
    csrf: &str,
    alice_id: i64,
) -> anyhow::Result<()> {
    step("A payment by seal: Librairie Dupont hands a payment to sceau; Alice signs it");
    let (url, id) = create_checkout(demo, shop_key).await?;
    let post = |action: &str, extra: Vec<(&'static str, String)>| {
        let mut form = vec![("csrf", csrf.to_owned())];
        form.extend(extra);
        demo.http
            .post(format!("{url}/{action}"))
            .header("cookie", cookie)
            .form(&form)
            .send()
    };
    let held = post("hold", Vec::new()).await?;
    say!(
        "Alice, signed in, opens {url} and continues → {} (34.80 EUR held)",
        held.status()
    );
    say!("  {}", demo.balance(alice_id).await?);
    show_check(demo, &url, cookie).await?;
    let validated = post("validate", Vec::new()).await?;
    say!(
        "POST {url}/validate (\"Validate payment and sign\") → {}",
        validated.status()
    );
    let text = wait_for_seal(demo, ALICE_PHONE).await?;
    say!("📱 SMS to {ALICE_PHONE}:\n    {text}");
    let seal: String = text
        .split("your seal is ")
        .nth(1)
        .context("no seal in the SMS")?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let wrong = format!(
        "{:08}",
        (seal.parse::<u64>().unwrap_or(0) + 1) % 100_000_000
    );
    let mistyped = post("seal", vec![("seal", wrong)]).await?;
    let status = mistyped.status();
    let said = if mistyped
        .text()
        .await?
        .contains("That seal is not right. 2 tries left.")
    {
        "\"That seal is not right. 2 tries left.\""
    } else {
        "unexpected page"
    };
    say!("Alice mistypes the seal → {status} ({said})");
    let signed = post("seal", vec![("seal", seal)]).await?;
    say!(
        "Alice types the seal → {} (paid; the seal is dead)",
        signed.status()
    );
    check_paid(demo, shop_key, &id).await?;
    say!("after: {}", demo.balance(alice_id).await?);
    evidence(demo, shop_key, cookie, &id).await
}

/// The shop hands a payment of 34.80 EUR to sceau; returns the checkout's page and id.
async fn create_checkout(demo: &Demo, shop_key: &str) -> anyhow::Result<(String, String)> {
    let (status, checkout) = demo
        .merchant(
            shop_key,
            "/v1/checkouts",
            json!({"amount": "34.80", "currency": "EUR", "reference": "order-2002",
                   "object": "Two books: Les Misérables I and II",
                   "return_url": "https://librairie.example/return"
            }),
            "order-2002-checkout",
        )
        .await?;
    say!(
        "merchant POST /v1/checkouts 34.80 EUR → {status}\n    {}",
        show(&checkout)
    );
    let url = checkout["url"].as_str().context("checkout url")?.to_owned();
    let id = checkout["id"].as_str().context("checkout id")?.to_owned();
    Ok((url, id))
}

/// Alice's view of the checkout at `url`: the electronic check, zones and amount in words.
async fn show_check(demo: &Demo, url: &str, cookie: &str) -> anyhow::Result<()> {
    let page = demo
        .http
        .get(url)
        .header("cookie", cookie)
        .send()
        .await?
        .text()
        .await?;
    let words = [
        "thirty-four euros and eighty cents",
        "trente-quatre euros et quatre-vingts centimes",
    ];
    say!(
        "the electronic check shows all its parts ({} of 9), the amount in words {}",
        (21..=29)
            .filter(|zone| page.contains(&format!("data-zone=\"{zone}\"")))
            .count(),
        if words.iter().all(|w| page.contains(w)) {
            "in English and French"
        } else {
            "MISSING"
        }
    );
    Ok(())
}

/// The shop polls its checkout `id`, which must now be paid.
async fn check_paid(demo: &Demo, shop_key: &str, id: &str) -> anyhow::Result<()> {
    let polled: Value = demo
        .http
        .get(format!("{}/v1/checkouts/{id}", demo.base))
        .bearer_auth(shop_key)
        .send()
        .await?
        .json()
        .await?;
    say!(
        "merchant GET /v1/checkouts/{id} → state {}, paid {}",
        polled["state"],
        polled["paid"]
    );
    if polled["paid"] != json!(true) {
        bail!("the checkout was not paid: {polled}");
    }
    Ok(())
}

/// GET `path` on the demo server: the status and the body.
async fn fetch(
    demo: &Demo,
    path: &str,
    auth: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
) -> anyhow::Result<(StatusCode, Vec<u8>)> {
    let response = auth(demo.http.get(format!("{}{path}", demo.base)))
        .send()
        .await?;
    Ok((response.status(), response.bytes().await?.to_vec()))
}

/// The payment's evidence: Alice and the shop download its bundle, which is then checked
/// offline as `sceau verify` checks it, and again with one byte changed.
async fn evidence(demo: &Demo, shop_key: &str, cookie: &str, id: &str) -> anyhow::Result<()> {
    step("Evidence — the signed receipt, its time-stamp and its place in the log");
    let path = format!("/api/v1/payments/{id}/evidence");
    let (status, bundle) = fetch(demo, &path, |request| request.header("cookie", cookie)).await?;
    say!("Alice GET {path} → {status}, {} bytes", bundle.len());
    if status != StatusCode::OK {
        bail!("no bundle: {}", String::from_utf8_lossy(&bundle));
    }
    let path = format!("/v1/checkouts/{id}/evidence");
    let (status, _) = fetch(demo, &path, |request| request.bearer_auth(shop_key)).await?;
    say!("merchant GET {path} → {status}");
    let (_, root_pem) = fetch(demo, "/pki/root.pem", |request| request).await?;
    let (_, key_text) = fetch(demo, "/log/key", |request| request).await?;
    let root = sceau_pki::Issued::from_pem_or_der(&root_pem)
        .context("the server's root certificate")?
        .der;
    let key = sceau_log::VerifierKey::parse(String::from_utf8_lossy(&key_text).trim())
        .context("the server's log key")?;
    say!("Checked offline with the root certificate and the log's key alone:");
    if !crate::verify::check_bundle(&bundle, &root, &key) {
        bail!("the bundle did not verify");
    }
    // A forgery: the same bundle with the amount of its record raised.
    let mut forged: sceau_app::bundle::Bundle = serde_json::from_slice(&bundle)?;
    let record = STANDARD.decode(&forged.record)?;
    let record = String::from_utf8(record)?.replace("\"34.80\"", "\"43.80\"");
    forged.record = STANDARD.encode(record);
    let forged = sceau_log::canonical(&serde_json::to_value(&forged)?)?;
    say!("The same bundle with the record's amount changed to 43.80:");
    if crate::verify::check_bundle(&forged, &root, &key) {
        bail!("a forged bundle verified");
    }
    if let Some(directory) = &demo.evidence_out {
        // Named after the checkout, as the README downloads it.
        let bundle_name = format!("{id}.evidence.json");
        std::fs::create_dir_all(directory)?;
        std::fs::write(directory.join(&bundle_name), &bundle)?;
        std::fs::write(directory.join("root.pem"), &root_pem)?;
        std::fs::write(directory.join("log.key"), &key_text)?;
        say!(
            "{bundle_name}, root.pem and log.key written to {}",
            directory.display()
        );
    }
    Ok(())
}

/// Waits (bounded) until the newest message on the phone is a seal.
async fn wait_for_seal(demo: &Demo, phone: &str) -> anyhow::Result<String> {
    wait_for_text(demo, phone, "your seal is ").await
}

/// Waits (bounded) until the dispatcher has delivered a new message to the phone.
async fn wait_for_message(
    demo: &Demo,
    phone: &str,
    not_containing: Option<&str>,
) -> anyhow::Result<String> {
    for _ in 0..100 {
        if let Ok(text) = demo.read_phone(phone).await {
            let is_new = not_containing.is_none_or(|old| {
                sceau_app::service::card_in_message(&text).is_none_or(|(number, ..)| number != old)
            });
            if is_new {
                return Ok(text);
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    bail!("no message reached {phone}")
}

/// The notary then certified delivery (Figures 6 to 9): Alice notarizes a contract (a
/// station key made here, as `sceau notarize` does), delivers it to Bob; Bob reads the
/// notice in the development mailbox, types the code from his phone, receives the file
/// and its signature, checks them as his browser would, and accepts with a key sceau
/// certified for him; Alice's receipt is checked offline.
async fn delivery_flow(demo: &Demo, cookie: &str, csrf: &str) -> anyhow::Result<()> {
    step("Certified delivery: Alice notarizes a contract and delivers it to Bob");
    let content = b"Bail du 3 rue du Port: 950 EUR par mois, a partir du 1er janvier.\n".to_vec();
    let id = notarized_contract(demo, cookie, csrf, &content).await?;
    let api = |method: Method, path: &str| {
        demo.http
            .request(method, format!("{}{path}", demo.base))
            .header("cookie", cookie)
            .header("x-csrf-token", csrf)
    };
    let response = api(Method::POST, &format!("/api/v1/envelopes/{id}/deliveries"))
        .json(
            &json!({"recipients": [{"email": BOB_EMAIL, "phone": BOB_PHONE}], "deadline_days": 15}),
        )
        .send()
        .await?;
    let status = response.status();
    let delivery: Value = response.json().await?;
    if status != StatusCode::CREATED {
        bail!("delivering: {status} {delivery}");
    }
    let delivery_id = delivery["id"].as_str().context("a delivery id")?.to_owned();
    say!(
        "POST /api/v1/envelopes/{id}/deliveries → {status}: delivery {delivery_id} to {BOB_EMAIL}"
    );

    let notice = wait_for_mail(demo, BOB_EMAIL).await?;
    say!(
        "✉ e-mail to {BOB_EMAIL} (the development mailbox: {}/mailbox?to={BOB_EMAIL}):",
        demo.base
    );
    for line in notice
        .lines()
        .take(4)
        .filter(|line| !line.trim().is_empty())
    {
        say!("    {line}");
    }
    let at = notice.find("/d/").context("no link in the notice")?;
    let token: String = notice[at + 3..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    let link = format!("{}/d/{token}", demo.base);
    let origin = demo.base.clone();
    let form = |path: &str| {
        demo.http
            .post(format!("{link}{path}"))
            .header("origin", origin.clone())
    };
    let sent = form("/code").send().await?;
    say!(
        "Bob opens the link and asks for the code → {}",
        sent.status()
    );
    let sms = wait_for_text(demo, BOB_PHONE, "to open the certified delivery").await?;
    say!("📱 SMS to {BOB_PHONE}:\n    {sms}");
    let code: String = sms
        .split("code ")
        .nth(1)
        .context("no code in the SMS")?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let opened = form("/session").form(&[("code", code)]).send().await?;
    let session = crate::cookie_set(opened.headers(), None).context("no recipient session")?;
    say!(
        "Bob types the code → {} (his own session, for this delivery only)",
        opened.status()
    );
    let bob_csrf = sceau_server::api::delivery::recipient_csrf(
        session.split_once('=').map_or("", |pair| pair.1),
    );
    let recipient = |method: Method, path: &str| {
        demo.http
            .request(method, format!("{link}{path}"))
            .header("cookie", session.clone())
            .header("x-csrf-token", bob_csrf.clone())
    };
    let key = sceau_pki::station::StationKey::new();
    let withdrawal: Value = recipient(Method::POST, "/withdrawal")
        .json(&json!({"public_key": STANDARD.encode(key.public_key_der()?)}))
        .send()
        .await?
        .json()
        .await?;
    let serial = withdrawal["serial"]
        .as_str()
        .context("no withdrawal certificate")?
        .to_owned();
    say!(
        "Bob's browser makes a key of its own; sceau certifies it for this delivery: certificate {serial}"
    );
    let file = recipient(Method::GET, "/files/0")
        .send()
        .await?
        .bytes()
        .await?;
    let p7s = recipient(Method::GET, "/files/0/signature.p7s")
        .send()
        .await?
        .bytes()
        .await?;
    let root = demo
        .http
        .get(format!("{}/pki/root.pem", demo.base))
        .send()
        .await?
        .text()
        .await?;
    let root = pem_der(&root)?;
    let verified = sceau_pki::verify_signature(&p7s, &file, &root, None)
        .map_err(|refusal| anyhow::anyhow!("the file's signature does not verify: {refusal}"))?;
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&file));
    say!(
        "Bob receives the file ({} bytes, SHA-256 {}…) and its signature: signed by {}, time-stamped",
        file.len(),
        &digest[..16],
        verified.signer
    );
    let statement = serde_json::to_string(&json!({
        "type": "sceau-delivery-answer/1",
        "delivery": delivery_id,
        "recipient": 0,
        "certificate": serial,
        "answer": "accept",
        "files": [{"position": 0, "sha256": digest, "digest_matches": true, "signature_valid": true}],
    }))?;
    let answered = recipient(Method::POST, "/answer")
        .json(&json!({"statement": statement, "signature": STANDARD.encode(key.sign(statement.as_bytes()))}))
        .send()
        .await?;
    let answer_status = answered.status();
    let answer: Value = answered.json().await?;
    say!("Bob accepts, signing his answer with that key → {answer_status} {answer}");

    let receipt = api(
        Method::GET,
        &format!("/api/v1/deliveries/{delivery_id}/recipients/0/receipt"),
    )
    .send()
    .await?
    .bytes()
    .await?;
    let key_text = demo
        .http
        .get(format!("{}/log/key", demo.base))
        .send()
        .await?
        .text()
        .await?;
    let log_key = sceau_log::VerifierKey::parse(key_text.trim())
        .map_err(|error| anyhow::anyhow!("the log's key: {error}"))?;
    let report = sceau_server::delivery_receipt::check(&receipt, &root, &log_key);
    say!("Alice's receipt for Bob, checked offline (sceau verify does the same):");
    for check in &report.checks {
        match &check.outcome {
            Ok(found) => say!("  ✓ {}: {found}", check.part),
            Err(why) => say!("  ✗ {}: {why}", check.part),
        }
    }
    if !report.valid() {
        bail!("the receipt does not check");
    }
    if let Some(directory) = &demo.evidence_out {
        std::fs::create_dir_all(directory)?;
        std::fs::write(directory.join("bob.receipt.json"), &receipt)?;
        say!(
            "bob.receipt.json written to {} (sceau verify --root root.pem --log-key log.key bob.receipt.json)",
            directory.display()
        );
    }
    Ok(())
}

/// Alice's envelope of one file, notarized: opened for a station key made here, the
/// signed manifest, the file, the seal from her phone. Its id.
async fn notarized_contract(
    demo: &Demo,
    cookie: &str,
    csrf: &str,
    content: &[u8],
) -> anyhow::Result<String> {
    let api = |method: Method, path: &str| {
        demo.http
            .request(method, format!("{}{path}", demo.base))
            .header("cookie", cookie)
            .header("x-csrf-token", csrf)
    };
    let station = sceau_pki::station::StationKey::new();
    let opened: Value = api(Method::POST, "/api/v1/envelopes")
        .json(&json!({"public_key": STANDARD.encode(station.public_key_der()?)}))
        .send()
        .await?
        .json()
        .await?;
    let id = opened["id"].as_str().context("no envelope id")?.to_owned();
    let manifest = sceau_domain::envelope::Manifest {
        envelope: id.clone(),
        certificate: opened["certificate_serial"]
            .as_str()
            .context("no certificate")?
            .to_ascii_lowercase(),
        files: vec![sceau_domain::envelope::FileEntry {
            name: sceau_domain::envelope::FileName::parse("bail.txt")
                .map_err(|error| anyhow::anyhow!("{error}"))?,
            size: content.len() as u64,
            sha256: <sha2::Sha256 as sha2::Digest>::digest(content).into(),
        }],
        destinations: vec![sceau_domain::envelope::Destination {
            email: Some(
                BOB_EMAIL
                    .parse()
                    .map_err(|error| anyhow::anyhow!("{error}"))?,
            ),
            phone: Some(
                BOB_PHONE
                    .parse()
                    .map_err(|error| anyhow::anyhow!("{error}"))?,
            ),
        }],
    };
    let canonical = manifest
        .canonical()
        .map_err(|error| anyhow::anyhow!("the manifest: {error}"))?;
    let signed = api(Method::POST, &format!("/api/v1/envelopes/{id}/manifest"))
        .json(&json!({"manifest": canonical, "signature": STANDARD.encode(station.sign(canonical.as_bytes()))}))
        .send()
        .await?;
    if !signed.status().is_success() {
        bail!("the manifest: {} {}", signed.status(), signed.text().await?);
    }
    let sent = api(Method::PUT, &format!("/api/v1/envelopes/{id}/files/0"))
        .header("content-type", "application/octet-stream")
        .body(content.to_vec())
        .send()
        .await?;
    if !sent.status().is_success() {
        bail!("the file: {} {}", sent.status(), sent.text().await?);
    }
    say!("Alice's station hashes bail.txt, signs the manifest and sends it: envelope {id}");
    let text = wait_for_text(demo, ALICE_PHONE, "to sign ").await?;
    say!("📱 SMS to {ALICE_PHONE}:\n    {text}");
    let seal: String = text
        .split("your seal is ")
        .nth(1)
        .context("no seal in the SMS")?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let sealed: Value = api(Method::POST, &format!("/api/v1/envelopes/{id}/seal"))
        .json(&json!({"seal": seal}))
        .send()
        .await?
        .json()
        .await?;
    say!(
        "Alice types the seal → {}: signed in her name, time-stamped, archived",
        sealed["state"].as_str().unwrap_or("?")
    );
    if sealed["state"] != "notarized" {
        bail!("the envelope is not notarized: {sealed}");
    }
    Ok(id)
}

/// Waits (bounded) for the newest message on `phone` to contain `needle`.
async fn wait_for_text(demo: &Demo, phone: &str, needle: &str) -> anyhow::Result<String> {
    for _ in 0..250 {
        if let Ok(text) = demo.read_phone(phone).await
            && text.contains(needle)
        {
            return Ok(text);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    bail!("no message with {needle:?} reached {phone}")
}

/// Waits (bounded) for the newest e-mail to `address` in the development mailbox: its
/// text, as the mailbox page shows it.
async fn wait_for_mail(demo: &Demo, address: &str) -> anyhow::Result<String> {
    for _ in 0..250 {
        let page = demo
            .http
            .get(format!("{}/mailbox", demo.base))
            .query(&[("to", address)])
            .send()
            .await?
            .text()
            .await?;
        if let Some(start) = page.find("<li class=\"mail\"") {
            let body = page[start..]
                .find("<p>")
                .context("an e-mail without text")?
                + start
                + 3;
            let end = page[body..]
                .find("</p></li>")
                .context("an e-mail without end")?
                + body;
            let text = page[body..end].replace('\r', "");
            // The links are shown as links: keep their text.
            let text = strip_tags(&text);
            return Ok(unescape(&text));
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    bail!("no e-mail reached {address}")
}

/// `text` without its HTML tags (the mailbox page's links).
fn strip_tags(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut inside = false;
    for c in text.chars() {
        match c {
            '<' => inside = true,
            '>' => inside = false,
            c if !inside => out.push(c),
            _ => {}
        }
    }
    out
}

/// The DER of a PEM certificate.
fn pem_der(pem: &str) -> anyhow::Result<Vec<u8>> {
    let body: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    STANDARD
        .decode(body)
        .context("the root certificate is not PEM")
}
