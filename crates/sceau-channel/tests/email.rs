//! E-mail through a real SMTP server that each test starts on 127.0.0.1: `tests/smtp/
//! server.py`, on aiosmtpd (Debian: python3-aiosmtpd; DKIM checks: python3-dkim), with
//! certificates made by `openssl`. The server parses what it receives with Python's own
//! e-mail package and writes it down before answering, so what a test reads is what a
//! receiver would see. Without python3 + aiosmtpd or openssl the tests say so and pass,
//! except under `CI=true`, where they fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use base64::Engine;
use sceau_channel::ChannelError;
use sceau_channel::config::{EmailKind, EmailRouteConfig, open_email_routes};
use sceau_channel::email::{
    DkimSettings, EmailChannel, NamedAddress, OutgoingEmail, SmtpConfig, SmtpRoute, SmtpSecurity,
    templates,
};
use sceau_channel::routes::Outcome;
use sceau_channel::secret::SecretSource;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use support::smtp::{SmtpOptions, SmtpServer, python, unavailable};
use tempfile::TempDir;

const USER: &str = "relay-user";
const PASSWORD: &str = "correct horse battery staple";
const SUBJECT: &str = "Paiements suspendus — café";
const TEXT: &str =
    "Bonjour Zoé,\nvos paiements sont suspendus jusqu'à 18 h 30 — merci.\n€ ✓ 日本\n";
const HTML: &str = "<p>Bonjour Zoé, vos paiements sont <strong>suspendus</strong> — café.</p>";

fn openssl(args: &[&str], dir: &Path) {
    let status = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(status.success(), "openssl {args:?}");
}

/// Everything a test needs: a scratch directory with a CA, a certificate for 127.0.0.1
/// signed by it, and the password file. `None` when a tool is missing (and not under CI).
fn kit() -> Option<(TempDir, PathBuf)> {
    let python = python(&["aiosmtpd", "dkim"])?;
    if std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_err()
    {
        unavailable("no openssl on the PATH");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path();
    std::fs::write(
        path.join("ca.cnf"),
        "[req]\ndistinguished_name = dn\nx509_extensions = ca\nprompt = no\n[dn]\nCN = sceau test CA\n\
         [ca]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\n\
         subjectKeyIdentifier = hash\n",
    )
    .unwrap();
    std::fs::write(
        path.join("server.ext"),
        "subjectAltName = IP:127.0.0.1,DNS:localhost\nextendedKeyUsage = serverAuth\n\
         basicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\n\
         authorityKeyIdentifier = keyid\n",
    )
    .unwrap();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509", "-config", "ca.cnf", "-days", "2"];
    ca.extend(ec);
    ca.extend(["-keyout", "ca.key", "-out", "ca.pem"]);
    openssl(&ca, path);
    let mut request = vec!["req", "-subj", "/CN=127.0.0.1"];
    request.extend(ec);
    request.extend(["-keyout", "server.key", "-out", "server.csr"]);
    openssl(&request, path);
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ],
        path,
    );
    std::fs::write(path.join("password"), format!("{PASSWORD}\n")).unwrap();
    std::fs::write(path.join("wrong-password"), "Tr0ub4dor&3\n").unwrap();
    Some((dir, python))
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Plain,
    Starttls,
    Tls,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Plain => "plain",
            Mode::Starttls => "starttls",
            Mode::Tls => "tls",
        }
    }
}

/// Starts the server; with `auth`, it demands USER / PASSWORD.
async fn start(kit: &(TempDir, PathBuf), mode: Mode, auth: bool) -> SmtpServer {
    let (dir, python) = kit;
    let (certificate, key) = (dir.path().join("server.pem"), dir.path().join("server.key"));
    let dkim_dns = dir.path().join("dkim-dns.json");
    let options = SmtpOptions {
        mode: mode.name(),
        certificate: (mode != Mode::Plain).then_some((certificate.as_path(), key.as_path())),
        login: auth.then_some((USER, PASSWORD)),
        dkim_dns: dkim_dns.exists().then_some(dkim_dns.as_path()),
    };
    SmtpServer::start(python, &options).await
}

