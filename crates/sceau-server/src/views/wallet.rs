//! The client's pages outside a payment: the welcome page, sign-in and its unlock, the
//! wallet (Figure 5), and the development phone.

use crate::clock::date_time;
use askama::Template;
use sceau_domain::{Currency, Money};
use sceau_store::{NumberUse, Origin, PaymentEntry};

#[derive(Template)]
#[template(path = "home.html")]
pub(crate) struct Home;

#[derive(Template)]
#[template(path = "login.html")]
pub(crate) struct Login<'a> {
    pub alert: Option<&'a str>,
    pub notice: Option<&'a str>,
    /// The login typed so far, shown again in its field.
    pub login: &'a str,
}

#[derive(Template)]
#[template(path = "unlock.html")]
pub(crate) struct Unlock;

/// Whether the client may pay.
pub(crate) enum Standing {
    Clear,
    Blocked,
    /// Paused after wrong card details, until this time ("14:05 UTC").
    PausedUntil(String),
}

#[derive(Template)]
#[template(path = "wallet.html")]
pub(crate) struct Wallet<'a> {
    pub name: &'a str,
    /// The masked phone a number was just sent to.
    pub sent_to: Option<String>,
    pub standing: Standing,
    pub balance: String,
    pub held: String,
    pub available: String,
    pub phone: String,
    pub currency: String,
    pub csrf: &'a str,
    pub numbers: Vec<NumberRow>,
    pub payments: Vec<PaymentRow>,
    /// The address of the next, older page of payments, if there is one.
    pub older: Option<String>,
    /// Whether this page of payments is not the first (a link back to the newest).
    pub paged: bool,
    /// A route places calls: the client may choose them (the form is shown).
    pub calls_offered: bool,
    /// The client chose calls.
    pub by_call: bool,
    /// The choice was just saved.
    pub reach_saved: bool,
}

/// One line of the wallet's numbers.
pub(crate) struct NumberRow {
    pub last_four: String,
    /// Who asked for it: "you", "a merchant", or a payment by seal it was drawn for.
    pub origin: &'static str,
    pub state: &'static str,
    pub uses: u32,
    pub uses_max: u32,
    /// What became of its payments ("12.00 EUR paid", "hold released, nothing paid").
    pub used: String,
    pub limit: String,
    pub merchant: String,
    pub valid_until: String,
}

/// Who a number came from, as the wallet says it.
pub(crate) fn origin_text(number: &NumberUse) -> &'static str {
    match number.number.origin {
        _ if number.for_checkout => "a payment by seal",
        Origin::Client => "you",
        Origin::Merchant => "a merchant",
    }
}

/// What became of a number's payments: money paid and held, and holds released (voided
/// or expired) that paid nothing, which are not money used.
pub(crate) fn use_text(number: &NumberUse, money: impl Fn(i64) -> String) -> String {
    let mut parts = Vec::new();
    if number.paid > 0 {
        parts.push(format!("{} paid", money(number.paid)));
    }
    if number.held > 0 {
        parts.push(format!("{} on hold", money(number.held)));
    }
    match number.released {
        0 => {}
        1 => parts.push("a hold released unpaid".to_owned()),
        n => parts.push(format!("{n} holds released unpaid")),
    }
    match (parts.is_empty(), number.number.uses_count) {
        (true, 0) => "—".to_owned(),
        (true, _) => "nothing paid (refunded)".to_owned(),
        (false, _) => parts.join(", "),
    }
}

/// One payment of the wallet's history.
pub(crate) struct PaymentRow {
    /// When it was made, "2026-11-25 14:05:09 UTC".
    pub when: String,
    pub merchant: String,
    /// What was bought (a checkout's object) or the merchant's reference.
    pub what: String,
    pub last_four: String,
    pub amount: String,
    /// A class of the stylesheet: `paid`, `held`, `ended` or `other`.
    pub class: &'static str,
    pub state: String,
    /// What happened to it since, each with its time.
    pub events: Vec<String>,
    /// The checkout of a payment by seal, with what of it the client may download.
    pub checkout: Option<CheckoutLinks>,
}

/// The links of a payment by seal: its check's page, and once held or paid the image,
/// once paid the evidence bundle.
pub(crate) struct CheckoutLinks {
    pub id: String,
    pub image: bool,
    pub evidence: bool,
}

