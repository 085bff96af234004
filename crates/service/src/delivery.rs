//! Where one-time codes leave Lanyard: the service says what to send, an implementation outside
//! the service (SMTP, an HTTP SMS provider; see the server's `delivery` module) sends it.

use lanyard_domain::OtpChannel;

/// One code to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeMessage {
    pub channel: OtpChannel,
    /// The phone number (E.164) or email address.
    pub address: String,
    pub code: String,
    /// How long the code stays valid.
    pub valid_for: time::Duration,
    /// A link for the email, from the request's `urlTemplate` with the code filled in.
    pub url: Option<String>,
}

impl CodeMessage {
    /// The text of the SMS or of the email body.
    pub fn text(&self) -> String {
        let minutes = self.valid_for.whole_minutes();
        match &self.url {
            Some(url) => format!(
                "Your one-time code is {}. It is valid for {minutes} minutes. Or open {url}",
                self.code
            ),
            None => format!(
                "Your one-time code is {}. It is valid for {minutes} minutes.",
                self.code
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Nothing is configured to send on this channel.
    #[error("Lanyard is not configured to send codes by {channel} ({setting}); ask for the code to be returned (returnCode) and deliver it yourself")]
    NotConfigured {
        channel: &'static str,
        setting: &'static str,
    },
    /// The provider was reached (or tried) and did not take the message.
    #[error("the code could not be sent by {channel}: {reason}")]
    Failed { channel: &'static str, reason: String },
}

#[async_trait::async_trait]
pub trait CodeDelivery: Send + Sync {
    async fn deliver(&self, message: &CodeMessage) -> Result<(), DeliveryError>;
}

/// The default: nothing configured.
pub struct NoDelivery;

#[async_trait::async_trait]
impl CodeDelivery for NoDelivery {
    async fn deliver(&self, message: &CodeMessage) -> Result<(), DeliveryError> {
        Err(DeliveryError::NotConfigured {
            channel: message.channel.as_str(),
            setting: match message.channel {
                OtpChannel::Sms => "sms.http_url",
                OtpChannel::Email => "smtp.host",
            },
        })
    }
}
