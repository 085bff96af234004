//! Factors being enrolled: registered, not yet verified (ZITADEL's `RegisterTOTP` before its
//! `VerifyTOTPRegistration`, a passkey between `RegisterPasskey` and its verification). They
//! are not credentials yet, so they count for no AAL and no check accepts them.

use uuid::Uuid;

use crate::Micros;

/// What is being enrolled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EnrolmentKind {
    Totp,
    Passkey,
    U2f,
}

impl EnrolmentKind {
    pub const ALL: [EnrolmentKind; 3] = [EnrolmentKind::Totp, EnrolmentKind::Passkey, EnrolmentKind::U2f];

    /// The name stored.
    pub fn as_str(self) -> &'static str {
        match self {
            EnrolmentKind::Totp => "totp",
            EnrolmentKind::Passkey => "passkey",
            EnrolmentKind::U2f => "u2f",
        }
    }

    pub fn parse(name: &str) -> Option<EnrolmentKind> {
        EnrolmentKind::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

/// One identity's registration of one kind that waits for its verification; a new one of the
/// same kind replaces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEnrolment {
    /// Its id: ZITADEL's `passkeyId` / `u2fId`.
    pub id: Uuid,
    pub identity_id: Uuid,
    pub kind: EnrolmentKind,
    /// What the verification needs, as the factor writes it (JSON): the TOTP secret, the
    /// WebAuthn registration state.
    pub state: String,
    pub created_at: Micros,
    pub expires_at: Micros,
}

impl PendingEnrolment {
    /// Whether a verification at `now` may still complete it.
    pub fn is_usable_at(&self, now: Micros) -> bool {
        now < self.expires_at
    }
}

/// The WebAuthn challenge a session waits for (ZITADEL `challenges.webAuthN`): what verifying
/// the assertion needs (the challenge and the credentials it allows, as the WebAuthn library
/// writes them), until used or expired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebauthnChallenge {
    pub session_id: uuid::Uuid,
    pub state: String,
    pub expires_at: Micros,
}
