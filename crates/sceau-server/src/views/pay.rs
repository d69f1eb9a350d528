//! The payment pages of a checkout (Figures 1–3) and the image of the check: what each
//! shows, computed from the checkout; the markup is in `templates/pay/`.

use crate::clock::{clock_time, date_time, rfc3339};
use crate::error::ApiError;
use askama::Template;
use sceau_domain::words::{Language, amount_in_words};
use sceau_domain::{Currency, Money};
use sceau_store::{CheckoutState, CheckoutView, ClientRecord};

pub(crate) fn currency_of(view: &CheckoutView) -> Result<Currency, ApiError> {
    view.currency
        .parse()
        .map_err(|_| ApiError::from(sceau_app::error::internal("checkout currency")))
}

/// The address the client goes back to, telling the shop which checkout and how it
/// ended (the shop must still ask sceau: an address can be typed by anyone).
pub fn return_address(view: &CheckoutView) -> String {
    let separator = if view.return_url.contains('?') {
        '&'
    } else {
        '?'
    };
    format!(
        "{}{separator}checkout={}&state={}",
        view.return_url,
        view.public_id,
        view.state.as_str()
    )
}

/// Where a payment page stands on the client's way through a checkout: the steps shown
/// on top, and how wide the page is (the check needs room, a form does not).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    SignIn,
    Review,
    Seal,
    Paid,
    /// An ending that is not a payment, or a refusal: no steps.
    Off,
}

const STEP_NAMES: [&str; 4] = ["Sign in", "Review", "Seal", "Done"];

/// One of the steps shown on top of a payment page.
pub(crate) struct StepItem {
    number: usize,
    name: &'static str,
    class: Option<&'static str>,
    current: bool,
}

fn steps(step: Step) -> Vec<StepItem> {
    let current = match step {
        Step::SignIn => 0,
        Step::Review => 1,
        Step::Seal => 2,
        Step::Paid => 3,
        Step::Off => return Vec::new(),
    };
    STEP_NAMES
        .iter()
        .enumerate()
        .map(|(at, name)| {
            let done = at < current || step == Step::Paid;
            let class = match (done, at == current) {
                (true, true) => Some("done current"),
                (false, true) => Some("current"),
                (true, false) => Some("done"),
                (false, false) => None,
            };
            StepItem {
                number: at + 1,
                name,
                class,
                current: at == current,
            }
        })
        .collect()
}

/// Who is paid, and how much, on top of every payment page.
pub(crate) struct Summary {
    initial: String,
    merchant: String,
    amount: String,
}

/// What a payment page says below its summary.
pub(crate) enum Content<'a> {
    /// A refusal.
    Alert(&'a str),
    SignIn {
        id: &'a str,
        alert: Option<&'a str>,
    },
    /// A client already signed in, on an open checkout.
    Continue {
        name: &'a str,
        alert: Option<&'a str>,
        id: &'a str,
        csrf: &'a str,
    },
    Held(Box<Held>),
    Ended(Ended),
}

#[derive(Template)]
#[template(path = "pay/page.html")]
pub(crate) struct PayPage<'a> {
    title: &'a str,
    width: &'static str,
    steps: Vec<StepItem>,
    summary: Option<Summary>,
    content: Content<'a>,
}

/// A payment page: the steps, who is paid and how much, and `content`.
pub(crate) fn pay_page<'a>(
    view: &CheckoutView,
    title: &'a str,
    step: Step,
    content: Content<'a>,
) -> PayPage<'a> {
    let summary = currency_of(view).ok().map(|currency| Summary {
        initial: view
            .merchant_name
            .chars()
            .find(|c| c.is_alphanumeric())
            .map(|c| c.to_uppercase().to_string())
            .unwrap_or_default(),
        merchant: view.merchant_name.clone(),
        amount: Money::new(view.amount, currency).to_string(),
    });
    let width = match step {
        Step::Review | Step::Seal => "wide",
        _ => "narrow",
    };
    PayPage {
        title,
        width,
        steps: steps(step),
        summary,
        content,
    }
}

/// The electronic check of Figure 3, zones 21 to 29.
pub(crate) struct Check {
    issuer: String,
    /// RFC 3339, and its date and time apart.
    when: String,
    when_date: String,
    when_time: Option<String>,
    merchant: String,
    merchant_id: i64,
    /// The amount in figures, and its currency's code apart.
    figures: String,
    currency: Option<String>,
    words_en: String,
    words_fr: String,
    object: String,
    reference: String,
    client: String,
    phone: String,
    card: Option<CardShown>,
}

