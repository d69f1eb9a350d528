//! Certified delivery's rules (the source document's Figures 7 and 9; ARCHITECTURE.md,
//! "Certified delivery"): a notarized envelope sent to recipients, each told by e-mail,
//! authenticated by a code sent to their own phone, handed the files, and answering.
//!
//! Pure: what a delivery may hold, and what each event does to a recipient. The store
//! applies the answers in one transaction per step; the evidence of each transition
//! carries the name ETSI EN 319 522 gives the event ([`etsi_event`]).

use crate::email::EmailAddress;
use crate::phone::PhoneNumber;

/// Recipients of one delivery unless configured otherwise.
pub const RECIPIENTS_MAX_DEFAULT: usize = 100;
/// The most recipients a configuration may allow one delivery.
pub const RECIPIENTS_MAX_CEILING: usize = 500;
/// Codes one recipient may be sent over a delivery's life (each also counts against their
/// phone's hourly budget, so that reaching it takes hours): what bounds the records of
/// one recipient (a code, three wrong ones before a pause, a session) to what their
/// receipt can carry.
pub const CODES_MAX: u32 = 100;
/// Withdrawals (certificates made for a browser's key, files handed over) in one session
/// of a recipient: each load of the files page makes one.
pub const SESSION_WITHDRAWALS_MAX: u32 = 3;
/// Days a recipient has to answer unless the sender says otherwise.
pub const DEADLINE_DAYS_DEFAULT: u32 = 15;
/// The shortest and longest deadline a sender may give, in days.
pub const DEADLINE_DAYS_MIN: u32 = 1;
pub const DEADLINE_DAYS_MAX: u32 = 90;

/// One recipient as the sender names them: an address for the notice, a phone for the
/// code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub email: EmailAddress,
    pub phone: PhoneNumber,
}

/// Why a delivery cannot be sent as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    #[error("a delivery names at least one recipient")]
    NoRecipients,
    #[error("a delivery names at most {max} recipients, not {given}")]
    TooManyRecipients { given: usize, max: usize },
    #[error("recipient {index} is named twice (the same e-mail address)")]
    RecipientTwice { index: usize },
    #[error(
        "recipient {index} is a client of this service whose phone is not the one given: \
         their own is used, give it or none"
    )]
    PhoneMismatch { index: usize },
    #[error("a deadline is {DEADLINE_DAYS_MIN} to {DEADLINE_DAYS_MAX} days away, not {days}")]
    DeadlineOutOfRange { days: u32 },
}

impl DeliveryError {
    /// The stable code of this refusal.
    pub fn code(&self) -> &'static str {
        match self {
            DeliveryError::NoRecipients => "no_recipients",
            DeliveryError::TooManyRecipients { .. } => "too_many_recipients",
            DeliveryError::RecipientTwice { .. } => "recipient_twice",
            DeliveryError::PhoneMismatch { .. } => "phone_mismatch",
            DeliveryError::DeadlineOutOfRange { .. } => "invalid_deadline",
        }
    }
}

/// The recipients of a delivery, checked: one at least, `max` at most, no address twice
/// (compared without case: one mailbox is one recipient).
pub fn check_recipients(recipients: &[Recipient], max: usize) -> Result<(), DeliveryError> {
    if recipients.is_empty() {
        return Err(DeliveryError::NoRecipients);
    }
    if recipients.len() > max {
        return Err(DeliveryError::TooManyRecipients {
            given: recipients.len(),
            max,
        });
    }
    let mut seen = std::collections::HashSet::new();
    for (index, recipient) in recipients.iter().enumerate() {
        if !seen.insert(recipient.email.as_str().to_ascii_lowercase()) {
            return Err(DeliveryError::RecipientTwice { index });
        }
    }
    Ok(())
}

