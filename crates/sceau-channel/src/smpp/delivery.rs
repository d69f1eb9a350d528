//! What goes into a `submit_sm`, what its answer means, and what a receipt reports.

use super::config::SmppConfig;
use super::session::Shared;
use crate::{ChannelError, DeliveryReport, ReportOutcome, receipt};
use rusmpp::pdus::{DeliverSm, SubmitSm};
use rusmpp::tlvs::TlvValue;
use rusmpp::types::{COctetString, EmptyOrFullCOctetString, OctetString};
use rusmpp::values::{DataCoding, EsmClass, MessageState, Npi, RegisteredDelivery, Ton};
use rusmpp::{Command, Pdu};
use std::str::FromStr;
use std::time::Duration;

/// `command_status` values that mean "later", not "never".
const ESME_RSYSERR: u32 = 0x08;
const ESME_RMSGQFUL: u32 = 0x14;
const ESME_RTHROTTLED: u32 = 0x58;
/// `esm_class`: the message type bits, the delivery receipt type, the UDH indicator.
const ESM_CLASS_TYPE: u8 = 0x3C;
const ESM_CLASS_RECEIPT: u8 = 0x04;
const ESM_CLASS_UDHI: u8 = 0x40;
/// The longest validity a relative `validity_period` holds here: 99 days.
const VALIDITY_S_MAX: i64 = 99 * 86_400 + 86_399;

/// One part's `submit_sm`; `validity_s` is what is left of the secret's life.
pub(crate) fn submit_pdu(
    config: &SmppConfig,
    destination: &str,
    coding: u8,
    udhi: bool,
    short_message: &[u8],
    validity_s: i64,
) -> Result<SubmitSm, ChannelError> {
    let refused = |what: &str| ChannelError::Permanent(format!("{what} does not fit submit_sm"));
    let mut pdu = SubmitSm::default();
    pdu.source_addr_ton = Ton::from(config.source_ton);
    pdu.source_addr_npi = Npi::from(config.source_npi);
    pdu.source_addr =
        COctetString::from_str(&config.source_addr).map_err(|_| refused("the source address"))?;
    pdu.dest_addr_ton = Ton::from(config.dest_ton);
    pdu.dest_addr_npi = Npi::from(config.dest_npi);
    pdu.destination_addr =
        COctetString::from_str(destination).map_err(|_| refused("the destination"))?;
    pdu.esm_class = EsmClass::from(if udhi { ESM_CLASS_UDHI } else { 0 });
    pdu.validity_period = EmptyOrFullCOctetString::from_str(&validity_period(validity_s))
        .map_err(|_| refused("the validity period"))?;
    pdu.registered_delivery = RegisteredDelivery::from(u8::from(config.registered_delivery));
    pdu.data_coding = DataCoding::from(coding);
    let text = OctetString::from_slice(short_message).map_err(|_| refused("the part"))?;
    pdu.set_short_message(text);
    Ok(pdu)
}

/// SMPP's relative time, `YYMMDDhhmmss000R`, for `seconds` (at most 99 days).
pub(crate) fn validity_period(seconds: i64) -> String {
    let seconds = seconds.clamp(1, VALIDITY_S_MAX);
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    let (hours, minutes, seconds) = (rest / 3_600, rest % 3_600 / 60, rest % 60);
    format!("0000{days:02}{hours:02}{minutes:02}{seconds:02}000R")
}

/// What a `submit_sm_resp` (or a `generic_nack` for a submit) says of its part.
pub(crate) fn submit_outcome(shared: &Shared, answer: &Command) -> Result<String, ChannelError> {
    let status = u32::from(answer.status());
    match (status, answer.pdu()) {
        (0, Some(Pdu::SubmitSmResp(resp))) if !resp.message_id().as_str().is_empty() => {
            Ok(resp.message_id().as_str().to_owned())
        }
        (0, _) => Err(ChannelError::Permanent(
            "the SMSC accepted a part without giving its message id".into(),
        )),
        (ESME_RTHROTTLED | ESME_RMSGQFUL, _) => {
            shared
                .pace
                .pause(Duration::from_millis(shared.config.throttle_pause_ms));
            let why = if status == ESME_RTHROTTLED {
                "ESME_RTHROTTLED"
            } else {
                "ESME_RMSGQFUL"
            };
            Err(ChannelError::Transient(format!(
                "the SMSC is throttling ({why})"
            )))
        }
        (ESME_RSYSERR, _) => Err(ChannelError::Transient(
            "the SMSC had a system error (ESME_RSYSERR)".into(),
        )),
        (status, _) => Err(ChannelError::Permanent(format!(
            "the SMSC refused the part (command_status {status:#x})"
        ))),
    }
}

