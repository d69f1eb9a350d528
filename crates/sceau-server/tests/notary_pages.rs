//! The notary's pages in headless Chromium (see `common/browser.rs`), against a server on
//! `127.0.0.1:0`: a client signs in, opens the station, adds three files one at a time
//! (a PDF, 50 MiB of random bytes, a file with a non-ASCII name), compares the digests the
//! page shows with `sha256sum`'s, names a destination, sends, reads the seal on the
//! phone simulator and types it, then follows the link to the envelope's page and
//! downloads what was made. Without Chromium these tests note it and pass, except under
//! `CI=true`, where they fail.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::browser::Browser;
use common::notary::hello_pdf;
use common::*;
use fantoccini::Locator;
use reqwest::StatusCode;
use sceau_server::station::{self, STATION_CONTENT_SECURITY_POLICY};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

const ALICE_PHONE: &str = "+33612345678";
const MIB: u64 = 1024 * 1024;

/// Where the tests leave screenshots for a person to look at: `target/test-artefacts`.
fn artefact(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/test-artefacts")
        .join(name)
}

/// The station's page alone runs scripts: its answer has a policy of its own that lets
/// it load this origin's scripts, every other page keeps the policy with none; the
/// scripts are served as built, with their media type, cached like the stylesheet.
#[tokio::test]
async fn only_the_station_page_may_run_scripts() {
    let server = Server::start().await;
    server.enroll_client("alice", ALICE_PHONE, "0").await;
    let session = server.sign_in("alice").await;

    let page = server
        .page("/wallet/envelopes/new", Some(&session.cookie))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let policy = page.header("content-security-policy").unwrap();
    assert_eq!(policy, STATION_CONTENT_SECURITY_POLICY);
    assert!(policy.contains("script-src 'self'"), "{policy}");
    assert!(!policy.contains("unsafe"), "{policy}");
    assert_eq!(
        page.headers
            .get_all("content-security-policy")
            .iter()
            .count(),
        1,
        "one policy"
    );
    // The scripts named with their integrity values, in order, and nothing inline.
    let sha256_at = page
        .text
        .find(&format!(
            "<script src=\"/static/sha256.js\" integrity=\"{}\"",
            station::SHA256_JS.integrity()
        ))
        .unwrap_or_else(|| panic!("sha256.js with its integrity: {}", page.text));
    let notary_at = page
        .text
        .find(&format!(
            "<script src=\"/static/notary.js\" integrity=\"{}\"",
            station::NOTARY_JS.integrity()
        ))
        .unwrap_or_else(|| panic!("notary.js with its integrity: {}", page.text));
    assert!(sha256_at < notary_at, "sha256.js first");
    assert_eq!(page.text.matches("<script").count(), 2, "{}", page.text);
    assert!(
        page.text.contains(&format!(
            "<meta name=\"csrf-token\" content=\"{}\">",
            session.csrf
        )),
        "{}",
        page.text
    );

    for path in [
        "/wallet",
        "/wallet/envelopes",
        "/wallet/signatures",
        "/login",
    ] {
        let other = server.page(path, Some(&session.cookie)).await;
        assert_eq!(other.status, StatusCode::OK, "{path}: {}", other.text);
        let policy = other.header("content-security-policy").unwrap();
        assert_eq!(policy, sceau_server::CONTENT_SECURITY_POLICY, "{path}");
        assert!(!policy.contains("script-src"), "{path}: {policy}");
        assert!(!other.text.contains("<script"), "{path}");
    }

    for script in station::SCRIPTS {
        let response = server
            .http
            .get(server.url(&format!("/static/{}", script.name)))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(header("content-type"), "text/javascript; charset=utf-8");
        assert_eq!(header("cache-control"), "max-age=3600");
        assert_eq!(header("x-content-type-options"), "nosniff");
        assert_eq!(response.bytes().await.unwrap().as_ref(), script.bytes);
    }

    // Signed out, the pages send the browser to sign in.
    for path in ["/wallet/envelopes", "/wallet/envelopes/new"] {
        let reply = server.page(path, None).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(reply.header("location"), Some("/login"), "{path}");
    }
    server.stop().await;
}

