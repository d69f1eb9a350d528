//! sceau's pages in a real browser: headless Chromium over WebDriver (see
//! `common/browser.rs`), against a server on `127.0.0.1:0` as in the HTTP tests. Without
//! Chromium these tests note it and pass, except under `CI=true`, where they fail.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::browser::Browser;
use common::*;
use std::path::PathBuf;

const ALICE_PHONE: &str = "+33612345678";
const BOB_PHONE: &str = "+33687654321";

/// Where the tests leave screenshots for a person to look at: `target/test-artefacts`.
fn artefact(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/test-artefacts")
        .join(name)
}

/// Figure 5 as a person does it: signs in, asks for a number on the wallet, and reads it
/// on the phone simulator; the wallet shows its last four digits and never the number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn figure_5_in_a_browser_client_asks_for_a_number_and_reads_it_on_the_phone() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let server = Server::start().await;
    server.enroll_client("alice", ALICE_PHONE, "500.00").await;

    // Signed out, the wallet sends the browser to the sign-in form.
    browser.goto(&server.url("/wallet")).await;
    browser.wait_for_path("/login").await;
    browser.fill("input[name=login]", "alice").await;
    browser.fill("input[name=password]", PASSWORD).await;
    browser
        .click("form[action='/login'] button[type=submit]")
        .await;

    // The wallet: the figures, no number yet.
    browser.wait_for_path("/wallet").await;
    browser.wait_for_text("h1", "Client alice").await;
    let figures = browser.text_of("section.figures").await;
    assert!(figures.contains("500.00"), "{figures}");
    browser.wait_for_text("tbody", "No number yet.").await;

    // Asks for a number for one payment of up to 80.00 EUR.
    browser.fill("input[name=amount_cap]", "80.00").await;
    browser.fill("input[name=uses]", "1").await;
    browser.select("select[name=merchant]", "any").await;
    browser.select("select[name=validity_min]", "15").await;
    browser
        .click("form[action='/wallet/numbers'] button[type=submit]")
        .await;
    browser.wait_for_path("/wallet?sent=1").await;
    browser
        .wait_for_text("p.notice", "sent to your phone")
        .await;
    let row = browser.wait_for_text("tbody tr", "••••").await;
    let last_four: String = row
        .split("•••• ")
        .nth(1)
        .expect("the last four digits")
        .chars()
        .take(4)
        .collect();
    assert!(last_four.chars().all(|c| c.is_ascii_digit()), "{row}");
    assert!(row.contains("live"), "{row}");
    assert!(row.contains("up to 80.00 EUR"), "{row}");
    let wallet_text = browser.text_of("main").await;
    browser.screenshot(&artefact("wallet.png")).await;

    // The text reaches the phone, with the whole number.
    server.deliver().await;
    browser.goto(&server.url("/phone")).await;
    browser.fill("input[name=to]", ALICE_PHONE).await;
    browser
        .click("form[action='/phone'] button[type=submit]")
        .await;
    browser.wait_for_path("/phone?to=%2B33612345678").await;
    let text = browser.wait_for_text("li.sms p", ISSUER).await;
    for expected in ["single-use card", "1 payment", "up to 80.00 EUR"] {
        assert!(text.contains(expected), "{expected:?} in {text:?}");
    }
    let card = card_from_message(&text).unwrap_or_else(|| panic!("no card in {text:?}"));
    assert!(card.number.starts_with("499999"), "{card:?}");
    assert_eq!(
        card.last_four(),
        last_four,
        "the wallet's row is this number"
    );
    let grouped: Vec<&str> = [0, 4, 8, 12].map(|at| &card.number[at..at + 4]).into();
    for shown in [card.number.clone(), grouped.join(" ")] {
        assert!(
            !wallet_text.contains(&shown),
            "the whole number on the wallet: {wallet_text}"
        );
    }

    browser.close().await;
    server.stop().await;
}

