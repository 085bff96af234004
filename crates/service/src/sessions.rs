use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use lanyard_domain::device::{truncate_utf8, MAX_USER_AGENT_BYTES};
use lanyard_domain::query::Scope as ListScope;
use lanyard_domain::token::SESSION_TOKEN_PREFIX;
use lanyard_domain::{
    Aal, Cursor, DateFilter, DateMethod, Device, Factor, Identity, Method, Micros, Session, SessionFilter, SessionPage,
    SessionQuery, SessionSort, SessionToken, TokenDigest,
};
use lanyard_store::{Invalidation, RevokeTarget, SessionRow};
use uuid::Uuid;

use crate::secrets::new_token;
use crate::{Lanyard, LimitKey, Limited, Missing, Principal, ServiceError, ServiceResult, ViewMemo};

/// One authentication step the caller vouches for when issuing a session.
#[derive(Debug, Clone)]
pub struct FactorInput {
    pub method: Method,
    pub aal: Option<Aal>,
    pub completed_at: Option<Micros>,
    pub provider: Option<String>,
    pub organization: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct DeviceInput {
    /// Canonical (see [`lanyard_domain::parse_ip`]); the API parses what the client sent.
    pub ip_address: Option<std::net::IpAddr>,
    pub user_agent: Option<String>,
    pub location: Option<String>,
    pub fingerprint_id: Option<String>,
    pub headers: BTreeMap<String, Vec<String>>,
}

/// Lanyard's own extension: a session for an identity authenticated elsewhere.
#[derive(Debug, Clone)]
pub struct IssueSession {
    pub identity_id: Uuid,
    pub factors: Vec<FactorInput>,
    pub device: DeviceInput,
    pub lifespan: Option<time::Duration>,
}

/// A session as the APIs show it.
#[derive(Debug, Clone)]
pub struct SessionView {
    pub session: Session,
    /// The computed `active`, at the time the request was served.
    pub active: bool,
    pub identity: Option<Identity>,
    /// The API layer's own memo for exactly this view (see [`ViewMemo`]).
    pub memo: ViewMemo,
}

pub struct IssuedSession {
    pub view: SessionView,
    /// Shown once; only its digest is stored.
    pub token: SessionToken,
}

/// A keyset-paged admin list (`GET /admin/sessions`).
#[derive(Debug, Clone)]
pub struct ListSessions {
    pub active: Option<bool>,
    pub page_token: Option<String>,
    pub page_size: u32,
    pub expand_identity: bool,
    pub expand_devices: bool,
}

#[derive(Debug, Clone)]
pub struct SessionList {
    pub sessions: Vec<SessionView>,
    pub next_page_token: Option<String>,
}

#[derive(Debug, Clone, Copy)]
pub struct OffsetPage {
    pub offset: u64,
    pub limit: u32,
}

/// The longest lifespan a session can be issued or extended with.
const MAX_LIFESPAN: time::Duration = time::Duration::days(3650);

impl Lanyard {
    pub(crate) fn view(&self, row: SessionRow, identity: Option<Identity>, now: Micros) -> SessionView {
        SessionView {
            active: row.is_active(now),
            session: row.session,
            identity,
            memo: ViewMemo::default(),
        }
    }

    pub(crate) async fn views_with_identities(
        &self,
        rows: Vec<SessionRow>,
        now: Micros,
    ) -> ServiceResult<Vec<SessionView>> {
        let mut ids: Vec<Uuid> = rows.iter().filter_map(|r| r.session.identity_id).collect();
        ids.sort();
        ids.dedup();
        let identities: HashMap<Uuid, Identity> = self
            .store
            .identities_by_ids(&ids)
            .await?
            .into_iter()
            .map(|i| (i.id, i))
            .collect();
        Ok(rows
            .into_iter()
            .map(|row| {
                let identity = row.session.identity_id.and_then(|id| identities.get(&id).cloned());
                self.view(row, identity, now)
            })
            .collect())
    }

