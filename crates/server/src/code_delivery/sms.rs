//! SMS through an HTTP provider: one JSON POST per code, in the shape of ZITADEL's HTTP SMS
//! provider (`contextInfo.recipientPhoneNumber`, `templateData.text`), plus the code itself in
//! `args` for providers that render their own text.

use anyhow::Context;
use lanyard_service::CodeMessage;
use serde_json::json;

use super::ATTEMPT_TIMEOUT;
use crate::config::SmsConfig;

pub struct HttpSms {
    client: reqwest::Client,
    url: reqwest::Url,
}

impl HttpSms {
    /// `None` without `sms.http_url`.
    pub fn from_config(config: &SmsConfig) -> anyhow::Result<Option<Self>> {
        let Some(url) = &config.http_url else {
            return Ok(None);
        };
        let url = reqwest::Url::parse(url).context("sms.http_url is not a URL")?;
        let client = reqwest::Client::builder()
            .timeout(ATTEMPT_TIMEOUT)
            .build()
            .context("the HTTP client for sms.http_url")?;
        Ok(Some(HttpSms { client, url }))
    }

    pub async fn send(&self, message: &CodeMessage) -> Result<(), String> {
        let body = json!({
            "contextInfo": {
                "eventType": "session.otp.sms.challenged",
                "recipientPhoneNumber": message.address,
            },
            "templateData": { "text": message.text() },
            "args": {
                "code": message.code,
                "expiry": format!("{}m", message.valid_for.whole_minutes()),
            },
        });
        let response = self
            .client
            .post(self.url.clone())
            .json(&body)
            .send()
            .await
            .map_err(|e| format!("the SMS provider could not be reached: {e}"))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("the SMS provider answered HTTP {}", status.as_u16()))
        }
    }
}