/// A merchant shop and sceau side by side, as `sceau demo` runs them.
async fn shop_for(server: &Server) -> (sceau_shop::RunningShop, Merchant) {
    let merchant = server.enroll_merchant("Le Petit Théâtre").await;
    let clock = server.service.clock.clone();
    let config = sceau_shop::ShopConfig {
        name: "Le Petit Théâtre".to_owned(),
        sceau_url: server.base.clone(),
        api_key: merchant.key.clone(),
        webhook_secret: server.service.keys.webhook_secret(merchant.id).to_string(),
        clock: std::sync::Arc::new(move || clock.now_s()),
    };
    let shop = sceau_shop::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    (shop, merchant)
}

/// Reads the newest seal on the phone simulator page, in the browser.
async fn seal_from_phone(browser: &Browser, server: &Server) -> String {
    server.deliver().await;
    browser.goto(&server.url("/phone?to=%2B33612345678")).await;
    let text = browser.wait_for_text("li.sms p", "your seal is").await;
    let at = text.find("your seal is ").unwrap() + "your seal is ".len();
    let seal: String = text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    assert_eq!(seal.len(), 8, "{text}");
    assert!(
        text.contains("49.90 EUR") && text.contains("Le Petit Théâtre"),
        "{text}"
    );
    seal
}

/// Figures 1-3 as a person does it: the shop's cart, sign-in on sceau's payment page,
/// the electronic check, "validate payment and sign", the seal read on the phone and
/// typed back, and the shop saying the order is paid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn figures_1_to_3_in_a_browser_a_client_pays_a_shop_with_a_seal() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let server = Server::start().await;
    let (shop, _) = shop_for(&server).await;
    let alice = server.enroll_client("alice", ALICE_PHONE, "500.00").await;

    // The bookshop's catalogue: two books to the cart, one at a time.
    browser.goto(&shop.url()).await;
    browser.wait_for_text("#empty", "Your cart is empty").await;
    browser.click("#add-les-miserables").await;
    browser.wait_for_text("#total", "24.90 EUR").await;
    browser.click("#add-monte-cristo").await;
    browser.wait_for_text("#total", "49.90 EUR").await;
    browser.screenshot(&artefact("shop-cart.png")).await;
    browser.click("#pay").await;
    browser.wait_for_text("h1", "Sign in to pay").await;
    assert!(
        browser
            .current_url()
            .await
            .starts_with(&server.url("/pay/co_"))
    );
    browser.fill("input[name=login]", "alice").await;
    browser.fill("input[name=password]", PASSWORD).await;
    browser.click("form button[type=submit]").await;

    // The electronic check, every zone, and its picture kept as a test artefact.
    browser.wait_for("article.check").await;
    let check = browser.text_of("article.check").await;
    for shown in [
        ISSUER,
        "Le Petit Théâtre",
        "49.90 EUR",
        "forty-nine euros and ninety cents",
        "quarante-neuf euros et quatre-vingt-dix centimes",
        "Les Misérables, Le Comte de Monte-Cristo",
        "Client alice",
        "••••",
    ] {
        assert!(check.contains(shown), "{shown:?} not on the check: {check}");
    }
    browser.screenshot(&artefact("check.png")).await;
    let pay_url = browser.current_url().await;
    server.assert_figures(&alice, "500.00", "49.90").await;

    browser.click("#validate").await;
    browser.wait_for("#seal").await;
    let seal = seal_from_phone(&browser, &server).await;
    browser.goto(&pay_url).await;
    browser.fill("#seal", &seal).await;
    browser.click("#sign").await;
    browser.wait_for_text("#paid", "is done").await;
    server.assert_figures(&alice, "450.10", "0.00").await;

    // The shop hears it from sceau (signed webhook) and asks sceau itself on return.
    sceau_server::webhooks::deliver_once(
        &server.service,
        &sceau_server::webhooks::http_client(true),
    )
    .await
    .unwrap();
    browser.click("#back").await;
    browser.wait_for_text("#order-paid", "is paid").await;
    browser.wait_for_text("#webhook", "verified").await;
    browser.screenshot(&artefact("shop-paid.png")).await;

    browser.close().await;
    shop.stop();
    server.stop().await;
}

