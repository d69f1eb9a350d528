//! Who may make sceau write to a client's phone, and how often.
//!
//! Every message sceau sends a client is one of a few kinds, and one budget covers them
//! all: whatever mix of requests the client, their merchants or someone with their
//! password makes, the phone receives at most [`MessageBudget::total_max`] messages an
//! hour. The store counts the client's messages of the last [`WINDOW_S`] in the
//! transaction that would queue one more, and asks [`may_send`].
//!
//! A merchant may have a number sent to a client only if the client dealt with that
//! merchant before ([`may_reach`]): otherwise `POST /v1/numbers` would let any merchant
//! find out who is a client and text them.

/// The window every budget of this module is counted over: the last hour, sliding.
pub const WINDOW_S: i64 = 3_600;
/// Messages one client may be sent within the window, all kinds together, by default
/// (`client_sms_per_hour_max`): room for the default seals and numbers the client asks
/// for.
pub const CLIENT_MESSAGES_PER_HOUR_MAX: u32 = 30;
/// Distinct clients one merchant may have numbers sent to within the window, by default
/// (`merchant_clients_per_hour_max`).
pub const MERCHANT_CLIENTS_PER_HOUR_MAX: u32 = 100;

/// What a message to a client is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// A seal for a payment (Figures 1–3).
    PaymentSeal,
    /// A seal for a signature in the client's name.
    SignatureSeal,
    /// A number the client asked for (Figure 5).
    ClientNumber,
    /// A number a merchant asked for at checkout (Figure 4).
    MerchantNumber,
    /// A notice that protects the client (their payments were paused): never refused,
    /// but counted.
    Notice,
}

impl MessageKind {
    pub const ALL: [MessageKind; 5] = [
        MessageKind::PaymentSeal,
        MessageKind::SignatureSeal,
        MessageKind::ClientNumber,
        MessageKind::MerchantNumber,
        MessageKind::Notice,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            MessageKind::PaymentSeal => "payment_seal",
            MessageKind::SignatureSeal => "signature_seal",
            MessageKind::ClientNumber => "client_number",
            MessageKind::MerchantNumber => "merchant_number",
            MessageKind::Notice => "notice",
        }
    }

    pub fn parse(text: &str) -> Option<MessageKind> {
        MessageKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }
}

/// The messages one client was sent within the window, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SentThisHour {
    pub payment_seals: u32,
    pub signature_seals: u32,
    pub client_numbers: u32,
    pub merchant_numbers: u32,
    /// Of `merchant_numbers`, those the merchant asking now asked for.
    pub this_merchant_numbers: u32,
    pub notices: u32,
}

impl SentThisHour {
    /// Counts `count` more messages of `kind`, `of_this_merchant` of them asked for by
    /// the merchant asking now.
    pub fn add(&mut self, kind: MessageKind, count: u32, of_this_merchant: u32) {
        let field = match kind {
            MessageKind::PaymentSeal => &mut self.payment_seals,
            MessageKind::SignatureSeal => &mut self.signature_seals,
            MessageKind::ClientNumber => &mut self.client_numbers,
            MessageKind::MerchantNumber => {
                self.this_merchant_numbers =
                    self.this_merchant_numbers.saturating_add(of_this_merchant);
                &mut self.merchant_numbers
            }
            MessageKind::Notice => &mut self.notices,
        };
        *field = field.saturating_add(count);
    }

    pub fn seals(&self) -> u32 {
        self.payment_seals.saturating_add(self.signature_seals)
    }

    pub fn total(&self) -> u32 {
        self.seals()
            .saturating_add(self.client_numbers)
            .saturating_add(self.merchant_numbers)
            .saturating_add(self.notices)
    }
}

/// How many messages one client may be sent within the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageBudget {
    /// Every kind together (`client_sms_per_hour_max`).
    pub total_max: u32,
    /// Seals, payment and signature seals together (`client_seals_per_hour_max`).
    pub seals_max: u32,
    /// Numbers the client asks for (`numbers_per_hour_max`).
    pub client_numbers_max: u32,
    /// Numbers one merchant asks for (`checkout_numbers_per_hour_max`).
    pub per_merchant_max: u32,
    /// Numbers all merchants together ask for: what the total leaves beside the client's
    /// own seals (see [`MessageBudget::new`]).
    pub merchant_numbers_max: u32,
}