fn config(kit: &(TempDir, PathBuf), server: &SmtpServer, security: SmtpSecurity) -> SmtpConfig {
    SmtpConfig {
        host: "127.0.0.1".into(),
        port: Some(server.port),
        security,
        username: None,
        password: None,
        ca_file: (security != SmtpSecurity::None).then(|| kit.0.path().join("ca.pem")),
        from: NamedAddress {
            name: Some("Banque Exemple — Sécurité".into()),
            address: "alerts@bank.example".into(),
        },
        reply_to: None,
        timeout_s: 20,
        max_in_flight: None,
        dkim: None,
    }
}

fn with_login(mut config: SmtpConfig, kit: &(TempDir, PathBuf), password_file: &str) -> SmtpConfig {
    config.username = Some(USER.into());
    config.password = Some(SecretSource {
        file: Some(kit.0.path().join(password_file)),
        env: None,
    });
    config
}

fn mail<'a>(to: &'a str, subject: &'a str) -> OutgoingEmail<'a> {
    OutgoingEmail {
        message_id: 42,
        to,
        subject,
        text: TEXT,
        html: Some(HTML),
    }
}

fn header<'a>(mail: &'a Value, name: &str) -> Vec<&'a str> {
    mail["headers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|pair| pair[0].as_str().unwrap().eq_ignore_ascii_case(name))
        .map(|pair| pair[1].as_str().unwrap())
        .collect()
}

/// The one mail the server accepted, checked for what every test expects.
fn the_one_received(server: &SmtpServer, to: &str) -> Value {
    let mut received = server.received();
    assert_eq!(received.len(), 1, "exactly one e-mail arrives");
    let mail = received.remove(0);
    assert_eq!(mail["mail_from"], "alerts@bank.example");
    assert_eq!(mail["rcpt_tos"], serde_json::json!([to]));
    assert_eq!(header(&mail, "To"), [to]);
    mail
}