/// A payment's state in words and its class: a checkout's state for a payment by seal,
/// the authorization's otherwise. A state this page does not know shows its own name.
fn state_shown(entry: &PaymentEntry) -> (&'static str, String) {
    let named = |class, text: &str| (class, text.to_owned());
    if let Some(checkout) = &entry.checkout {
        return match checkout.state.as_str() {
            "paid" if entry.refunded > 0 && entry.refunded >= entry.captured => {
                named("ended", "Paid by seal, refunded")
            }
            "paid" if entry.refunded > 0 => named("paid", "Paid by seal, partly refunded"),
            "paid" => named("paid", "Paid by seal"),
            "held" => named("held", "Waiting for your seal"),
            "failed" => named("ended", "Not paid: failed"),
            "expired" => named("ended", "Not paid: expired"),
            "canceled" => named("ended", "Not paid: you canceled it"),
            other => ("other", other.to_owned()),
        };
    }
    match entry.state.as_str() {
        "captured" if entry.refunded >= entry.captured => named("ended", "Refunded"),
        "captured" if entry.refunded > 0 => named("paid", "Paid, partly refunded"),
        "captured" => named("paid", "Paid"),
        "authorized" => named("held", "On hold"),
        "voided" => named("ended", "Voided: nothing paid"),
        "expired" => named("ended", "Hold expired: nothing paid"),
        other => ("other", other.to_owned()),
    }
}

/// An amount in a payment's currency ("12.00 EUR").
pub(crate) fn amount_in(minor: i64, code: &str) -> String {
    match code.parse::<Currency>() {
        Ok(currency) => Money::new(minor, currency).to_string(),
        Err(_) => format!("{minor} {code}"),
    }
}

/// One payment of the history, as the wallet shows it.
pub(crate) fn payment_row(entry: &PaymentEntry) -> PaymentRow {
    let money = |minor| amount_in(minor, &entry.currency);
    let mut events = Vec::new();
    if let Some(at) = entry.captured_at_s {
        events.push(format!(
            "{} paid on {}",
            money(entry.captured),
            date_time(at)
        ));
    }
    if let Some(at) = entry.refunded_at_s {
        events.push(format!(
            "{} refunded, last on {}",
            money(entry.refunded),
            date_time(at)
        ));
    }
    match entry.state.as_str() {
        "authorized" => events.push(format!("held until {}", date_time(entry.hold_expires_at_s))),
        "voided" => events.push(format!("released on {}", date_time(entry.updated_at_s))),
        "expired" => events.push(format!("hold ended on {}", date_time(entry.updated_at_s))),
        _ => {}
    }
    let (class, state) = state_shown(entry);
    let checkout = entry.checkout.as_ref().map(|checkout| CheckoutLinks {
        id: checkout.public_id.clone(),
        image: matches!(checkout.state.as_str(), "held" | "paid"),
        evidence: checkout.state == "paid",
    });
    PaymentRow {
        when: date_time(entry.created_at_s),
        merchant: entry.merchant_name.clone(),
        what: match &entry.checkout {
            Some(checkout) => checkout.object.clone(),
            None => format!("reference {}", entry.merchant_reference),
        },
        last_four: entry.number_last_four.clone(),
        amount: money(entry.amount),
        class,
        state,
        events,
        checkout,
    }
}

#[derive(Template)]
#[template(path = "phone.html")]
pub(crate) struct Phone<'a> {
    /// The number asked for, as typed (or as parsed, once it is one).
    pub to: &'a str,
    pub not_a_number: bool,
    /// The messages delivered to `to`, newest first; none before a number is asked for.
    pub messages: Option<Vec<PhoneMessage>>,
    /// This page's own address for the number shown, `+` written `%2B` so that it can be
    /// copied into a browser or a shell as it is.
    pub link: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "mailbox.html")]
pub(crate) struct Mailbox<'a> {
    pub to: &'a str,
    pub not_an_address: bool,
    /// The e-mails taken for `to`, newest first; none before an address is asked for.
    pub mails: Option<Vec<Mail>>,
}

pub(crate) struct Mail {
    pub id: i64,
    pub at: String,
    pub subject: String,
    /// The text part, cut where this server's own links are (shown as links).
    pub pieces: Vec<Piece>,
}

pub(crate) struct Piece {
    pub text: String,
    pub link: bool,
}

/// `text` cut into plain pieces and links to `origin` (only this server's own links
/// become links: the mailbox shows what sceau wrote, nothing else is followed).
pub(crate) fn pieces(text: &str, origin: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(at) = (!origin.is_empty()).then(|| rest.find(origin)).flatten() {
        let end = rest[at..]
            .find(|c: char| c.is_whitespace())
            .map_or(rest.len(), |length| at + length);
        if at > 0 {
            pieces.push(Piece {
                text: rest[..at].to_owned(),
                link: false,
            });
        }
        pieces.push(Piece {
            text: rest[at..end].to_owned(),
            link: true,
        });
        rest = &rest[end..];
    }
    if !rest.is_empty() {
        pieces.push(Piece {
            text: rest.to_owned(),
            link: false,
        });
    }
    pieces
}

