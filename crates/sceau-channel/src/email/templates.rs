//! The e-mails sceau sends, each as a subject, a text and an HTML part. The parts are
//! askama templates (`templates/email/`): every value is escaped in the HTML part by the
//! engine, and written as is in the text part. Times are given in seconds since the epoch
//! (the caller's clock) and written in UTC.

use askama::Template;

/// An e-mail's words, ready for [`super::OutgoingEmail`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailText {
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Debug, thiserror::Error)]
#[error("an e-mail could not be written: {0}")]
pub struct TemplateError(#[from] askama::Error);

/// What the "your payments are paused" notice says.
pub struct PausedNotice<'a> {
    /// How the client is greeted (their name or login).
    pub client_name: &'a str,
    pub issuer_name: &'a str,
    /// When the pause ends, in seconds since the epoch.
    pub until_s: i64,
}

#[derive(Template)]
#[template(path = "email/payments_paused.txt")]
struct PausedText<'a> {
    client_name: &'a str,
    issuer_name: &'a str,
    failures: u32,
    until: &'a str,
}

#[derive(Template)]
#[template(path = "email/payments_paused.html")]
struct PausedHtml<'a> {
    subject: &'a str,
    client_name: &'a str,
    issuer_name: &'a str,
    failures: u32,
    until: &'a str,
}

/// Tells a client that too many wrong card details or seals paused their payments, until
/// when, and what to do.
pub fn payments_paused(notice: &PausedNotice<'_>) -> Result<EmailText, TemplateError> {
    let subject = format!("{}: your payments are paused", notice.issuer_name);
    let until = utc_time(notice.until_s);
    let failures = sceau_domain::limits::CLIENT_FAILURES_MAX;
    let text = PausedText {
        client_name: notice.client_name,
        issuer_name: notice.issuer_name,
        failures,
        until: &until,
    }
    .render()?;
    let html = PausedHtml {
        subject: &subject,
        client_name: notice.client_name,
        issuer_name: notice.issuer_name,
        failures,
        until: &until,
    }
    .render()?;
    Ok(EmailText {
        subject,
        text,
        html,
    })
}

#[derive(Template)]
#[template(path = "email/channel_test.txt")]
struct ChannelTestText<'a> {
    issuer_name: &'a str,
    route: &'a str,
    sent_at: &'a str,
}

#[derive(Template)]
#[template(path = "email/channel_test.html")]
struct ChannelTestHtml<'a> {
    subject: &'a str,
    issuer_name: &'a str,
    route: &'a str,
    sent_at: &'a str,
}

/// The operator's test message: which route sent it, and when.
pub fn channel_test(
    issuer_name: &str,
    route: &str,
    sent_at_s: i64,
) -> Result<EmailText, TemplateError> {
    let subject = format!("{issuer_name}: test message from route {route}");
    let sent_at = utc_time(sent_at_s);
    let text = ChannelTestText {
        issuer_name,
        route,
        sent_at: &sent_at,
    }
    .render()?;
    let html = ChannelTestHtml {
        subject: &subject,
        issuer_name,
        route,
        sent_at: &sent_at,
    }
    .render()?;
    Ok(EmailText {
        subject,
        text,
        html,
    })
}

/// What a recipient's notice of a certified delivery says (and each reminder).
pub struct DeliveryNotice<'a> {
    /// The sender's name, or `None` when it is hidden until the recipient authenticates.
    pub sender: Option<&'a str>,
    pub issuer_name: &'a str,
    pub files: usize,
    pub first_name: &'a str,
    pub deadline_s: i64,
    /// The link to the recipient's page (it grants nothing alone).
    pub link: &'a str,
    pub reminder: bool,
}

#[derive(Template)]
#[template(path = "email/delivery_notice.txt")]
struct DeliveryNoticeText<'a> {
    sender: Option<&'a str>,
    issuer_name: &'a str,
    files: usize,
    first_name: &'a str,
    deadline: &'a str,
    link: &'a str,
    reminder: bool,
}

#[derive(Template)]
#[template(path = "email/delivery_notice.html")]
struct DeliveryNoticeHtml<'a> {
    subject: &'a str,
    sender: Option<&'a str>,
    issuer_name: &'a str,
    files: usize,
    first_name: &'a str,
    deadline: &'a str,
    link: &'a str,
    reminder: bool,
}

/// The notice of a certified delivery (Figure 7, operation 513): who sent what, until
/// when, and the link; in English and French.
pub fn delivery_notice(notice: &DeliveryNotice<'_>) -> Result<EmailText, TemplateError> {
    // A hidden sender is not named, and the bank is not made the sender: "through".
    let from = match notice.sender {
        Some(name) => format!("from {name} through {}", notice.issuer_name),
        None => format!("through {}", notice.issuer_name),
    };
    let subject = if notice.reminder {
        format!("Reminder: certified delivery {from} / Rappel : envoi recommandé")
    } else {
        format!("Certified delivery {from} / Envoi recommandé")
    };
    let deadline = utc_time(notice.deadline_s);
    let text = DeliveryNoticeText {
        sender: notice.sender,
        issuer_name: notice.issuer_name,
        files: notice.files,
        first_name: notice.first_name,
        deadline: &deadline,
        link: notice.link,
        reminder: notice.reminder,
    }
    .render()?;
    let html = DeliveryNoticeHtml {
        subject: &subject,
        sender: notice.sender,
        issuer_name: notice.issuer_name,
        files: notice.files,
        first_name: notice.first_name,
        deadline: &deadline,
        link: notice.link,
        reminder: notice.reminder,
    }
    .render()?;
    Ok(EmailText {
        subject,
        text,
        html,
    })
}