/// The phone a recipient's code goes to: an enrolled client's own (the sender's value,
/// if given, must be it: a sender cannot send a client's code elsewhere), otherwise the
/// sender's (the source document's Figure 9 variant).
pub fn code_phone(
    index: usize,
    given: Option<&PhoneNumber>,
    enrolled: Option<&PhoneNumber>,
) -> Result<Option<PhoneNumber>, DeliveryError> {
    match (given, enrolled) {
        (Some(given), Some(enrolled)) if given != enrolled => {
            Err(DeliveryError::PhoneMismatch { index })
        }
        (_, Some(enrolled)) => Ok(Some(enrolled.clone())),
        (given, None) => Ok(given.cloned()),
    }
}

/// When a delivery sent at `now_s` with a deadline `days` away ends.
pub fn deadline_s(now_s: i64, days: u32) -> Result<i64, DeliveryError> {
    if !(DEADLINE_DAYS_MIN..=DEADLINE_DAYS_MAX).contains(&days) {
        return Err(DeliveryError::DeadlineOutOfRange { days });
    }
    Ok(now_s + i64::from(days) * 86_400)
}

/// Where a recipient stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecipientState {
    /// The notice is queued or sent; the recipient has not proved their phone.
    Notified,
    /// The notice could not be delivered (a permanent failure or a bounce).
    NoticeFailed,
    /// Too many wrong codes: no code is taken until the pause ends.
    Paused,
    /// The right code was typed.
    Authenticated,
    /// The files were handed over (at least once).
    Withdrawn,
    Accepted,
    Rejected,
    /// The deadline passed without an answer.
    Expired,
}

impl RecipientState {
    pub fn as_str(self) -> &'static str {
        match self {
            RecipientState::Notified => "notified",
            RecipientState::NoticeFailed => "notice_failed",
            RecipientState::Paused => "paused",
            RecipientState::Authenticated => "authenticated",
            RecipientState::Withdrawn => "withdrawn",
            RecipientState::Accepted => "accepted",
            RecipientState::Rejected => "rejected",
            RecipientState::Expired => "expired",
        }
    }

    pub fn parse(text: &str) -> Option<RecipientState> {
        RecipientState::ALL
            .into_iter()
            .find(|state| state.as_str() == text)
    }

    pub const ALL: [RecipientState; 8] = [
        RecipientState::Notified,
        RecipientState::NoticeFailed,
        RecipientState::Paused,
        RecipientState::Authenticated,
        RecipientState::Withdrawn,
        RecipientState::Accepted,
        RecipientState::Rejected,
        RecipientState::Expired,
    ];

    /// Whether nothing more happens to the recipient.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RecipientState::NoticeFailed
                | RecipientState::Accepted
                | RecipientState::Rejected
                | RecipientState::Expired
        )
    }
}

/// What happens to a recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecipientEvent {
    /// The notice's message failed for good, or bounced.
    NoticeFailed,
    /// The right code was typed.
    CodeRight,
    /// A wrong code was typed; `pause` when it was the last try.
    CodeWrong {
        pause: bool,
    },
    /// The pause is over: codes are taken again.
    PauseOver,
    /// The files were handed over to the recipient's browser.
    Withdrawn,
    /// The recipient accepted, or rejected, what they were handed.
    Accepted,
    Rejected,
    /// The deadline passed (the sweep's event).
    DeadlinePassed,
}

/// Why an event cannot happen to a recipient now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RecipientRefusal {
    #[error("this delivery is over for this recipient")]
    Over,
    #[error("the deadline has passed")]
    DeadlinePassed,
    #[error("too many wrong codes: wait for the pause to end")]
    Paused,
    #[error("the code from your phone is needed first")]
    NotAuthenticated,
    #[error("the files must be received and checked before an answer")]
    NotWithdrawn,
    #[error("nothing to do: this recipient is not in that state")]
    NotApplicable,
    #[error("the files were handed over as many times as a delivery allows")]
    TooManyWithdrawals,
    #[error("as many codes were sent for this delivery as it allows")]
    TooManyCodes,
}