pub(crate) struct PhoneMessage {
    pub id: i64,
    pub at: String,
    pub text: String,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::views::tests::{HOSTILE, check_escaped};

    #[test]
    fn sign_in_pages_escape_what_they_show() {
        let page = Login {
            alert: Some(HOSTILE),
            notice: None,
            login: "",
        };
        check_escaped(&page.render().unwrap());
        let page = Login {
            alert: None,
            notice: Some(HOSTILE),
            login: "",
        };
        check_escaped(&page.render().unwrap());
        // In an attribute value: the quotation mark cannot end it.
        let page = Login {
            alert: None,
            notice: None,
            login: HOSTILE,
        };
        let page = page.render().unwrap();
        check_escaped(&page);
        assert!(page.contains("value=\"&#60;script&#62;"), "{page}");
    }

    #[test]
    fn the_wallet_escapes_names_figures_and_rows() {
        let row = || NumberRow {
            last_four: HOSTILE.into(),
            origin: "client",
            state: "live",
            uses: 0,
            uses_max: 1,
            used: HOSTILE.into(),
            limit: HOSTILE.into(),
            merchant: HOSTILE.into(),
            valid_until: HOSTILE.into(),
        };
        let page = Wallet {
            name: HOSTILE,
            sent_to: Some(HOSTILE.into()),
            standing: Standing::PausedUntil(HOSTILE.into()),
            balance: HOSTILE.into(),
            held: HOSTILE.into(),
            available: HOSTILE.into(),
            phone: HOSTILE.into(),
            currency: HOSTILE.into(),
            csrf: HOSTILE,
            numbers: vec![row(), row()],
            payments: vec![PaymentRow {
                when: HOSTILE.into(),
                merchant: HOSTILE.into(),
                what: HOSTILE.into(),
                last_four: HOSTILE.into(),
                amount: HOSTILE.into(),
                class: "other",
                state: HOSTILE.into(),
                events: vec![HOSTILE.into()],
                checkout: Some(CheckoutLinks {
                    id: "co_0".into(),
                    image: true,
                    evidence: true,
                }),
            }],
            older: Some(format!("/wallet?before={HOSTILE}")),
            paged: true,
            calls_offered: true,
            by_call: true,
            reach_saved: true,
        }
        .render()
        .unwrap();
        check_escaped(&page);
        assert!(page.contains("href=\"/wallet?before=&#60;script"), "{page}");
        assert!(
            page.contains("href=\"/api/v1/payments/co_0/evidence\""),
            "{page}"
        );
        assert_eq!(page.matches("<tr><td class=\"mono\">").count(), 2);
        assert!(page.contains("name=\"csrf\" value=\"&#60;script"), "{page}");
        assert!(!page.contains("No number yet."));
    }

    #[test]
    fn the_phone_escapes_the_number_and_the_messages() {
        let page = Phone {
            to: HOSTILE,
            not_a_number: true,
            messages: Some(vec![PhoneMessage {
                id: 7,
                at: HOSTILE.into(),
                text: HOSTILE.into(),
            }]),
            link: Some(HOSTILE),
        }
        .render()
        .unwrap();
        check_escaped(&page);
        assert!(page.contains("<li class=\"sms\" data-message-id=\"7\"><time>"));
        assert!(page.contains("<p>&#60;script&#62;"), "{page}");
        assert!(Home.render().unwrap().contains("<a href=\"/login\">"));
        assert!(
            Unlock
                .render()
                .unwrap()
                .contains("action=\"/login/unlock\"")
        );
    }

    fn entry(state: &str, checkout: Option<&str>) -> PaymentEntry {
        PaymentEntry {
            authorization_id: 7,
            merchant_name: "Shop".into(),
            number_last_four: "4242".into(),
            currency: "EUR".into(),
            amount: 1_200,
            captured: 0,
            refunded: 0,
            state: state.into(),
            merchant_reference: "cart-1".into(),
            created_at_s: 1_764_039_600,
            updated_at_s: 1_764_039_660,
            hold_expires_at_s: 1_764_040_500,
            captured_at_s: None,
            refunded_at_s: None,
            checkout: checkout.map(|state| sceau_store::PaymentCheckout {
                public_id: "co_1".into(),
                state: state.into(),
                object: "Books".into(),
            }),
        }
    }

