//! The operator's console pages (`api/console.rs` serves them): sign-in, the first page
//! with the service's figures and the search, a client with the actions on them.

use askama::Template;
use sceau_app::operators::ConsoleFigures;
use sceau_store::{CheckoutView, ClientRecord, MerchantRecord};

#[derive(Template)]
#[template(path = "console/login.html")]
pub(crate) struct ConsoleLogin<'a> {
    pub alert: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "console/home.html")]
pub(crate) struct ConsoleHome<'a> {
    pub operator: &'a str,
    pub csrf: &'a str,
    pub figures: Figures,
    pub alert: Option<&'a str>,
    pub query: &'a str,
}

/// The figures, written for reading.
pub(crate) struct Figures {
    pub outbox_pending: u64,
    pub outbox_oldest: String,
    pub log_size: u64,
    pub log_waiting: u64,
    pub checkpoint_age: String,
}

impl Figures {
    pub(crate) fn of(figures: &ConsoleFigures) -> Figures {
        let age = |seconds: Option<i64>| match seconds {
            None => "none".to_owned(),
            Some(s) if s < 120 => format!("{s} s"),
            Some(s) if s < 7_200 => format!("{} min", s / 60),
            Some(s) => format!("{} h", s / 3_600),
        };
        Figures {
            outbox_pending: figures.outbox_pending,
            outbox_oldest: age(figures.outbox_oldest_age_s),
            log_size: figures.log_size,
            log_waiting: figures.log_waiting,
            checkpoint_age: age(figures.checkpoint_age_s),
        }
    }
}

#[derive(Template)]
#[template(path = "console/client.html")]
pub(crate) struct ConsoleClient<'a> {
    pub operator: &'a str,
    pub csrf: &'a str,
    pub client: &'a ClientRecord,
    pub phone: String,
    pub notice: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "console/checkout.html")]
pub(crate) struct ConsoleCheckout<'a> {
    pub operator: &'a str,
    pub checkout: &'a CheckoutView,
    /// The amount with its currency (`12.50 EUR`).
    pub amount: String,
    pub created: String,
    pub updated: String,
}

#[derive(Template)]
#[template(path = "console/merchant.html")]
pub(crate) struct ConsoleMerchant<'a> {
    pub operator: &'a str,
    pub csrf: &'a str,
    pub merchant: &'a MerchantRecord,
    /// A secret just rotated, shown this once, and until when the one before signs.
    pub new_secret: Option<&'a str>,
    pub previous_until: Option<String>,
    /// The rotation form's own token (a reload of its answer rotates nothing more).
    pub rotation: String,
}
