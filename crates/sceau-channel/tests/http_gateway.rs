//! The HTTP gateway route against a real HTTP server on the loopback, started here: it
//! records each request and answers as the test tells it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use sceau_channel::config::{SmsRouteConfig, open_sms_routes};
use sceau_channel::http_gateway::callback::{
    sceau_signature, sceau_signature_check, twilio_signature, twilio_signature_matches,
    vonage_signature, vonage_signature_matches,
};
use sceau_channel::http_gateway::config::VonageSignatureMethod;
use sceau_channel::http_gateway::{
    CallbackRefusal, CallbackRequest, HttpGateway, HttpGatewayConfig,
};
use sceau_channel::routes::{Outcome, Route, Routes};
use sceau_channel::{ChannelError, OutgoingText, ReportOutcome, SecondChannel};
use sceau_domain::PhoneNumber;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const NOW_S: i64 = 1_800_000_000;
const SECRET: &str = "TOPSECRET-7f3a";
const TEXT: &str = "Pay 12.50 & \"more\" = ok\nline 2 € 🙂 seal 48291735";

#[derive(Debug, Clone)]
struct Recorded {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

impl Recorded {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    }

    fn form(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(&self.body)
            .into_owned()
            .collect()
    }

    fn field(&self, name: &str) -> String {
        let found = self.form().into_iter().find(|(field, _)| field == name);
        found.map(|(_, value)| value).unwrap_or_default()
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

enum Answer {
    Reply(u16, &'static str, Vec<(&'static str, &'static str)>),
    Hang,
}

#[derive(Default)]
struct Provider {
    answers: Mutex<VecDeque<Answer>>,
    requests: Mutex<Vec<Recorded>>,
}

struct Server {
    base: String,
    provider: Arc<Provider>,
}

impl Server {
    async fn start() -> Server {
        let provider = Arc::new(Provider::default());
        let shared = provider.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let provider = shared.clone();
                async move { answer(&provider, method, uri, headers, body).await }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Server { base, provider }
    }

    fn answer(&self, answer: Answer) {
        self.provider.answers.lock().unwrap().push_back(answer);
    }

    fn requests(&self) -> Vec<Recorded> {
        self.provider.requests.lock().unwrap().clone()
    }

    fn last(&self) -> Recorded {
        self.requests().pop().expect("the provider got a request")
    }
}

async fn answer(
    provider: &Provider,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, HeaderMap, String) {
    let recorded = Recorded {
        method,
        uri,
        headers,
        body,
    };
    provider.requests.lock().unwrap().push(recorded);
    let next = provider.answers.lock().unwrap().pop_front();
    match next {
        Some(Answer::Reply(status, body, headers)) => {
            let mut map = HeaderMap::new();
            for (name, value) in headers {
                map.insert(name, value.parse().unwrap());
            }
            (StatusCode::from_u16(status).unwrap(), map, body.to_owned())
        }
        Some(Answer::Hang) => std::future::pending().await,
        None => (StatusCode::OK, HeaderMap::new(), String::new()),
    }
}

/// A secret file, and the TOML naming it.
struct Secrets {
    dir: tempfile::TempDir,
}

impl Secrets {
    fn new() -> Secrets {
        Secrets {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn file(&self, name: &str, value: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, format!("{value}\n")).unwrap();
        format!("{{ file = {:?} }}", path.display().to_string())
    }
}

fn gateway(toml_text: &str) -> HttpGateway {
    let config: HttpGatewayConfig = toml::from_str(toml_text).unwrap();
    HttpGateway::new("test", &config)
        .unwrap()
        .with_clock(Arc::new(|| NOW_S))
}

fn phone() -> PhoneNumber {
    "+33612345678".parse().unwrap()
}

async fn send(gateway: &HttpGateway, text: &str) -> Result<Vec<String>, ChannelError> {
    let to = phone();
    let outgoing = OutgoingText {
        message_id: 42,
        to: &to,
        text,
        expires_at_s: NOW_S + 300,
    };
    gateway.send(&outgoing).await.map(|accepted| accepted.parts)
}

#[tokio::test]
async fn a_form_body_carries_every_character_and_basic_credentials() {
    let server = Server::start().await;
    let secrets = Secrets::new();
    let route = gateway(&format!(
        r#"
        url = "{}/send/{{to}}?ref={{message_id}}"
        body = "form"
        fields = {{ to = "{{to}}", digits = "{{to_digits}}", text = "{{text}}", life = "{{valid_for_s}}" }}
        auth = {{ kind = "basic", user = "shop", secret = {} }}
        provider_id = {{ header = "X-Message-Id" }}
        "#,
        server.base,
        secrets.file("token", SECRET)
    ));
    server.answer(Answer::Reply(200, "queued", vec![("X-Message-Id", "p-77")]));
    assert_eq!(send(&route, TEXT).await.unwrap(), ["p-77"]);
    let request = server.last();
    assert_eq!(request.method, Method::POST);
    assert_eq!(request.uri.path(), "/send/%2B33612345678");
    assert_eq!(request.uri.query(), Some("ref=42"));
    assert_eq!(
        request.header("content-type"),
        "application/x-www-form-urlencoded"
    );
    assert_eq!(request.field("text"), TEXT);
    assert_eq!(request.field("to"), "+33612345678");
    assert_eq!(request.field("digits"), "33612345678");
    assert_eq!(request.field("life"), "300");
    assert_eq!(
        request.form().len(),
        4,
        "no field is split by the text's & or ="
    );
    let basic = format!("shop:{SECRET}");
    let encoded = base64_encode(basic.as_bytes());
    assert_eq!(request.header("authorization"), format!("Basic {encoded}"));
}

#[tokio::test]
async fn a_json_body_holds_the_text_as_a_json_string_and_bearer_credentials() {
    let server = Server::start().await;
    let secrets = Secrets::new();
    let route = gateway(&format!(
        r#"
        url = "{}/v1/sms"
        body = "json"
        headers = {{ "X-Reference" = "m-{{message_id}}" }}
        auth = {{ kind = "bearer", secret = {} }}
        provider_id = {{ json_pointer = "/data/id" }}
        [fields]
        message = {{ to = ["{{to}}"], text = "{{text}}", ttl = "{{valid_for_ms}}", note = "ttl {{valid_for_s}} s", priority = 1 }}
        "#,
        server.base,
        secrets.file("token", SECRET)
    ));
    server.answer(Answer::Reply(201, r#"{"data":{"id":"j-9"}}"#, vec![]));
    assert_eq!(send(&route, TEXT).await.unwrap(), ["j-9"]);
    let request = server.last();
    assert_eq!(request.header("content-type"), "application/json");
    assert_eq!(request.header("authorization"), format!("Bearer {SECRET}"));
    assert_eq!(request.header("x-reference"), "m-42");
    let json = request.json();
    assert_eq!(json["message"]["text"], TEXT);
    assert_eq!(json["message"]["to"][0], "+33612345678");
    assert_eq!(
        json["message"]["ttl"], 300_000,
        "a lone number placeholder is a number"
    );
    assert_eq!(json["message"]["note"], "ttl 300 s");
    assert_eq!(json["message"]["priority"], 1);
}

#[tokio::test]
async fn a_query_request_encodes_each_value_and_places_the_secret_field() {
    let server = Server::start().await;
    let secrets = Secrets::new();
    let route = gateway(&format!(
        r#"
        method = "GET"
        url = "{}/api"
        body = "query"
        fields = {{ to = "{{to}}", msg = "{{text}}" }}
        auth = {{ kind = "field", name = "key", secret = {} }}
        success = {{ body_contains = "OK" }}
        "#,
        server.base,
        secrets.file("key", SECRET)
    ));
    server.answer(Answer::Reply(200, "OK", vec![]));
    assert_eq!(
        send(&route, TEXT).await.unwrap(),
        ["42"],
        "no id named: ours stands"
    );
    let request = server.last();
    assert_eq!(request.method, Method::GET);
    let mut query: Vec<(String, String)> =
        url::form_urlencoded::parse(request.uri.query().unwrap().as_bytes())
            .into_owned()
            .collect();
    query.sort();
    let expected = [("key", SECRET), ("msg", TEXT), ("to", "+33612345678")];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(query, expected);
    assert!(request.body.is_empty());
}

#[tokio::test]
async fn a_200_with_a_failure_body_is_not_sent_and_busy_answers_are_transient() {
    let server = Server::start().await;
    let route = gateway(&format!(
        r#"
        url = "{}/send"
        body = "json"
        fields = {{ to = "{{to}}", text = "{{text}}" }}
        success = {{ json_pointer = "/ok", json_equals = "true", body_lacks = "ERROR" }}
        "#,
        server.base
    ));
    server.answer(Answer::Reply(
        200,
        r#"{"ok":false,"reason":"no credit"}"#,
        vec![],
    ));
    assert!(matches!(
        send(&route, "a").await,
        Err(ChannelError::Permanent(_))
    ));
    server.answer(Answer::Reply(
        200,
        r#"{"ok":true,"warning":"ERROR"}"#,
        vec![],
    ));
    assert!(matches!(
        send(&route, "a").await,
        Err(ChannelError::Permanent(_))
    ));
    for status in [429, 503] {
        server.answer(Answer::Reply(status, "", vec![]));
        assert!(
            matches!(send(&route, "a").await, Err(ChannelError::Transient(_))),
            "{status}"
        );
    }
    server.answer(Answer::Reply(400, r#"{"ok":false}"#, vec![]));
    assert!(matches!(
        send(&route, "a").await,
        Err(ChannelError::Permanent(_))
    ));
    server.answer(Answer::Reply(200, r#"{"ok":true}"#, vec![]));
    assert_eq!(send(&route, "a").await.unwrap(), ["42"]);
}

#[tokio::test]
async fn a_provider_that_never_answers_is_transient_and_an_expired_text_is_never_sent() {
    let server = Server::start().await;
    let route = gateway(&format!(
        "url = \"{}/slow\"\ntimeout_ms = 200\nbody = \"form\"\nfields = {{ t = \"{{text}}\" }}",
        server.base
    ));
    server.answer(Answer::Hang);
    assert!(matches!(
        send(&route, "a").await,
        Err(ChannelError::Transient(_))
    ));
    let to = phone();
    let late = OutgoingText {
        message_id: 43,
        to: &to,
        text: "late",
        expires_at_s: NOW_S,
    };
    assert!(matches!(
        route.send(&late).await,
        Err(ChannelError::Expired)
    ));
    assert_eq!(
        server.requests().len(),
        1,
        "the expired text made no request"
    );
    let closed = gateway("url = \"http://127.0.0.1:1/x\"");
    assert!(matches!(
        send(&closed, "a").await,
        Err(ChannelError::Transient(_))
    ));
}

#[tokio::test]
async fn the_twilio_preset_posts_the_messages_api_form() {
    let server = Server::start().await;
    let secrets = Secrets::new();
    let route = gateway(&format!(
        r#"
        preset = "twilio"
        base_url = "{}"
        account = "AC0123456789abcdef"
        secret = {}
        from = "+15005550006"
        [callback]
        url = "https://sceau.example/channel/twilio/status"
        "#,
        server.base,
        secrets.file("token", SECRET)
    ));
    server.answer(Answer::Reply(
        201,
        r#"{"sid":"SM0001","status":"queued"}"#,
        vec![],
    ));
    assert_eq!(send(&route, TEXT).await.unwrap(), ["SM0001"]);
    let request = server.last();
    assert_eq!(
        request.uri.path(),
        "/2010-04-01/Accounts/AC0123456789abcdef/Messages.json"
    );
    assert_eq!(request.field("To"), "+33612345678");
    assert_eq!(request.field("From"), "+15005550006");
    assert_eq!(request.field("Body"), TEXT);
    assert_eq!(request.field("ValidityPeriod"), "300");
    assert_eq!(
        request.field("StatusCallback"),
        "https://sceau.example/channel/twilio/status"
    );
    let basic = base64_encode(format!("AC0123456789abcdef:{SECRET}").as_bytes());
    assert_eq!(request.header("authorization"), format!("Basic {basic}"));
    server.answer(Answer::Reply(
        400,
        r#"{"code":21211,"message":"Invalid 'To'"}"#,
        vec![],
    ));
    assert!(matches!(
        send(&route, "a").await,
        Err(ChannelError::Permanent(_))
    ));
}

#[tokio::test]
async fn the_twilio_voice_preset_reads_the_text_twice_digit_by_digit() {
    let server = Server::start().await;
    let secrets = Secrets::new();
    let route = gateway(&format!(
        r#"
        preset = "twilio-voice"
        base_url = "{}"
        account = "AC01"
        secret = {}
        from = "+15005550006"
        voice_language = "fr-FR"
        "#,
        server.base,
        secrets.file("token", SECRET)
    ));
    server.answer(Answer::Reply(201, r#"{"sid":"CA0001"}"#, vec![]));
    assert_eq!(
        send(&route, "Sceau <Shop & Co>: 48291735").await.unwrap(),
        ["CA0001"]
    );
    let request = server.last();
    assert_eq!(request.uri.path(), "/2010-04-01/Accounts/AC01/Calls.json");
    let say = "<Say language=\"fr-FR\">Sceau &lt;Shop &amp; Co&gt;: 4, 8, 2, 9, 1, 7, 3, 5</Say>";
    assert_eq!(
        request.field("Twiml"),
        format!("<Response>{say}<Pause length=\"1\"/>{say}</Response>")
    );
    assert_eq!(request.field("From"), "+15005550006");
}

#[tokio::test]
async fn the_vonage_preset_judges_the_status_inside_a_200() {
    let server = Server::start().await;
    let secrets = Secrets::new();
    let route = gateway(&format!(
        r#"
        preset = "vonage"
        base_url = "{}"
        account = "abcd1234"
        secret = {}
        from = "Sceau"
        [callback]
        url = "https://sceau.example/channel/vonage/status"
        secret = {}
        signature_method = "sha256"
        "#,
        server.base,
        secrets.file("api", SECRET),
        secrets.file("signature", "signing-key")
    ));
    let two_parts = r#"{"message-count":"2","messages":[{"status":"0","message-id":"0A01"},{"status":"0","message-id":"0A02"}]}"#;
    server.answer(Answer::Reply(200, two_parts, vec![]));
    assert_eq!(send(&route, TEXT).await.unwrap(), ["0A01", "0A02"]);
    let json = server.last().json();
    assert_eq!(server.last().uri.path(), "/sms/json");
    assert_eq!(json["api_key"], "abcd1234");
    assert_eq!(json["api_secret"], SECRET);
    assert_eq!(json["to"], "33612345678");
    assert_eq!(json["from"], "Sceau");
    assert_eq!(json["text"], TEXT);
    assert_eq!(json["type"], "unicode");
    assert_eq!(json["ttl"], 300_000);
    assert_eq!(json["client-ref"], "42");
    assert_eq!(
        json["callback"],
        "https://sceau.example/channel/vonage/status"
    );
    let refused =
        r#"{"message-count":"1","messages":[{"status":"4","error-text":"Bad Credentials"}]}"#;
    server.answer(Answer::Reply(200, refused, vec![]));
    assert!(matches!(
        send(&route, "a").await,
        Err(ChannelError::Permanent(_))
    ));
    let throttled = r#"{"message-count":"1","messages":[{"status":"1","error-text":"Throttled"}]}"#;
    server.answer(Answer::Reply(200, throttled, vec![]));
    assert!(matches!(
        send(&route, "a").await,
        Err(ChannelError::Transient(_))
    ));
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn twilio_signatures_match_twilio_s_published_example_and_a_forgery_does_not() {
    let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
    let params: Vec<(String, String)> = [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+12349013030"),
        ("Digits", "1234"),
        ("From", "+12349013030"),
        ("To", "+18005551212"),
    ]
    .iter()
    .map(|(name, value)| (name.to_string(), value.to_string()))
    .collect();
    assert_eq!(
        twilio_signature("12345", url, &params),
        "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    );
    assert!(twilio_signature_matches(
        "12345",
        url,
        &params,
        "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    ));
    let mut forged = params.clone();
    forged[2].1 = "9999".into();
    assert!(!twilio_signature_matches(
        "12345",
        url,
        &forged,
        "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    ));
    assert!(!twilio_signature_matches("12345", url, &params, ""));
    assert!(!twilio_signature_matches(
        "54321",
        url,
        &params,
        "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    ));
}

#[test]
fn vonage_signatures_match_vonage_s_own_test_vectors() {
    let params: Vec<(String, String)> = [
        ("message-timestamp", "2013-11-21 15:27:30"),
        ("messageId", "020000001B0FE827"),
        ("msisdn", "14843472194"),
        ("text", "Test again"),
        ("timestamp", "1385047698"),
        ("to", "13239877404"),
        ("type", "text"),
    ]
    .iter()
    .map(|(name, value)| (name.to_string(), value.to_string()))
    .collect();
    let secret = "my_secret_key_for_testing";
    let vectors = [
        (
            VonageSignatureMethod::Md5hash,
            "d2e7b1dc968737c5998ad624e02f90b7",
        ),
        (
            VonageSignatureMethod::Md5,
            "DDEBD46008C2D4E93CCE578A332A52D5",
        ),
        (
            VonageSignatureMethod::Sha1,
            "27D0D05C2876C7CB1720DBCDBA4D492E1E55C09A",
        ),
        (
            VonageSignatureMethod::Sha256,
            "DDB8397C2B90AAC7F3882D306475C9A5058C92322EEF43C92B298B6E0FC0D330",
        ),
        (
            VonageSignatureMethod::Sha512,
            "E0D3C650F8C9D1A5C174D10DDDBFB003E561F59B265616208B0487C5D819481CD3C311D59CF6165ECD1139622D5BA3A256C0D763AC4A9AD9144B5A426B94FE82",
        ),
    ];
    for (method, expected) in vectors {
        assert_eq!(
            vonage_signature(secret, method, &params),
            expected,
            "{method:?}"
        );
        assert!(vonage_signature_matches(
            secret,
            method,
            &params,
            &expected.to_lowercase()
        ));
        assert!(!vonage_signature_matches(
            "other", method, &params, expected
        ));
    }
    let mut with_sig = params.clone();
    with_sig.push(("sig".into(), "ignored".into()));
    assert_eq!(
        vonage_signature(secret, VonageSignatureMethod::Md5hash, &with_sig),
        "d2e7b1dc968737c5998ad624e02f90b7",
        "sig itself is not signed"
    );
}

#[test]
fn sceau_signatures_hold_within_the_tolerance_only() {
    let body = br#"{"id":"m-1","state":"DELIVERED"}"#;
    let header = sceau_signature("k", NOW_S, body);
    assert!(header.starts_with(&format!("t={NOW_S},v1=")));
    assert_eq!(
        sceau_signature_check("k", &header, body, NOW_S + 299, 300),
        Ok(())
    );
    assert_eq!(
        sceau_signature_check("k", &header, body, NOW_S + 301, 300),
        Err(CallbackRefusal::Stale)
    );
    assert_eq!(
        sceau_signature_check("k", &header, b"{}", NOW_S, 300),
        Err(CallbackRefusal::BadSignature)
    );
    assert_eq!(
        sceau_signature_check("other", &header, body, NOW_S, 300),
        Err(CallbackRefusal::BadSignature)
    );
    let rotated = format!("t={NOW_S},v1=00,{}", header.split(',').nth(1).unwrap());
    assert_eq!(
        sceau_signature_check("k", &rotated, body, NOW_S, 300),
        Ok(())
    );
}

fn request(url: &str, headers: Vec<(&str, String)>, body: &[u8], now_s: i64) -> CallbackRequest {
    CallbackRequest {
        url: url.into(),
        headers: headers
            .into_iter()
            .map(|(name, value)| (name.into(), value))
            .collect(),
        body: body.to_vec(),
        now_s,
    }
}

#[test]
fn twilio_callbacks_are_checked_then_read() {
    let secrets = Secrets::new();
    let route = gateway(&format!(
        r#"
        preset = "twilio"
        account = "AC01"
        secret = {}
        messaging_service = "MG01"
        [callback]
        url = "https://sceau.example/channel/twilio/status"
        "#,
        secrets.file("token", SECRET)
    ));
    let url = "https://sceau.example/channel/twilio/status";
    let body = b"MessageSid=SM0001&MessageStatus=delivered&To=%2B33612345678";
    let params: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
    let signature = twilio_signature(SECRET, url, &params);
    let signed = request(
        url,
        vec![("X-Twilio-Signature", signature.clone())],
        body,
        NOW_S,
    );
    let reports = route.check_callback(&signed).unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].route, "test");
    assert_eq!(reports[0].provider_id, "SM0001");
    assert_eq!(reports[0].outcome, ReportOutcome::Delivered);
    let forged = b"MessageSid=SM0002&MessageStatus=delivered&To=%2B33612345678";
    let forged = request(url, vec![("X-Twilio-Signature", signature)], forged, NOW_S);
    assert_eq!(
        route.check_callback(&forged),
        Err(CallbackRefusal::BadSignature)
    );
    let unsigned = request(url, vec![], body, NOW_S);
    assert_eq!(
        route.check_callback(&unsigned),
        Err(CallbackRefusal::BadSignature)
    );
    let undelivered = b"MessageSid=SM0003&MessageStatus=undelivered";
    let params: Vec<(String, String)> = url::form_urlencoded::parse(undelivered)
        .into_owned()
        .collect();
    let signature = twilio_signature(SECRET, url, &params);
    let failed = request(
        url,
        vec![("x-twilio-signature", signature)],
        undelivered,
        NOW_S,
    );
    assert_eq!(
        route.check_callback(&failed).unwrap()[0].outcome,
        ReportOutcome::Failed
    );
}

#[test]
fn vonage_callbacks_are_checked_then_read_from_the_query_or_the_body() {
    let secrets = Secrets::new();
    let route = gateway(&format!(
        r#"
        preset = "vonage"
        account = "abcd1234"
        secret = {}
        from = "Sceau"
        [callback]
        url = "https://sceau.example/channel/vonage/status"
        secret = {}
        signature_method = "sha256"
        "#,
        secrets.file("api", SECRET),
        secrets.file("signature", "signing-key")
    ));
    let mut params: Vec<(String, String)> = [
        ("messageId", "0A01"),
        ("msisdn", "33612345678"),
        ("status", "delivered"),
        ("err-code", "0"),
        ("timestamp", &NOW_S.to_string()),
        ("nonce", "5f1c"),
    ]
    .iter()
    .map(|(name, value)| (name.to_string(), value.to_string()))
    .collect();
    let sig = vonage_signature("signing-key", VonageSignatureMethod::Sha256, &params);
    params.push(("sig".into(), sig));
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&params)
        .finish();
    let url = format!("https://sceau.example/channel/vonage/status?{query}");
    let reports = route
        .check_callback(&request(&url, vec![], b"", NOW_S + 10))
        .unwrap();
    assert_eq!(
        (reports[0].provider_id.as_str(), reports[0].outcome),
        ("0A01", ReportOutcome::Delivered)
    );
    assert_eq!(
        route.check_callback(&request(&url, vec![], b"", NOW_S + 1000)),
        Err(CallbackRefusal::Stale)
    );
    let json: serde_json::Map<String, serde_json::Value> = params
        .iter()
        .map(|(name, value)| (name.clone(), serde_json::Value::String(value.clone())))
        .collect();
    let body = serde_json::to_vec(&json).unwrap();
    let json_type = vec![("Content-Type", "application/json".to_owned())];
    let posted = request(
        "https://sceau.example/channel/vonage/status",
        json_type.clone(),
        &body,
        NOW_S,
    );
    assert_eq!(
        route.check_callback(&posted).unwrap()[0].provider_id,
        "0A01"
    );
    let tampered = String::from_utf8(body)
        .unwrap()
        .replace("delivered", "failed");
    let tampered = request(
        "https://sceau.example/channel/vonage/status",
        json_type,
        tampered.as_bytes(),
        NOW_S,
    );
    assert_eq!(
        route.check_callback(&tampered),
        Err(CallbackRefusal::BadSignature)
    );
}

#[test]
fn generic_callbacks_carry_sceau_s_signature_and_configured_fields() {
    let secrets = Secrets::new();
    let route = gateway(&format!(
        r#"
        url = "https://sms.example/send"
        body = "json"
        fields = {{ to = "{{to}}", text = "{{text}}", callback = "{{callback_url}}" }}
        [callback]
        url = "https://sceau.example/channel/generic/status"
        signature = "sceau"
        secret = {}
        id_field = "/report/id"
        status_field = "/report/state"
        delivered = ["DELIVRD"]
        failed = ["UNDELIV", "REJECTD"]
        "#,
        secrets.file("callback", "callback-key")
    ));
    let url = "https://sceau.example/channel/generic/status";
    let check = |body: &str, signed_at: i64, now_s: i64| {
        let header = sceau_signature("callback-key", signed_at, body.as_bytes());
        let headers = vec![
            ("X-Sceau-Signature", header),
            ("Content-Type", "application/json".into()),
        ];
        route.check_callback(&request(url, headers, body.as_bytes(), now_s))
    };
    let delivered = r#"{"report":{"id":"g-1","state":"delivrd"}}"#;
    let reports = check(delivered, NOW_S, NOW_S + 5).unwrap();
    assert_eq!(
        (reports[0].provider_id.as_str(), reports[0].outcome),
        ("g-1", ReportOutcome::Delivered)
    );
    let rejected = r#"{"report":{"id":"g-2","state":"REJECTD"}}"#;
    assert_eq!(
        check(rejected, NOW_S, NOW_S).unwrap()[0].outcome,
        ReportOutcome::Failed
    );
    let enroute = r#"{"report":{"id":"g-3","state":"ENROUTE"}}"#;
    assert_eq!(
        check(enroute, NOW_S, NOW_S).unwrap()[0].outcome,
        ReportOutcome::Pending
    );
    assert_eq!(
        check(delivered, NOW_S - 600, NOW_S),
        Err(CallbackRefusal::Stale)
    );
    assert_eq!(
        check(r#"{"report":{"state":"DELIVRD"}}"#, NOW_S, NOW_S),
        Err(CallbackRefusal::Malformed("no message id"))
    );
    let no_callbacks = gateway("url = \"https://sms.example/send\"");
    let any = request(url, vec![], b"", NOW_S);
    assert_eq!(
        no_callbacks.check_callback(&any),
        Err(CallbackRefusal::NotConfigured)
    );
}

#[tokio::test]
async fn secrets_never_appear_in_a_debug_print_or_an_error() {
    let server = Server::start().await;
    let secrets = Secrets::new();
    let toml_text = format!(
        r#"
        url = "{}/api"
        body = "query"
        fields = {{ to = "{{to}}" }}
        auth = {{ kind = "field", name = "key", secret = {} }}
        success = {{ json_pointer = "/status", json_equals = "0" }}
        "#,
        server.base,
        secrets.file("key", SECRET)
    );
    let config: HttpGatewayConfig = toml::from_str(&toml_text).unwrap();
    let route = gateway(&toml_text);
    let mut printed = vec![format!("{config:?}"), format!("{route:?}")];
    server.answer(Answer::Reply(200, r#"{"status":"TOPSECRET-7f3a"}"#, vec![]));
    printed.push(send(&route, "a").await.unwrap_err().to_string());
    server.answer(Answer::Reply(401, SECRET, vec![]));
    printed.push(send(&route, "a").await.unwrap_err().to_string());
    server.answer(Answer::Hang);
    let impatient = gateway(&format!("{toml_text}\ntimeout_ms = 100"));
    printed.push(send(&impatient, "a").await.unwrap_err().to_string());
    let missing = toml_text.replace("/key", "/missing");
    let config: HttpGatewayConfig = toml::from_str(&missing).unwrap();
    printed.push(HttpGateway::new("test", &config).unwrap_err().to_string());
    for text in printed {
        assert!(!text.contains(SECRET), "{text}");
    }
    assert_eq!(
        server.requests()[0].uri.query().map(|q| q.contains(SECRET)),
        Some(true)
    );
}

#[test]
fn configurations_are_checked_at_start() {
    let refused = |text: &str| -> String {
        match toml::from_str::<HttpGatewayConfig>(text) {
            Err(error) => error.to_string(),
            Ok(config) => HttpGateway::new("r", &config).unwrap_err().to_string(),
        }
    };
    assert!(refused("url = \"https://a.example\"\nsurprise = 1").contains("surprise"));
    assert!(refused("url = \"http://sms.example/send\"").contains("https://"));
    assert!(refused("url = \"https://a.example/{secret}\"").contains("unknown placeholder"));
    assert!(refused("url = \"https://a.example/{from}\"").contains("from"));
    assert!(refused("preset = \"twilio\"\nurl = \"https://a.example\"").contains("preset"));
    // A preset says whether it places calls: `call` on one would make an SMS route pass
    // for a calling one (or the reverse).
    for preset in ["twilio", "vonage", "twilio-voice"] {
        let text = format!(
            "preset = \"{preset}\"\naccount = \"AC1\"\nsecret = {{ env = \"X\" }}\nfrom = \"+15005550006\"\ncall = true"
        );
        assert!(refused(&text).contains("call"), "{preset}");
    }
    assert!(
        refused("preset = \"twilio\"\naccount = \"AC1\"\nsecret = { env = \"X\" }")
            .contains("route r")
    );
    let auth = "url = \"https://a.example\"\nauth = { kind = \"bearer\", secret = { env = \"X\" }, extra = 1 }";
    assert!(refused(auth).contains("extra"));
    let id = "url = \"https://a.example\"\nprovider_id = { json_pointer = \"/a\", header = \"b\" }";
    assert!(refused(id).contains("exactly one"));
    for max in [0, 257] {
        let bound = format!("url = \"https://a.example\"\nmax_in_flight = {max}");
        assert!(refused(&bound).contains("max_in_flight lies between 1 and 256"));
    }
    let route = gateway("url = \"https://a.example\"");
    assert_eq!(route.max_in_flight(), 8);
    let route = gateway("url = \"https://a.example\"\nmax_in_flight = 256\ntimeout_ms = 2500");
    assert_eq!(route.max_in_flight(), 256);
    assert_eq!(route.timeout(), std::time::Duration::from_millis(2500));
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A provider that holds every request until the test releases it, and counts how many it
/// holds at once.
struct Holding {
    inside: AtomicUsize,
    inside_max: AtomicUsize,
    answered: AtomicUsize,
    ids: Mutex<Vec<String>>,
    release: tokio::sync::Semaphore,
}

impl Holding {
    fn new() -> Holding {
        Holding {
            inside: AtomicUsize::new(0),
            inside_max: AtomicUsize::new(0),
            answered: AtomicUsize::new(0),
            ids: Mutex::new(Vec::new()),
            release: tokio::sync::Semaphore::new(0),
        }
    }

    /// The provider, and its address.
    async fn start() -> (Arc<Holding>, String) {
        let holding = Arc::new(Holding::new());
        let shared = holding.clone();
        let app = axum::Router::new().fallback(move |body: Bytes| {
            let holding = shared.clone();
            async move { holding.hold(body).await }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (holding, base)
    }

    async fn hold(&self, body: Bytes) -> &'static str {
        let inside = self.inside.fetch_add(1, Ordering::SeqCst) + 1;
        self.inside_max.fetch_max(inside, Ordering::SeqCst);
        let id = url::form_urlencoded::parse(&body)
            .find(|(field, _)| field == "id")
            .map(|(_, id)| id.into_owned());
        self.ids.lock().unwrap().extend(id);
        self.release.acquire().await.unwrap().forget();
        self.inside.fetch_sub(1, Ordering::SeqCst);
        self.answered.fetch_add(1, Ordering::SeqCst);
        "queued"
    }

    fn inside(&self) -> usize {
        self.inside.load(Ordering::SeqCst)
    }
}

/// Waits until `done` holds (checked again and again; the limit only stops a test gone
/// wrong).
async fn wait_until(what: &str, done: impl Fn() -> bool) {
    let limit = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while !done() {
        assert!(tokio::time::Instant::now() < limit, "never: {what}");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn a_route_never_has_more_than_max_in_flight_requests_at_the_provider() {
    const MAX: usize = 3;
    const SENT: usize = 12;
    let (holding, base) = Holding::start().await;
    let config: SmsRouteConfig = toml::from_str(&format!(
        r#"
        name = "gateway"
        kind = "http"
        [http]
        url = "{base}/send"
        body = "form"
        fields = {{ to = "{{to}}", text = "{{text}}", id = "{{message_id}}" }}
        timeout_ms = 20000
        max_in_flight = {MAX}
        "#
    ))
    .unwrap();
    let (sink, _reports) = tokio::sync::mpsc::channel(1);
    let routes = Arc::new(open_sms_routes(&[config], &sink).unwrap().routes);
    let sends: Vec<_> = (0..SENT)
        .map(|id| {
            let routes = routes.clone();
            tokio::spawn(async move {
                let (to, now_s) = (phone(), unix_now_s());
                let text = OutgoingText {
                    message_id: id as i64,
                    to: &to,
                    text: "seal 48291735",
                    expires_at_s: now_s + 300,
                };
                routes.send(&text, now_s).await
            })
        })
        .collect();
    let route = routes.iter().next().unwrap();
    let in_flight = || route.in_flight().unwrap();
    // Every message is either at the provider or waiting for a free slot (or, with no
    // bound, all of them are at the provider).
    wait_until(
        "every message at the provider or waiting for a slot",
        || {
            holding.inside() == SENT
                || (holding.inside() == MAX && in_flight().waiting == SENT - MAX)
        },
    )
    .await;
    assert_eq!(holding.inside(), MAX);
    assert_eq!(in_flight().sending, MAX);
    holding.release.add_permits(SENT);
    for send in sends {
        let outcome = send.await.unwrap();
        assert!(
            matches!(&outcome, Outcome::Sent { route, .. } if route == "gateway"),
            "{outcome:?}"
        );
    }
    assert_eq!(holding.answered.load(Ordering::SeqCst), SENT);
    assert_eq!(holding.inside_max.load(Ordering::SeqCst), MAX);
    let mut ids = holding.ids.lock().unwrap().clone();
    ids.sort_by_key(|id| id.parse::<usize>().unwrap());
    let expected: Vec<String> = (0..SENT).map(|id| id.to_string()).collect();
    assert_eq!(ids, expected, "each message reached the provider once");
    let after = in_flight();
    assert_eq!((after.sending, after.waiting), (0, 0));
}

fn unix_now_s() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    i64::try_from(since.unwrap().as_secs()).unwrap()
}

#[tokio::test]
async fn a_message_whose_secret_expires_while_it_waits_for_a_slot_is_never_sent() {
    let (holding, base) = Holding::start().await;
    let now_s = Arc::new(AtomicI64::new(NOW_S));
    let clock = now_s.clone();
    let gateway = gateway(&format!(
        r#"
        url = "{base}/send"
        body = "form"
        fields = {{ to = "{{to}}", text = "{{text}}", id = "{{message_id}}" }}
        max_in_flight = 1
        "#
    ))
    .with_clock(Arc::new(move || clock.load(Ordering::SeqCst)));
    let timeout = gateway.timeout();
    let route = Route::new("gateway", Arc::new(gateway)).with_max_in_flight(1, timeout);
    let routes = Arc::new(Routes::new(vec![route]));
    let send = |id: i64, expires_at_s: i64| {
        let routes = routes.clone();
        tokio::spawn(async move {
            let to = phone();
            let text = OutgoingText {
                message_id: id,
                to: &to,
                text: "seal 48291735",
                expires_at_s,
            };
            routes.send(&text, NOW_S).await
        })
    };
    let first = send(1, NOW_S + 300);
    wait_until("the first message at the provider", || {
        holding.inside() == 1
    })
    .await;
    let second = send(2, NOW_S + 60);
    let route = routes.iter().next().unwrap();
    wait_until("the second message waiting for a slot", || {
        route.in_flight().unwrap().waiting == 1
    })
    .await;
    // The second one's secret expires while it waits; then the slot frees.
    now_s.store(NOW_S + 60, Ordering::SeqCst);
    holding.release.add_permits(2);
    assert!(matches!(first.await.unwrap(), Outcome::Sent { .. }));
    assert_eq!(second.await.unwrap(), Outcome::Expired);
    assert_eq!(
        *holding.ids.lock().unwrap(),
        ["1"],
        "the expired one never left"
    );
}
