//! In-memory limits per key (a client IP, or an identity's session creations), in fixed
//! windows, kept on each node (documented): they cost no store round trip.
//!
//! A caller reserves an attempt before the work it limits and gives it back when the attempt
//! should not count, all under one lock, so work in flight counts against the limit: a burst
//! of N concurrent requests is let through at most `max` times per window. (The per-identity
//! failed-check limit is shared through the store instead, see `checked_sessions`.)

use std::collections::HashMap;
use std::sync::Mutex;

use lanyard_domain::Micros;

#[derive(Debug, Clone, Copy)]
pub struct WindowLimit {
    /// Attempts per window; 0 = no limit.
    pub max: u32,
    pub window: time::Duration,
}

struct Window {
    started: Micros,
    taken: u32,
}

/// Counts reserved attempts per key in fixed windows.
pub struct WindowLimiter {
    limit: WindowLimit,
    windows: Mutex<HashMap<String, Window>>,
}

/// A granted attempt; hand it back with [`WindowLimiter::give_back`] when it should not count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reserved {
    key: String,
    window_started: Micros,
}

/// Keys kept before expired windows are swept, so memory stays bounded under a spray attack.
const SWEEP_AT: usize = 100_000;

impl WindowLimiter {
    pub fn new(limit: WindowLimit) -> Self {
        WindowLimiter {
            limit,
            windows: Mutex::new(HashMap::new()),
        }
    }

    fn window_us(&self) -> i64 {
        self.limit.window.whole_microseconds().clamp(1, i64::MAX as i128) as i64
    }

    /// Takes an attempt for `key`: `Ok(None)` when there is no limit, `Err(seconds until the
    /// window ends)` when the window's attempts are all taken.
    pub fn reserve(&self, key: &str, now: Micros) -> Result<Option<Reserved>, u64> {
        if self.limit.max == 0 {
            return Ok(None);
        }
        let window_us = self.window_us();
        let mut windows = self.windows.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if windows.len() >= SWEEP_AT {
            windows.retain(|_, w| now.0 - w.started.0 < window_us);
        }
        let entry = windows
            .entry(key.to_owned())
            .or_insert(Window { started: now, taken: 0 });
        if now.0 - entry.started.0 >= window_us {
            *entry = Window { started: now, taken: 0 };
        }
        if entry.taken >= self.limit.max {
            let remaining_us = window_us - (now.0 - entry.started.0);
            return Err((remaining_us.max(1) as u64).div_ceil(1_000_000).max(1));
        }
        entry.taken += 1;
        Ok(Some(Reserved {
            key: key.to_owned(),
            window_started: entry.started,
        }))
    }

    /// Gives a reserved attempt back, if its window is still the current one.
    pub fn give_back(&self, reserved: Reserved) {
        let mut windows = self.windows.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(window) = windows.get_mut(&reserved.key) {
            if window.started == reserved.window_started {
                window.taken = window.taken.saturating_sub(1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(max: u32) -> WindowLimiter {
        WindowLimiter::new(WindowLimit {
            max,
            window: time::Duration::seconds(60),
        })
    }

    #[test]
    fn refuses_once_the_window_is_taken_until_it_ends() {
        let limiter = limiter(2);
        assert!(limiter.reserve("u", Micros(0)).unwrap().is_some());
        assert!(limiter.reserve("u", Micros(1)).unwrap().is_some());
        assert_eq!(limiter.reserve("u", Micros(2)), Err(60));
        assert!(limiter.reserve("other", Micros(3)).is_ok());
        assert!(limiter.reserve("u", Micros(60_000_000)).is_ok(), "a new window starts");
    }

    #[test]
    fn attempts_in_flight_count_and_given_back_ones_do_not() {
        let limiter = limiter(2);
        let first = limiter.reserve("u", Micros(0)).unwrap().unwrap();
        let _second = limiter.reserve("u", Micros(0)).unwrap().unwrap();
        assert!(
            limiter.reserve("u", Micros(0)).is_err(),
            "two in flight take the window"
        );
        limiter.give_back(first);
        assert!(
            limiter.reserve("u", Micros(0)).is_ok(),
            "a given-back attempt frees a slot"
        );
    }

    #[test]
    fn giving_back_into_a_later_window_changes_nothing() {
        let limiter = limiter(1);
        let old = limiter.reserve("u", Micros(0)).unwrap().unwrap();
        let _new = limiter.reserve("u", Micros(60_000_000)).unwrap().unwrap();
        limiter.give_back(old);
        assert!(limiter.reserve("u", Micros(60_000_001)).is_err());
    }

    #[test]
    fn a_burst_of_threads_gets_exactly_the_limit() {
        let limiter = std::sync::Arc::new(limiter(10));
        let granted: usize = (0..50)
            .map(|_| {
                let limiter = limiter.clone();
                std::thread::spawn(move || limiter.reserve("u", Micros(5)).is_ok_and(|r| r.is_some()))
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| usize::from(t.join().unwrap_or(false)))
            .sum();
        assert_eq!(granted, 10);
    }

    #[test]
    fn zero_means_no_limit() {
        let limiter = limiter(0);
        for _ in 0..100 {
            assert_eq!(limiter.reserve("u", Micros(0)), Ok(None));
        }
    }
}
