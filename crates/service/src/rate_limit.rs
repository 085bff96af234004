//! Limits on failed credential checks, per identity and per client IP.
//!
//! Fixed windows kept in memory: the limit is per node (documented), which bounds guessing to
//! `limit × nodes` attempts per window, and costs no store round trip on the login path.

use std::collections::HashMap;
use std::sync::Mutex;

use lanyard_domain::Micros;

#[derive(Debug, Clone, Copy)]
pub struct FailureLimit {
    pub max_failures: u32,
    pub window: time::Duration,
}

struct Window {
    started: Micros,
    failures: u32,
}

/// Counts failures per key in fixed windows.
pub struct FailureLimiter {
    limit: FailureLimit,
    windows: Mutex<HashMap<String, Window>>,
}

/// Keys kept before expired windows are swept, so memory stays bounded under a spray attack.
const SWEEP_AT: usize = 100_000;

impl FailureLimiter {
    pub fn new(limit: FailureLimit) -> Self {
        FailureLimiter {
            limit,
            windows: Mutex::new(HashMap::new()),
        }
    }

    fn window_us(&self) -> i64 {
        self.limit.window.whole_microseconds().clamp(1, i64::MAX as i128) as i64
    }

    /// `Err(seconds until the window ends)` when the key has used up its allowance. A limit of
    /// 0 means no limit.
    pub fn check(&self, key: &str, now: Micros) -> Result<(), u64> {
        if self.limit.max_failures == 0 {
            return Ok(());
        }
        let windows = self.windows.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match windows.get(key) {
            Some(w) if now.0 - w.started.0 < self.window_us() && w.failures >= self.limit.max_failures => {
                let remaining_us = self.window_us() - (now.0 - w.started.0);
                Err((remaining_us as u64).div_ceil(1_000_000).max(1))
            }
            _ => Ok(()),
        }
    }

    pub fn record_failure(&self, key: &str, now: Micros) {
        if self.limit.max_failures == 0 {
            return;
        }
        let window_us = self.window_us();
        let mut windows = self.windows.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if windows.len() >= SWEEP_AT {
            windows.retain(|_, w| now.0 - w.started.0 < window_us);
        }
        let entry = windows.entry(key.to_owned()).or_insert(Window {
            started: now,
            failures: 0,
        });
        if now.0 - entry.started.0 >= window_us {
            *entry = Window {
                started: now,
                failures: 0,
            };
        }
        entry.failures = entry.failures.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_the_limit_until_the_window_ends() {
        let limiter = FailureLimiter::new(FailureLimit {
            max_failures: 2,
            window: time::Duration::seconds(60),
        });
        limiter.record_failure("u", Micros(0));
        assert!(limiter.check("u", Micros(1)).is_ok());
        limiter.record_failure("u", Micros(2));
        assert_eq!(limiter.check("u", Micros(3)), Err(60));
        assert!(limiter.check("other", Micros(3)).is_ok());
        assert!(limiter.check("u", Micros(60_000_000)).is_ok(), "a new window starts");
    }
}
