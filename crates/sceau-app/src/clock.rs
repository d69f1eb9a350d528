//! The clock is a parameter: the server asks a [`Clock`], tests move a [`ManualClock`].

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

pub trait Clock: Send + Sync + 'static {
    /// Seconds since the Unix epoch.
    fn now_s(&self) -> i64;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_s(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs() as i64)
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn starting_at(now_s: i64) -> ManualClock {
        ManualClock(Arc::new(AtomicI64::new(now_s)))
    }

    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_s(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// RFC 3339 text of a Unix time, UTC.
pub fn rfc3339(unix_s: i64) -> String {
    chrono::DateTime::from_timestamp(unix_s, 0)
        .map(|time| time.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// "2026-11-25 14:05:09 UTC" of a Unix time: a date and time people read, with its
/// time zone said (pages show times in UTC, whatever the reader's zone).
pub fn date_time(unix_s: i64) -> String {
    chrono::DateTime::from_timestamp(unix_s, 0)
        .map(|time| time.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

/// A Unix time as PDF writes dates in a document's information (`D:20261207140503Z`).
pub fn pdf_date(unix_s: i64) -> String {
    chrono::DateTime::from_timestamp(unix_s, 0)
        .map(|time| time.format("D:%Y%m%d%H%M%SZ").to_string())
        .unwrap_or_default()
}

/// "14:05 UTC" of a Unix time, for short messages.
pub fn clock_time(unix_s: i64) -> String {
    chrono::DateTime::from_timestamp(unix_s, 0)
        .map(|time| time.format("%H:%M UTC").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_in_utc_and_say_so() {
        // 2025-11-25T03:00:00Z
        let at = 1_764_039_600;
        assert_eq!(rfc3339(at), "2025-11-25T03:00:00Z");
        assert_eq!(date_time(at + 9), "2025-11-25 03:00:09 UTC");
        assert_eq!(clock_time(at + 60), "03:01 UTC");
    }
}
