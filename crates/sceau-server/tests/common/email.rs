//! The channels of the e-mail tests: the routes `sceau serve` opens for a configuration
//! naming the development phone and an SMTP server on loopback as `[[email_routes]]`.

use sceau_channel::config::{
    EmailKind, EmailRouteConfig, SmsRouteConfig, open_email_routes, open_sms_routes,
};
use sceau_channel::email::{NamedAddress, SmtpConfig, SmtpSecurity};

/// The development phone for SMS; for e-mail, the SMTP server listening on `port` of
/// 127.0.0.1 (no TLS, no login), sending as "Test Bank" <`from`>.
pub fn smtp_channels(port: u16, from: &str) -> sceau_server::dispatch::Channels {
    let queue = sceau_server::dispatch::report_queue();
    let sms = open_sms_routes(&[SmsRouteConfig::dev_phone()], &queue.0).unwrap();
    let relay = EmailRouteConfig {
        name: "relay".into(),
        kind: EmailKind::Smtp,
        smtp: Some(SmtpConfig {
            host: "127.0.0.1".into(),
            port: Some(port),
            security: SmtpSecurity::None,
            username: None,
            password: None,
            ca_file: None,
            from: NamedAddress {
                name: Some("Test Bank".into()),
                address: from.into(),
            },
            reply_to: None,
            timeout_s: 20,
            max_in_flight: None,
            dkim: None,
        }),
    };
    let email = open_email_routes(&[relay]).unwrap();
    sceau_server::dispatch::Channels::new(sms.routes, email, Default::default(), queue)
}
