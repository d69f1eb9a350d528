//! The one use of a disposable certificate: every rule of it, in one place.
//!
//! A disposable certificate lives a short while and serves once: [`use_once`] grants its
//! use only if it is disposable, unused, unrevoked and within its validity, and then it
//! is revoked from the next second on (reason cessationOfOperation), so that a second use
//! is refused. The store reads the certificate inside its transaction (locked, or with a
//! conditional update) and applies the [`OneUse`] it returns.

/// RFC 5280's reason code cessationOfOperation: a disposable certificate after its use.
pub const REVOKED_AFTER_USE: u8 = 5;

/// A certificate as the rule of its one use sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Certificate {
    pub disposable: bool,
    pub used_at_s: Option<i64>,
    pub revoked_at_s: Option<i64>,
    pub not_before_s: i64,
    pub not_after_s: i64,
}

/// Why a certificate may not be used now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UseRefusal {
    NotDisposable,
    AlreadyUsed,
    Revoked,
    NotYetValid,
    Expired,
}

/// What a granted use writes: when it was used, and its revocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OneUse {
    pub used_at_s: i64,
    pub revoked_at_s: i64,
    pub reason: u8,
}

/// Whether `certificate` may be used at `now_s`, and what its use writes.
pub fn use_once(certificate: &Certificate, now_s: i64) -> Result<OneUse, UseRefusal> {
    if !certificate.disposable {
        Err(UseRefusal::NotDisposable)
    } else if certificate.used_at_s.is_some() {
        Err(UseRefusal::AlreadyUsed)
    } else if certificate.revoked_at_s.is_some() {
        Err(UseRefusal::Revoked)
    } else if now_s < certificate.not_before_s {
        Err(UseRefusal::NotYetValid)
    } else if now_s > certificate.not_after_s {
        Err(UseRefusal::Expired)
    } else {
        Ok(OneUse {
            used_at_s: now_s,
            revoked_at_s: now_s.saturating_add(1),
            reason: REVOKED_AFTER_USE,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 5_000;

    fn fresh() -> Certificate {
        Certificate {
            disposable: true,
            used_at_s: None,
            revoked_at_s: None,
            not_before_s: NOW - 10,
            not_after_s: NOW + 10,
        }
    }

    fn check(certificate: Certificate, now_s: i64, expected: Result<OneUse, UseRefusal>) {
        assert_eq!(use_once(&certificate, now_s), expected);
    }

    #[test]
    fn a_fresh_disposable_certificate_is_used_and_revoked_from_the_next_second() {
        let granted = Ok(OneUse {
            used_at_s: NOW,
            revoked_at_s: NOW + 1,
            reason: REVOKED_AFTER_USE,
        });
        check(fresh(), NOW, granted);
        // Its validity includes both ends.
        assert!(use_once(&fresh(), NOW - 10).is_ok());
        assert!(use_once(&fresh(), NOW + 10).is_ok());
    }

    #[test]
    fn every_refusal() {
        let holder = Certificate {
            disposable: false,
            ..fresh()
        };
        check(holder, NOW, Err(UseRefusal::NotDisposable));
        let used = Certificate {
            used_at_s: Some(NOW - 1),
            revoked_at_s: Some(NOW),
            ..fresh()
        };
        // Used first: a used certificate is told used, not revoked.
        check(used, NOW, Err(UseRefusal::AlreadyUsed));
        let revoked = Certificate {
            revoked_at_s: Some(NOW - 1),
            ..fresh()
        };
        check(revoked, NOW, Err(UseRefusal::Revoked));
        check(fresh(), NOW - 11, Err(UseRefusal::NotYetValid));
        check(fresh(), NOW + 11, Err(UseRefusal::Expired));
    }
}
