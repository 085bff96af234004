//! Timestamps are kept as microseconds since the Unix epoch everywhere below the wire.
//!
//! Both stores hold integers, so ordering and keyset cursors are exact and identical on
//! SQLite and PostgreSQL, with no rounding of fractional seconds anywhere.

use time::OffsetDateTime;

/// Microseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Micros(pub i64);

impl Micros {
    pub fn from_datetime(at: OffsetDateTime) -> Self {
        // i128 nanoseconds cover every representable OffsetDateTime; the division keeps us in i64
        // for the years 1970±292,000.
        Micros((at.unix_timestamp_nanos() / 1_000) as i64)
    }

    pub fn to_datetime(self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    pub fn plus(self, duration: time::Duration) -> Self {
        Micros(
            self.0
                .saturating_add(duration.whole_microseconds().clamp(i64::MIN as i128, i64::MAX as i128) as i64),
        )
    }
}

/// 0001-01-01T00:00:00Z: the earliest instant a protobuf `Timestamp` (and so every ZITADEL
/// client) can hold, and the lower bound of RFC 3339's four-digit years.
pub const EARLIEST_CLIENT_TIME: Micros = Micros(-62_135_596_800_000_000);
/// 9999-12-31T23:59:59.999999Z: the latest such instant.
pub const LATEST_CLIENT_TIME: Micros = Micros(253_402_300_799_999_999);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    #[error("is outside 0001-01-01T00:00:00Z..9999-12-31T23:59:59Z, the range clients can read")]
    OutOfRange,
    #[error("is more than {max_skew_seconds} s in the future")]
    InTheFuture { max_skew_seconds: i64 },
}

impl Micros {
    /// Whether every client can parse this instant (see [`EARLIEST_CLIENT_TIME`]).
    pub fn check_client_range(self) -> Result<Self, TimestampError> {
        if (EARLIEST_CLIENT_TIME..=LATEST_CLIENT_TIME).contains(&self) {
            Ok(self)
        } else {
            Err(TimestampError::OutOfRange)
        }
    }

    /// For instants that must already have happened (when a factor was completed): in the
    /// client range and at most `max_skew` ahead of `now`, which tolerates clocks that differ
    /// a little between the caller and Lanyard.
    pub fn check_past(self, now: Micros, max_skew: time::Duration) -> Result<Self, TimestampError> {
        self.check_client_range()?;
        if self > now.plus(max_skew) {
            return Err(TimestampError::InTheFuture {
                max_skew_seconds: max_skew.whole_seconds(),
            });
        }
        Ok(self)
    }
}

impl From<OffsetDateTime> for Micros {
    fn from(at: OffsetDateTime) -> Self {
        Micros::from_datetime(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn round_trips_microsecond_precision() {
        let at = datetime!(2024-02-16 03:00:09.000597 UTC);
        assert_eq!(Micros::from_datetime(at).to_datetime(), at);
    }

    #[test]
    fn client_range_is_years_1_to_9999() {
        assert_eq!(
            Micros::from_datetime(datetime!(0001-01-01 0:00 UTC)),
            EARLIEST_CLIENT_TIME
        );
        assert_eq!(
            Micros::from_datetime(datetime!(9999-12-31 23:59:59.999999 UTC)),
            LATEST_CLIENT_TIME
        );
        assert!(EARLIEST_CLIENT_TIME.check_client_range().is_ok());
        assert!(LATEST_CLIENT_TIME.check_client_range().is_ok());
        let year_zero = Micros::from_datetime(datetime!(0000-12-31 23:59:59 UTC));
        assert_eq!(year_zero.check_client_range(), Err(TimestampError::OutOfRange));
        assert_eq!(
            Micros(LATEST_CLIENT_TIME.0 + 1).check_client_range(),
            Err(TimestampError::OutOfRange)
        );
    }

    #[test]
    fn past_instants_may_lead_by_the_skew_only() {
        let now = Micros(1_000_000_000);
        let skew = time::Duration::seconds(60);
        assert!(now.plus(skew).check_past(now, skew).is_ok());
        assert!(Micros(0).check_past(now, skew).is_ok());
        assert_eq!(
            now.plus(time::Duration::seconds(61)).check_past(now, skew),
            Err(TimestampError::InTheFuture { max_skew_seconds: 60 })
        );
    }

    #[test]
    fn plus_saturates_instead_of_overflowing() {
        assert_eq!(Micros(i64::MAX - 1).plus(time::Duration::days(1)), Micros(i64::MAX));
    }
}