/// The single-use card of a check, as far as it is shown.
pub(crate) struct CardShown {
    last_four: String,
    /// "MM/YY".
    expiry: String,
}

/// The date and time of a check (zone 29): the checkout's own, when the merchant made
/// it. It never changes (not on a reload, a hold, a seal sent again), the merchant reads
/// the same time as `created_at`, and the seal covers it (`SealInput::check_time_s`,
/// beside the seal's own time of issue).
pub(crate) fn check_time_s(view: &CheckoutView) -> i64 {
    view.created_at_s
}

fn check(issuer: &str, view: &CheckoutView, client: &ClientRecord) -> Result<Check, ApiError> {
    let amount = Money::new(view.amount, currency_of(view)?);
    let words = |language| amount_in_words(amount, language).unwrap_or_default();
    let figures = amount.to_string();
    let (figures, currency) = match figures.split_once(' ') {
        Some((decimal, code)) => (decimal.to_owned(), Some(code.to_owned())),
        None => (figures, None),
    };
    let when = rfc3339(check_time_s(view));
    let (when_date, when_time) = match when.split_once('T') {
        Some((date, time)) => (date.to_owned(), Some(time.trim_end_matches('Z').to_owned())),
        None => (when.clone(), None),
    };
    let card = match (&view.number_last_four, view.number_expiry) {
        (Some(four), Some((month, year))) => Some(CardShown {
            last_four: four.clone(),
            expiry: format!("{month:02}/{:02}", year % 100),
        }),
        _ => None,
    };
    Ok(Check {
        issuer: issuer.to_owned(),
        when,
        when_date,
        when_time,
        merchant: view.merchant_name.clone(),
        merchant_id: view.merchant_id,
        figures,
        currency,
        words_en: words(Language::English),
        words_fr: words(Language::French),
        object: view.object.clone(),
        reference: view.merchant_reference.clone(),
        client: client.display_name.clone(),
        phone: client.phone.masked(),
        card,
    })
}

/// What the client may do on a held checkout.
pub(crate) enum Action {
    /// Ask for the first seal.
    Validate,
    /// Type the seal that is out.
    Seal {
        amount: String,
        until: String,
        tries: String,
    },
    /// Ask for a new seal.
    SealExpired,
}

impl Action {
    fn is_validate(&self) -> bool {
        matches!(self, Action::Validate)
    }
}

/// A held checkout's page: the check and what the client may do.
pub(crate) struct Held {
    id: String,
    csrf: String,
    phone: String,
    action: Action,
    /// Whether another seal may be sent.
    resend: bool,
    alert: Option<String>,
    check: Check,
}

/// The page of a held checkout, for its client.
pub(crate) fn held(
    issuer: &str,
    now_s: i64,
    view: &CheckoutView,
    client: &ClientRecord,
    csrf: &str,
    alert: Option<String>,
) -> Result<(Step, Held), ApiError> {
    let live_seal = view.seal.as_ref().filter(|seal| now_s < seal.expires_at_s);
    let (step, action) = match (&view.seal, live_seal) {
        (None, _) => (Step::Review, Action::Validate),
        (Some(_), Some(seal)) => (
            Step::Seal,
            Action::Seal {
                amount: Money::new(view.amount, currency_of(view)?).to_string(),
                until: clock_time(seal.expires_at_s),
                tries: tries_text(view),
            },
        ),
        (Some(_), None) => (Step::Seal, Action::SealExpired),
    };
    let held = Held {
        id: view.public_id.clone(),
        csrf: csrf.to_owned(),
        phone: client.phone.masked(),
        action,
        resend: view.seal_sends < sceau_domain::seal::SEAL_SENDS_MAX,
        alert,
        check: check(issuer, view, client)?,
    };
    Ok((step, held))
}

fn tries_text(view: &CheckoutView) -> String {
    let left = sceau_domain::seal::SEAL_TRIES_MAX.saturating_sub(view.seal_wrong_tries);
    match left {
        1 => "1 try left.".to_owned(),
        n => format!("{n} tries left."),
    }
}

/// How a checkout ended.
pub(crate) enum Outcome {
    Paid,
    Failed(&'static str),
    Expired,
    Canceled,
}

impl Outcome {
    fn class(&self) -> &'static str {
        match self {
            Outcome::Paid => "paid",
            Outcome::Failed(_) => "failed",
            Outcome::Expired => "expired",
            Outcome::Canceled => "canceled",
        }
    }
}

