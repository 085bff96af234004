use std::collections::BTreeMap;

use uuid::Uuid;

use crate::{Aal, Device, Factor, IdentityState, Micros};

/// A login session. The token is not part of it: only the store knows its digest.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: Uuid,
    /// Absent only for ZITADEL sessions whose user was not checked yet.
    pub identity_id: Option<Uuid>,
    pub created_at: Micros,
    pub changed_at: Micros,
    pub authenticated_at: Micros,
    pub expires_at: Option<Micros>,
    pub revoked_at: Option<Micros>,
    /// ZITADEL `factors.user.verifiedAt`: when the user check passed.
    pub user_checked_at: Option<Micros>,
    pub factors: Vec<Factor>,
    pub devices: Vec<Device>,
    pub metadata: BTreeMap<String, Vec<u8>>,
    /// The principal that created the session: an API key id or an identity id.
    pub creator: Option<String>,
    /// Monotonic change counter.
    pub sequence: i64,
}

/// Where a session stands in its lifecycle at a given instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    Active,
    Expired,
    Revoked,
    NoUserYet,
}

impl Session {
    /// The expiry as stored: never before the creation. A lifetime is always positive, but
    /// the node that extends a session may run a little behind the one that created it; a
    /// session that expires before it was created has simply expired, and the searches rely
    /// on expiry ≥ creation to bound the creation dates an expiry range can match.
    pub fn stored_expiry(&self) -> Option<Micros> {
        self.expires_at.map(|at| at.max(self.created_at))
    }

    pub fn aal(&self) -> Aal {
        Aal::from_factors(&self.factors)
    }

    pub fn is_expired(&self, now: Micros) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// One definition of "active", used for the `active` field, the `active` filter and whoami:
    /// not revoked, identity present and active, and not past its expiry.
    pub fn is_active(&self, now: Micros, identity_state: Option<IdentityState>) -> bool {
        self.lifecycle(now, identity_state) == Lifecycle::Active
    }

    pub fn lifecycle(&self, now: Micros, identity_state: Option<IdentityState>) -> Lifecycle {
        if self.identity_id.is_none() {
            return Lifecycle::NoUserYet;
        }
        if self.revoked_at.is_some() || identity_state != Some(IdentityState::Active) {
            return Lifecycle::Revoked;
        }
        if self.is_expired(now) {
            return Lifecycle::Expired;
        }
        Lifecycle::Active
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(expires_at: Option<i64>) -> Session {
        Session {
            id: Uuid::nil(),
            identity_id: Some(Uuid::nil()),
            created_at: Micros(0),
            changed_at: Micros(0),
            authenticated_at: Micros(0),
            expires_at: expires_at.map(Micros),
            revoked_at: None,
            user_checked_at: None,
            factors: vec![],
            devices: vec![],
            metadata: BTreeMap::new(),
            creator: None,
            sequence: 1,
        }
    }

    const ACTIVE: Option<IdentityState> = Some(IdentityState::Active);

    #[test]
    fn a_session_is_active_until_the_instant_it_expires() {
        let s = session(Some(100));
        assert!(s.is_active(Micros(99), ACTIVE));
        assert_eq!(s.lifecycle(Micros(100), ACTIVE), Lifecycle::Expired);
    }

    #[test]
    fn a_session_is_stored_as_expiring_no_earlier_than_it_was_created() {
        let mut s = session(Some(-5));
        assert_eq!(s.stored_expiry(), Some(Micros(0)));
        s.expires_at = Some(Micros(7));
        assert_eq!(s.stored_expiry(), Some(Micros(7)));
        assert_eq!(session(None).stored_expiry(), None);
    }

    #[test]
    fn a_session_without_expiry_never_expires() {
        assert!(session(None).is_active(Micros(i64::MAX), ACTIVE));
    }

    #[test]
    fn revocation_and_inactive_identities_end_activity() {
        let mut s = session(None);
        assert_eq!(
            s.lifecycle(Micros(0), Some(IdentityState::Inactive)),
            Lifecycle::Revoked
        );
        s.revoked_at = Some(Micros(1));
        assert_eq!(s.lifecycle(Micros(0), ACTIVE), Lifecycle::Revoked);
    }

    #[test]
    fn a_session_without_user_is_never_active() {
        let mut s = session(None);
        s.identity_id = None;
        assert_eq!(s.lifecycle(Micros(0), None), Lifecycle::NoUserYet);
    }
}