#[tokio::test]
async fn a_mail_arrives_with_its_headers_both_parts_and_utf8_text() {
    let Some(kit) = kit() else { return };
    let server = start(&kit, Mode::Plain, false).await;
    let mut settings = config(&kit, &server, SmtpSecurity::None);
    settings.reply_to = Some(NamedAddress {
        name: None,
        address: "help@bank.example".into(),
    });
    let route = SmtpRoute::new("local-relay", &settings).unwrap();
    let accepted = route
        .send(&mail("zoe@client.example", SUBJECT))
        .await
        .unwrap();
    assert_eq!(accepted.parts, ["sceau.42@bank.example"]);

    let mail = the_one_received(&server, "zoe@client.example");
    assert_eq!(header(&mail, "Subject"), [SUBJECT]);
    assert_eq!(
        header(&mail, "From"),
        ["Banque Exemple — Sécurité <alerts@bank.example>"]
    );
    assert_eq!(header(&mail, "Reply-To"), ["help@bank.example"]);
    assert_eq!(header(&mail, "Message-ID"), ["<sceau.42@bank.example>"]);
    assert_eq!(header(&mail, "Date").len(), 1);
    assert_eq!(mail["content_type"], "multipart/alternative");
    let parts = mail["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0]["content_type"], "text/plain");
    assert_eq!(parts[0]["charset"], "utf-8");
    assert_eq!(
        parts[0]["content"].as_str().unwrap().replace("\r\n", "\n"),
        TEXT
    );
    assert_eq!(parts[1]["content_type"], "text/html");
    assert_eq!(parts[1]["charset"], "utf-8");
    assert_eq!(parts[1]["content"].as_str().unwrap().trim_end(), HTML);
    assert_eq!(mail["tls"], false);
    assert!(
        route.describe().contains("127.0.0.1"),
        "{}",
        route.describe()
    );
}

#[tokio::test]
async fn an_smtp_route_never_has_more_than_max_in_flight_mails_at_the_relay() {
    const MAX: usize = 2;
    const SENT: usize = 6;
    let Some(kit) = kit() else { return };
    let server = start(&kit, Mode::Plain, false).await;
    let mut settings = config(&kit, &server, SmtpSecurity::None);
    settings.max_in_flight = Some(MAX);
    let relay = EmailRouteConfig {
        name: "relay".into(),
        kind: EmailKind::Smtp,
        smtp: Some(settings),
    };
    let routes = Arc::new(open_email_routes(&[relay]).unwrap());
    let sends: Vec<_> = (0..SENT)
        .map(|id| {
            let routes = routes.clone();
            tokio::spawn(async move {
                let to = format!("held{id}@client.example");
                let held = OutgoingEmail {
                    message_id: id as i64,
                    ..mail(&to, SUBJECT)
                };
                routes.send(&held, 1_800_000_000).await
            })
        })
        .collect();
    let route = routes.iter().next().unwrap();
    let waiting = || route.in_flight().unwrap().waiting;
    // Every mail is either held at the relay or waiting for a free slot (or, with no
    // bound, all of them are at the relay). The limit only stops a test gone wrong.
    let limit = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (held, _) = server.held();
        if held == SENT as u64 || (held == MAX as u64 && waiting() == SENT - MAX) {
            break;
        }
        assert!(tokio::time::Instant::now() < limit, "held {held}");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert_eq!(server.held().0, MAX as u64);
    server.release();
    for send in sends {
        let outcome = send.await.unwrap();
        assert!(
            matches!(&outcome, Outcome::Sent { route, .. } if route == "relay"),
            "{outcome:?}"
        );
    }
    assert_eq!(server.held(), (0, MAX as u64));
    let mut arrived: Vec<String> = server
        .received()
        .iter()
        .map(|mail| mail["rcpt_tos"][0].as_str().unwrap().to_owned())
        .collect();
    arrived.sort();
    let expected: Vec<String> = (0..SENT)
        .map(|id| format!("held{id}@client.example"))
        .collect();
    assert_eq!(arrived, expected, "each mail reached the relay once");
}

#[tokio::test]
async fn a_mail_without_html_is_one_text_part() {
    let Some(kit) = kit() else { return };
    let server = start(&kit, Mode::Plain, false).await;
    let route = SmtpRoute::new("local", &config(&kit, &server, SmtpSecurity::None)).unwrap();
    let text_only = OutgoingEmail {
        html: None,
        ..mail("zoe@client.example", SUBJECT)
    };
    route.send(&text_only).await.unwrap();
    let mail = the_one_received(&server, "zoe@client.example");
    assert_eq!(mail["content_type"], "text/plain");
    let parts = mail["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 1);
    // A lone part ends where the message does: the line ends after it are the transport's.
    let content = parts[0]["content"].as_str().unwrap().replace("\r\n", "\n");
    assert_eq!(content.trim_end_matches('\n'), TEXT.trim_end_matches('\n'));
}

#[tokio::test]
async fn starttls_with_our_ca_and_a_password_delivers() {
    let Some(kit) = kit() else { return };
    let server = start(&kit, Mode::Starttls, true).await;
    let settings = with_login(
        config(&kit, &server, SmtpSecurity::Starttls),
        &kit,
        "password",
    );
    let route = SmtpRoute::new("relay", &settings).unwrap();
    route
        .send(&mail("zoe@client.example", SUBJECT))
        .await
        .unwrap();
    let mail = the_one_received(&server, "zoe@client.example");
    assert_eq!(mail["tls"], true);
    assert_eq!(mail["authenticated"], true);
    assert_eq!(header(&mail, "Subject"), [SUBJECT]);
}

#[tokio::test]
async fn implicit_tls_with_a_password_delivers() {
    let Some(kit) = kit() else { return };
    let server = start(&kit, Mode::Tls, true).await;
    let settings = with_login(config(&kit, &server, SmtpSecurity::Tls), &kit, "password");
    let route = SmtpRoute::new("relay", &settings).unwrap();
    route
        .send(&mail("zoe@client.example", SUBJECT))
        .await
        .unwrap();
    let mail = the_one_received(&server, "zoe@client.example");
    assert_eq!(mail["tls"], true);
    assert_eq!(mail["authenticated"], true);
}

#[tokio::test]
async fn a_wrong_password_is_permanent_and_never_shown() {
    let Some(kit) = kit() else { return };
    let server = start(&kit, Mode::Starttls, true).await;
    let settings = with_login(
        config(&kit, &server, SmtpSecurity::Starttls),
        &kit,
        "wrong-password",
    );
    let route = SmtpRoute::new("relay", &settings).unwrap();
    let error = route
        .send(&mail("zoe@client.example", SUBJECT))
        .await
        .unwrap_err();
    let ChannelError::Permanent(said) = &error else {
        panic!("a refused login is permanent: {error:?}");
    };
    assert!(said.contains("535"), "{said}");
    for shown in [
        error.to_string(),
        format!("{error:?}"),
        format!("{route:?}"),
    ] {
        assert!(!shown.contains("Tr0ub4dor"), "{shown}");
        assert!(!shown.contains(PASSWORD), "{shown}");
    }
    assert!(server.received().is_empty());
}

#[tokio::test]
async fn starttls_without_our_ca_fails_and_sends_nothing() {
    let Some(kit) = kit() else { return };
    let server = start(&kit, Mode::Starttls, true).await;
    let mut settings = with_login(
        config(&kit, &server, SmtpSecurity::Starttls),
        &kit,
        "password",
    );
    settings.ca_file = None;
    let route = SmtpRoute::new("relay", &settings).unwrap();
    let error = route
        .send(&mail("zoe@client.example", SUBJECT))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ChannelError::Transient(said) if said.contains("UnknownIssuer")),
        "{error:?}"
    );
    assert!(server.received().is_empty());
}