impl RecipientRefusal {
    pub fn code(self) -> &'static str {
        match self {
            RecipientRefusal::Over => "delivery_over",
            RecipientRefusal::DeadlinePassed => "delivery_expired",
            RecipientRefusal::Paused => "recipient_paused",
            RecipientRefusal::NotAuthenticated => "not_authenticated",
            RecipientRefusal::NotWithdrawn => "not_withdrawn",
            RecipientRefusal::NotApplicable => "recipient_state",
            RecipientRefusal::TooManyWithdrawals => "too_many_withdrawals",
            RecipientRefusal::TooManyCodes => "too_many_codes",
        }
    }
}

/// The state `event` moves a recipient in `state` to, at `now_s`, for a delivery ending
/// at `deadline_s`. Past the deadline, a recipient who has not answered expires (the
/// sweep's [`RecipientEvent::DeadlinePassed`]) and nothing else is taken from them.
pub fn next(
    state: RecipientState,
    event: RecipientEvent,
    deadline_s: i64,
    now_s: i64,
) -> Result<RecipientState, RecipientRefusal> {
    use RecipientEvent as E;
    use RecipientState as S;
    if state.is_final() {
        return Err(RecipientRefusal::Over);
    }
    if now_s >= deadline_s {
        return match event {
            E::DeadlinePassed => Ok(S::Expired),
            _ => Err(RecipientRefusal::DeadlinePassed),
        };
    }
    match (state, event) {
        (_, E::DeadlinePassed) => Err(RecipientRefusal::NotApplicable),
        // A notice that failed after the recipient came (a late bounce) changes nothing.
        (S::Notified | S::Paused, E::NoticeFailed) => Ok(S::NoticeFailed),
        (_, E::NoticeFailed) => Ok(state),
        (S::Paused, E::PauseOver) => Ok(S::Notified),
        (_, E::PauseOver) => Err(RecipientRefusal::NotApplicable),
        (S::Paused, _) => Err(RecipientRefusal::Paused),
        (S::Notified, E::CodeRight) => Ok(S::Authenticated),
        (S::Notified, E::CodeWrong { pause: true }) => Ok(S::Paused),
        (S::Notified, E::CodeWrong { pause: false }) => Ok(S::Notified),
        (S::Notified, E::Withdrawn | E::Accepted | E::Rejected) => {
            Err(RecipientRefusal::NotAuthenticated)
        }
        // A recipient who comes back proves their phone again; where they were stands.
        (S::Authenticated | S::Withdrawn, E::CodeRight | E::CodeWrong { .. }) => Ok(state),
        (S::Authenticated | S::Withdrawn, E::Withdrawn) => Ok(S::Withdrawn),
        (S::Authenticated, E::Accepted | E::Rejected) => Err(RecipientRefusal::NotWithdrawn),
        (S::Withdrawn, E::Accepted) => Ok(S::Accepted),
        (S::Withdrawn, E::Rejected) => Ok(S::Rejected),
        (S::NoticeFailed | S::Accepted | S::Rejected | S::Expired, _) => {
            Err(RecipientRefusal::Over)
        }
    }
}

