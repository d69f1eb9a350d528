//! A recipient's pages (certified delivery): the notice again, with the code's forms
//! (plain forms, no script), and the files page, whose script checks every file in the
//! browser before the recipient answers. In English, or in French when the browser
//! prefers it.

use super::notary::Script;
use askama::Template;

/// What the notice's page offers.
pub(crate) enum Step {
    /// Send the code to the phone.
    AskCode,
    /// Type the code (sent until then), or ask again.
    TypeCode { until: String },
    /// Nothing more: the delivery is over for this recipient (why, in words).
    Over { why: String },
}

#[derive(Template)]
#[template(path = "delivery/notice.html")]
pub(crate) struct Notice<'a> {
    pub fr: bool,
    pub token: &'a str,
    /// The sender's name, or `None` while hidden.
    pub sender: Option<&'a str>,
    pub issuer: &'a str,
    pub files: usize,
    pub first_name: &'a str,
    pub deadline: String,
    /// The masked phone the code goes to.
    pub phone: String,
    pub alert: Option<String>,
    pub step: Step,
}

/// One file of the delivery on the files page.
pub(crate) struct File {
    pub position: u32,
    pub name: String,
    pub size: String,
    pub sha256: String,
}

#[derive(Template)]
#[template(path = "delivery/files.html")]
pub(crate) struct Files<'a> {
    pub fr: bool,
    pub token: &'a str,
    pub csrf: String,
    pub sender: &'a str,
    pub deadline: String,
    pub state: &'static str,
    pub files: Vec<File>,
    pub scripts: Vec<Script>,
}

/// A delivery as its sender sees it: every recipient's state and receipt.
#[derive(Template)]
#[template(path = "delivery/sender.html")]
pub(crate) struct Sender<'a> {
    pub fr: bool,
    pub id: &'a str,
    pub envelope: &'a str,
    pub created: String,
    pub deadline: String,
    pub hide_sender: bool,
    pub recipients: Vec<SenderRecipient>,
}

pub(crate) struct SenderRecipient {
    pub position: u32,
    /// Its place counted from 1.
    pub number: u32,
    pub email: String,
    pub state: &'static str,
    pub class: &'static str,
    pub answered: Option<String>,
}

/// A recipient's state in words (English or French), and the class that colours it.
pub(crate) fn recipient_state_words(
    state: sceau_domain::delivery::RecipientState,
    fr: bool,
) -> (&'static str, &'static str) {
    use sceau_domain::delivery::RecipientState as S;
    let (en, fr_words, class) = match state {
        S::Notified => ("told by e-mail", "averti par e-mail", "held"),
        S::NoticeFailed => (
            "the notice could not be delivered",
            "l'avis n'a pas pu être remis",
            "blocked",
        ),
        S::Paused => (
            "paused after wrong codes",
            "suspendu après des codes erronés",
            "held",
        ),
        S::Authenticated => ("opened with their code", "ouvert avec son code", "held"),
        S::Withdrawn => ("received the files", "a reçu les fichiers", "held"),
        S::Accepted => ("accepted", "accepté", "paid"),
        S::Rejected => ("refused", "refusé", "blocked"),
        S::Expired => (
            "no answer by the deadline",
            "sans réponse dans le délai",
            "ended",
        ),
    };
    (if fr { fr_words } else { en }, class)
}

/// Whether the browser prefers French (the first language of `Accept-Language` that is
/// English or French).
pub(crate) fn prefers_french(accept_language: Option<&str>) -> bool {
    accept_language
        .unwrap_or("")
        .split(',')
        .map(|tag| {
            tag.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .find(|tag| tag.starts_with("fr") || tag.starts_with("en"))
        .is_some_and(|tag| tag.starts_with("fr"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::views::tests::{HOSTILE, check_escaped};

    #[test]
    fn french_is_chosen_when_the_browser_prefers_it_to_english() {
        assert!(prefers_french(Some("fr-FR,fr;q=0.9,en;q=0.8")));
        assert!(prefers_french(Some("de, fr;q=0.5")));
        assert!(!prefers_french(Some("en-GB, fr;q=0.9")));
        assert!(!prefers_french(Some("de")));
        assert!(!prefers_french(None));
    }

    #[test]
    fn the_senders_page_escapes_addresses_and_speaks_french() {
        let page = Sender {
            fr: true,
            id: "d1",
            envelope: "e1",
            created: "1".into(),
            deadline: "2".into(),
            hide_sender: true,
            recipients: vec![SenderRecipient {
                position: 0,
                number: 1,
                email: HOSTILE.into(),
                state: "accepté",
                class: "paid",
                answered: Some("3".into()),
            }],
        }
        .render()
        .unwrap();
        check_escaped(&page);
        assert!(page.contains("lang=\"fr\"") && page.contains("Destinataires"));
        assert!(page.contains("/api/v1/deliveries/d1/recipients/0/receipt"));
    }

    #[test]
    fn the_notice_page_escapes_what_the_sender_wrote() {
        for fr in [false, true] {
            let page = Notice {
                fr,
                token: "ab",
                sender: Some(HOSTILE),
                issuer: "Banque",
                files: 2,
                first_name: "contrat.pdf",
                deadline: "22 December 2026".into(),
                phone: "+33 6•• •• •• 78".into(),
                alert: None,
                step: Step::AskCode,
            }
            .render()
            .unwrap();
            check_escaped(&page);
            assert!(page.contains(if fr { "lang=\"fr\"" } else { "lang=\"en\"" }));
        }
    }
}