/// Three wrong seals: the payment fails, nothing is taken, and the shop says not paid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_browser_three_wrong_seals_fail_the_payment() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let server = Server::start().await;
    let (shop, _) = shop_for(&server).await;
    let alice = server.enroll_client("alice", ALICE_PHONE, "500.00").await;

    browser
        .goto(&format!("{}/?cart=les-miserables,monte-cristo", shop.url()))
        .await;
    browser.wait_for_text("#total", "49.90 EUR").await;
    browser.click("#pay").await;
    browser.wait_for_text("h1", "Sign in to pay").await;
    browser.fill("input[name=login]", "alice").await;
    browser.fill("input[name=password]", PASSWORD).await;
    browser.click("form button[type=submit]").await;
    browser.wait_for("#validate").await;
    let pay_url = browser.current_url().await;
    browser.click("#validate").await;
    browser.wait_for("#seal").await;
    let seal = seal_from_phone(&browser, &server).await;
    let wrong = format!("{:08}", (seal.parse::<u32>().unwrap() + 1) % 100_000_000);
    browser.goto(&pay_url).await;
    for expected in ["2 tries left", "1 try left"] {
        browser.fill("#seal", &wrong).await;
        browser.click("#sign").await;
        browser.wait_for_text("p.error", expected).await;
    }
    browser.fill("#seal", &wrong).await;
    browser.click("#sign").await;
    browser.wait_for_text("#failed", "failed").await;
    server.assert_figures(&alice, "500.00", "0.00").await;
    browser.click("#back").await;
    browser.wait_for_text("#order-not-paid", "not paid").await;

    browser.close().await;
    shop.stop();
    server.stop().await;
}

/// A signature in the client's name as a person makes it without a script: hands a file
/// over on the signatures page (no script: sceau hashes it), lands on the page of the
/// envelope of one file it became, compares the page's SHA-256 with the SMS, types a
/// wrong seal (told how many tries are left), then the right one, and downloads a
/// signature that verifies against the server's root.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_signs_a_document_in_a_browser_with_the_seal_sent_for_it() {
    use sha2::Digest;
    let Some(browser) = Browser::start().await else {
        return;
    };
    let server = Server::start().await;
    server.enroll_client("alice", ALICE_PHONE, "0").await;
    browser.goto(&server.url("/login")).await;
    browser.fill("input[name=login]", "alice").await;
    browser.fill("input[name=password]", PASSWORD).await;
    browser
        .click("form[action='/login'] button[type=submit]")
        .await;
    browser.wait_for_path("/wallet").await;
    browser.click("a[href='/wallet/signatures']").await;
    browser.wait_for_path("/wallet/signatures").await;
    browser.wait_for_text("tbody", "No signature yet.").await;

    let files = tempfile::tempdir().unwrap();
    let document = files.path().join("lease.txt");
    let content = b"Lease of the flat at 3 rue du Port, 950 EUR a month.".to_vec();
    std::fs::write(&document, &content).unwrap();
    browser.choose_file("input[name=document]", &document).await;
    browser
        .click("form[action='/wallet/signatures'] button[type=submit]")
        .await;
    browser.wait_for_text("h1", "Envelope of 1 file").await;
    browser
        .wait_for_text(".envelope-file .name", "lease.txt")
        .await;
    let digest = hex::encode(sha2::Sha256::digest(&content));
    let shown = browser.text_of(".envelope-file .sha256").await;
    assert_eq!(shown.replace([' ', '\u{200b}'], ""), digest);

    // The SMS names the document and the start of its SHA-256, as the page does.
    server.deliver().await;
    let (_, text) = server.phone_messages(ALICE_PHONE).await.remove(0);
    assert!(
        text.contains("\"lease.txt\"") && text.contains(&digest[..8]),
        "{text}"
    );
    let at = text.find("your seal is ").unwrap() + "your seal is ".len();
    let seal: String = text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();

    browser.fill("input[name=seal]", "00000000").await;
    browser
        .click("form[action$='/seal'] button[type=submit]")
        .await;
    browser.wait_for_text("p.error", "2 tries left").await;
    browser.fill("input[name=seal]", &seal).await;
    browser
        .click("form[action$='/seal'] button[type=submit]")
        .await;
    browser.wait_for_text("#envelope-state", "notarized").await;
    browser
        .wait_for_text("p.signed", "Signed and time-stamped on")
        .await;
    browser.screenshot(&artefact("signature.png")).await;

    // The link downloads the signature (with the browser's session), which verifies.
    let link = browser.wait_for("a.signature-link").await;
    let href = link.attr("href").await.unwrap().unwrap();
    let cookie = browser.cookie("sceau_session").await;
    let signature = server
        .http
        .get(server.url(&href))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let root = server
        .service
        .pki
        .as_ref()
        .unwrap()
        .authority
        .root()
        .der
        .clone();
    let report = sceau_pki::verify_signature(&signature, &content, &root, None).unwrap();
    assert_eq!(report.signer, "CN=Client alice");
    assert!(report.time_stamp.is_some());
    browser.close().await;
    server.stop().await;
}