/// The page of a checkout that has ended, with the way back to the shop.
pub(crate) struct Ended {
    id: String,
    merchant: String,
    back: String,
    outcome: Outcome,
    /// Whether the links to the check and the evidence are shown (to the client who paid).
    download: bool,
}

/// The page of an ended checkout, for the client `viewer` (if signed in).
pub(crate) fn ended(view: &CheckoutView, viewer: Option<i64>) -> (Step, Ended) {
    let (step, outcome) = match view.state {
        CheckoutState::Paid => (Step::Paid, Outcome::Paid),
        CheckoutState::Failed => (
            Step::Off,
            Outcome::Failed(match view.failure.as_deref() {
                Some(sceau_store::CHECKOUT_FAILED_SEAL) => {
                    "the seal was typed wrong too many times"
                }
                _ => "it could not be completed in time",
            }),
        ),
        CheckoutState::Canceled => (Step::Off, Outcome::Canceled),
        _ => (Step::Off, Outcome::Expired),
    };
    let ended = Ended {
        id: view.public_id.clone(),
        merchant: view.merchant_name.clone(),
        back: return_address(view),
        download: matches!(outcome, Outcome::Paid) && viewer.is_some() && view.client_id == viewer,
        outcome,
    };
    (step, ended)
}

#[derive(Template)]
#[template(path = "pay/check.svg")]
pub(crate) struct CheckImage {
    lines: Vec<CheckText>,
}

/// The check's size, in the SVG's pixels and the PDF's points alike.
pub(crate) const CHECK_WIDTH: f32 = 900.0;
pub(crate) const CHECK_HEIGHT: f32 = 400.0;

/// One line of text on the check: where its baseline starts (from the top left), its
/// class in the SVG's stylesheet, and what it says.
pub(crate) struct CheckText {
    pub(crate) x: u32,
    pub(crate) y: u32,
    pub(crate) class: &'static str,
    pub(crate) content: String,
}

/// The check as a self-contained SVG image (no script, no external reference).
pub(crate) fn check_image(
    issuer: &str,
    view: &CheckoutView,
    client: &ClientRecord,
) -> Result<String, ApiError> {
    CheckImage {
        lines: check_lines(issuer, view, client)?,
    }
    .render()
    .map_err(|_| ApiError::from(sceau_app::error::internal("check image")))
}

/// The check as a PDF: the same lines at the same places (`check_pdf.rs`).
pub(crate) fn check_document(
    issuer: &str,
    view: &CheckoutView,
    client: &ClientRecord,
) -> Result<Vec<u8>, ApiError> {
    let lines = check_lines(issuer, view, client)?;
    let title = format!("Check {} to {}", view.public_id, view.merchant_name);
    let date = crate::clock::pdf_date(check_time_s(view));
    super::check_pdf::check_pdf(&lines, &title, &date)
        .map_err(|_| ApiError::from(sceau_app::error::internal("check PDF")))
}