impl MessageBudget {
    /// A budget that never refuses (tests of other rules).
    pub const UNLIMITED: MessageBudget = MessageBudget {
        total_max: u32::MAX,
        seals_max: u32::MAX,
        client_numbers_max: u32::MAX,
        per_merchant_max: u32::MAX,
        merchant_numbers_max: u32::MAX,
    };

    /// The budget of these limits, in which all merchants together may have sent what
    /// the total leaves beside the client's seals: merchants cannot use up the room the
    /// client needs to pay or sign.
    pub fn new(
        total_max: u32,
        seals_max: u32,
        client_numbers_max: u32,
        per_merchant_max: u32,
    ) -> MessageBudget {
        MessageBudget {
            total_max,
            seals_max,
            client_numbers_max,
            per_merchant_max,
            merchant_numbers_max: total_max.saturating_sub(seals_max),
        }
    }
}

/// Why one more message is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TooMany {
    /// The seals of the hour were sent.
    Seals,
    /// The numbers of the hour (the client's own, one merchant's, or all merchants')
    /// were sent.
    Numbers,
    /// The client was sent as many messages as the hour allows, all kinds together.
    Messages,
}

impl TooMany {
    pub fn code(&self) -> &'static str {
        match self {
            TooMany::Seals => "too_many_seals",
            TooMany::Numbers => "too_many_numbers",
            TooMany::Messages => "too_many_messages",
        }
    }
}

/// Whether one more message of `kind` may be sent to a client who was sent `sent` within
/// the window. The kind's own limit is judged first, so that the refusal names it; a
/// notice is never refused (it tells the client something happened to their account).
pub fn may_send(
    budget: &MessageBudget,
    sent: &SentThisHour,
    kind: MessageKind,
) -> Result<(), TooMany> {
    let kind_full = match kind {
        MessageKind::PaymentSeal | MessageKind::SignatureSeal => {
            (sent.seals() >= budget.seals_max).then_some(TooMany::Seals)
        }
        MessageKind::ClientNumber => {
            (sent.client_numbers >= budget.client_numbers_max).then_some(TooMany::Numbers)
        }
        // Notices (pause warnings, unlock codes, which anyone who knows a login can
        // cause) count against the merchants' share too: whatever merchants and notices
        // did, the client's own seals keep their room.
        MessageKind::MerchantNumber => (sent.this_merchant_numbers >= budget.per_merchant_max
            || sent.merchant_numbers.saturating_add(sent.notices) >= budget.merchant_numbers_max)
            .then_some(TooMany::Numbers),
        MessageKind::Notice => return Ok(()),
    };
    if let Some(refusal) = kind_full {
        return Err(refusal);
    }
    if sent.total() >= budget.total_max {
        return Err(TooMany::Messages);
    }
    Ok(())
}

/// What the store knows of a merchant and a client when the merchant asks for a number
/// for them (Figure 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MerchantReach {
    /// The client dealt with this merchant before: paid it (a captured payment, by number
    /// or by seal) or signed in on one of its checkouts.
    pub known: bool,
    /// The client's payments are blocked or paused.
    pub client_stopped: bool,
    /// Distinct clients the merchant had numbers sent to within the window.
    pub clients_this_hour: u32,
    /// Whether this client is one of them.
    pub client_among_them: bool,
}

/// Why a merchant may not have a number sent to a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReachRefusal {
    /// Not the merchant's client, or blocked or paused: the merchant is told no more than
    /// for a login nobody has.
    Unreachable,
    /// The merchant had numbers sent to as many distinct clients as the hour allows.
    TooManyClients,
}