    pub async fn issue_session(&self, caller: &Principal, request: IssueSession) -> ServiceResult<IssuedSession> {
        let identity = self.identity(request.identity_id).await?;
        if !identity.is_active() {
            return Err(ServiceError::IdentityDisabled);
        }
        if request.factors.is_empty() {
            return Err(ServiceError::Invalid(
                "methods must name at least one authentication method: a session without one has no \
                 assurance level and whoami would refuse it"
                    .into(),
            ));
        }
        let lifespan = request.lifespan.unwrap_or(self.settings.session_lifespan);
        if lifespan <= time::Duration::ZERO || lifespan > MAX_LIFESPAN {
            return Err(ServiceError::Invalid(
                "lifespan must be positive and at most 3650 days".into(),
            ));
        }
        let now = self.now();
        let factors: Vec<Factor> = request
            .factors
            .into_iter()
            .enumerate()
            .map(|(index, input)| {
                let completed_at = match input.completed_at {
                    None => now,
                    Some(at) => at
                        .check_past(now, self.settings.max_clock_skew)
                        .map_err(|problem| ServiceError::Invalid(format!("methods[{index}].completed_at {problem}")))?,
                };
                let mut factor = Factor::new(input.method, completed_at);
                if let Some(aal) = input.aal {
                    factor.aal = aal;
                }
                factor.provider = input.provider.filter(|p| !p.is_empty());
                factor.organization = input.organization.filter(|o| !o.is_empty());
                Ok(factor)
            })
            .collect::<ServiceResult<_>>()?;
        // The caller is a trusted backend (an API key): the end user's address is the one it
        // reports, never its own socket, or one login UI would share one allowance.
        let reservation = self.reserve_creation(identity.id, request.device.ip_address)?;
        let authenticated_at = factors.iter().map(|f| f.completed_at).max().unwrap_or(now);
        let device = request.device;
        let session = Session {
            id: Uuid::now_v7(),
            identity_id: Some(identity.id),
            created_at: now,
            changed_at: now,
            authenticated_at,
            expires_at: Some(now.plus(lifespan)),
            revoked_at: None,
            user_checked_at: Some(now),
            factors,
            devices: vec![Device {
                id: Uuid::now_v7(),
                ip_address: device.ip_address.map(|ip| ip.to_string()),
                user_agent: device
                    .user_agent
                    .map(|ua| truncate_utf8(&ua, MAX_USER_AGENT_BYTES).to_owned()),
                location: device.location.filter(|v| !v.is_empty()),
                fingerprint_id: device.fingerprint_id.filter(|v| !v.is_empty()),
                headers: device.headers,
                created_at: now,
            }],
            metadata: BTreeMap::new(),
            creator: Some(caller.creator_id()),
            sequence: 0,
        };
        let token = new_token(SESSION_TOKEN_PREFIX);
        let mut session = session;
        session.sequence = match self.store.insert_session(&session, &token.digest()).await {
            Ok(sequence) => sequence,
            Err(error) => {
                self.give_back_creation(reservation);
                return Err(error.into());
            }
        };
        tracing::info!(session_id = %session.id, identity_id = %identity.id, "session issued");
        let identity_state = Some(identity.state);
        let view = self.view(
            SessionRow {
                session,
                identity_state,
            },
            Some(identity),
            now,
        );
        Ok(IssuedSession { view, token })
    }

    /// Resolves a presented session token to an active session and its identity.
    async fn active_session_for_token(&self, token: &str) -> ServiceResult<Arc<SessionView>> {
        let digest = TokenDigest::of_presented(token).ok_or(ServiceError::Unauthenticated("no session token"))?;
        let now = self.now();
        let generation = match &self.token_cache {
            Some(cache) => {
                if let Some(view) = cache.get(&digest, now) {
                    // Expiry needs no invalidation: it is checked against the clock on every hit.
                    let state = view.identity.as_ref().map(|i| i.state);
                    if view.session.is_active(now, state) {
                        return Ok(view);
                    }
                    return Err(ServiceError::Unauthenticated(
                        "the session token is unknown, expired or revoked",
                    ));
                }
                Some(cache.generation())
            }
            None => None,
        };
        let (row, identity) = self
            .store
            .session_and_identity_by_digest(&digest)
            .await?
            .filter(|(row, _)| row.is_active(now))
            .ok_or(ServiceError::Unauthenticated(
                "the session token is unknown, expired or revoked",
            ))?;
        if row.session.identity_id.is_none() {
            return Err(ServiceError::Unauthenticated("the session has no identity"));
        }
        let identity = identity.ok_or(ServiceError::Unauthenticated("the session's identity no longer exists"))?;
        let identity = without_credential_secrets(identity);
        let view = Arc::new(self.view(row, Some(identity), now));
        if let (Some(cache), Some(generation)) = (&self.token_cache, generation) {
            cache.insert(&digest, view.clone(), now, generation);
        }
        Ok(view)
    }