/// The name ETSI EN 319 522-2 gives what `event` did to a recipient, when it has one
/// (the evidence record carries it): the notice sent is ConsignmentNotification, each
/// hand-over after the first is ContentAccessTracking.
pub fn etsi_event(from: RecipientState, event: RecipientEvent) -> Option<&'static str> {
    use RecipientEvent as E;
    use RecipientState as S;
    match (from, event) {
        (_, E::NoticeFailed) => Some("ConsignmentNotificationFailure"),
        (S::Authenticated, E::Withdrawn) => Some("ContentHandover"),
        (S::Withdrawn, E::Withdrawn) => Some("ContentAccessTracking"),
        (_, E::Accepted) => Some("ConsignmentAcceptance"),
        (_, E::Rejected) => Some("ConsignmentRejection"),
        (_, E::DeadlinePassed) => Some("AcceptanceRejectionExpiry"),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use RecipientEvent as E;
    use RecipientState as S;

    fn recipient(email: &str, phone: &str) -> Recipient {
        Recipient {
            email: email.parse().unwrap(),
            phone: phone.parse().unwrap(),
        }
    }

    #[test]
    fn a_delivery_names_one_to_max_recipients_each_once() {
        let bob = recipient("bob@example.org", "+33687654321");
        let carol = recipient("carol@example.org", "+33611111111");
        assert_eq!(check_recipients(&[], 3), Err(DeliveryError::NoRecipients));
        assert_eq!(check_recipients(&[bob.clone(), carol.clone()], 3), Ok(()));
        let many = vec![carol.clone(); 4];
        assert_eq!(
            check_recipients(&many, 3),
            Err(DeliveryError::TooManyRecipients { given: 4, max: 3 })
        );
        let shouted = recipient("BOB@example.org", "+33600000000");
        assert_eq!(
            check_recipients(&[bob, carol, shouted], 3),
            Err(DeliveryError::RecipientTwice { index: 2 })
        );
        assert_eq!(
            DeliveryError::TooManyRecipients {
                given: 1000,
                max: 100
            }
            .code(),
            "too_many_recipients"
        );
    }

    #[test]
    fn an_enrolled_clients_code_goes_to_their_own_phone_only() {
        let own: PhoneNumber = "+33612345678".parse().unwrap();
        let other: PhoneNumber = "+33687654321".parse().unwrap();
        assert_eq!(code_phone(0, None, Some(&own)), Ok(Some(own.clone())));
        assert_eq!(code_phone(0, Some(&own), Some(&own)), Ok(Some(own.clone())));
        assert_eq!(
            code_phone(2, Some(&other), Some(&own)),
            Err(DeliveryError::PhoneMismatch { index: 2 })
        );
        assert_eq!(code_phone(0, Some(&other), None), Ok(Some(other)));
        assert_eq!(code_phone(0, None, None), Ok(None));
    }

    #[test]
    fn a_deadline_is_one_to_ninety_days_away() {
        assert_eq!(deadline_s(1_000, 15), Ok(1_000 + 15 * 86_400));
        assert_eq!(deadline_s(1_000, 1), Ok(1_000 + 86_400));
        assert_eq!(deadline_s(1_000, 90), Ok(1_000 + 90 * 86_400));
        for days in [0, 91, u32::MAX] {
            assert_eq!(
                deadline_s(1_000, days),
                Err(DeliveryError::DeadlineOutOfRange { days })
            );
        }
    }

    #[test]
    fn states_are_named_once_and_read_back() {
        for state in RecipientState::ALL {
            assert_eq!(RecipientState::parse(state.as_str()), Some(state));
        }
        assert_eq!(RecipientState::parse("Accepted"), None);
    }

    const DEADLINE: i64 = 10_000;
    const NOW: i64 = 5_000;

    #[test]
    fn a_recipient_proves_their_phone_receives_then_answers() {
        let code = next(S::Notified, E::CodeRight, DEADLINE, NOW).unwrap();
        assert_eq!(code, S::Authenticated);
        let withdrawn = next(code, E::Withdrawn, DEADLINE, NOW).unwrap();
        assert_eq!(withdrawn, S::Withdrawn);
        assert_eq!(
            next(withdrawn, E::Withdrawn, DEADLINE, NOW),
            Ok(S::Withdrawn)
        );
        assert_eq!(next(withdrawn, E::Accepted, DEADLINE, NOW), Ok(S::Accepted));
        assert_eq!(next(withdrawn, E::Rejected, DEADLINE, NOW), Ok(S::Rejected));
        // Coming back with a new code changes nothing of where they stand.
        assert_eq!(
            next(withdrawn, E::CodeRight, DEADLINE, NOW),
            Ok(S::Withdrawn)
        );
        assert_eq!(
            next(withdrawn, E::CodeWrong { pause: true }, DEADLINE, NOW),
            Ok(S::Withdrawn)
        );
    }

    #[test]
    fn nothing_is_handed_over_or_answered_out_of_turn() {
        for event in [E::Withdrawn, E::Accepted, E::Rejected] {
            assert_eq!(
                next(S::Notified, event, DEADLINE, NOW),
                Err(RecipientRefusal::NotAuthenticated)
            );
        }
        for event in [E::Accepted, E::Rejected] {
            assert_eq!(
                next(S::Authenticated, event, DEADLINE, NOW),
                Err(RecipientRefusal::NotWithdrawn)
            );
        }
        for state in [S::Accepted, S::Rejected, S::Expired, S::NoticeFailed] {
            for event in [E::CodeRight, E::Withdrawn, E::Accepted, E::DeadlinePassed] {
                assert_eq!(
                    next(state, event, DEADLINE, NOW),
                    Err(RecipientRefusal::Over),
                    "{state:?} {event:?}"
                );
            }
        }
        assert_eq!(
            next(S::Notified, E::DeadlinePassed, DEADLINE, NOW),
            Err(RecipientRefusal::NotApplicable)
        );
        assert_eq!(
            next(S::Notified, E::PauseOver, DEADLINE, NOW),
            Err(RecipientRefusal::NotApplicable)
        );
    }

    #[test]
    fn wrong_codes_pause_the_recipient_until_the_pause_ends() {
        assert_eq!(
            next(S::Notified, E::CodeWrong { pause: false }, DEADLINE, NOW),
            Ok(S::Notified)
        );
        let paused = next(S::Notified, E::CodeWrong { pause: true }, DEADLINE, NOW).unwrap();
        assert_eq!(paused, S::Paused);
        for event in [E::CodeRight, E::CodeWrong { pause: false }, E::Withdrawn] {
            assert_eq!(
                next(paused, event, DEADLINE, NOW),
                Err(RecipientRefusal::Paused)
            );
        }
        assert_eq!(next(paused, E::PauseOver, DEADLINE, NOW), Ok(S::Notified));
    }

    #[test]
    fn a_failed_notice_ends_a_recipient_who_never_came() {
        assert_eq!(
            next(S::Notified, E::NoticeFailed, DEADLINE, NOW),
            Ok(S::NoticeFailed)
        );
        assert_eq!(
            next(S::Paused, E::NoticeFailed, DEADLINE, NOW),
            Ok(S::NoticeFailed)
        );
        // A late bounce of a notice the recipient followed changes nothing.
        for state in [S::Authenticated, S::Withdrawn] {
            assert_eq!(next(state, E::NoticeFailed, DEADLINE, NOW), Ok(state));
        }
    }

    #[test]
    fn past_the_deadline_a_recipient_who_has_not_answered_expires() {
        for state in [S::Notified, S::Paused, S::Authenticated, S::Withdrawn] {
            assert_eq!(
                next(state, E::DeadlinePassed, DEADLINE, DEADLINE),
                Ok(S::Expired),
                "{state:?}"
            );
            for event in [E::CodeRight, E::Withdrawn, E::Accepted, E::Rejected] {
                assert_eq!(
                    next(state, event, DEADLINE, DEADLINE + 1),
                    Err(RecipientRefusal::DeadlinePassed),
                    "{state:?} {event:?}"
                );
            }
        }
        assert_eq!(
            next(S::Withdrawn, E::Accepted, DEADLINE, DEADLINE - 1),
            Ok(S::Accepted)
        );
    }

    #[test]
    fn each_transition_carries_the_name_en_319_522_gives_it() {
        assert_eq!(
            etsi_event(S::Authenticated, E::Withdrawn),
            Some("ContentHandover")
        );
        assert_eq!(
            etsi_event(S::Withdrawn, E::Withdrawn),
            Some("ContentAccessTracking")
        );
        assert_eq!(
            etsi_event(S::Withdrawn, E::Accepted),
            Some("ConsignmentAcceptance")
        );
        assert_eq!(
            etsi_event(S::Withdrawn, E::Rejected),
            Some("ConsignmentRejection")
        );
        assert_eq!(
            etsi_event(S::Notified, E::DeadlinePassed),
            Some("AcceptanceRejectionExpiry")
        );
        assert_eq!(
            etsi_event(S::Notified, E::NoticeFailed),
            Some("ConsignmentNotificationFailure")
        );
        assert_eq!(etsi_event(S::Notified, E::CodeRight), None);
    }
}
