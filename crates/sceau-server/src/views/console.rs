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
    /// Each route of the second channel, in the order tried: medium, name, kind, health.
    pub routes: Vec<RouteLine>,
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

/// A route of the second channel as the console shows it.
pub(crate) struct RouteLine {
    pub medium: &'static str,
    pub name: String,
    pub kind: &'static str,
    pub health: String,
}

impl RouteLine {
    pub(crate) fn of(medium: &'static str, state: &sceau_channel::routes::RouteState) -> RouteLine {
        let health = match (state.resting_until_s, state.failures_in_a_row) {
            (Some(until_s), failures) => format!(
                "resting until {} after {failures} failures in a row",
                sceau_app::clock::date_time(until_s)
            ),
            (None, 0) => "ok".to_owned(),
            (None, failures) => format!("{failures} failures in a row"),
        };
        RouteLine {
            medium,
            name: state.name.clone(),
            kind: state.kind,
            health,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn a_routes_health_reads_as_said() {
        let state = |failures, resting| sceau_channel::routes::RouteState {
            name: "smsc-a".into(),
            kind: "smpp",
            failures_in_a_row: failures,
            resting_until_s: resting,
        };
        assert_eq!(RouteLine::of("SMS", &state(0, None)).health, "ok");
        assert_eq!(
            RouteLine::of("SMS", &state(2, None)).health,
            "2 failures in a row"
        );
        assert_eq!(
            RouteLine::of("SMS", &state(3, Some(0))).health,
            "resting until 1970-01-01 00:00:00 UTC after 3 failures in a row"
        );
    }
}
