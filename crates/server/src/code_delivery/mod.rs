//! Sending one-time codes: email over SMTP (`smtp.*`) and SMS through an HTTP provider
//! (`sms.http_url`), each tried a bounded number of times with a bounded wait, so a provider
//! that is down gives the caller a clear error within seconds, never a hang.

mod sms;
mod smtp;

use std::future::Future;
use std::time::Duration;

use lanyard_domain::OtpChannel;
use lanyard_service::{CodeDelivery, CodeMessage, DeliveryError, NoDelivery};

use crate::config::Config;

/// Tries per message.
const ATTEMPTS: u32 = 3;
/// The longest one try may take (connecting included).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// The pause before the second try; it doubles for each one after.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);

pub use sms::HttpSms;
pub use smtp::Smtp;

/// The configured senders; a channel without one refuses as not configured.
pub struct Delivery {
    smtp: Option<Smtp>,
    sms: Option<HttpSms>,
}

impl Delivery {
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        Ok(Delivery {
            smtp: Smtp::from_config(&config.smtp)?,
            sms: HttpSms::from_config(&config.sms)?,
        })
    }
}

#[async_trait::async_trait]
impl CodeDelivery for Delivery {
    async fn deliver(&self, message: &CodeMessage) -> Result<(), DeliveryError> {
        let channel = message.channel.as_str();
        let result = match (message.channel, &self.smtp, &self.sms) {
            (OtpChannel::Email, Some(smtp), _) => with_retries(|| smtp.send(message)).await,
            (OtpChannel::Sms, _, Some(sms)) => with_retries(|| sms.send(message)).await,
            _ => return NoDelivery.deliver(message).await,
        };
        result.map_err(|reason| DeliveryError::Failed { channel, reason })
    }
}

/// Runs `attempt` up to [`ATTEMPTS`] times, each within [`ATTEMPT_TIMEOUT`]; the last error.
async fn with_retries<F, Fut>(attempt: F) -> Result<(), String>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let mut backoff = FIRST_BACKOFF;
    let mut last = String::new();
    for n in 1..=ATTEMPTS {
        last = match tokio::time::timeout(ATTEMPT_TIMEOUT, attempt()).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(reason)) => reason,
            Err(_) => format!("no answer within {} s", ATTEMPT_TIMEOUT.as_secs()),
        };
        if n < ATTEMPTS {
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
    }
    Err(format!("{last} (tried {ATTEMPTS} times)"))
}