    #[test]
    fn a_payment_says_what_became_of_it_and_an_unknown_state_by_its_name() {
        let check = |entry: PaymentEntry, class: &str, state: &str, events: &[&str]| {
            let row = payment_row(&entry);
            assert_eq!((row.class, row.state.as_str()), (class, state));
            assert_eq!(row.events, events);
            assert_eq!(row.when, "2025-11-25 03:00:00 UTC");
            row
        };
        check(
            entry("voided", None),
            "ended",
            "Voided: nothing paid",
            &["released on 2025-11-25 03:01:00 UTC"],
        );
        check(
            entry("expired", None),
            "ended",
            "Hold expired: nothing paid",
            &["hold ended on 2025-11-25 03:01:00 UTC"],
        );
        check(
            entry("authorized", None),
            "held",
            "On hold",
            &["held until 2025-11-25 03:15:00 UTC"],
        );
        let refunded = PaymentEntry {
            captured: 1_200,
            refunded: 500,
            captured_at_s: Some(1_764_039_601),
            refunded_at_s: Some(1_764_039_700),
            ..entry("captured", None)
        };
        let row = check(
            refunded,
            "paid",
            "Paid, partly refunded",
            &[
                "12.00 EUR paid on 2025-11-25 03:00:01 UTC",
                "5.00 EUR refunded, last on 2025-11-25 03:01:40 UTC",
            ],
        );
        assert_eq!(
            (row.amount.as_str(), row.what.as_str()),
            ("12.00 EUR", "reference cart-1")
        );
        assert!(row.checkout.is_none());
        // A payment by seal: the checkout's state, and its links as far as they exist.
        let paid = check(entry("captured", Some("paid")), "paid", "Paid by seal", &[]);
        let links = paid.checkout.unwrap();
        assert_eq!(
            (links.id.as_str(), links.image, links.evidence),
            ("co_1", true, true)
        );
        assert_eq!(paid.what, "Books");
        let failed = check(
            entry("voided", Some("failed")),
            "ended",
            "Not paid: failed",
            &["released on 2025-11-25 03:01:00 UTC"],
        );
        let links = failed.checkout.unwrap();
        assert_eq!((links.image, links.evidence), (false, false));
        check(
            entry("voided", Some("canceled")),
            "ended",
            "Not paid: you canceled it",
            &["released on 2025-11-25 03:01:00 UTC"],
        );
        // A state of a newer binary: its own name, never a failure.
        check(
            entry("voided", Some("disputed")),
            "other",
            "disputed",
            &["released on 2025-11-25 03:01:00 UTC"],
        );
        check(entry("disputed", None), "other", "disputed", &[]);
    }

    #[test]
    fn a_number_says_what_it_paid_and_not_a_released_hold() {
        let number = |paid, held, released, uses_count, for_checkout, origin| NumberUse {
            number: sceau_store::NumberView {
                id: 1,
                client_id: 1,
                last_four: "4242".into(),
                expiry_month: 1,
                expiry_year: 2030,
                currency: "EUR".into(),
                origin,
                policy: sceau_domain::policy::UsagePolicy {
                    uses_max: 1,
                    amount: sceau_domain::policy::AmountRule::Any,
                    merchant: sceau_domain::policy::MerchantLock::Any,
                    valid_until_s: 0,
                },
                state: sceau_domain::policy::NumberState::Consumed,
                uses_count,
                amount_used: 1_200,
                locked_merchant: None,
                created_at_s: 0,
            },
            paid,
            held,
            released,
            for_checkout,
        };
        let money = |minor: i64| format!("{minor} cents");
        let check = |used: NumberUse, text: &str, origin: &str| {
            assert_eq!(use_text(&used, money), text);
            assert_eq!(origin_text(&used), origin);
        };
        check(
            number(0, 0, 1, 1, true, Origin::Merchant),
            "a hold released unpaid",
            "a payment by seal",
        );
        check(
            number(1_200, 0, 0, 1, true, Origin::Merchant),
            "1200 cents paid",
            "a payment by seal",
        );
        check(
            number(0, 1_200, 0, 1, false, Origin::Merchant),
            "1200 cents on hold",
            "a merchant",
        );
        check(
            number(300, 0, 2, 3, false, Origin::Client),
            "300 cents paid, 2 holds released unpaid",
            "you",
        );
        check(number(0, 0, 0, 0, false, Origin::Client), "—", "you");
        check(
            number(0, 0, 0, 1, false, Origin::Client),
            "nothing paid (refunded)",
            "you",
        );
    }
}
