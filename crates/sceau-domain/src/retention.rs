//! How long what only serves the moment is kept (issue 23): sessions, checkouts that ended
//! without a payment, the bodies of messages and then the messages, webhooks delivered or
//! given up, merchants' idempotency keys. The purge removes what is past its window.
//!
//! Never purged by it: the ledger (accounts, transfers, authorizations, and so paid
//! checkouts, the records of their payments), numbers, evidence records and the log,
//! certificates, signatures and archived documents (the archive has its own retention).

/// One day, in seconds.
const DAY_S: i64 = 86_400;

/// What each kind is kept for, in days after it ended (the `[retention]` table of the
/// configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Retention {
    /// Sessions, after they expired (0: at the next purge).
    pub sessions_days: u32,
    /// Checkouts that expired, were canceled or failed, after their last change (and
    /// once no webhook of theirs is left: after `webhooks_days` too, if longer).
    pub unpaid_checkouts_days: u32,
    /// The sealed text of messages (seals, numbers, notices), after the message ended
    /// (delivered, failed or expired), or after the life of its secret when no report
    /// ends it (e-mail, routes without receipts); 0: at the next purge. The message's
    /// record stays.
    pub message_bodies_days: u32,
    /// Messages' records (address, route, state, times), after they ended.
    pub messages_days: u32,
    /// Webhooks delivered or given up, after their last try.
    pub webhooks_days: u32,
    /// Merchants' idempotency keys, after their first use: a retry after that is a new
    /// request.
    pub idempotency_days: u32,
}

impl Default for Retention {
    fn default() -> Retention {
        Retention {
            sessions_days: 1,
            unpaid_checkouts_days: 30,
            message_bodies_days: 1,
            messages_days: 90,
            webhooks_days: 30,
            idempotency_days: 7,
        }
    }
}

/// Most days any window may be (ten years).
pub const DAYS_MAX: u32 = 3_660;

/// A window out of its bounds: the setting's name and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("retention.{setting} {why}")]
pub struct RetentionRefused {
    pub setting: &'static str,
    pub why: String,
}

/// The moments before which each kind is purged (seconds since 1970, inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cutoffs {
    pub sessions_expired: i64,
    pub checkouts_ended: i64,
    pub bodies_ended: i64,
    pub messages_ended: i64,
    pub webhooks_ended: i64,
    pub idempotency_created: i64,
}

impl Retention {
    /// Checks the windows' bounds: every one at most [`DAYS_MAX`]; at least a day for
    /// what a rule reads back (a client's messages of the last hour are throttled; a
    /// merchant retries with the same key within a day; a checkout's page shows how it
    /// ended), and messages' records kept at least as long as their bodies.
    pub fn check(&self) -> Result<(), RetentionRefused> {
        let windows = [
            ("sessions_days", self.sessions_days, 0),
            ("unpaid_checkouts_days", self.unpaid_checkouts_days, 1),
            ("message_bodies_days", self.message_bodies_days, 0),
            ("messages_days", self.messages_days, 1),
            ("webhooks_days", self.webhooks_days, 1),
            ("idempotency_days", self.idempotency_days, 1),
        ];
        for (setting, days, least) in windows {
            if !(least..=DAYS_MAX).contains(&days) {
                return Err(RetentionRefused {
                    setting,
                    why: format!("must be {least} to {DAYS_MAX} days"),
                });
            }
        }
        if self.idempotency_days > self.unpaid_checkouts_days {
            return Err(RetentionRefused {
                setting: "idempotency_days",
                why: "must be at most unpaid_checkouts_days (a replay answers with the checkout \
                      it made)"
                    .into(),
            });
        }
        if self.messages_days < self.message_bodies_days {
            return Err(RetentionRefused {
                setting: "messages_days",
                why: "must be at least message_bodies_days (a body is kept with its message)"
                    .into(),
            });
        }
        Ok(())
    }

    /// What is past its window at `now_s`.
    pub fn cutoffs(&self, now_s: i64) -> Cutoffs {
        let before = |days: u32| now_s.saturating_sub(i64::from(days) * DAY_S);
        Cutoffs {
            sessions_expired: before(self.sessions_days),
            // A checkout waits for its webhooks: looking at those younger than they are
            // would read the same rows again at every purge.
            checkouts_ended: before(self.unpaid_checkouts_days.max(self.webhooks_days)),
            bodies_ended: before(self.message_bodies_days),
            messages_ended: before(self.messages_days),
            webhooks_ended: before(self.webhooks_days),
            idempotency_created: before(self.idempotency_days),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_hold_and_each_bound_is_named() {
        Retention::default().check().unwrap();
        let refused = |retention: Retention| retention.check().unwrap_err().to_string();
        let base = Retention::default();
        assert!(
            refused(Retention {
                idempotency_days: 0,
                ..base
            })
            .contains("retention.idempotency_days must be 1 to 3660 days")
        );
        assert!(
            refused(Retention {
                messages_days: 0,
                ..base
            })
            .contains("messages_days")
        );
        assert!(
            refused(Retention {
                webhooks_days: DAYS_MAX + 1,
                ..base
            })
            .contains("webhooks_days")
        );
        assert!(
            refused(Retention {
                message_bodies_days: 10,
                messages_days: 9,
                ..base
            })
            .contains("at least message_bodies_days")
        );
        assert!(
            refused(Retention {
                idempotency_days: 31,
                ..base
            })
            .contains("at most unpaid_checkouts_days")
        );
        // Zero is allowed where nothing reads the thing back.
        Retention {
            sessions_days: 0,
            message_bodies_days: 0,
            ..base
        }
        .check()
        .unwrap();
    }

    #[test]
    fn each_cutoff_is_its_window_before_now() {
        let now = 1_000 * DAY_S;
        let cutoffs = Retention {
            sessions_days: 0,
            unpaid_checkouts_days: 2,
            message_bodies_days: 1,
            messages_days: 3,
            webhooks_days: 4,
            idempotency_days: 2,
        }
        .cutoffs(now);
        assert_eq!(
            cutoffs,
            Cutoffs {
                sessions_expired: now,
                checkouts_ended: now - 4 * DAY_S,
                bodies_ended: now - DAY_S,
                messages_ended: now - 3 * DAY_S,
                webhooks_ended: now - 4 * DAY_S,
                idempotency_created: now - 2 * DAY_S,
            }
        );
        // Far in the past, no overflow.
        let early = Retention::default().cutoffs(i64::MIN + 1);
        assert_eq!(early.sessions_expired, i64::MIN);
    }
}
