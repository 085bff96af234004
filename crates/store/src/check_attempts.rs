//! Per-identity check-attempt counters: the types of the [`crate::Store`] methods that reserve
//! and settle attempts, and the rule that explains a refusal. The SQL is in
//! [`crate::sql::check_attempts`].

use lanyard_domain::Micros;

/// What a reservation is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptLimits {
    /// Failed or running checks per identity per window; 0 = no limit.
    pub per_window: u32,
    pub window: time::Duration,
    /// Consecutive failed password checks after which password checks stay locked until an
    /// administrator unlocks them; 0 = no lockout.
    pub max_password_attempts: u32,
}

impl AttemptLimits {
    /// Whether reservations can be refused at all; when not, callers need not take any.
    pub fn limits_anything(&self) -> bool {
        self.per_window > 0 || self.max_password_attempts > 0
    }

    pub(crate) fn window_micros(&self) -> i64 {
        i64::try_from(self.window.whole_microseconds())
            .unwrap_or(i64::MAX)
            .max(1)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptReservation {
    /// The check may run; settle it against `window_start` afterwards.
    Granted { window_start: Micros },
    /// This window's attempts are taken (failed or still running) until `window_ends`.
    WindowFull { window_ends: Micros },
    /// Password checks are locked until an administrator unlocks them.
    PasswordLocked,
}

/// How a reserved check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// Every check passed: the attempt is given back; a passed password check resets the
    /// lockout count.
    Passed { password: bool },
    /// A check failed: the attempt stays counted.
    Failed,
    /// The checks did not run to a verdict (the store or the hashing pool failed): the attempt
    /// is given back, it says nothing about the guesser.
    NotRun { password: bool },
}

impl AttemptOutcome {
    /// The SETTLE statement's `?3` and `?4`.
    pub(crate) fn settle_params(self) -> (i32, i32) {
        match self {
            AttemptOutcome::Passed { password } => (1, i32::from(password)),
            AttemptOutcome::Failed => (0, 0),
            AttemptOutcome::NotRun { password } => (1, if password { 2 } else { 0 }),
        }
    }
}

/// The counters of one identity, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AttemptCounters {
    pub window_start: Micros,
    pub window_attempts: i64,
    pub password_attempts: i64,
}

/// Why a reservation was refused, from the counters read right after. A row changed in
/// between (a window that just ended) still gives a sensible answer: retry in a moment.
pub(crate) fn refusal(
    counters: Option<AttemptCounters>,
    limits: AttemptLimits,
    password: bool,
    now: Micros,
) -> AttemptReservation {
    if let Some(c) = counters {
        if password
            && limits.max_password_attempts > 0
            && c.password_attempts >= i64::from(limits.max_password_attempts)
        {
            return AttemptReservation::PasswordLocked;
        }
        let ends = Micros(c.window_start.0.saturating_add(limits.window_micros()));
        if ends > now {
            return AttemptReservation::WindowFull { window_ends: ends };
        }
    }
    AttemptReservation::WindowFull {
        window_ends: Micros(now.0.saturating_add(1_000_000)),
    }
}

/// The check-attempt methods of a backend whose SQL differs only by placeholder style:
/// `impl_check_attempts!(SqliteStore, Dialect::Sqlite, writer)` names the store type, its
/// dialect and the pool field that writes.
macro_rules! impl_check_attempts {
    ($store:ty, $dialect:expr, $pool:ident) => {
        impl $store {
            async fn reserve_check_attempt_impl(
                &self,
                identity_id: uuid::Uuid,
                password: bool,
                limits: $crate::AttemptLimits,
                now: lanyard_domain::Micros,
            ) -> $crate::StoreResult<$crate::AttemptReservation> {
                use $crate::sql::check_attempts as sql;
                let granted: Option<i64> = sqlx::query_scalar(sql::reserve($dialect))
                    .bind(identity_id)
                    .bind(now.0)
                    .bind(i32::from(password))
                    .bind(now.0.saturating_sub(limits.window_micros()))
                    .bind(i64::from(limits.per_window))
                    .bind(i64::from(limits.max_password_attempts))
                    .fetch_optional(&self.$pool)
                    .await?;
                if let Some(start) = granted {
                    return Ok($crate::AttemptReservation::Granted {
                        window_start: lanyard_domain::Micros(start),
                    });
                }
                let counters: Option<(i64, i64, i64)> = sqlx::query_as(sql::read($dialect))
                    .bind(identity_id)
                    .fetch_optional(&self.$pool)
                    .await?;
                let counters = counters.map(|(start, window_attempts, password_attempts)| {
                    $crate::check_attempts::AttemptCounters {
                        window_start: lanyard_domain::Micros(start),
                        window_attempts,
                        password_attempts,
                    }
                });
                Ok($crate::check_attempts::refusal(counters, limits, password, now))
            }

            async fn settle_check_attempt_impl(
                &self,
                identity_id: uuid::Uuid,
                window_start: lanyard_domain::Micros,
                outcome: $crate::AttemptOutcome,
            ) -> $crate::StoreResult<()> {
                let (give_back, password) = outcome.settle_params();
                sqlx::query($crate::sql::check_attempts::settle($dialect))
                    .bind(identity_id)
                    .bind(window_start.0)
                    .bind(give_back)
                    .bind(password)
                    .execute(&self.$pool)
                    .await?;
                Ok(())
            }

            async fn unlock_password_checks_impl(&self, identity_id: uuid::Uuid) -> $crate::StoreResult<bool> {
                let done = sqlx::query($crate::sql::check_attempts::unlock($dialect))
                    .bind(identity_id)
                    .execute(&self.$pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }
        }
    };
}
pub(crate) use impl_check_attempts;
