//! What a route lets through: a window of outstanding `submit_sm` and a pace (the rate
//! limit, lengthened when the SMSC says it is throttling), and the pause between binds.

use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

/// At most `size` `submit_sm` waiting for their response: a part holds a slot from
/// before it is written until its response (or the end of its bind).
pub(crate) struct Window(Semaphore);

impl Window {
    pub(crate) fn new(size: u16) -> Window {
        Window(Semaphore::new(usize::from(size)))
    }

    /// A slot, or `None` if `deadline` comes first.
    pub(crate) async fn slot(&self, deadline: Instant) -> Option<SemaphorePermit<'_>> {
        tokio::time::timeout_at(deadline, self.0.acquire())
            .await
            .ok()?
            .ok()
    }
}

/// Spaces the parts of a route `1 / rate` apart; a throttled route waits longer.
pub(crate) struct Pace {
    interval: Duration,
    next: Mutex<Instant>,
}

impl Pace {
    pub(crate) fn new(rate_per_s: u32) -> Pace {
        Pace {
            interval: Duration::from_secs(1) / rate_per_s.max(1),
            next: Mutex::new(Instant::now()),
        }
    }

    /// Waits for this part's turn; `false` (and no turn taken) if it would come after
    /// `deadline`.
    pub(crate) async fn turn(&self, deadline: Instant) -> bool {
        let turn = {
            let mut next = self
                .next
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let turn = (*next).max(Instant::now());
            if turn > deadline {
                return false;
            }
            *next = turn + self.interval;
            turn
        };
        tokio::time::sleep_until(turn).await;
        true
    }

    /// Nothing more goes out before `pause` from now.
    pub(crate) fn pause(&self, pause: Duration) {
        let mut next = self
            .next
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *next = (*next).max(Instant::now() + pause);
    }
}

/// Pauses between attempts to bind: doubling from `min` up to `max`, each drawn at
/// random between half and all of it (so that routes and instances do not retry in step).
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    current: Duration,
}

impl Backoff {
    pub(crate) fn new(min: Duration, max: Duration) -> Backoff {
        Backoff {
            min,
            max,
            current: min,
        }
    }

    pub(crate) fn reset(&mut self) {
        self.current = self.min;
    }

    pub(crate) fn next_pause(&mut self) -> Duration {
        let ceiling = self.current;
        self.current = (self.current * 2).min(self.max);
        let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::random_range(millis / 2..=millis))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_with_jitter_up_to_its_maximum_and_resets() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(1_000));
        let ceilings = [100, 200, 400, 800, 1_000, 1_000];
        for ceiling in ceilings {
            let pause = backoff.next_pause();
            assert!(pause >= Duration::from_millis(ceiling / 2), "{pause:?}");
            assert!(pause <= Duration::from_millis(ceiling), "{pause:?}");
        }
        backoff.reset();
        assert!(backoff.next_pause() <= Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn a_pace_spaces_turns_and_a_pause_or_a_deadline_delays_them() {
        let pace = Pace::new(10);
        let start = Instant::now();
        let far = start + Duration::from_secs(60);
        for expected_ms in [0, 100, 200] {
            assert!(pace.turn(far).await);
            assert_eq!(start.elapsed(), Duration::from_millis(expected_ms));
        }
        pace.pause(Duration::from_secs(2));
        assert!(!pace.turn(start + Duration::from_secs(1)).await);
        assert!(pace.turn(far).await);
        assert_eq!(start.elapsed(), Duration::from_millis(2_200));
    }

    #[tokio::test(start_paused = true)]
    async fn a_window_gives_at_most_its_size_and_gives_up_at_the_deadline() {
        let window = Window::new(2);
        let deadline = Instant::now() + Duration::from_secs(1);
        let first = window.slot(deadline).await;
        let second = window.slot(deadline).await;
        assert!(first.is_some() && second.is_some());
        assert!(window.slot(deadline).await.is_none());
        drop(first);
        assert!(
            window
                .slot(deadline + Duration::from_secs(1))
                .await
                .is_some()
        );
    }
}