    /// `whoami`: the caller's session, if it is active and meets the required AAL.
    pub async fn whoami(&self, token: &str) -> ServiceResult<Arc<SessionView>> {
        let view = self.active_session_for_token(token).await?;
        self.require_aal(&view)?;
        Ok(view)
    }

    fn require_aal(&self, view: &SessionView) -> ServiceResult<()> {
        let Some(identity) = &view.identity else {
            return Ok(());
        };
        let required = self.settings.required_aal_for(identity.highest_available_aal());
        if view.session.aal() < required {
            return Err(ServiceError::AalRequired { required });
        }
        Ok(())
    }

    /// The session a bearer of `token` is, as a principal for APIs that accept session tokens.
    pub async fn principal_for_session_token(&self, token: &str) -> ServiceResult<Principal> {
        let view = self.active_session_for_token(token).await?;
        let identity_id = view
            .session
            .identity_id
            .ok_or(ServiceError::Unauthenticated("the session has no identity"))?;
        let fingerprint_id = view.session.devices.iter().find_map(|d| d.fingerprint_id.clone());
        Ok(Principal::Session {
            session_id: view.session.id,
            identity_id,
            fingerprint_id,
        })
    }

    pub async fn list_sessions(
        &self,
        caller: &Principal,
        request: ListSessions,
    ) -> ServiceResult<Limited<SessionList>> {
        let after = match request.page_token.as_deref() {
            None | Some("") => None,
            Some(token) => Some(self.page_keys.decode(token)?),
        };
        let size = request.page_size.clamp(1, 1000);
        let now = self.now();
        let query = SessionQuery {
            with_devices: request.expand_devices,
            filter: SessionFilter {
                scope: ListScope::WithIdentity,
                active: request.active,
                ..Default::default()
            },
            sort: SessionSort::CreatedDesc,
            page: SessionPage::Keyset { after, size },
        };
        let slot = self.list_slot(caller.limit_key()).await?;
        let mut rows = self.store.list_sessions(&query, now).await?;
        let more = rows.len() > size as usize;
        rows.truncate(size as usize);
        let next_page_token = if more {
            rows.last().map(|r| {
                self.page_keys.encode(Cursor {
                    created_at: r.session.created_at,
                    id: r.session.id,
                })
            })
        } else {
            None
        };
        let sessions = if request.expand_identity {
            self.views_with_identities(rows, now).await?
        } else {
            rows.into_iter().map(|row| self.view(row, None, now)).collect()
        };
        Ok(Limited::new(
            SessionList {
                sessions,
                next_page_token,
            },
            slot,
        ))
    }

    /// The sessions of one identity, offset-paged, with the total before paging.
    pub async fn identity_sessions(
        &self,
        caller: &Principal,
        identity_id: Uuid,
        active: Option<bool>,
        page: OffsetPage,
    ) -> ServiceResult<Limited<(Vec<SessionView>, u64)>> {
        let slot = self.list_slot(caller.limit_key()).await?;
        let identity = self.identity(identity_id).await?;
        let filter = SessionFilter {
            identity_id: Some(identity_id),
            active,
            ..Default::default()
        };
        Ok(Limited::new(self.offset_page_of(filter, identity, page).await?, slot))
    }

    async fn offset_page_of(
        &self,
        filter: SessionFilter,
        identity: Identity,
        page: OffsetPage,
    ) -> ServiceResult<(Vec<SessionView>, u64)> {
        let now = self.now();
        let total = self.store.count_sessions(&filter, now).await?;
        let query = SessionQuery {
            with_devices: true,
            filter,
            sort: SessionSort::CreatedDesc,
            page: SessionPage::Offset {
                offset: page.offset,
                limit: page.limit.clamp(1, 1000),
            },
        };
        let rows = self.store.list_sessions(&query, now).await?;
        let views = rows
            .into_iter()
            .map(|row| self.view(row, Some(identity.clone()), now))
            .collect();
        Ok((views, total))
    }

    pub async fn session(&self, id: Uuid, expand_identity: bool) -> ServiceResult<SessionView> {
        let now = self.now();
        let row = self
            .store
            .session(id)
            .await?
            .filter(|row| row.session.identity_id.is_some())
            .ok_or(ServiceError::NotFound(Missing::Session))?;
        if expand_identity {
            let mut views = self.views_with_identities(vec![row], now).await?;
            return views.pop().ok_or(ServiceError::NotFound(Missing::Session));
        }
        Ok(self.view(row, None, now))
    }

