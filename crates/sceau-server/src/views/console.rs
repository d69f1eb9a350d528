//! The operator's console pages (`api/console.rs` serves them): sign-in, the first page
//! with the service's figures and the searches, and a page for each thing an operator
//! looks up (a client, a merchant, a number, a checkout, a message, a clearing batch, a
//! certificate, an envelope, a delivery) with the actions taken on it.

use askama::Template;
use sceau_app::clock::date_time;
use sceau_app::operators::ConsoleFigures;
use sceau_domain::Money;
use sceau_store::{
    CertificateRecord, CheckoutView, ClearingBatch, ClientRecord, DeliveryView, EnvelopeView,
    MerchantRecord, MessageCount, MessageStatus, NumberView, Payout,
};

/// A time, or a dash when there is none.
fn maybe_time(unix_s: Option<i64>) -> String {
    unix_s.map_or_else(|| "—".to_owned(), date_time)
}

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
    /// Their newest numbers.
    pub numbers: Vec<NumberLine>,
    pub certificates: Vec<CertificateLine>,
}

/// A number as the console lists it: never more of it than its last four digits.
pub(crate) struct NumberLine {
    pub last_four: String,
    pub expiry: String,
    pub origin: &'static str,
    pub state: &'static str,
    pub uses: String,
    pub amount_used: String,
    pub merchant: Option<i64>,
    pub created: String,
}

impl NumberLine {
    pub(crate) fn of(number: &NumberView) -> NumberLine {
        let uses = format!("{} of {}", number.uses_count, number.policy.uses_max);
        NumberLine {
            last_four: number.last_four.clone(),
            expiry: format!("{:02}/{}", number.expiry_month, number.expiry_year),
            origin: number.origin.as_str(),
            state: number.state.as_str(),
            uses,
            amount_used: super::wallet::amount_in(number.amount_used, &number.currency),
            merchant: number.locked_merchant,
            created: date_time(number.created_at_s),
        }
    }
}

/// A certificate as a client's page lists it.
pub(crate) struct CertificateLine {
    pub serial: String,
    pub kind: &'static str,
    pub not_after: String,
    pub revoked: bool,
}

impl CertificateLine {
    pub(crate) fn of(record: &CertificateRecord) -> CertificateLine {
        CertificateLine {
            serial: record.serial.clone(),
            kind: record.kind.as_str(),
            not_after: date_time(record.not_after_s),
            revoked: record.revoked_at_s.is_some(),
        }
    }
}

#[derive(Template)]
#[template(path = "console/numbers.html")]
pub(crate) struct ConsoleNumbers<'a> {
    pub operator: &'a str,
    pub client: &'a ClientRecord,
    pub last_four: &'a str,
    pub numbers: Vec<NumberLine>,
}

#[derive(Template)]
#[template(path = "console/message.html")]
pub(crate) struct ConsoleMessage<'a> {
    pub operator: &'a str,
    pub message: MessageLine,
}

#[derive(Template)]
#[template(path = "console/messages.html")]
pub(crate) struct ConsoleMessages<'a> {
    pub operator: &'a str,
    pub csrf: &'a str,
    pub since: String,
    pub counts: &'a [MessageCount],
    pub messages: Vec<MessageLine>,
}

/// A message's course, for reading: its address masked, never its body.
pub(crate) struct MessageLine {
    pub id: i64,
    pub medium: &'static str,
    pub kind: String,
    pub address: String,
    pub state: String,
    pub route: String,
    pub attempts: u32,
    pub parts: u32,
    pub last_error: String,
    pub created: String,
    pub submitted: String,
    pub ended: String,
    pub expires: String,
}

impl MessageLine {
    pub(crate) fn of(message: &MessageStatus) -> MessageLine {
        MessageLine {
            id: message.id,
            medium: message.medium.as_str(),
            kind: message.kind.clone(),
            address: message.address_masked.clone(),
            state: message.state.clone(),
            route: message.route.clone().unwrap_or_else(|| "—".into()),
            attempts: message.attempts,
            parts: message.parts,
            last_error: message.last_error.clone().unwrap_or_else(|| "—".into()),
            created: date_time(message.created_at_s),
            submitted: maybe_time(message.submitted_at_s),
            ended: maybe_time(message.ended_at_s),
            expires: date_time(message.expires_at_s),
        }
    }
}

#[derive(Template)]
#[template(path = "console/clearing.html")]
pub(crate) struct ConsoleClearing<'a> {
    pub operator: &'a str,
    pub csrf: &'a str,
    pub batches: Vec<BatchLine>,
    pub alert: Option<&'a str>,
    /// The currency typed, kept when a close is refused.
    pub currency: &'a str,
}

