//! Email over SMTP with lettre.

use anyhow::Context;
use lanyard_service::CodeMessage;
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::ATTEMPT_TIMEOUT;
use crate::config::{SmtpConfig, SmtpTls};

pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Smtp {
    /// `None` without `smtp.host`.
    pub fn from_config(config: &SmtpConfig) -> anyhow::Result<Option<Self>> {
        let Some(host) = config.host.as_deref().map(str::trim) else {
            return Ok(None);
        };
        let from: Mailbox = config
            .from
            .as_deref()
            .context("smtp.from is needed with smtp.host")?
            .parse()
            .context("smtp.from is not an email address")?;
        let builder = match config.tls {
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
                .with_context(|| format!("smtp.host {host:?}"))?,
            SmtpTls::Tls => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(host).with_context(|| format!("smtp.host {host:?}"))?
            }
        };
        let mut builder = builder.port(config.port()).timeout(Some(ATTEMPT_TIMEOUT));
        if let Some(username) = &config.username {
            let password = config.password.as_ref().map(|p| p.0.clone()).unwrap_or_default();
            builder = builder.credentials(Credentials::new(username.clone(), password));
        }
        Ok(Some(Smtp {
            transport: builder.build(),
            from,
        }))
    }

    pub async fn send(&self, message: &CodeMessage) -> Result<(), String> {
        let to: Mailbox = message
            .address
            .parse()
            .map_err(|e| format!("the address is not one an email can go to: {e}"))?;
        let email = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject("Your one-time code")
            .header(ContentType::TEXT_PLAIN)
            .body(message.text())
            .map_err(|e| format!("the email could not be built: {e}"))?;
        self.transport
            .send(email)
            .await
            .map(drop)
            .map_err(|e| format!("the SMTP server did not take the email: {e}"))
    }
}
