//! The names and origins a request gives (`Host`, `Origin`) against the ones served:
//! never a panic, and what is served is the public address's or the connection's own.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sceau_server::edge::Served;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (public, given) = text.split_once('\n').unwrap_or(("https://pay.example", &text));
    let local = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 8080)));
    let Ok(served) = Served::new(public) else {
        return;
    };
    let lower = given.to_ascii_lowercase();
    if served.serves_host(given, local) {
        let own = lower == "127.0.0.1:8080" || lower == "localhost:8080";
        let parsed = url::Url::parse(public).expect("a public address parsed");
        let host = parsed.host_str().unwrap_or_default().to_ascii_lowercase();
        assert!(own || lower.split(':').next() == Some(host.as_str()), "{given:?} for {public:?}");
    }
    if served.serves_origin(given, local) {
        let own = given == "http://127.0.0.1:8080" || given == "http://localhost:8080";
        let parsed = url::Url::parse(public).expect("a public address parsed");
        assert!(own || given == parsed.origin().ascii_serialization(), "{given:?} for {public:?}");
    }
});