    /// Moves `expires_at` to now + lifespan once the session is within `earliest_possible_extend`
    /// of expiring; earlier it is a successful no-op, as in Kratos.
    pub async fn extend_session(&self, id: Uuid) -> ServiceResult<SessionView> {
        // Two attempts: a concurrent extend that wins the race leaves nothing left to do.
        for _ in 0..2 {
            let now = self.now();
            let row = self
                .store
                .session(id)
                .await?
                .filter(|row| row.session.identity_id.is_some())
                .ok_or(ServiceError::NotFound(Missing::Session))?;
            let due = match row.session.expires_at {
                Some(expires) => {
                    expires.0 - self.settings.earliest_possible_extend.whole_microseconds() as i64 <= now.0
                }
                None => false,
            };
            if !due {
                return Ok(self.views_with_identities(vec![row], now).await?.remove(0));
            }
            let mut session = row.session.clone();
            session.expires_at = Some(now.plus(self.settings.session_lifespan));
            session.changed_at = now;
            if let Some(sequence) = self.store.update_session(&session, row.session.sequence, None).await? {
                self.invalidate(Invalidation::Session(id)).await;
                session.sequence = sequence;
                let updated = SessionRow {
                    session,
                    identity_state: row.identity_state,
                };
                return Ok(self.views_with_identities(vec![updated], now).await?.remove(0));
            }
        }
        // Lost both races: someone else extended it; show what is stored now.
        self.session(id, true).await
    }

    /// How many sessions are live right now, for the `lanyard_sessions_active` gauge: not
    /// revoked, not expired, and of an active identity or of none (ZITADEL's visible sessions
    /// that have not expired, sessions before their user check included). The counter cells
    /// answer that in a few hundred rows at any size. Kratos' `active` (which also needs an
    /// identity) has no cells: counting it read every session, a parallel scan of the whole
    /// table once a minute (0.3 s at 1M sessions on PostgreSQL, seconds of both cores at 10M).
    pub async fn active_session_count(&self) -> ServiceResult<u64> {
        let now = self.now();
        let filter = SessionFilter {
            scope: ListScope::NotRevoked,
            expires: vec![DateFilter {
                method: DateMethod::Greater,
                at: now,
            }],
            ..Default::default()
        };
        Ok(self.store.count_sessions(&filter, now).await?)
    }

    /// Kratos "disable": revoked, but the row stays visible to admins.
    pub async fn disable_session(&self, id: Uuid) -> ServiceResult<()> {
        if self
            .store
            .session(id)
            .await?
            .filter(|r| r.session.identity_id.is_some())
            .is_none()
        {
            return Err(ServiceError::NotFound(Missing::Session));
        }
        let revoked = self
            .store
            .revoke_sessions(RevokeTarget::Session(id), self.now())
            .await?;
        self.invalidate(Invalidation::Session(id)).await;
        if !revoked.is_empty() {
            tracing::info!(session_id = %id, "session disabled");
        }
        Ok(())
    }

    /// Hard-deletes every session of an identity that exists.
    pub async fn delete_identity_sessions(&self, identity_id: Uuid) -> ServiceResult<u64> {
        self.identity(identity_id).await?;
        let deleted = self.store.delete_sessions_of_identity(identity_id).await?;
        self.invalidate(Invalidation::Identity(identity_id)).await;
        Ok(deleted.len() as u64)
    }

    /// The caller's other active sessions.
    pub async fn my_other_sessions(
        &self,
        token: &str,
        page: OffsetPage,
    ) -> ServiceResult<Limited<(Vec<SessionView>, u64)>> {
        let current = self.whoami(token).await?;
        let identity = current
            .identity
            .clone()
            .ok_or(ServiceError::Unauthenticated("the session has no identity"))?;
        let filter = SessionFilter {
            identity_id: Some(identity.id),
            active: Some(true),
            exclude_id: Some(current.session.id),
            ..Default::default()
        };
        let slot = self.list_slot(LimitKey::Identity(identity.id)).await?;
        Ok(Limited::new(self.offset_page_of(filter, identity, page).await?, slot))
    }