/// Decline: the client opens the check, refuses with "Cancel this payment" and is told
/// it was canceled; the hold is gone at once and the merchant's poll says canceled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_browser_a_client_cancels_the_payment_on_the_check() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let server = Server::start().await;
    let (shop, merchant) = shop_for(&server).await;
    let alice = server.enroll_client("alice", ALICE_PHONE, "500.00").await;

    browser
        .goto(&format!("{}/?cart=les-miserables,monte-cristo", shop.url()))
        .await;
    browser.wait_for_text("#total", "49.90 EUR").await;
    browser.click("#pay").await;
    browser.wait_for_text("h1", "Sign in to pay").await;
    browser.fill("input[name=login]", "alice").await;
    browser.fill("input[name=password]", PASSWORD).await;
    browser.click("form button[type=submit]").await;
    browser.wait_for("article.check").await;
    let pay_url = browser.current_url().await;
    let id = pay_url
        .rsplit('/')
        .next()
        .expect("the checkout's id")
        .to_owned();
    server.assert_figures(&alice, "500.00", "49.90").await;

    browser
        .wait_for_text("#cancel", "Cancel this payment")
        .await;
    browser.click("#cancel").await;
    browser
        .wait_for_text("#canceled", "This payment was canceled")
        .await;
    browser.wait_for_text("h1", "Canceled").await;
    server.assert_figures(&alice, "500.00", "0.00").await;
    let polled = server
        .merchant_get(&merchant, &format!("/v1/checkouts/{id}"))
        .await
        .json();
    assert_eq!(
        (polled["state"].as_str(), polled["failure"].as_str()),
        (Some("canceled"), Some("canceled_by_client"))
    );
    // The way back to the shop, which finds the order not paid.
    browser.click("#back").await;
    browser.wait_for_text("#order-not-paid", "canceled").await;
    server.assert_ledger_sound().await;

    browser.close().await;
    shop.stop();
    server.stop().await;
}

