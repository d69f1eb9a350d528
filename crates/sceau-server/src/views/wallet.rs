//! The client's pages outside a payment: the welcome page, sign-in and its unlock, the
//! wallet (Figure 5), and the development phone.

use askama::Template;

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
}

/// One line of the wallet's numbers.
pub(crate) struct NumberRow {
    pub last_four: String,
    pub origin: &'static str,
    pub state: &'static str,
    pub uses: u32,
    pub uses_max: u32,
    pub used: String,
    pub limit: String,
    pub merchant: String,
    pub valid_until: String,
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
        }
        .render()
        .unwrap();
        check_escaped(&page);
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
}
