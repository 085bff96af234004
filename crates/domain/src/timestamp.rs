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
    fn plus_saturates_instead_of_overflowing() {
        assert_eq!(Micros(i64::MAX - 1).plus(time::Duration::days(1)), Micros(i64::MAX));
    }
}