#[tokio::test]
async fn a_relay_without_starttls_is_refused_never_used_in_clear() {
    let Some(kit) = kit() else { return };
    let server = start(&kit, Mode::Plain, false).await;
    let route = SmtpRoute::new("relay", &config(&kit, &server, SmtpSecurity::Starttls)).unwrap();
    let error = route
        .send(&mail("zoe@client.example", SUBJECT))
        .await
        .unwrap_err();
    assert!(matches!(error, ChannelError::Permanent(_)), "{error:?}");
    assert!(server.received().is_empty());
}

#[tokio::test]
async fn line_breaks_in_headers_and_bad_recipients_are_refused_before_the_wire() {
    let Some(kit) = kit() else { return };
    let server = start(&kit, Mode::Plain, false).await;
    let route = SmtpRoute::new("local", &config(&kit, &server, SmtpSecurity::None)).unwrap();
    let refused = [
        mail("zoe@client.example\r\nBcc: eve@evil.example", SUBJECT),
        mail("zoe@client.example\nBcc: eve@evil.example", SUBJECT),
        mail("zoe@client.example", "Hello\r\nBcc: eve@evil.example"),
        mail("Zoé <zoe@client.example>", SUBJECT),
        mail("not an address", SUBJECT),
        mail("", SUBJECT),
    ];
    for outgoing in &refused {
        let error = route.send(outgoing).await.unwrap_err();
        assert!(
            matches!(error, ChannelError::Permanent(_)),
            "{:?}: {error:?}",
            outgoing.to
        );
    }
    assert!(server.received().is_empty());
}