/// The notary as a person uses it, from the sign-in page to the downloads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_notarizes_three_files_from_the_station_page() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let server = Server::start().await;
    server.enroll_client("alice", ALICE_PHONE, "0").await;
    let directory = tempfile::tempdir().unwrap();
    let pdf = directory.path().join("contrat.pdf");
    std::fs::write(&pdf, hello_pdf()).unwrap();
    let large = random_file(directory.path(), "données.bin", 50 * MIB);
    let report = directory.path().join("報告 été.txt");
    std::fs::write(&report, "Procès-verbal de la réunion\n").unwrap();
    let files = [pdf, large, report];

    // Signs in through the sign-in page, and finds the notary from the wallet.
    browser.goto(&server.url("/wallet/envelopes")).await;
    browser.wait_for_path("/login").await;
    browser.fill("input[name=login]", "alice").await;
    browser.fill("input[name=password]", PASSWORD).await;
    browser
        .click("form[action='/login'] button[type=submit]")
        .await;
    browser.wait_for_path("/wallet").await;
    browser.click("a[href='/wallet/envelopes']").await;
    browser.wait_for_path("/wallet/envelopes").await;
    browser.wait_for_text("tbody", "No envelope yet.").await;
    browser.click("a[href='/wallet/envelopes/new']").await;
    browser.wait_for_path("/wallet/envelopes/new").await;
    // The script ran (its integrity value matched, the policy let it): it wrote its
    // own status over the page's.
    browser
        .wait_for_text("#notary-status", "choose the files to send")
        .await;

    // The files, one at a time; each is hashed on the page as it is added.
    let input = browser.wait_for("#notary-files-input").await;
    for (count, path) in files.iter().enumerate() {
        input.send_keys(&path.display().to_string()).await.unwrap();
        browser
            .wait_for(&format!("#notary-files tr:nth-child({})", count + 1))
            .await;
    }
    browser
        .wait_for_text("#notary-status", "3 files ready to send")
        .await;
    let rows = rows_shown(&browser).await;
    assert_eq!(rows.len(), files.len(), "{rows:?}");
    for (row, path) in rows.iter().zip(&files) {
        let name = path.file_name().unwrap().to_str().unwrap();
        assert_eq!(row[0], name, "{row:?}");
        let size = std::fs::metadata(path).unwrap().len();
        assert!(
            row[1].replace(',', "").starts_with(&size.to_string()),
            "{row:?}"
        );
        assert_eq!(row[2], sha256sum(path), "{name}: the page's SHA-256");
    }

    // A destination, then the envelope is sent.
    browser.click("#notary-add-destination").await;
    browser
        .fill("#notary-destinations input[type=email]", "bob@example.org")
        .await;
    browser
        .fill("#notary-destinations input[type=tel]", "+33687654321")
        .await;
    browser.screenshot(&artefact("station.png")).await;
    server.deliver().await;
    let newest = server.newest_message_id(ALICE_PHONE).await;
    browser.click("#notary-send").await;
    browser
        .wait_for_text("#notary-status", "Type the seal sent to your phone")
        .await;
    let link = browser.wait_for("#notary-envelope-link").await;
    let envelope_path = link.attr("href").await.unwrap().unwrap();
    let id = envelope_path
        .strip_prefix("/wallet/envelopes/")
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 32, "{envelope_path}");

    // The seal, read on the phone simulator in another tab; it names what the page shows.
    let station_tab = browser.client().window().await.unwrap();
    let phone_tab = browser.client().new_window(true).await.unwrap().handle;
    browser.client().switch_to_window(phone_tab).await.unwrap();
    server.deliver().await;
    browser.goto(&server.url("/phone?to=%2B33612345678")).await;
    let text = browser.wait_for_text("li.sms p", "your seal is").await;
    let first_digest = &rows[0][2][..8];
    for shown in [
        "3 files for bob@example.org",
        first_digest,
        "\"contrat.pdf\"",
    ] {
        assert!(text.contains(shown), "{shown:?} in {text:?}");
    }
    let seal = seal_in(&text);
    assert_eq!(
        server.newest_message_id(ALICE_PHONE).await,
        newest + 1,
        "one seal sent"
    );
    browser.client().close_window().await.unwrap();
    browser
        .client()
        .switch_to_window(station_tab)
        .await
        .unwrap();

    // A wrong seal is told with its code; the right one notarizes.
    let wrong = if seal == "00000000" {
        "11111111"
    } else {
        "00000000"
    };
    browser.fill("#notary-seal", wrong).await;
    browser.click("#notary-seal-submit").await;
    browser.wait_for_text("#notary-error", "wrong_seal").await;
    browser.fill("#notary-seal", &seal).await;
    browser.click("#notary-seal-submit").await;
    browser.wait_for_text("#notary-status", "Notarized").await;

    // The envelope's page, from the station's link.
    browser.click("#notary-envelope-link").await;
    browser.wait_for_path(&envelope_path).await;
    browser.wait_for_text("#envelope-state", "notarized").await;
    let digests = texts(&browser, ".envelope-file .sha256").await;
    let names = texts(&browser, ".envelope-file .name").await;
    assert_eq!(digests.len(), files.len());
    for ((digest, name), path) in digests.iter().zip(&names).zip(&files) {
        assert_eq!(name, path.file_name().unwrap().to_str().unwrap());
        assert!(digest.contains(' '), "grouped: {digest}");
        assert_eq!(digest.replace(' ', ""), sha256sum(path), "{name}");
    }
    let destinations = browser.text_of(".destinations-list").await;
    assert!(
        destinations.contains("bob@example.org") && destinations.contains("+33687654321"),
        "{destinations}"
    );
    browser.screenshot(&artefact("envelope.png")).await;

    // The downloads, with the browser's session: the container holds the files as they
    // are on the disk, the signed PDF is the PDF with its signature appended, and the
    // signature of the non-ASCII file verifies against the server's root.
    let cookie = browser.cookie("sceau_session").await;
    let download = async |css: &str| -> Vec<u8> {
        let href = browser
            .wait_for(css)
            .await
            .attr("href")
            .await
            .unwrap()
            .unwrap();
        let response = server
            .http
            .get(server.url(&href))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{href}");
        response.bytes().await.unwrap().to_vec()
    };
    let container = download("#container-link").await;
    let checked = sceau_notary::asic::check_container(std::io::Cursor::new(&container)).unwrap();
    assert_eq!(checked.references.len(), files.len());
    for (reference, path) in checked.references.iter().zip(&files) {
        assert_eq!(reference.name, path.file_name().unwrap().to_str().unwrap());
        let bytes = std::fs::read(path).unwrap();
        assert_eq!(reference.sha256, <[u8; 32]>::from(Sha256::digest(&bytes)));
    }
    let signed_pdf = download("a.signed-pdf-link").await;
    let original = std::fs::read(&files[0]).unwrap();
    assert!(
        signed_pdf.len() > original.len() && signed_pdf.starts_with(&original),
        "an incremental update of the PDF"
    );
    assert!(
        signed_pdf
            .windows(b"/ETSI.CAdES.detached".len())
            .any(|w| w == b"/ETSI.CAdES.detached")
    );
    let signature = download("li.envelope-file:nth-child(3) a.signature-link").await;
    let root = server
        .service
        .pki
        .as_ref()
        .unwrap()
        .authority
        .root()
        .der
        .clone();
    let content = std::fs::read(&files[2]).unwrap();
    let verified = sceau_pki::verify_signature(&signature, &content, &root, None).unwrap();
    assert_eq!(verified.signer, "CN=Client alice");
    assert!(verified.time_stamp.is_some());
    // The evidence bundle is linked from the page.
    browser
        .wait_for(&format!("a[href='/api/v1/envelopes/{id}/evidence']"))
        .await;

    // The list shows it, newest first.
    browser.click("a[href='/wallet/envelopes']").await;
    browser.wait_for_path("/wallet/envelopes").await;
    let row = browser.wait_for_text("tbody tr", "contrat.pdf").await;
    assert!(row.contains("notarized"), "{row}");
    assert_eq!(texts(&browser, "tbody tr td:nth-child(2)").await, ["3"]);

    browser.close().await;
    server.stop().await;
}

