//! A merchant's return and webhook addresses: never a panic; an address accepted with
//! private networks refused never names this machine or a private network.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let accepted = sceau_server::checkout::check_url("url", text, false).is_ok();
    if accepted {
        let parsed = url::Url::parse(text).expect("an accepted address parses");
        assert_eq!(parsed.scheme(), "https", "{text:?}");
        match parsed.host() {
            Some(url::Host::Ipv4(ip)) => {
                assert!(sceau_server::webhooks::is_public(ip.into()), "{text:?}")
            }
            Some(url::Host::Ipv6(ip)) => {
                assert!(sceau_server::webhooks::is_public(ip.into()), "{text:?}")
            }
            Some(url::Host::Domain(name)) => {
                let name = name.trim_end_matches('.');
                assert!(name != "localhost" && !name.ends_with(".localhost"), "{text:?}")
            }
            None => panic!("accepted without a host: {text:?}"),
        }
    }
    let _ = sceau_server::checkout::check_url("url", text, true);
});