/// The client's side after paying: the sign-in page, then the wallet's history with a
/// payment by seal and a voided card payment; the history's links lead back to the paid
/// check, its image and its evidence, each answering with what it should. Screenshots of
/// the sign-in pages, the wallet and its history are kept as artefacts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_browser_the_wallet_lists_the_payments_and_leads_back_to_the_check() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let server = Server::start().await;
    let (shop, merchant) = shop_for(&server).await;
    let alice = server.enroll_client("alice", ALICE_PHONE, "500.00").await;
    browser.goto(&server.url("/login")).await;
    browser.wait_for("form[action='/login'] details").await;
    browser.screenshot(&artefact("sign-in.png")).await;

    // A payment by seal at the shop, signing in on the payment page.
    browser
        .goto(&format!("{}/?cart=les-miserables,monte-cristo", shop.url()))
        .await;
    browser.wait_for_text("#total", "49.90 EUR").await;
    browser.click("#pay").await;
    browser.wait_for_text("h1", "Sign in to pay").await;
    browser.screenshot(&artefact("pay-sign-in.png")).await;
    browser.fill("input[name=login]", "alice").await;
    browser.fill("input[name=password]", PASSWORD).await;
    browser.click("form button[type=submit]").await;
    browser.wait_for("#validate").await;
    let pay_url = browser.current_url().await;
    let check_time = browser.text_of("article.check time").await;
    browser.click("#validate").await;
    browser.wait_for("#seal").await;
    let seal = seal_from_phone(&browser, &server).await;
    browser.goto(&pay_url).await;
    browser.fill("#seal", &seal).await;
    browser.click("#sign").await;
    browser.wait_for_text("#paid", "is done").await;
    let id = pay_url.rsplit('/').next().unwrap().to_owned();

    // A card payment the merchant then voids.
    let card = server.checkout_card(&merchant, &alice, "7.50").await;
    let authorized = server.authorize(&merchant, &card, "7.50", "EUR").await;
    let voided = server.act(&merchant, authorized.id(), "void", None).await;
    assert_eq!(voided.status, reqwest::StatusCode::OK, "{}", voided.text);

    browser.goto(&server.url("/wallet")).await;
    let history = browser.wait_for_text("#history", "Paid by seal").await;
    assert!(history.contains("Voided: nothing paid"), "{history}");
    assert!(
        history.find("Voided").unwrap() < history.find("Paid by seal").unwrap(),
        "newest first: {history}"
    );
    assert!(
        history.contains("Les Misérables, Le Comte de Monte-Cristo"),
        "{history}"
    );
    assert!(
        history.contains("49.90 EUR") && history.contains("UTC"),
        "{history}"
    );
    let numbers = browser.text_of("table").await;
    assert!(numbers.contains("a payment by seal"), "{numbers}");
    assert!(numbers.contains("a hold released unpaid"), "{numbers}");
    browser.screenshot(&artefact("wallet-history.png")).await;

    // The image and the evidence, downloaded as the links name them, with the session.
    let cookie = browser.cookie("sceau_session").await;
    let href = |css: &'static str| {
        let browser = &browser;
        async move {
            let link = browser.wait_for(css).await;
            link.attr("href").await.unwrap().unwrap()
        }
    };
    let download = |path: String| {
        let request = server.http.get(server.url(&path)).header("cookie", &cookie);
        let server = &server;
        async move { server.send(request).await }
    };
    let image = download(href("#history a.image-link").await).await;
    assert_eq!(image.status, reqwest::StatusCode::OK, "{}", image.text);
    assert_eq!(
        image.header("content-type"),
        Some("image/svg+xml; charset=utf-8")
    );
    assert!(image.text.contains("PAID"), "{}", image.text);
    assert!(
        image
            .text
            .contains(&format!(">{}</text>", check_time.trim())),
        "the check's own time {check_time:?}: {}",
        image.text
    );
    let evidence = download(href("#history a.evidence-link").await).await;
    assert_eq!(
        evidence.status,
        reqwest::StatusCode::OK,
        "{}",
        evidence.text
    );
    let bundle = evidence.json();
    assert_eq!(bundle["format"], "sceau-evidence-bundle/1");
    let record = bundle["record"].as_str().unwrap();
    let record: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::STANDARD, record).unwrap(),
    )
    .unwrap();
    assert_eq!(
        (record["type"].as_str(), record["checkout"]["id"].as_str()),
        (Some("checkout.paid"), Some(id.as_str()))
    );
    assert_eq!(
        href("#history a.evidence-link").await,
        format!("/api/v1/payments/{id}/evidence")
    );

    // The check's link leads back to the paid check.
    browser.click("#history a.check-link").await;
    browser.wait_for_path(&format!("/pay/{id}")).await;
    browser.wait_for_text("#paid", "is done").await;
    browser.wait_for("#evidence").await;

    browser.close().await;
    shop.stop();
    server.stop().await;
}