/// What a sender is told of one recipient of their delivery.
pub struct DeliveryOutcome<'a> {
    pub sender_name: &'a str,
    pub issuer_name: &'a str,
    pub delivery: &'a str,
    pub files: usize,
    pub first_name: &'a str,
    /// The recipient's place in the delivery, from 1, and their address.
    pub position: u32,
    pub recipient: &'a str,
    /// The recipient's state: `accepted`, `rejected`, `expired`, `notice_failed` or
    /// `paused`.
    pub state: &'a str,
}

#[derive(Template)]
#[template(path = "email/delivery_outcome.txt")]
struct DeliveryOutcomeText<'a> {
    sender_name: &'a str,
    issuer_name: &'a str,
    delivery: &'a str,
    files: usize,
    first_name: &'a str,
    position: u32,
    recipient: &'a str,
    what: &'a str,
    detail: &'a str,
}

#[derive(Template)]
#[template(path = "email/delivery_outcome.html")]
struct DeliveryOutcomeHtml<'a> {
    subject: &'a str,
    sender_name: &'a str,
    issuer_name: &'a str,
    delivery: &'a str,
    files: usize,
    first_name: &'a str,
    position: u32,
    recipient: &'a str,
    what: &'a str,
    detail: &'a str,
}

/// Tells a sender what became of one recipient of their delivery (operation 525).
pub fn delivery_outcome(outcome: &DeliveryOutcome<'_>) -> Result<EmailText, TemplateError> {
    let (what, detail) = match outcome.state {
        "accepted" => (
            "accepted",
            "The recipient checked every file in their browser and accepted them.",
        ),
        "rejected" => (
            "refused",
            "The recipient refused the files (their answer says why, and which files their \
             browser found different, if any).",
        ),
        "expired" => (
            "no answer by the deadline",
            "The deadline passed without an answer; the delivery to this recipient ended.",
        ),
        "notice_failed" => (
            "the notice could not be delivered",
            "The recipient's mail server refused the notice for good: check the address and \
             send again.",
        ),
        "paused" => (
            "paused after wrong codes",
            "Wrong codes were typed too many times on the recipient's page: codes are taken \
             again after a pause.",
        ),
        _ => ("changed", ""),
    };
    let subject = format!(
        "{}: certified delivery to {}: {what}",
        outcome.issuer_name, outcome.recipient
    );
    let text = DeliveryOutcomeText {
        sender_name: outcome.sender_name,
        issuer_name: outcome.issuer_name,
        delivery: outcome.delivery,
        files: outcome.files,
        first_name: outcome.first_name,
        position: outcome.position,
        recipient: outcome.recipient,
        what,
        detail,
    }
    .render()?;
    let html = DeliveryOutcomeHtml {
        subject: &subject,
        sender_name: outcome.sender_name,
        issuer_name: outcome.issuer_name,
        delivery: outcome.delivery,
        files: outcome.files,
        first_name: outcome.first_name,
        position: outcome.position,
        recipient: outcome.recipient,
        what,
        detail,
    }
    .render()?;
    Ok(EmailText {
        subject,
        text,
        html,
    })
}

/// "6 December 2026 at 17:26 UTC".
fn utc_time(unix_s: i64) -> String {
    chrono::DateTime::from_timestamp(unix_s, 0)
        .map(|time| time.format("%-d %B %Y at %H:%M UTC").to_string())
        .unwrap_or_else(|| format!("{unix_s} s after 1970"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    // 2026-12-06T17:26:00Z
    const AT_S: i64 = 1_796_577_960;

    #[test]
    fn the_pause_notice_says_who_until_when_and_what_to_do() {
        let mail = payments_paused(&PausedNotice {
            client_name: "Zoé",
            issuer_name: "Banque Exemple",
            until_s: AT_S,
        })
        .unwrap();
        assert_eq!(mail.subject, "Banque Exemple: your payments are paused");
        for part in [&mail.text, &mail.html] {
            assert!(part.contains("Hello Zoé,"), "{part}");
            assert!(part.contains("paused until"), "{part}");
            assert!(part.contains("6 December 2026 at 17:26 UTC"), "{part}");
            assert!(part.contains("If it was not you"), "{part}");
            assert!(part.contains("5 times in a row"), "{part}");
        }
    }

    #[test]
    fn every_value_is_escaped_in_the_html_part_and_only_there() {
        let hostile = "<script>alert(\"x\")</script> & co";
        let mail = payments_paused(&PausedNotice {
            client_name: hostile,
            issuer_name: "A&B <Bank>",
            until_s: AT_S,
        })
        .unwrap();
        assert!(!mail.html.contains("<script>"), "{}", mail.html);
        assert!(
            mail.html.contains("Hello &#60;script&#62;"),
            "{}",
            mail.html
        );
        assert!(
            mail.html.contains("account at A&#38;B &#60;Bank&#62;,"),
            "{}",
            mail.html
        );
        assert!(mail.text.contains(hostile), "{}", mail.text);
        let test = channel_test("Bank", "<b>relay</b>", AT_S).unwrap();
        assert!(!test.html.contains("<b>relay"), "{}", test.html);
        assert!(test.text.contains("\"<b>relay</b>\""), "{}", test.text);
    }

    #[test]
    fn the_test_message_names_its_route_and_time() {
        let mail = channel_test("Banque Exemple", "relay-1", AT_S).unwrap();
        assert_eq!(
            mail.subject,
            "Banque Exemple: test message from route relay-1"
        );
        for part in [&mail.text, &mail.html] {
            assert!(part.contains("relay-1"), "{part}");
            assert!(part.contains("6 December 2026 at 17:26 UTC"), "{part}");
            assert!(part.contains("this route works"), "{part}");
        }
    }
}