/// A `deliver_sm`: a receipt goes to the route's report sink; anything else (a message
/// from a phone) is not ours to read. False when the sink is full: the receipt was not
/// taken, and the SMSC is to send it again later.
pub(crate) fn receive(shared: &Shared, deliver: &DeliverSm) -> bool {
    let route = shared.name.as_str();
    if u8::from(deliver.esm_class) & ESM_CLASS_TYPE != ESM_CLASS_RECEIPT {
        tracing::debug!(route, "a deliver_sm that is not a receipt, ignored");
        return true;
    }
    let Some(report) = report_of(route, deliver) else {
        tracing::warn!(route, "a delivery receipt without a message id, ignored");
        return true;
    };
    match shared.reports.try_send(report) {
        Ok(()) => true,
        Err(tokio::sync::mpsc::error::TrySendError::Full(_)) => {
            tracing::warn!(
                route,
                "too many delivery receipts waiting; the SMSC will resend"
            );
            false
        }
        // The server is stopping: not taken, so that the SMSC sends it again (to the
        // next start, or another instance).
        Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => {
            tracing::info!(
                route,
                "a delivery receipt while stopping: the SMSC will resend"
            );
            false
        }
    }
}

/// The report a receipt makes: its id from `receipted_message_id` or else from the
/// text's `id:`, its outcome from `message_state` or else from the text's `stat:`.
pub(crate) fn report_of(route: &str, deliver: &DeliverSm) -> Option<DeliveryReport> {
    let text = receipt::parse(deliver.short_message().as_ref());
    let (mut id, mut state) = (None, None);
    for tlv in deliver.tlvs() {
        match tlv.value() {
            Some(TlvValue::ReceiptedMessageId(value)) if !value.as_str().is_empty() => {
                id = Some(value.as_str().to_owned());
            }
            Some(TlvValue::MessageState(value)) => state = Some(*value),
            _ => {}
        }
    }
    let outcome = state
        .map(outcome_of_state)
        .or_else(|| text.as_ref().map(|text| text.stat.outcome()))
        .unwrap_or(ReportOutcome::Pending);
    // The status shown is the text's when it says what the outcome says (it has the error
    // code), else `message_state`'s, where the outcome came from.
    let status = match (&text, state) {
        (Some(text), _) if text.stat.outcome() == outcome => Some(match &text.err {
            Some(err) => format!("{} err:{err}", text.stat.word()),
            None => text.stat.word().to_owned(),
        }),
        (_, Some(state)) => Some(format!("message_state {state:?}")),
        (Some(_), None) | (None, None) => None,
    };
    let provider_id = id.or_else(|| text.map(|text| text.id))?;
    Some(DeliveryReport {
        route: route.to_owned(),
        provider_id,
        outcome,
        status,
    })
}

fn outcome_of_state(state: MessageState) -> ReportOutcome {
    match state {
        MessageState::Delivered => ReportOutcome::Delivered,
        MessageState::Expired
        | MessageState::Deleted
        | MessageState::Undeliverable
        | MessageState::Rejected => ReportOutcome::Failed,
        _ => ReportOutcome::Pending,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use rusmpp::tlvs::MessageDeliveryRequestTlvValue;

    fn receipt(text: &str, state: Option<MessageState>) -> DeliverSm {
        let mut pdu = DeliverSm::builder()
            .esm_class(EsmClass::from(ESM_CLASS_RECEIPT))
            .short_message(OctetString::from_slice(text.as_bytes()).unwrap())
            .build();
        if let Some(state) = state {
            pdu.push_tlv(MessageDeliveryRequestTlvValue::MessageState(state));
        }
        pdu
    }

    /// The outcome comes from `message_state` when there is one; the status shown says
    /// the same: the text's (with its error code) when it agrees, else the state's.
    #[test]
    fn a_receipt_s_status_never_says_other_than_its_outcome() {
        let text = "id:1a2b stat:DELIVRD err:000 text:";
        let agreeing = report_of("smsc", &receipt(text, Some(MessageState::Delivered))).unwrap();
        assert_eq!(agreeing.outcome, ReportOutcome::Delivered);
        assert_eq!(agreeing.status.as_deref(), Some("DELIVRD err:000"));
        let disagreeing =
            report_of("smsc", &receipt(text, Some(MessageState::Undeliverable))).unwrap();
        assert_eq!(disagreeing.outcome, ReportOutcome::Failed);
        assert_eq!(
            disagreeing.status.as_deref(),
            Some("message_state Undeliverable")
        );
        let text_only = report_of("smsc", &receipt("id:1a2b stat:UNDELIV err:001", None)).unwrap();
        assert_eq!(text_only.outcome, ReportOutcome::Failed);
        assert_eq!(text_only.status.as_deref(), Some("UNDELIV err:001"));
    }

    #[test]
    fn the_validity_period_is_relative_and_bounded() {
        let check = |seconds: i64, expected: &str| assert_eq!(validity_period(seconds), expected);
        check(300, "000000000500000R");
        check(3_661, "000000010101000R");
        check(2 * 86_400 + 5, "000002000005000R");
        check(0, "000000000001000R");
        check(1_000 * 86_400, "000099235959000R");
    }
}
