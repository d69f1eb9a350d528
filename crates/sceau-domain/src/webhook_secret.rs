//! A merchant's webhook secrets and their rotation (issue 23): sceau signs each webhook
//! with the secret in use, and also, during an overlap the merchant chose, with the one
//! before it, so that the merchant's servers can move to the new secret at their pace.

/// Longest overlap a merchant may ask for: a week.
pub const OVERLAP_S_MAX: i64 = 7 * 24 * 60 * 60;

/// The versions of a merchant's webhook secret (each version is derived from the master
/// key; version 0 is the one given at enrolment).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WebhookSecrets {
    pub version: i64,
    /// The version before, and until when (seconds) it still signs.
    pub previous: Option<(i64, i64)>,
}

impl WebhookSecrets {
    /// The versions that sign a webhook sent at `now_s`: the one in use first, then the
    /// one before while its overlap lasts.
    pub fn signing(&self, now_s: i64) -> Vec<i64> {
        let mut versions = vec![self.version];
        if let Some((previous, until_s)) = self.previous
            && now_s < until_s
        {
            versions.push(previous);
        }
        versions
    }
}

/// Why a rotation is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RotationRefused {
    #[error("overlap_s must be 0 to {OVERLAP_S_MAX} seconds")]
    Overlap,
}

/// The versions after a rotation at `now_s` with an overlap of `overlap_s` seconds: a new
/// version; the one in use signs too until `now_s + overlap_s` (0: it ends at once). A
/// rotation during an overlap ends the older secret: the one in use is the previous one
/// now. (A rotation whose answer was lost is asked again with the same Idempotency-Key,
/// which answers the same secret instead of rotating twice.)
pub fn rotate(
    current: WebhookSecrets,
    now_s: i64,
    overlap_s: i64,
) -> Result<WebhookSecrets, RotationRefused> {
    if !(0..=OVERLAP_S_MAX).contains(&overlap_s) {
        return Err(RotationRefused::Overlap);
    }
    let version = current.version.saturating_add(1);
    if overlap_s == 0 {
        return Ok(WebhookSecrets {
            version,
            previous: None,
        });
    }
    Ok(WebhookSecrets {
        version,
        previous: Some((current.version, now_s.saturating_add(overlap_s))),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn a_rotation_keeps_the_old_secret_for_the_overlap_then_ends_it() {
        let enrolled = WebhookSecrets {
            version: 0,
            previous: None,
        };
        assert_eq!(enrolled.signing(NOW), [0]);
        let rotated = rotate(enrolled, NOW, 3_600).unwrap();
        assert_eq!(rotated.version, 1);
        assert_eq!(rotated.previous, Some((0, NOW + 3_600)));
        assert_eq!(rotated.signing(NOW), [1, 0]);
        assert_eq!(rotated.signing(NOW + 3_599), [1, 0]);
        assert_eq!(rotated.signing(NOW + 3_600), [1]);
        // No overlap: the old one ends at once, even one still overlapping.
        assert_eq!(rotate(rotated, NOW, 0).unwrap().signing(NOW), [2]);
    }

    #[test]
    fn rotating_again_during_an_overlap_ends_the_older_secret() {
        let enrolled = WebhookSecrets {
            version: 0,
            previous: None,
        };
        let once = rotate(enrolled, NOW, 3_600).unwrap();
        let twice = rotate(once, NOW + 10, 60).unwrap();
        assert_eq!(twice.version, 2);
        assert_eq!(twice.previous, Some((1, NOW + 70)), "the one in use, only");
        assert_eq!(twice.signing(NOW + 10), [2, 1]);
        let later = rotate(once, NOW + 3_600, 60).unwrap();
        assert_eq!(later.previous, Some((1, NOW + 3_660)));
    }

    #[test]
    fn an_overlap_is_zero_to_a_week() {
        let enrolled = WebhookSecrets {
            version: 0,
            previous: None,
        };
        assert_eq!(rotate(enrolled, NOW, -1), Err(RotationRefused::Overlap));
        assert_eq!(
            rotate(enrolled, NOW, OVERLAP_S_MAX + 1),
            Err(RotationRefused::Overlap)
        );
        assert!(rotate(enrolled, NOW, OVERLAP_S_MAX).is_ok());
    }
}
