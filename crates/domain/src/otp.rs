//! One-time codes by SMS or email (ZITADEL's `otpSms` and `otpEmail`): the channel, and the
//! code a session waits for on it.

use uuid::Uuid;

use crate::{Method, Micros, TokenDigest};

/// The channel a one-time code travels by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OtpChannel {
    Sms,
    Email,
}

impl OtpChannel {
    pub const ALL: [OtpChannel; 2] = [OtpChannel::Sms, OtpChannel::Email];

    /// The name stored and shown (`sms`, `email`): Kratos's `via` and `channel` values.
    pub fn as_str(self) -> &'static str {
        match self {
            OtpChannel::Sms => "sms",
            OtpChannel::Email => "email",
        }
    }

    pub fn parse(name: &str) -> Option<OtpChannel> {
        OtpChannel::ALL.into_iter().find(|channel| channel.as_str() == name)
    }

    /// The session factor a passed check of this channel adds.
    pub fn method(self) -> Method {
        match self {
            OtpChannel::Sms => Method::OtpSms,
            OtpChannel::Email => Method::OtpEmail,
        }
    }
}

/// A code a session waits for on one channel. Only a keyed digest of the code is stored:
/// codes are short, so a plain digest would give them away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtpChallenge {
    pub session_id: Uuid,
    pub channel: OtpChannel,
    pub digest: TokenDigest,
    pub expires_at: Micros,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_round_trip() {
        for channel in OtpChannel::ALL {
            assert_eq!(OtpChannel::parse(channel.as_str()), Some(channel));
        }
        assert_eq!(OtpChannel::parse("SMS"), None);
    }
}