/// Issue 23 (7): the operator's console as an operator uses it: signs in, reads the
/// figures, finds a client by phone, blocks them (the page says so, and it is evidence),
/// and signs out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_blocks_a_client_from_the_console() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let server = Server::start().await;
    let alice = server.enroll_client("alice", ALICE_PHONE, "500.00").await;
    let password = "an operator's long password";
    let operator = server
        .service
        .add_operator("jane", zeroize::Zeroizing::new(password.to_owned()))
        .await
        .unwrap();

    browser.goto(&server.url("/admin")).await;
    browser.wait_for_path("/admin/login").await;
    browser.fill("input[name=login]", "jane").await;
    browser.fill("input[name=password]", password).await;
    browser.click("#sign-in").await;
    browser.wait_for_path("/admin").await;
    browser.wait_for_text("#operator", "jane").await;
    let figures = browser.text_of("dl.facts").await;
    assert!(figures.contains("Messages not sent yet"), "{figures}");
    assert!(browser.cookie("sceau_operator").await.len() > "sceau_operator=".len());

    browser.fill("#query", ALICE_PHONE).await;
    browser.click("#find").await;
    let page = format!("/admin/clients/{}", alice.id);
    browser.wait_for_path(&page).await;
    browser.wait_for_text("#state", "active").await;
    browser.wait_for_text("#login", "alice").await;
    browser.click("#block").await;
    browser.wait_for_path(&format!("{page}?done=blocked")).await;
    browser.wait_for_text("#state", "blocked").await;
    browser
        .wait_for_text("#notice", "Recorded as evidence")
        .await;
    browser.screenshot(&artefact("console-client.png")).await;
    let chain = server
        .service
        .store
        .evidence(&format!("client:{}", alice.id))
        .await
        .unwrap();
    assert_eq!(chain.len(), 1);
    assert_eq!(chain[0].kind, "client.blocked");
    let said: serde_json::Value = serde_json::from_slice(&chain[0].record).unwrap();
    assert_eq!(said["by"]["operator"]["id"], operator.id.to_string());

    // Her certificate, from her page, revoked for a compromised key.
    let holder = server
        .service
        .store
        .client_certificates(alice.id)
        .await
        .unwrap()
        .remove(0);
    let certificate = format!("/admin/certificates/{}", holder.serial);
    browser.click(&format!("a[href='{certificate}']")).await;
    browser.wait_for_path(&certificate).await;
    browser.wait_for_text("#state", "not revoked").await;
    browser.select("#reason", "key-compromise").await;
    browser.click("#revoke").await;
    browser
        .wait_for_path(&format!("{certificate}?done=revoked"))
        .await;
    browser.wait_for_text("#state", "(key-compromise)").await;
    browser
        .screenshot(&artefact("console-certificate.png"))
        .await;
    let record = server.service.certificate(&holder.serial).await.unwrap();
    assert_eq!(record.revocation_reason, Some(1));

    // A number of a client found by its last four digits, from the first page.
    let bob = server.enroll_client("bob", BOB_PHONE, "500.00").await;
    let session = server.sign_in("bob").await;
    let card = server.any_card(&session, &bob).await;
    browser.click("a[href='/admin']").await;
    browser.wait_for_path("/admin").await;
    browser.fill("#number-client", &bob.id.to_string()).await;
    browser.fill("#number-last-four", card.last_four()).await;
    browser.click("#find-number").await;
    browser.wait_for_path("/admin/numbers").await;
    let numbers = browser.wait_for_text("#numbers", card.last_four()).await;
    assert!(numbers.contains("live"), "{numbers}");

    // A clearing batch closed: Bob paid a merchant with bank details.
    let (shop, _) = server
        .enroll_paid_merchant("Shop", "DE89370400440532013000", "COBADEFFXXX")
        .await;
    let authorized = server.authorize(&shop, &card, "25.00", "EUR").await;
    let captured = server.act(&shop, authorized.id(), "capture", None).await;
    assert_eq!(captured.status.as_u16(), 200, "{}", captured.text);
    browser.goto(&server.url("/admin")).await;
    browser.click("#clearing-link").await;
    browser.wait_for_path("/admin/clearing/batches").await;
    browser.fill("#currency", "EUR").await;
    browser.click("#close-batch").await;
    browser
        .wait_for_text("#notice", "Recorded as evidence")
        .await;
    browser.wait_for_text("#total", "25.00 EUR").await;
    browser.screenshot(&artefact("console-batch.png")).await;
    let batches = server.service.clearing_batches().await.unwrap();
    assert_eq!(batches.len(), 1);
    let chain = server
        .service
        .store
        .evidence(&format!("clearing:{}", batches[0].id))
        .await
        .unwrap();
    let said: serde_json::Value = serde_json::from_slice(&chain[0].record).unwrap();
    assert_eq!(said["by"]["operator"]["login"], "jane");

    browser.click("a[href='/admin']").await;
    browser.wait_for_path("/admin").await;
    browser.click("#sign-out").await;
    browser.wait_for_path("/admin/login").await;
    browser.goto(&server.url("/admin")).await;
    browser.wait_for_path("/admin/login").await;

    browser.close().await;
    server.stop().await;
}