/// What the check says, line by line, where.
fn check_lines(
    issuer: &str,
    view: &CheckoutView,
    client: &ClientRecord,
) -> Result<Vec<CheckText>, ApiError> {
    let amount = Money::new(view.amount, currency_of(view)?);
    let words = |language| amount_in_words(amount, language).unwrap_or_default();
    let status = match view.state {
        CheckoutState::Paid => "PAID · signed with a seal on the client's phone",
        _ => "NOT YET SIGNED",
    };
    let number = match (&view.number_last_four, view.number_expiry) {
        (Some(four), Some((month, year))) => {
            format!("•••• •••• •••• {four}   exp {month:02}/{:02}", year % 100)
        }
        _ => String::new(),
    };
    let text = |x, y, class, content: &str| CheckText {
        x,
        y,
        class,
        content: content.to_owned(),
    };
    let object = format!("{} (reference {})", view.object, view.merchant_reference);
    let drawer = format!("{} {}", client.display_name, client.phone.masked());
    let lines = vec![
        text(32, 48, "label", "ISSUER"),
        text(32, 72, "strong", issuer),
        text(620, 48, "label", "DATE AND TIME"),
        text(620, 72, "value", &date_time(check_time_s(view))),
        text(32, 116, "label", "PAY TO THE ORDER OF"),
        text(32, 142, "strong", &view.merchant_name),
        text(620, 116, "label", "AMOUNT"),
        text(620, 146, "amount", &amount.to_string()),
        text(32, 186, "label", "AMOUNT IN WORDS"),
        text(32, 208, "value", &words(Language::English)),
        text(32, 230, "value", &words(Language::French)),
        text(32, 272, "label", "FOR"),
        text(32, 294, "value", &object),
        text(520, 272, "label", "FROM"),
        text(520, 294, "value", &drawer),
        text(32, 340, "mono", &number),
        text(520, 340, "status", status),
        text(32, 372, "small", &format!("checkout {}", view.public_id)),
    ];
    Ok(lines)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::views::tests::{HOSTILE, check_escaped};

    fn page(content: Content<'_>) -> String {
        let summary = Summary {
            initial: HOSTILE.into(),
            merchant: HOSTILE.into(),
            amount: HOSTILE.into(),
        };
        PayPage {
            title: HOSTILE,
            width: "wide",
            steps: steps(Step::Seal),
            summary: Some(summary),
            content,
        }
        .render()
        .unwrap()
    }

    fn hostile_check() -> Check {
        Check {
            issuer: HOSTILE.into(),
            when: HOSTILE.into(),
            when_date: HOSTILE.into(),
            when_time: Some(HOSTILE.into()),
            merchant: HOSTILE.into(),
            merchant_id: 7,
            figures: HOSTILE.into(),
            currency: Some(HOSTILE.into()),
            words_en: HOSTILE.into(),
            words_fr: HOSTILE.into(),
            object: HOSTILE.into(),
            reference: HOSTILE.into(),
            client: HOSTILE.into(),
            phone: HOSTILE.into(),
            card: Some(CardShown {
                last_four: HOSTILE.into(),
                expiry: HOSTILE.into(),
            }),
        }
    }

    #[test]
    fn payment_pages_escape_what_merchants_and_clients_typed() {
        let contents = [
            Content::Alert(HOSTILE),
            Content::SignIn {
                id: "co_0",
                alert: Some(HOSTILE),
            },
            Content::Continue {
                name: HOSTILE,
                alert: Some(HOSTILE),
                id: "co_0",
                csrf: HOSTILE,
            },
        ];
        for content in contents {
            check_escaped(&page(content));
        }
        let actions = [
            Action::Validate,
            Action::Seal {
                amount: HOSTILE.into(),
                until: HOSTILE.into(),
                tries: HOSTILE.into(),
            },
            Action::SealExpired,
        ];
        for action in actions {
            let held = Held {
                id: "co_0".into(),
                csrf: HOSTILE.into(),
                phone: HOSTILE.into(),
                action,
                resend: true,
                alert: Some(HOSTILE.into()),
                check: hostile_check(),
            };
            let page = page(Content::Held(Box::new(held)));
            check_escaped(&page);
            assert!(page.contains("<time datetime=\"&#60;script"), "{page}");
            let zone = |zone| page.contains(&format!("data-zone=\"{zone}\""));
            assert!((21..=27).chain([29]).all(zone), "{page}");
        }
    }

    #[test]
    fn the_way_back_to_the_shop_stays_inside_its_attribute() {
        for outcome in [Outcome::Paid, Outcome::Failed(HOSTILE), Outcome::Expired] {
            let ended = Ended {
                id: "co_0".into(),
                merchant: HOSTILE.into(),
                back: format!("https://shop.example/return?{HOSTILE}"),
                outcome,
                download: true,
            };
            let page = page(Content::Ended(ended));
            check_escaped(&page);
            assert!(
                page.contains("href=\"https://shop.example/return?&#60;script&#62;alert(&#34;x"),
                "{page}"
            );
        }
    }

    #[test]
    fn the_image_of_the_check_escapes_its_text() {
        let image = CheckImage {
            lines: vec![CheckText {
                x: 1,
                y: 2,
                class: "value",
                content: HOSTILE.into(),
            }],
        }
        .render()
        .unwrap();
        assert!(image.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
        assert!(image.ends_with("</svg>"), "{image}");
        check_escaped(&image);
        assert!(image.contains("<text x=\"1\" y=\"2\" class=\"value\">&#60;script"));
    }

    #[test]
    fn steps_mark_where_the_client_stands() {
        let shown = |step| {
            steps(step)
                .iter()
                .map(|item| (item.class, item.current))
                .collect::<Vec<_>>()
        };
        assert!(shown(Step::Off).is_empty());
        assert_eq!(
            shown(Step::Review),
            [
                (Some("done"), false),
                (Some("current"), true),
                (None, false),
                (None, false)
            ]
        );
        assert_eq!(
            shown(Step::Paid),
            [
                (Some("done"), false),
                (Some("done"), false),
                (Some("done"), false),
                (Some("done current"), true)
            ]
        );
    }
}