/// A client who cannot run the station's script still seals from the envelope's page: a
/// plain form, a wrong seal told with the tries left, a new seal asked for, the right one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_envelope_is_sealed_from_its_page_with_a_plain_form() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let server = Server::start().await;
    server.enroll_client("alice", ALICE_PHONE, "0").await;
    let directory = tempfile::tempdir().unwrap();
    let note = directory.path().join("note.txt");
    std::fs::write(&note, "A short note.\n").unwrap();

    browser.goto(&server.url("/login")).await;
    browser.fill("input[name=login]", "alice").await;
    browser.fill("input[name=password]", PASSWORD).await;
    browser
        .click("form[action='/login'] button[type=submit]")
        .await;
    browser.wait_for_path("/wallet").await;
    browser.goto(&server.url("/wallet/envelopes/new")).await;
    browser
        .wait_for_text("#notary-status", "choose the files to send")
        .await;
    let input = browser.wait_for("#notary-files-input").await;
    input.send_keys(&note.display().to_string()).await.unwrap();
    browser
        .wait_for_text("#notary-status", "1 file ready to send")
        .await;
    browser.click("#notary-send").await;
    browser
        .wait_for_text("#notary-status", "Type the seal sent to your phone")
        .await;
    let href = browser
        .wait_for("#notary-envelope-link")
        .await
        .attr("href")
        .await
        .unwrap()
        .unwrap();

    // Leaves the station for the envelope's page, which has its own seal form.
    browser.goto(&server.url(&href)).await;
    browser
        .wait_for_text("#envelope-state", "waiting for the seal")
        .await;
    browser.fill("input[name=seal]", "00000000").await;
    browser.click("#notarize").await;
    browser.wait_for_text("p.error", "2 tries left").await;
    browser.screenshot(&artefact("envelope-seal.png")).await;
    server.deliver().await;
    let newest = server.newest_message_id(ALICE_PHONE).await;
    browser.click("#resend").await;
    browser.wait_for_path(&format!("{href}?resent=1")).await;
    browser
        .wait_for_text("p.notice", "A new seal was sent")
        .await;
    let seal = seal_in(&server.message_after(ALICE_PHONE, newest).await);
    browser.fill("input[name=seal]", &seal).await;
    browser.click("#notarize").await;
    browser.wait_for_path(&href).await;
    browser.wait_for_text("#envelope-state", "notarized").await;
    let digest = browser.text_of(".envelope-file .sha256").await;
    assert_eq!(digest.replace(' ', ""), sha256sum(&note));
    browser.wait_for("a.signature-link").await;
    browser.close().await;
    server.stop().await;
}

