//! Per-identity check-attempt counters: the types of the [`crate::Store`] methods that reserve
//! and settle attempts, and the rule that explains a refusal. The SQL is in
//! [`crate::sql::check_attempts`].

use lanyard_domain::Micros;
use sqlx::Pool;
use uuid::Uuid;

use crate::rows;
use crate::sql::check_attempts as sql;
use crate::write::{self, Backend};
use crate::StoreResult;

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

/// Takes one check attempt for the identity, atomically against `limits` (see
/// [`crate::Store::reserve_check_attempt`]).
pub(crate) async fn reserve<DB: Backend>(
    pool: &Pool<DB>,
    identity_id: Uuid,
    password: bool,
    limits: AttemptLimits,
    now: Micros,
) -> StoreResult<AttemptReservation> {
    let values = [
        identity_id.into(),
        now.0.into(),
        i32::from(password).into(),
        now.0.saturating_sub(limits.window_micros()).into(),
        i64::from(limits.per_window).into(),
        i64::from(limits.max_password_attempts).into(),
    ];
    let granted = write::fetch_optional(pool, sql::reserve(DB::DIALECT), &values).await?;
    if let Some(row) = granted {
        return Ok(AttemptReservation::Granted {
            window_start: Micros(rows::int(&row, 0)?),
        });
    }
    let read = write::fetch_optional(pool, sql::read(DB::DIALECT), &[identity_id.into()]).await?;
    let counters = match read {
        Some(row) => Some(AttemptCounters {
            window_start: Micros(rows::int(&row, 0)?),
            window_attempts: rows::int(&row, 1)?,
            password_attempts: rows::int(&row, 2)?,
        }),
        None => None,
    };
    Ok(refusal(counters, limits, password, now))
}

/// Settles an attempt granted by [`reserve`] in the window that started at `window_start`.
pub(crate) async fn settle<DB: Backend>(
    pool: &Pool<DB>,
    identity_id: Uuid,
    window_start: Micros,
    outcome: AttemptOutcome,
) -> StoreResult<()> {
    let (give_back, password) = outcome.settle_params();
    let values = [
        identity_id.into(),
        window_start.0.into(),
        give_back.into(),
        password.into(),
    ];
    write::execute(pool, sql::settle(DB::DIALECT), &values).await?;
    Ok(())
}

/// Lifts a password lockout; `true` when there was one to lift (or failures counted).
pub(crate) async fn unlock<DB: Backend>(pool: &Pool<DB>, identity_id: Uuid) -> StoreResult<bool> {
    let done = write::execute(pool, sql::unlock(DB::DIALECT), &[identity_id.into()]).await?;
    Ok(done > 0)
}