/// Whether a merchant may have a number sent to this client now. `clients_max` is the
/// merchant's hourly allowance of distinct clients; a client already reached within the
/// window does not count again.
pub fn may_reach(reach: &MerchantReach, clients_max: u32) -> Result<(), ReachRefusal> {
    if !reach.known || reach.client_stopped {
        return Err(ReachRefusal::Unreachable);
    }
    if !reach.client_among_them && reach.clients_this_hour >= clients_max {
        return Err(ReachRefusal::TooManyClients);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUDGET: MessageBudget = MessageBudget {
        total_max: 30,
        seals_max: 10,
        client_numbers_max: 20,
        per_merchant_max: 5,
        merchant_numbers_max: 20,
    };

    #[test]
    fn merchants_get_what_the_total_leaves_beside_the_seals() {
        assert_eq!(MessageBudget::new(30, 10, 20, 5), BUDGET);
        assert_eq!(MessageBudget::new(10, 12, 20, 5).merchant_numbers_max, 0);
    }

    fn sent(kinds: &[(MessageKind, u32)], of_this_merchant: u32) -> SentThisHour {
        let mut sent = SentThisHour::default();
        for (kind, count) in kinds {
            let mine = if *kind == MessageKind::MerchantNumber {
                of_this_merchant
            } else {
                0
            };
            sent.add(*kind, *count, mine);
        }
        sent
    }

    fn check(
        kinds: &[(MessageKind, u32)],
        of_this_merchant: u32,
        kind: MessageKind,
        expected: Result<(), TooMany>,
    ) {
        let sent = sent(kinds, of_this_merchant);
        assert_eq!(
            may_send(&BUDGET, &sent, kind),
            expected,
            "{kind:?} after {sent:?}"
        );
    }

    use MessageKind::*;

    #[test]
    fn each_kind_has_its_limit_and_all_share_the_total() {
        check(&[], 0, PaymentSeal, Ok(()));
        // Payment and signature seals share one limit.
        check(&[(SignatureSeal, 9)], 0, PaymentSeal, Ok(()));
        check(&[(SignatureSeal, 10)], 0, PaymentSeal, Err(TooMany::Seals));
        check(
            &[(SignatureSeal, 7), (PaymentSeal, 3)],
            0,
            SignatureSeal,
            Err(TooMany::Seals),
        );
        check(&[(ClientNumber, 19)], 0, ClientNumber, Ok(()));
        check(
            &[(ClientNumber, 20)],
            0,
            ClientNumber,
            Err(TooMany::Numbers),
        );
        // One merchant's numbers, then all merchants' (what the total leaves beside the
        // seals: 20).
        check(&[(MerchantNumber, 4)], 4, MerchantNumber, Ok(()));
        check(
            &[(MerchantNumber, 5)],
            5,
            MerchantNumber,
            Err(TooMany::Numbers),
        );
        check(&[(MerchantNumber, 19)], 0, MerchantNumber, Ok(()));
        check(
            &[(MerchantNumber, 20)],
            0,
            MerchantNumber,
            Err(TooMany::Numbers),
        );
        // The total, with every kind below its own limit.
        check(
            &[(SignatureSeal, 9), (ClientNumber, 19), (Notice, 2)],
            0,
            PaymentSeal,
            Err(TooMany::Messages),
        );
        check(
            &[(SignatureSeal, 9), (ClientNumber, 19), (Notice, 1)],
            0,
            PaymentSeal,
            Ok(()),
        );
        check(
            &[(SignatureSeal, 10), (ClientNumber, 19), (Notice, 1)],
            0,
            ClientNumber,
            Err(TooMany::Messages),
        );
        check(
            &[(MerchantNumber, 15), (ClientNumber, 15)],
            0,
            MerchantNumber,
            Err(TooMany::Messages),
        );
    }

    #[test]
    fn merchants_cannot_take_the_room_of_the_clients_seals() {
        // Merchants used all they may: the client can still be sent every seal.
        let mut sent = sent(&[(MerchantNumber, BUDGET.merchant_numbers_max)], 0);
        assert_eq!(
            may_send(&BUDGET, &sent, MerchantNumber),
            Err(TooMany::Numbers)
        );
        for _ in 0..BUDGET.seals_max {
            assert_eq!(may_send(&BUDGET, &sent, PaymentSeal), Ok(()));
            sent.add(PaymentSeal, 1, 0);
        }
        assert_eq!(sent.total(), BUDGET.total_max);
    }

    #[test]
    fn notices_always_go_out_and_count() {
        let full = sent(&[(SignatureSeal, 10), (ClientNumber, 20)], 0);
        assert_eq!(full.total(), 30);
        assert_eq!(may_send(&BUDGET, &full, Notice), Ok(()));
        let mut noticed = full;
        noticed.add(Notice, 1, 0);
        assert_eq!(noticed.total(), 31);
        check(&[(Notice, 30)], 0, ClientNumber, Err(TooMany::Messages));
    }

    #[test]
    fn kinds_read_back_as_written() {
        for kind in MessageKind::ALL {
            assert_eq!(MessageKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(MessageKind::parse("seal"), None);
    }

    /// Whatever is asked, in any order, a client is never sent more than the total (but
    /// for notices) nor more of a kind than its limit.
    #[test]
    fn no_sequence_of_requests_exceeds_the_budget() {
        let kinds = [PaymentSeal, SignatureSeal, ClientNumber, MerchantNumber];
        let mut seed = 0x2545_f491_u64;
        for _ in 0..200 {
            let mut sent = SentThisHour::default();
            let mut per_merchant = [0_u32; 3];
            for _ in 0..200 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let kind = kinds[(seed % 4) as usize];
                let merchant = ((seed >> 8) % 3) as usize;
                let mut asking = sent;
                asking.this_merchant_numbers = per_merchant[merchant];
                if may_send(&BUDGET, &asking, kind).is_ok() {
                    sent.add(kind, 1, 0);
                    if kind == MerchantNumber {
                        per_merchant[merchant] += 1;
                    }
                }
            }
            assert!(sent.total() <= BUDGET.total_max);
            assert!(sent.seals() <= BUDGET.seals_max);
            assert!(sent.client_numbers <= BUDGET.client_numbers_max);
            assert!(sent.merchant_numbers <= BUDGET.merchant_numbers_max);
            assert!(per_merchant.iter().all(|n| *n <= BUDGET.per_merchant_max));
        }
    }

    #[test]
    fn notices_and_merchants_leave_the_seals_their_room() {
        let mut sent = SentThisHour {
            notices: 3,
            ..SentThisHour::default()
        };
        while may_send(&BUDGET, &sent, MerchantNumber).is_ok() {
            sent.add(MerchantNumber, 1, 0);
            sent.this_merchant_numbers = 0;
        }
        let mut seals = 0;
        while may_send(&BUDGET, &sent, PaymentSeal).is_ok() {
            sent.add(PaymentSeal, 1, 0);
            seals += 1;
        }
        assert_eq!(seals, BUDGET.seals_max, "{sent:?}");
    }

    #[test]
    fn a_merchant_reaches_only_its_clients_and_so_many_an_hour() {
        let reach = MerchantReach {
            known: true,
            client_stopped: false,
            clients_this_hour: 0,
            client_among_them: false,
        };
        assert_eq!(may_reach(&reach, 2), Ok(()));
        for refused in [
            MerchantReach {
                known: false,
                ..reach
            },
            MerchantReach {
                client_stopped: true,
                ..reach
            },
            MerchantReach {
                known: false,
                client_stopped: true,
                clients_this_hour: 2,
                ..reach
            },
        ] {
            assert_eq!(
                may_reach(&refused, 2),
                Err(ReachRefusal::Unreachable),
                "{refused:?}"
            );
        }
        let busy = MerchantReach {
            clients_this_hour: 2,
            ..reach
        };
        assert_eq!(may_reach(&busy, 2), Err(ReachRefusal::TooManyClients));
        assert_eq!(
            may_reach(
                &MerchantReach {
                    client_among_them: true,
                    ..busy
                },
                2
            ),
            Ok(()),
            "a client reached within the hour does not count again"
        );
    }
}