/// The texts of the station's rows: name, size, SHA-256 (or what stands in its place).
async fn rows_shown(browser: &Browser) -> Vec<Vec<String>> {
    let shown: Value = browser
        .client()
        .execute(
            "return [...document.querySelectorAll('#notary-files tr')]\
             .map(row => [...row.cells].slice(0, 3).map(cell => cell.textContent));",
            Vec::new(),
        )
        .await
        .unwrap();
    serde_json::from_value(shown).unwrap()
}

/// The texts of every element at `css`.
async fn texts(browser: &Browser, css: &str) -> Vec<String> {
    let mut texts = Vec::new();
    for element in browser.client().find_all(Locator::Css(css)).await.unwrap() {
        texts.push(element.text().await.unwrap());
    }
    texts
}

/// The seal in an envelope's SMS.
fn seal_in(text: &str) -> String {
    let at = text.find("your seal is ").expect("a seal in the message") + "your seal is ".len();
    let seal: String = text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    assert_eq!(seal.len(), 8, "{text}");
    seal
}

/// A file of `size` random bytes (from the kernel) at `directory/name`.
fn random_file(directory: &Path, name: &str, size: u64) -> PathBuf {
    let path = directory.join(name);
    let mut random = std::fs::File::open("/dev/urandom").unwrap().take(size);
    let mut file = std::fs::File::create(&path).unwrap();
    assert_eq!(std::io::copy(&mut random, &mut file).unwrap(), size);
    path
}

/// The hex SHA-256 of the file at `path`, as coreutils' `sha256sum` prints it.
fn sha256sum(path: &Path) -> String {
    let output = Command::new("sha256sum")
        .arg("--")
        .arg(path)
        .output()
        .unwrap_or_else(|error| panic!("run sha256sum (coreutils): {error}"));
    assert!(output.status.success(), "sha256sum {}", path.display());
    let line = String::from_utf8(output.stdout).unwrap();
    let hex = line.split_whitespace().next().unwrap().to_owned();
    assert_eq!(hex.len(), 64, "{line}");
    hex
}