#[tokio::test]
async fn a_5xx_is_permanent_a_4xx_and_a_closed_port_transient() {
    let Some(kit) = kit() else { return };
    let server = start(&kit, Mode::Plain, false).await;
    let route = SmtpRoute::new("local", &config(&kit, &server, SmtpSecurity::None)).unwrap();
    let refused = route.send(&mail("refused@client.example", SUBJECT)).await;
    assert!(
        matches!(&refused, Err(ChannelError::Permanent(said)) if said.contains("550")),
        "{refused:?}"
    );
    let later = route.send(&mail("later@client.example", SUBJECT)).await;
    assert!(
        matches!(&later, Err(ChannelError::Transient(said)) if said.contains("451")),
        "{later:?}"
    );
    assert!(server.received().is_empty());

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut settings = config(&kit, &server, SmtpSecurity::None);
    settings.port = Some(closed.local_addr().unwrap().port());
    drop(closed);
    let route = SmtpRoute::new("gone", &settings).unwrap();
    let gone = route.send(&mail("zoe@client.example", SUBJECT)).await;
    assert!(matches!(gone, Err(ChannelError::Transient(_))), "{gone:?}");
}

/// Makes a key with openssl and publishes its DKIM record where the server looks.
fn dkim_key(kit: &(TempDir, PathBuf), selector: &str, generate: &[&str]) -> SecretSource {
    let dir = kit.0.path();
    let key = format!("{selector}.pem");
    let mut args = generate.to_vec();
    args.extend(["-out", &key]);
    openssl(&args, dir);
    let der = format!("{selector}.der");
    openssl(
        &[
            "pkey", "-in", &key, "-pubout", "-outform", "DER", "-out", &der,
        ],
        dir,
    );
    let der = std::fs::read(dir.join(der)).unwrap();
    let (kind, public) = if generate.contains(&"ed25519") {
        ("ed25519", der[der.len() - 32..].to_vec())
    } else {
        ("rsa", der)
    };
    let record = format!(
        "v=DKIM1; k={kind}; p={}",
        base64::engine::general_purpose::STANDARD.encode(public)
    );
    let dns = dir.join("dkim-dns.json");
    let mut records: serde_json::Map<String, Value> = std::fs::read_to_string(&dns)
        .map(|text| serde_json::from_str(&text).unwrap())
        .unwrap_or_default();
    records.insert(format!("{selector}._domainkey.bank.example"), record.into());
    std::fs::write(&dns, serde_json::to_string(&records).unwrap()).unwrap();
    SecretSource {
        file: Some(dir.join(key)),
        env: None,
    }
}

#[tokio::test]
async fn dkim_signatures_with_rsa_and_ed25519_keys_verify() {
    let Some(kit) = kit() else { return };
    let keys = [
        (
            "rsa8",
            dkim_key(
                &kit,
                "rsa8",
                &[
                    "genpkey",
                    "-algorithm",
                    "RSA",
                    "-pkeyopt",
                    "rsa_keygen_bits:2048",
                ],
            ),
        ),
        ("rsa1", dkim_key(&kit, "rsa1", &["genrsa", "-traditional"])),
        (
            "ed",
            dkim_key(&kit, "ed", &["genpkey", "-algorithm", "ed25519"]),
        ),
    ];
    let server = start(&kit, Mode::Plain, false).await;
    for (selector, key) in keys {
        let mut settings = config(&kit, &server, SmtpSecurity::None);
        settings.dkim = Some(DkimSettings {
            selector: selector.into(),
            domain: "bank.example".into(),
            private_key: key,
        });
        if selector == "rsa1" {
            settings.reply_to = Some(NamedAddress {
                name: Some("Service client".into()),
                address: "help@bank.example".into(),
            });
        }
        let route = SmtpRoute::new("signed", &settings).unwrap();
        route
            .send(&mail("zoe@client.example", SUBJECT))
            .await
            .unwrap();
    }
    let received = server.received();
    assert_eq!(received.len(), 3);
    for (mail, selector) in received.iter().zip(["rsa8", "rsa1", "ed"]) {
        let signature = header(mail, "DKIM-Signature");
        assert_eq!(signature.len(), 1, "{selector}");
        assert!(
            signature[0].contains(&format!("s={selector}")),
            "{}",
            signature[0]
        );
        assert_eq!(mail["dkim_verified"], true, "{selector}: {}", mail["raw"]);
    }
    // A signature made with another key does not verify: the check can fail.
    let mut settings = config(&kit, &server, SmtpSecurity::None);
    let other = dkim_key(&kit, "other", &["genpkey", "-algorithm", "ed25519"]);
    settings.dkim = Some(DkimSettings {
        selector: "ed".into(),
        domain: "bank.example".into(),
        private_key: other,
    });
    let route = SmtpRoute::new("signed", &settings).unwrap();
    route
        .send(&mail("zoe@client.example", SUBJECT))
        .await
        .unwrap();
    assert_eq!(server.received()[3]["dkim_verified"], false);
}

