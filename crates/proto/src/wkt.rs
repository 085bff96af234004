//! `google.protobuf.Timestamp` with ZITADEL's JSON form. pbjson-types writes timestamps with a
//! `+00:00` offset; proto3 JSON (and ZITADEL's gateway) writes them Z-normalised with 0, 3, 6
//! or 9 fractional digits, and some strict clients accept nothing else. Reading takes any
//! RFC 3339 offset, as before.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// A point in time: seconds since the Unix epoch and the nanoseconds within that second.
#[derive(Clone, Copy, PartialEq, Eq, Hash, prost::Message)]
pub struct Timestamp {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

impl Timestamp {
    /// The instant, when it is a valid one (nanos within 0..1e9, year within time's range).
    pub fn to_datetime(self) -> Option<OffsetDateTime> {
        if !(0..1_000_000_000).contains(&self.nanos) {
            return None;
        }
        let nanos = i128::from(self.seconds) * 1_000_000_000 + i128::from(self.nanos);
        OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
    }

    pub fn from_datetime(at: OffsetDateTime) -> Self {
        Timestamp {
            seconds: at.unix_timestamp(),
            nanos: at.nanosecond() as i32,
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let at = self
            .to_datetime()
            .ok_or_else(|| serde::ser::Error::custom("the timestamp is out of range"))?;
        let date = at.date();
        let time = at.time();
        let mut text = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            date.year(),
            u8::from(date.month()),
            date.day(),
            time.hour(),
            time.minute(),
            time.second()
        );
        let nanos = time.nanosecond();
        if nanos != 0 {
            if nanos % 1_000_000 == 0 {
                text.push_str(&format!(".{:03}", nanos / 1_000_000));
            } else if nanos % 1_000 == 0 {
                text.push_str(&format!(".{:06}", nanos / 1_000));
            } else {
                text.push_str(&format!(".{nanos:09}"));
            }
        }
        text.push('Z');
        serializer.serialize_str(&text)
    }
}

struct TimestampVisitor;

impl Visitor<'_> for TimestampVisitor {
    type Value = Timestamp;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an RFC 3339 timestamp such as \"2026-12-06T10:00:00Z\"")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Timestamp, E> {
        OffsetDateTime::parse(text, &Rfc3339)
            .map(Timestamp::from_datetime)
            .map_err(|e| E::custom(format!("{text:?} is not an RFC 3339 timestamp: {e}")))
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(TimestampVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(t: Timestamp) -> String {
        serde_json::to_string(&t).unwrap_or_default()
    }

    #[test]
    fn written_z_normalised_with_3_6_or_9_digits() {
        assert_eq!(json(Timestamp { seconds: 0, nanos: 0 }), "\"1970-01-01T00:00:00Z\"");
        assert_eq!(
            json(Timestamp {
                seconds: 1,
                nanos: 120_000_000
            }),
            "\"1970-01-01T00:00:01.120Z\""
        );
        assert_eq!(
            json(Timestamp {
                seconds: 1,
                nanos: 123_456_000
            }),
            "\"1970-01-01T00:00:01.123456Z\""
        );
        assert_eq!(
            json(Timestamp { seconds: 1, nanos: 1 }),
            "\"1970-01-01T00:00:01.000000001Z\""
        );
        assert!(serde_json::to_string(&Timestamp { seconds: 0, nanos: -1 }).is_err());
    }

    #[test]
    fn read_with_any_offset() {
        let read = |text: &str| serde_json::from_str::<Timestamp>(text).ok();
        assert_eq!(
            read("\"1970-01-01T01:00:00+01:00\""),
            Some(Timestamp { seconds: 0, nanos: 0 })
        );
        assert_eq!(
            read("\"1970-01-01T00:00:00.5Z\""),
            Some(Timestamp {
                seconds: 0,
                nanos: 500_000_000
            })
        );
        assert_eq!(read("\"yesterday\""), None);
        assert_eq!(read("12"), None);
    }
}
