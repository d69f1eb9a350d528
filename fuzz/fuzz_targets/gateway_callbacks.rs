//! What an HTTP gateway posts to `/channel/{route}/status`: any body, form or JSON, any
//! query string, signed (half the inputs, so that the reading behind the signature is
//! reached) or not. Never a panic; a refused callback reports nothing; an accepted one
//! reports for its own route only.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sceau_channel::http_gateway::callback::sceau_signature;
use sceau_channel::http_gateway::{CallbackRequest, HttpGateway, HttpGatewayConfig};
use std::sync::OnceLock;

const SECRET: &str = "a callback secret for fuzzing";
const NOW_S: i64 = 1_800_000_000;

fn gateway() -> &'static HttpGateway {
    static GATEWAY: OnceLock<HttpGateway> = OnceLock::new();
    GATEWAY.get_or_init(|| {
        // SAFETY of the environment: set once, before any thread reads it.
        unsafe { std::env::set_var("SCEAU_FUZZ_CALLBACK_SECRET", SECRET) };
        let config: HttpGatewayConfig = serde_json::from_value(serde_json::json!({
            "url": "https://provider.example/send",
            "body": "form",
            "fields": { "to": "{to}", "text": "{text}" },
            "callback": {
                "url": "https://pay.example/channel/acme/status",
                "signature": "sceau",
                "secret": { "env": "SCEAU_FUZZ_CALLBACK_SECRET" },
                "id_field": "/data/id",
                "status_field": "status",
                "delivered": ["delivered"],
                "failed": ["failed", "expired"]
            }
        }))
        .expect("the fuzz gateway's configuration");
        HttpGateway::new("acme", &config).expect("the fuzz gateway")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&choice, rest)) = data.split_first() else {
        return;
    };
    let (query, body) = match rest.iter().position(|&b| b == 0) {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (&[][..], rest),
    };
    let mut url = "https://pay.example/channel/acme/status".to_owned();
    if let Ok(query) = std::str::from_utf8(query) {
        if !query.is_empty() {
            url = format!("{url}?{query}");
        }
    }
    let content_type = match choice & 1 {
        0 => "application/json",
        _ => "application/x-www-form-urlencoded",
    };
    let mut headers = vec![("content-type".to_owned(), content_type.to_owned())];
    if choice & 2 == 0 {
        headers.push((
            "x-sceau-signature".to_owned(),
            sceau_signature(SECRET, NOW_S, body),
        ));
    }
    let request = CallbackRequest {
        url,
        headers,
        body: body.to_vec(),
        now_s: NOW_S,
    };
    match gateway().check_callback(&request) {
        Ok(reports) => {
            assert!(choice & 2 == 0, "an unsigned callback was read");
            assert!(reports.iter().all(|report| report.route == "acme"));
        }
        Err(refusal) => {
            let _ = refusal.code();
        }
    }
});