#[tokio::test]
async fn the_templates_go_out_through_a_route() {
    let Some(kit) = kit() else { return };
    let server = start(&kit, Mode::Plain, false).await;
    let route = SmtpRoute::new("local-relay", &config(&kit, &server, SmtpSecurity::None)).unwrap();
    // 2026-12-06T17:26:00Z
    let test = templates::channel_test("Banque Exemple", route.name(), 1_796_577_960).unwrap();
    let outgoing = OutgoingEmail {
        message_id: 7,
        to: "operator@bank.example",
        subject: &test.subject,
        text: &test.text,
        html: Some(&test.html),
    };
    route.send(&outgoing).await.unwrap();
    let mut received = server.received();
    let mail = received.remove(0);
    assert_eq!(
        header(&mail, "Subject"),
        ["Banque Exemple: test message from route local-relay"]
    );
    let text = mail["parts"][0]["content"].as_str().unwrap();
    assert!(
        text.contains("\"local-relay\" at 6 December 2026 at 17:26 UTC"),
        "{text}"
    );
}

#[test]
fn start_refuses_what_cannot_work() {
    let base = SmtpConfig {
        host: "mail.bank.example".into(),
        port: None,
        security: SmtpSecurity::Starttls,
        username: None,
        password: None,
        ca_file: None,
        from: NamedAddress {
            name: None,
            address: "alerts@bank.example".into(),
        },
        reply_to: None,
        timeout_s: 30,
        max_in_flight: None,
        dkim: None,
    };
    let route = SmtpRoute::new("relay", &base).unwrap();
    assert_eq!(route.max_in_flight(), 4);
    assert_eq!(
        route.describe(),
        "smtp mail.bank.example:587 (STARTTLS), from alerts@bank.example"
    );
    let refused = |change: &dyn Fn(&mut SmtpConfig), expected: &str| {
        let mut config = base.clone();
        change(&mut config);
        let error = SmtpRoute::new("relay", &config).unwrap_err();
        assert_eq!(error.route, "relay");
        assert!(error.problem.contains(expected), "{expected}: {error}");
    };
    refused(&|c| c.security = SmtpSecurity::None, "clear text");
    refused(
        &|c| {
            c.username = Some("u".into());
            c.password = Some(SecretSource {
                file: None,
                env: Some("SCEAU_TEST_SMTP_PASSWORD_NEVER_SET".into()),
            })
        },
        "password",
    );
    refused(
        &|c| c.ca_file = Some("/nonexistent/ca.pem".into()),
        "ca_file",
    );
    refused(&|c| c.max_in_flight = Some(0), "max_in_flight");
    refused(&|c| c.max_in_flight = Some(257), "max_in_flight");
    refused(
        &|c| c.from.address = "alerts@bank.example\r\nBcc: x@y".into(),
        "line break",
    );
    refused(
        &|c| {
            c.dkim = Some(DkimSettings {
                selector: "s".into(),
                domain: "bank.example".into(),
                private_key: SecretSource {
                    file: Some("/nonexistent/dkim.pem".into()),
                    env: None,
                },
            })
        },
        "dkim.private_key",
    );
}
