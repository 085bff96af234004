//! TOTP registration in two steps, as ZITADEL's User Service does it: `RegisterTOTP` makes a
//! secret and keeps it aside, `VerifyTOTPRegistration` turns it into the identity's TOTP
//! credential once a code from it proves the authenticator app holds it. Until then it is no
//! credential: it counts for no AAL and no session check accepts it.

use std::net::IpAddr;

use lanyard_domain::{CredentialType, EnrolmentKind, Micros, PendingEnrolment};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{otpauth_url, totp, totp_account, unix_seconds, TotpEnrolment};
use crate::{FailedCheck, Lanyard, ServiceError, ServiceResult};

/// How long a registered secret waits for its verification.
pub const TOTP_REGISTRATION_LIFETIME: time::Duration = time::Duration::minutes(15);

#[derive(Serialize, Deserialize)]
struct PendingTotp {
    secret: String,
}

fn no_registration() -> ServiceError {
    ServiceError::PreconditionFailed(format!(
        "no TOTP registration waits for verification: register one first (a registration expires \
         after {} minutes)",
        TOTP_REGISTRATION_LIFETIME.whole_minutes()
    ))
}

impl Lanyard {
    /// Starts a TOTP registration (ZITADEL's RegisterTOTP): a new secret and its `otpauth://`
    /// URL, to show once, replacing a registration still waiting. An identity that already has
    /// a TOTP credential is refused (remove it first), as ZITADEL refuses it.
    pub async fn register_totp(&self, identity_id: Uuid) -> ServiceResult<TotpEnrolment> {
        let identity = self.identity(identity_id).await?;
        if identity.credentials.contains_key(&CredentialType::Totp) {
            return Err(ServiceError::Conflict(
                "the identity already has a TOTP generator; remove it before registering another".into(),
            ));
        }
        let secret = totp::generate_secret();
        let now = self.now();
        let state = serde_json::to_string(&PendingTotp { secret: secret.clone() })
            .map_err(|e| ServiceError::Internal(format!("a TOTP registration has no JSON form: {e}")))?;
        let pending = PendingEnrolment {
            id: Uuid::now_v7(),
            identity_id,
            kind: EnrolmentKind::Totp,
            state,
            created_at: now,
            expires_at: Micros(
                now.0
                    .saturating_add(TOTP_REGISTRATION_LIFETIME.whole_microseconds() as i64),
            ),
        };
        self.store.put_pending_enrolment(&pending, now).await?;
        Ok(TotpEnrolment {
            otpauth_url: otpauth_url(&secret, &totp_account(&identity)),
            secret,
        })
    }

    /// Completes a TOTP registration (ZITADEL's VerifyTOTPRegistration) with a code from the
    /// new secret: the secret becomes the identity's TOTP credential and that code is used up.
    /// A wrong code is a failed check, counted by the failed-check limits like a session's.
    pub async fn verify_totp_registration(
        &self,
        identity_id: Uuid,
        code: &str,
        client_ip: Option<IpAddr>,
    ) -> ServiceResult<()> {
        self.identity(identity_id).await?;
        let now = self.now();
        let pending = self
            .store
            .pending_enrolment(identity_id, EnrolmentKind::Totp)
            .await?
            .filter(|pending| pending.is_usable_at(now))
            .ok_or_else(no_registration)?;
        let PendingTotp { secret } = serde_json::from_str(&pending.state).map_err(|e| {
            ServiceError::Internal(format!(
                "the TOTP registration of identity {identity_id} is unreadable: {e}"
            ))
        })?;
        let key = totp::decode_secret(&secret)
            .map_err(|e| ServiceError::Internal(format!("a registered TOTP secret is unusable: {e}")))?;
        let reservation = self.reserve_check(identity_id, client_ip, false, now).await?;
        let step = totp::verify(&key, code, unix_seconds(now), None);
        let verdict = step
            .map(|_| Vec::new())
            .ok_or(ServiceError::CheckFailed(FailedCheck::Totp));
        self.settle_check(reservation, &verdict).await;
        let step = step.ok_or(ServiceError::CheckFailed(FailedCheck::Totp))?;
        if !self.store.consume_pending_enrolment(pending.id).await? {
            // Another verification of the same registration won.
            return Err(no_registration());
        }
        self.install_totp(identity_id, secret, Some(step)).await?;
        tracing::info!(%identity_id, "TOTP registration verified");
        Ok(())
    }
}