/// A clearing batch, for reading.
pub(crate) struct BatchLine {
    pub id: i64,
    pub message_id: String,
    pub currency: String,
    pub payouts: u32,
    pub total: String,
    pub closed: String,
}

impl BatchLine {
    pub(crate) fn of(batch: &ClearingBatch) -> BatchLine {
        BatchLine {
            id: batch.id,
            message_id: batch.message_id.clone(),
            currency: batch.currency.code().to_owned(),
            payouts: batch.payouts_count,
            total: Money::new(batch.total, batch.currency).to_string(),
            closed: date_time(batch.created_at_s),
        }
    }
}

#[derive(Template)]
#[template(path = "console/batch.html")]
pub(crate) struct ConsoleBatch<'a> {
    pub operator: &'a str,
    pub batch: BatchLine,
    /// Each payout: merchant, amount, transfer.
    pub payouts: Vec<(i64, String, i64)>,
    pub notice: Option<&'a str>,
}

impl ConsoleBatch<'_> {
    pub(crate) fn payouts_of(batch: &ClearingBatch, payouts: &[Payout]) -> Vec<(i64, String, i64)> {
        payouts
            .iter()
            .map(|payout| {
                let amount = Money::new(payout.amount, batch.currency).to_string();
                (payout.merchant_id, amount, payout.transfer_id)
            })
            .collect()
    }
}

#[derive(Template)]
#[template(path = "console/certificate.html")]
pub(crate) struct ConsoleCertificate<'a> {
    pub operator: &'a str,
    pub csrf: &'a str,
    pub certificate: &'a CertificateRecord,
    pub not_before: String,
    pub not_after: String,
    pub used: Option<String>,
    /// When and why it was revoked.
    pub revoked: Option<(String, &'static str)>,
    pub notice: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "console/envelope.html")]
pub(crate) struct ConsoleEnvelope<'a> {
    pub operator: &'a str,
    pub envelope: &'a EnvelopeView,
    /// Files as received: name, size in bytes, whether it arrived.
    pub files: Vec<(String, u64, bool)>,
    pub created: String,
    pub notarized: String,
    pub retained_until: String,
    pub deleted: String,
    pub deliveries: Vec<DeliveryLine>,
}

impl<'a> ConsoleEnvelope<'a> {
    pub(crate) fn of(
        operator: &'a str,
        envelope: &'a EnvelopeView,
        deliveries: &[DeliveryView],
    ) -> ConsoleEnvelope<'a> {
        ConsoleEnvelope {
            operator,
            envelope,
            files: envelope
                .files
                .iter()
                .map(|file| (file.name.clone(), file.size, file.received_at_s.is_some()))
                .collect(),
            created: date_time(envelope.created_at_s),
            notarized: maybe_time(envelope.notarized_at_s),
            retained_until: maybe_time(envelope.retain_until_s),
            deleted: maybe_time(envelope.deleted_at_s),
            deliveries: deliveries.iter().map(DeliveryLine::of).collect(),
        }
    }
}

/// A delivery as its envelope's page lists it.
pub(crate) struct DeliveryLine {
    pub public_id: String,
    pub recipients: usize,
    pub deadline: String,
    pub settled: String,
}

impl DeliveryLine {
    pub(crate) fn of(delivery: &DeliveryView) -> DeliveryLine {
        DeliveryLine {
            public_id: delivery.public_id.clone(),
            recipients: delivery.recipients.len(),
            deadline: date_time(delivery.deadline_s),
            settled: maybe_time(delivery.settled_at_s),
        }
    }
}

#[derive(Template)]
#[template(path = "console/delivery.html")]
pub(crate) struct ConsoleDelivery<'a> {
    pub operator: &'a str,
    pub delivery: &'a DeliveryView,
    pub line: DeliveryLine,
    pub created: String,
    pub recipients: Vec<RecipientLine>,
}

/// A recipient of a delivery, for reading: addresses masked.
pub(crate) struct RecipientLine {
    pub position: u32,
    pub email: String,
    pub phone: String,
    pub client: Option<i64>,
    pub state: &'static str,
    pub notice_message: Option<i64>,
    pub codes_sent: u32,
    pub wrong_tries: u32,
    pub withdrawals: u32,
}

impl RecipientLine {
    pub(crate) fn of(recipient: &sceau_store::RecipientView) -> RecipientLine {
        RecipientLine {
            position: recipient.position,
            email: sceau_domain::email::mask(&recipient.email),
            phone: sceau_domain::phone::mask(&recipient.phone),
            client: recipient.client_id,
            state: recipient.state.as_str(),
            notice_message: recipient.notice_message_id,
            codes_sent: recipient.codes_sent,
            wrong_tries: recipient.wrong_tries,
            withdrawals: recipient.withdrawals,
        }
    }
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
