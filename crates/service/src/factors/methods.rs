//! The ways of signing in an identity has enrolled (ZITADEL's ListAuthenticationMethodTypes): what
//! a login page asks before it offers a password, a passkey or a second factor.

use lanyard_domain::CredentialType;
use uuid::Uuid;

use super::otp::code_channels;
use crate::{Lanyard, ServiceResult};

/// One way of signing in, in ZITADEL's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AuthMethod {
    Password,
    Passkey,
    Idp,
    Totp,
    SecurityKey,
    OtpSms,
    OtpEmail,
    RecoveryCode,
}

impl Lanyard {
    /// The identity's enrolled ways of signing in. With `domain`, passkeys and security keys
    /// count only when it is the relying party they are bound to.
    pub async fn authentication_methods(
        &self,
        identity_id: Uuid,
        domain: Option<&str>,
    ) -> ServiceResult<Vec<AuthMethod>> {
        let identity = self.identity(identity_id).await?;
        let keys_count = match domain {
            None => true,
            Some(domain) => self.relying_party.as_deref().is_some_and(|rp| rp.id() == domain),
        };
        let mut methods = Vec::new();
        for kind in identity.credentials.keys() {
            match kind {
                CredentialType::Password => methods.push(AuthMethod::Password),
                CredentialType::Passkey if keys_count => methods.push(AuthMethod::Passkey),
                CredentialType::Webauthn if keys_count => methods.push(AuthMethod::SecurityKey),
                CredentialType::Oidc | CredentialType::Saml => methods.push(AuthMethod::Idp),
                CredentialType::Totp => methods.push(AuthMethod::Totp),
                CredentialType::LookupSecret => methods.push(AuthMethod::RecoveryCode),
                CredentialType::Code => {
                    methods.extend(code_channels(&identity).into_iter().map(|channel| match channel {
                        lanyard_domain::OtpChannel::Sms => AuthMethod::OtpSms,
                        lanyard_domain::OtpChannel::Email => AuthMethod::OtpEmail,
                    }))
                }
                CredentialType::Passkey | CredentialType::Webauthn => {}
            }
        }
        methods.sort();
        methods.dedup();
        Ok(methods)
    }
}