    /// Revokes the caller's other active sessions; returns how many changed.
    pub async fn revoke_my_other_sessions(&self, token: &str) -> ServiceResult<u64> {
        let current = self.whoami(token).await?;
        let identity_id = current
            .session
            .identity_id
            .ok_or(ServiceError::Unauthenticated("the session has no identity"))?;
        let revoked = self
            .store
            .revoke_sessions(
                RevokeTarget::IdentityActive {
                    identity_id,
                    except: Some(current.session.id),
                },
                self.now(),
            )
            .await?;
        for id in &revoked {
            self.invalidate(Invalidation::Session(*id)).await;
        }
        Ok(revoked.len() as u64)
    }

    /// Revokes one of the caller's other sessions. Unknown or foreign ids succeed silently, so
    /// the endpoint does not reveal which session ids exist.
    pub async fn revoke_my_session(&self, token: &str, id: Uuid) -> ServiceResult<()> {
        let current = self.whoami(token).await?;
        if current.session.id == id {
            return Err(ServiceError::Refused(crate::Refusal::CurrentSession));
        }
        let mine = self
            .store
            .session(id)
            .await?
            .is_some_and(|row| row.session.identity_id == current.session.identity_id);
        if mine {
            self.store
                .revoke_sessions(RevokeTarget::Session(id), self.now())
                .await?;
            self.invalidate(Invalidation::Session(id)).await;
        }
        Ok(())
    }

    /// Native logout: revokes the session the token belongs to.
    pub async fn logout(&self, token: &str) -> ServiceResult<()> {
        let digest = TokenDigest::of_presented(token).ok_or(ServiceError::Unauthenticated("no session token"))?;
        let now = self.now();
        let row = self
            .store
            .session_by_digest(&digest)
            .await?
            .filter(|row| row.is_active(now))
            .ok_or(ServiceError::Forbidden(
                "the session token is unknown, expired or already logged out".into(),
            ))?;
        self.store
            .revoke_sessions(RevokeTarget::Session(row.session.id), now)
            .await?;
        self.invalidate(Invalidation::Session(row.session.id)).await;
        Ok(())
    }
}

/// The token-bearing paths read an identity's credential *types* (for the required AAL), never
/// their secrets, so the sessions they cache keep no password hashes, TOTP secrets or
/// recovery-code digests in memory.
fn without_credential_secrets(mut identity: Identity) -> Identity {
    for credential in identity.credentials.values_mut() {
        credential.config = serde_json::Value::Null;
    }
    identity
}

#[cfg(test)]
mod tests {
    use lanyard_domain::IdentityState;
    use serde_json::json;

    use super::*;
    use crate::test_fixture::fixture;
    use crate::IdentityWrite;

    #[tokio::test]
    async fn the_active_sessions_gauge_counts_live_sessions_only() {
        let f = fixture().await;
        let (service, store) = (&f.service, &f.service.store);
        let identity = |email: &str| IdentityWrite {
            traits: json!({ "email": email }),
            ..Default::default()
        };
        let alice = service.create_identity(identity("alice@example.org")).await.unwrap();
        let mut bob = service.create_identity(identity("bob@example.org")).await.unwrap();
        let now = service.now();
        let hour = 3_600_000_000;
        let session = |identity_id: Option<Uuid>, expires: Option<i64>, revoked: bool| Session {
            id: Uuid::now_v7(),
            identity_id,
            created_at: Micros(now.0 - hour),
            changed_at: Micros(now.0 - hour),
            authenticated_at: Micros(now.0 - hour),
            expires_at: expires.map(|offset| Micros(now.0 + offset)),
            revoked_at: revoked.then_some(now),
            user_checked_at: identity_id.map(|_| Micros(now.0 - hour)),
            factors: Vec::new(),
            devices: Vec::new(),
            metadata: BTreeMap::new(),
            creator: None,
            sequence: 0,
        };
        let sessions = [
            session(Some(alice.id), Some(hour), false),
            session(Some(alice.id), None, false),
            // A ZITADEL session before its user check.
            session(None, Some(hour), false),
            session(Some(alice.id), Some(hour), true),
            session(Some(alice.id), Some(-1), false),
            session(Some(bob.id), Some(hour), false),
        ];
        for s in &sessions {
            store
                .insert_session(s, &TokenDigest::of(&s.id.to_string()))
                .await
                .unwrap();
        }
        assert_eq!(service.active_session_count().await.unwrap(), 4);
        bob.state = IdentityState::Inactive;
        store.update_identity(&bob).await.unwrap();
        assert_eq!(service.active_session_count().await.unwrap(), 3);
    }
}
