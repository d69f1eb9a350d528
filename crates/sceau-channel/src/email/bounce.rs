//! Bounces: the delivery status notifications (RFC 3464) a mail server sends back when it
//! took an e-mail of sceau's and then could not deliver it. sceau receives no mail: the
//! operator's mail system hands each bounce to `sceau admin bounce` (a pipe in its
//! aliases), which reads it here and records the failure on the message's part (the
//! route's part id is the `Message-ID` sceau gave it, `sceau.<n>@<domain>`).
//!
//! Only a permanent failure counts: the report must say `Action: failed` with a `Status:`
//! of class 5; a delay (`Action: delayed`) or a temporary failure changes nothing.

/// Most bytes of a bounce read (the returned message's body need not be whole).
pub const BOUNCE_BYTES_MAX: usize = 256 * 1024;
/// Most original message ids taken from one bounce.
const IDS_MAX: usize = 8;

/// A permanent failure reported by a bounce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounce {
    /// The ids (without angle brackets) of sceau's messages the bounce returns, in the
    /// order they appear: `sceau.<n>@<domain>`.
    pub message_ids: Vec<String>,
    /// The report's status (`5.1.1`), for the record.
    pub status: String,
}

/// Reads a bounce: `None` unless it reports a permanent failure of one of sceau's own
/// messages. Never fails on input (anything else is not a bounce of sceau's).
pub fn parse(mail: &[u8]) -> Option<Bounce> {
    let text = String::from_utf8_lossy(&mail[..mail.len().min(BOUNCE_BYTES_MAX)]);
    let mut failed = false;
    let mut status = None;
    let mut message_ids = Vec::new();
    for line in text.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("Action") {
            failed |= value.eq_ignore_ascii_case("failed");
        } else if name.eq_ignore_ascii_case("Status") {
            let code = value.split_whitespace().next().unwrap_or("");
            if is_permanent(code) && status.is_none() {
                status = Some(code.to_owned());
            }
        } else if name.eq_ignore_ascii_case("Message-ID")
            && message_ids.len() < IDS_MAX
            && let Some(id) = sceau_id(value)
            && !message_ids.contains(&id)
        {
            message_ids.push(id);
        }
    }
    match (failed, status) {
        (true, Some(status)) if !message_ids.is_empty() => Some(Bounce {
            message_ids,
            status,
        }),
        _ => None,
    }
}

/// A status of class 5 (`5.x.y`, digits).
fn is_permanent(code: &str) -> bool {
    let mut parts = code.split('.');
    parts.next() == Some("5")
        && parts.clone().count() == 2
        && parts.all(|part| {
            !part.is_empty() && part.len() <= 3 && part.bytes().all(|b| b.is_ascii_digit())
        })
}

/// `<sceau.<n>@<domain>>` as sceau writes its Message-IDs, without the brackets.
fn sceau_id(value: &str) -> Option<String> {
    let inner = value.strip_prefix('<')?.split_once('>')?.0;
    let (local, domain) = inner.split_once('@')?;
    let number = local.strip_prefix("sceau.")?;
    let valid_number =
        !number.is_empty() && number.len() <= 19 && number.bytes().all(|b| b.is_ascii_digit());
    let valid_domain = !domain.is_empty()
        && domain.len() <= 253
        && domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    (valid_number && valid_domain).then(|| inner.to_ascii_lowercase())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    const DSN: &str = "From: MAILER-DAEMON@mx.example.org\r\n\
        Message-ID: <20261207.abc@mx.example.org>\r\n\
        Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\
        \r\n\
        --b\r\nContent-Type: text/plain\r\n\r\nThis message could not be delivered.\r\n\
        --b\r\nContent-Type: message/delivery-status\r\n\r\n\
        Reporting-MTA: dns; mx.example.org\r\n\r\n\
        Final-Recipient: rfc822; bob@example.org\r\n\
        Action: failed\r\n\
        Status: 5.1.1 (user unknown)\r\n\r\n\
        --b\r\nContent-Type: text/rfc822-headers\r\n\r\n\
        From: Bank <notices@bank.example>\r\n\
        Message-ID: <sceau.42@bank.example>\r\n\
        Subject: Certified delivery\r\n\
        --b--\r\n";

    #[test]
    fn a_permanent_failure_names_sceaus_message() {
        let bounce = parse(DSN.as_bytes()).unwrap();
        assert_eq!(bounce.message_ids, vec!["sceau.42@bank.example".to_owned()]);
        assert_eq!(bounce.status, "5.1.1");
    }

    #[test]
    fn a_delay_a_temporary_failure_or_another_message_is_not_a_bounce() {
        let delayed = DSN.replace("Action: failed", "Action: delayed");
        assert_eq!(parse(delayed.as_bytes()), None);
        let temporary = DSN.replace("Status: 5.1.1", "Status: 4.2.2");
        assert_eq!(parse(temporary.as_bytes()), None);
        let other = DSN.replace("<sceau.42@bank.example>", "<42@bank.example>");
        assert_eq!(parse(other.as_bytes()), None);
        let forged = DSN.replace("<sceau.42@bank.example>", "<sceau.4x2@bank.example>");
        assert_eq!(parse(forged.as_bytes()), None);
        assert_eq!(parse(b""), None);
        assert_eq!(parse(&[0xff; 100]), None);
    }
}
