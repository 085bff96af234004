use serde::{Deserialize, Serialize};

use crate::{Aal, Micros};

/// How an identity proved itself. A superset of what each wire format can express: the Kratos
/// API only ever emits its eleven method names (see [`Method::kratos_name`]), ZITADEL only its
/// factor kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Password,
    Oidc,
    Totp,
    LookupSecret,
    Webauthn,
    Passkey,
    Code,
    Profile,
    Saml,
    LinkRecovery,
    CodeRecovery,
    /// ZITADEL one-time password by SMS; `code` on the Kratos wire.
    OtpSms,
    /// ZITADEL one-time password by email; `code` on the Kratos wire.
    OtpEmail,
}

/// The method names the Kratos SDKs accept; anything else makes them fail to decode a session.
pub const KRATOS_METHOD_NAMES: [&str; 11] = [
    "password",
    "oidc",
    "totp",
    "lookup_secret",
    "webauthn",
    "code",
    "passkey",
    "profile",
    "saml",
    "link_recovery",
    "code_recovery",
];

impl Method {
    pub fn kratos_name(self) -> &'static str {
        match self {
            Method::Password => "password",
            Method::Oidc => "oidc",
            Method::Totp => "totp",
            Method::LookupSecret => "lookup_secret",
            Method::Webauthn => "webauthn",
            Method::Passkey => "passkey",
            Method::Code | Method::OtpSms | Method::OtpEmail => "code",
            Method::Profile => "profile",
            Method::Saml => "saml",
            Method::LinkRecovery => "link_recovery",
            Method::CodeRecovery => "code_recovery",
        }
    }

    /// Parses a Kratos method name (the names Lanyard's own issue endpoint accepts too).
    pub fn from_kratos_name(name: &str) -> Option<Method> {
        Some(match name {
            "password" => Method::Password,
            "oidc" => Method::Oidc,
            "totp" => Method::Totp,
            "lookup_secret" => Method::LookupSecret,
            "webauthn" => Method::Webauthn,
            "passkey" => Method::Passkey,
            "code" => Method::Code,
            "profile" => Method::Profile,
            "saml" => Method::Saml,
            "link_recovery" => Method::LinkRecovery,
            "code_recovery" => Method::CodeRecovery,
            _ => return None,
        })
    }

    /// The level a method grants by default, as Kratos assigns it.
    pub fn default_aal(self) -> Aal {
        match self {
            Method::Totp | Method::LookupSecret | Method::Webauthn | Method::OtpSms | Method::OtpEmail => Aal::Aal2,
            _ => Aal::Aal1,
        }
    }
}

/// One completed authentication step of a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Factor {
    pub method: Method,
    pub aal: Aal,
    pub completed_at: Micros,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    /// WebAuthn only: whether the authenticator verified the user.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub user_verified: bool,
}

impl Factor {
    pub fn new(method: Method, completed_at: Micros) -> Self {
        Factor {
            method,
            aal: method.default_aal(),
            completed_at,
            provider: None,
            organization: None,
            user_verified: false,
        }
    }
}

impl serde::Serialize for Micros {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Micros {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        i64::deserialize(deserializer).map(Micros)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Method; 13] = [
        Method::Password,
        Method::Oidc,
        Method::Totp,
        Method::LookupSecret,
        Method::Webauthn,
        Method::Passkey,
        Method::Code,
        Method::Profile,
        Method::Saml,
        Method::LinkRecovery,
        Method::CodeRecovery,
        Method::OtpSms,
        Method::OtpEmail,
    ];

    #[test]
    fn every_method_maps_to_one_of_the_eleven_kratos_names() {
        for method in ALL {
            assert!(KRATOS_METHOD_NAMES.contains(&method.kratos_name()), "{method:?}");
        }
    }

    #[test]
    fn kratos_names_round_trip() {
        for name in KRATOS_METHOD_NAMES {
            assert_eq!(Method::from_kratos_name(name).map(Method::kratos_name), Some(name));
        }
        assert_eq!(Method::from_kratos_name("v0.6_legacy_session"), None);
    }
}
