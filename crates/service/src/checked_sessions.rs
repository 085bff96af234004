//! Sessions built up by checks (the ZITADEL Session Service model): a session is created,
//! then users and credentials are checked on it, each successful change rotating its token.

use std::collections::BTreeMap;
use std::net::IpAddr;

use lanyard_domain::query::Scope as ListScope;
use lanyard_domain::token::SESSION_TOKEN_PREFIX;
use lanyard_domain::{
    CredentialType, Device, Factor, Identity, Method, Micros, OtpChannel, OwnedBy, Scope, Session, SessionFilter,
    SessionPage, SessionQuery, SessionSort, SessionToken, TokenDigest,
};
use lanyard_store::{AttemptLimits, AttemptOutcome, AttemptReservation, SessionRow};
use uuid::Uuid;

use crate::factors::{OtpChallengeRequest, OtpCodes, WebauthnChallengeRequest};
use crate::idp_intents::IdpIntentCheck;
use crate::secrets::new_token;
use crate::{DeviceInput, FailedCheck, Lanyard, Missing, Principal, Refusal, ServiceError, ServiceResult, SessionView};

#[derive(Debug, Clone)]
pub enum UserCheck {
    Id(String),
    /// A login identifier (email or username), case-insensitive.
    LoginName(String),
}

/// Why a credential check cannot run yet.
const NEEDS_USER: &str =
    "a user check is needed before password, TOTP, recovery code, IdP intent, one-time code or WebAuthN checks";

/// Whether two methods are one ZITADEL factor, which a new check replaces.
fn same_factor(a: Method, b: Method) -> bool {
    let webauthn = |m| matches!(m, Method::Webauthn | Method::Passkey);
    a == b || (webauthn(a) && webauthn(b))
}

/// The checks one request asks for.
#[derive(Debug, Clone, Default)]
pub struct Checks {
    pub user: Option<UserCheck>,
    pub password: Option<String>,
    pub totp: Option<String>,
    pub recovery_code: Option<String>,
    pub idp_intent: Option<IdpIntentCheck>,
    pub otp_sms: Option<String>,
    pub otp_email: Option<String>,
    /// `checks.webAuthN.credentialAssertionData`: the browser's `PublicKeyCredential`.
    pub webauthn: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default)]
pub struct CreateCheckedSession {
    pub checks: Checks,
    /// One-time codes to issue once the checks passed.
    pub challenges: Vec<OtpChallengeRequest>,
    /// A WebAuthn challenge to issue once the checks passed.
    pub webauthn_challenge: Option<WebauthnChallengeRequest>,
    pub metadata: BTreeMap<String, Vec<u8>>,
    pub user_agent: Option<DeviceInput>,
    pub lifetime: Option<time::Duration>,
}

#[derive(Debug, Clone, Default)]
pub struct SetCheckedSession {
    pub id: String,
    pub checks: Checks,
    /// One-time codes to issue once the checks passed.
    pub challenges: Vec<OtpChallengeRequest>,
    /// A WebAuthn challenge to issue once the checks passed.
    pub webauthn_challenge: Option<WebauthnChallengeRequest>,
    /// An empty value deletes the key.
    pub metadata: BTreeMap<String, Vec<u8>>,
    pub lifetime: Option<time::Duration>,
}

#[derive(Debug, Clone, Default)]
pub struct SearchSessions {
    pub ids: Option<Vec<String>>,
    pub user_id: Option<String>,
    pub created: Vec<lanyard_domain::DateFilter>,
    pub expires: Vec<lanyard_domain::DateFilter>,
    /// `Some(None)`: the caller's own id.
    pub creator: Option<Option<String>>,
    /// `Some(None)`: the caller's own user agent.
    pub fingerprint_id: Option<Option<String>>,
    pub ascending: bool,
    pub offset: u64,
    pub limit: u32,
}

#[derive(Debug, Clone)]
pub struct SessionSearchResult {
    pub sessions: Vec<SessionView>,
    pub total: u64,
    pub processed_sequence: i64,
    pub timestamp: Micros,
}

/// The result of Create or Set.
pub struct CheckedSession {
    pub view: SessionView,
    /// A new token when anything changed; the previous token no longer works.
    pub token: Option<SessionToken>,
    /// The one-time codes the request asked to have returned.
    pub otp_codes: OtpCodes,
    /// The WebAuthn request options the request asked for (`{"publicKey": {...}}`).
    pub webauthn_options: Option<serde_json::Value>,
}

/// A check attempt taken before credentials are checked: on this node for the end-user IP,
/// in the store for the identity (with the window it was taken in, and whether it checks a
/// password).
pub(crate) struct CheckReservation {
    ip: Option<crate::rate_limit::Reserved>,
    identity: Option<(Uuid, Micros, bool)>,
}

pub const MAX_SEARCH_LIMIT: u32 = 1000;
pub const DEFAULT_SEARCH_LIMIT: u32 = 100;
const MAX_LIFETIME: time::Duration = time::Duration::days(3650);

/// The address that per-IP limits count for. An API key is a trusted backend (a login UI
/// calling for all its users from one address): the end user's address is the one it reports
/// (`userAgent.ip`, kept on the session's device), its own socket only when it reports none.
/// A session-token holder is the end user itself; what it reports is not believed.
fn end_user_ip(caller: &Principal, reported: Option<IpAddr>, socket: Option<IpAddr>) -> Option<IpAddr> {
    match caller {
        Principal::ApiKey(_) => reported.or(socket),
        Principal::Session { .. } => socket,
    }
}

fn parse_session_id(id: &str) -> ServiceResult<Uuid> {
    Uuid::parse_str(id.trim()).map_err(|_| ServiceError::NotFound(Missing::Session))
}

impl Lanyard {
    /// Takes one check attempt from the end-user IP's allowance (this node) and the identity's
    /// (the store, shared by every node) before any credential is checked, so that checks in
    /// flight count: a burst gets at most the limit of verdicts, the rest 429 without a hash
    /// being computed.
    pub(crate) async fn reserve_check(
        &self,
        identity: Uuid,
        ip: Option<IpAddr>,
        password: bool,
        now: Micros,
    ) -> ServiceResult<CheckReservation> {
        let ip = match ip.map(|ip| self.ip_failures.reserve(&ip.to_string(), now)).transpose() {
            Ok(ip) => ip.flatten(),
            Err(retry_after_seconds) => {
                return Err(ServiceError::RateLimited {
                    limit: crate::Limit::FailedChecks,
                    retry_after_seconds,
                })
            }
        };
        let limits = self.check_attempt_limits();
        if !limits.limits_anything() {
            return Ok(CheckReservation { ip, identity: None });
        }
        let refused = match self.store.reserve_check_attempt(identity, password, limits, now).await {
            Ok(AttemptReservation::Granted { window_start }) => {
                return Ok(CheckReservation {
                    ip,
                    identity: Some((identity, window_start, password)),
                })
            }
            Ok(AttemptReservation::WindowFull { window_ends }) => ServiceError::RateLimited {
                limit: crate::Limit::FailedChecks,
                retry_after_seconds: u64::try_from(window_ends.0.saturating_sub(now.0))
                    .unwrap_or(0)
                    .div_ceil(1_000_000)
                    .max(1),
            },
            Ok(AttemptReservation::PasswordLocked) => ServiceError::Refused(Refusal::UserLocked),
            Err(error) => error.into(),
        };
        if let Some(ip) = ip {
            self.ip_failures.give_back(ip);
        }
        Err(refused)
    }

    /// Settles a reservation: a failed check keeps its attempt counted, a passed one (or one
    /// that never reached a verdict) gives it back.
    pub(crate) async fn settle_check(&self, reservation: CheckReservation, verdict: &ServiceResult<Vec<Factor>>) {
        let failed = matches!(verdict, Err(ServiceError::CheckFailed(_)));
        if !failed {
            if let Some(ip) = reservation.ip {
                self.ip_failures.give_back(ip);
            }
        }
        let Some((identity, window_start, password)) = reservation.identity else {
            return;
        };
        let outcome = match verdict {
            Ok(_) => AttemptOutcome::Passed { password },
            Err(ServiceError::CheckFailed(_)) => AttemptOutcome::Failed,
            Err(_) => AttemptOutcome::NotRun { password },
        };
        if failed {
            tracing::info!(identity_id = %identity, "credential check failed");
        }
        // The reservation stays counted if this fails: the safe side for a limit.
        if let Err(error) = self.store.settle_check_attempt(identity, window_start, outcome).await {
            tracing::warn!(%error, identity_id = %identity, "could not settle a check attempt");
        }
    }

    fn check_attempt_limits(&self) -> AttemptLimits {
        AttemptLimits {
            per_window: self.settings.failed_checks_per_identity,
            window: self.settings.failed_checks_window,
            max_password_attempts: self.settings.max_password_attempts,
        }
    }

    /// Lifts the password lockout of an identity (ZITADEL's UnlockUser).
    pub async fn unlock_identity(&self, identity_id: Uuid) -> ServiceResult<()> {
        self.store
            .identity(identity_id)
            .await?
            .ok_or(ServiceError::NotFound(Missing::Identity))?;
        let lifted = self.store.unlock_password_checks(identity_id).await?;
        tracing::info!(%identity_id, lifted, "identity unlocked");
        Ok(())
    }

    async fn find_user(&self, check: &UserCheck) -> ServiceResult<Identity> {
        let found = match check {
            UserCheck::Id(id) => match Uuid::parse_str(id.trim()) {
                Ok(id) => self.store.identity(id).await?,
                Err(_) => None,
            },
            UserCheck::LoginName(name) => self.store.identity_by_identifier(name.trim()).await?,
        };
        found.ok_or(ServiceError::NotFound(Missing::User))
    }

    /// Runs the checks against `session`, recording factors. Returns whether anything changed.
    async fn apply_checks(
        &self,
        session: &mut Session,
        identity: &mut Option<Identity>,
        checks: Checks,
        ip: Option<IpAddr>,
        now: Micros,
    ) -> ServiceResult<bool> {
        let mut changed = false;
        if let Some(check) = &checks.user {
            let user = self.find_user(check).await?;
            if let Some(existing) = session.identity_id {
                if existing != user.id {
                    return Err(ServiceError::Invalid(
                        "the session already belongs to another user".into(),
                    ));
                }
            }
            if !user.is_active() {
                return Err(Refusal::UserInactive.into());
            }
            session.identity_id = Some(user.id);
            session.user_checked_at = Some(now);
            *identity = Some(user);
            changed = true;
        }
        let needs_user = checks.password.is_some()
            || checks.totp.is_some()
            || checks.recovery_code.is_some()
            || checks.idp_intent.is_some()
            || checks.otp_sms.is_some()
            || checks.otp_email.is_some()
            || checks.webauthn.is_some();
        if !needs_user {
            return Ok(changed);
        }
        let Some(user) = identity.clone() else {
            return Err(ServiceError::PreconditionFailed(NEEDS_USER.into()));
        };
        let password_checked = checks.password.is_some();
        let reservation = self.reserve_check(user.id, ip, password_checked, now).await?;
        let verdict = self.run_credential_checks(&user, session.id, checks, now).await;
        self.settle_check(reservation, &verdict).await;
        let verified = verdict?;
        for factor in verified {
            // Re-running a check overwrites its time, as in ZITADEL; a passkey and a security
            // key are one factor there (`webAuthN`).
            session.factors.retain(|f| !same_factor(f.method, factor.method));
            session.factors.push(factor);
            session.authenticated_at = now;
        }
        Ok(true)
    }

    /// Password, TOTP, recovery code, one-time code (SMS, then email) and IdP intent checks, in
    /// that order; the factors that passed, or `CheckFailed` at the first that did not.
    async fn run_credential_checks(
        &self,
        user: &Identity,
        session_id: Uuid,
        checks: Checks,
        now: Micros,
    ) -> ServiceResult<Vec<Factor>> {
        let mut verified = Vec::new();
        if let Some(password) = checks.password {
            let hash = user
                .credentials
                .get(&CredentialType::Password)
                .and_then(|c| c.config["hashed_password"].as_str())
                .map(str::to_owned);
            let ok = match hash {
                Some(hash) => self.passwords.verify(password, hash).await?,
                None => false,
            };
            if !ok {
                return Err(ServiceError::CheckFailed(FailedCheck::Password));
            }
            verified.push(Factor::new(Method::Password, now));
        }
        if let Some(code) = checks.totp {
            if !self.verify_totp(user, &code).await? {
                return Err(ServiceError::CheckFailed(FailedCheck::Totp));
            }
            verified.push(Factor::new(Method::Totp, now));
        }
        if let Some(code) = checks.recovery_code {
            if !self.consume_recovery_code(user, &code).await? {
                return Err(ServiceError::CheckFailed(FailedCheck::RecoveryCode));
            }
            verified.push(Factor::new(Method::LookupSecret, now));
        }
        for (channel, code) in [(OtpChannel::Sms, checks.otp_sms), (OtpChannel::Email, checks.otp_email)] {
            let Some(code) = code else { continue };
            if !self.check_otp(session_id, channel, &code).await? {
                return Err(ServiceError::CheckFailed(FailedCheck::OneTimeCode));
            }
            verified.push(Factor::new(channel.method(), now));
        }
        if let Some(assertion) = checks.webauthn {
            let Some(factor) = self.check_webauthn(user, session_id, assertion, now).await? else {
                return Err(ServiceError::CheckFailed(FailedCheck::Webauthn));
            };
            verified.push(factor);
        }
        if let Some(check) = checks.idp_intent {
            let Some(intent) = self.consume_idp_intent(user, &check).await? else {
                return Err(ServiceError::CheckFailed(FailedCheck::IdpIntent));
            };
            // Kratos shows it as an `oidc` method with the provider the caller named.
            let mut factor = Factor::new(Method::Oidc, now);
            factor.provider = Some(intent.idp_id);
            verified.push(factor);
        }
        Ok(verified)
    }

    /// Issues the one-time codes and the WebAuthn challenge a request asked for.
    async fn issue_challenges(
        &self,
        session_id: Uuid,
        identity: Option<&Identity>,
        codes: &[OtpChallengeRequest],
        webauthn: Option<&WebauthnChallengeRequest>,
        now: Micros,
    ) -> ServiceResult<(OtpCodes, Option<serde_json::Value>)> {
        let codes = self.issue_otp_challenges(session_id, identity, codes, now).await?;
        let options = match webauthn {
            Some(challenge) => Some(
                self.issue_webauthn_challenge(session_id, identity, challenge, now)
                    .await?,
            ),
            None => None,
        };
        Ok((codes, options))
    }

    fn apply_metadata(session: &mut Session, metadata: BTreeMap<String, Vec<u8>>) -> bool {
        let mut changed = false;
        for (key, value) in metadata {
            if value.is_empty() {
                changed |= session.metadata.remove(&key).is_some();
            } else if session.metadata.get(&key) != Some(&value) {
                session.metadata.insert(key, value);
                changed = true;
            }
        }
        changed
    }

    fn lifetime_end(now: Micros, lifetime: time::Duration) -> ServiceResult<Micros> {
        if lifetime <= time::Duration::ZERO || lifetime > MAX_LIFETIME {
            return Err(ServiceError::Invalid(
                "lifetime must be positive and at most 3650 days".into(),
            ));
        }
        Ok(now.plus(lifetime))
    }

    fn require_scope(caller: &Principal, scope: Scope) -> ServiceResult<()> {
        if caller.has_scope(scope) {
            Ok(())
        } else {
            Err(ServiceError::Forbidden(format!(
                "the caller lacks the {} permission",
                scope.as_str()
            )))
        }
    }

    pub async fn create_checked_session(
        &self,
        caller: &Principal,
        client_ip: Option<IpAddr>,
        request: CreateCheckedSession,
    ) -> ServiceResult<CheckedSession> {
        Self::require_scope(caller, Scope::SessionWrite)?;
        let now = self.now();
        let reported_ip = request.user_agent.as_ref().and_then(|agent| agent.ip_address);
        let device = request.user_agent.map(|agent| Device {
            id: Uuid::now_v7(),
            ip_address: agent.ip_address.or(client_ip).map(|ip| ip.to_string()),
            user_agent: agent.user_agent,
            location: agent.location,
            fingerprint_id: agent.fingerprint_id,
            headers: agent.headers,
            created_at: now,
        });
        let mut session = Session {
            id: Uuid::now_v7(),
            identity_id: None,
            created_at: now,
            changed_at: now,
            authenticated_at: now,
            expires_at: request.lifetime.map(|l| Self::lifetime_end(now, l)).transpose()?,
            revoked_at: None,
            user_checked_at: None,
            factors: Vec::new(),
            devices: device.into_iter().collect(),
            metadata: BTreeMap::new(),
            creator: Some(caller.creator_id()),
            sequence: 0,
        };
        Self::apply_metadata(&mut session, request.metadata);
        let end_user_ip = end_user_ip(caller, reported_ip, client_ip);
        let mut identity = None;
        self.apply_checks(&mut session, &mut identity, request.checks, end_user_ip, now)
            .await?;
        let reservation = match session.identity_id {
            Some(identity_id) => Some(self.reserve_creation(identity_id, end_user_ip)?),
            None => None,
        };
        // After the creation allowance, so that a refused creation sends no code.
        let (otp_codes, webauthn_options) = match self
            .issue_challenges(
                session.id,
                identity.as_ref(),
                &request.challenges,
                request.webauthn_challenge.as_ref(),
                now,
            )
            .await
        {
            Ok(issued) => issued,
            Err(error) => {
                if let Some(reservation) = reservation {
                    self.give_back_creation(reservation);
                }
                return Err(error);
            }
        };
        let token = new_token(SESSION_TOKEN_PREFIX);
        session.sequence = match self.store.insert_session(&session, &token.digest()).await {
            Ok(sequence) => sequence,
            Err(error) => {
                if let Some(reservation) = reservation {
                    self.give_back_creation(reservation);
                }
                return Err(error.into());
            }
        };
        tracing::info!(session_id = %session.id, "checked session created");
        let identity_state = identity.as_ref().map(|i| i.state);
        let view = self.view(
            SessionRow {
                session,
                identity_state,
            },
            identity,
            now,
        );
        Ok(CheckedSession {
            view,
            token: Some(token),
            otp_codes,
            webauthn_options,
        })
    }

    /// A session that ZITADEL would still show: not revoked and not of a deactivated identity.
    async fn live_session(&self, id: Uuid) -> ServiceResult<Option<SessionRow>> {
        Ok(self.store.session(id).await?.filter(|row| {
            row.session.revoked_at.is_none()
                && (row.session.identity_id.is_none()
                    || row.identity_state == Some(lanyard_domain::IdentityState::Active))
        }))
    }

    pub async fn set_checked_session(
        &self,
        caller: &Principal,
        client_ip: Option<IpAddr>,
        request: SetCheckedSession,
    ) -> ServiceResult<CheckedSession> {
        Self::require_scope(caller, Scope::SessionWrite)?;
        let id = parse_session_id(&request.id)?;
        let row = self
            .store
            .session(id)
            .await?
            .ok_or(ServiceError::NotFound(Missing::Session))?;
        if row.session.revoked_at.is_some() {
            return Err(ServiceError::PreconditionFailed(
                "the session is terminated (Errors.Session.Terminated)".into(),
            ));
        }
        let now = self.now();
        let mut session = row.session.clone();
        let mut identity = match session.identity_id {
            Some(identity_id) => self.store.identity(identity_id).await?,
            None => None,
        };
        let reported_ip = session
            .devices
            .first()
            .and_then(|d| d.ip_address.as_deref())
            .and_then(|ip| lanyard_domain::parse_ip(ip).ok());
        let end_user_ip = end_user_ip(caller, reported_ip, client_ip);
        let mut changed = self
            .apply_checks(&mut session, &mut identity, request.checks, end_user_ip, now)
            .await?;
        // A challenge is stored beside the session, so on its own it changes neither the
        // session nor its token.
        let (otp_codes, webauthn_options) = self
            .issue_challenges(
                session.id,
                identity.as_ref(),
                &request.challenges,
                request.webauthn_challenge.as_ref(),
                now,
            )
            .await?;
        changed |= Self::apply_metadata(&mut session, request.metadata);
        if let Some(lifetime) = request.lifetime {
            session.expires_at = Some(Self::lifetime_end(now, lifetime)?);
            changed = true;
        }
        if !changed {
            let identity_state = identity.as_ref().map(|i| i.state);
            return Ok(CheckedSession {
                view: self.view(
                    SessionRow {
                        session,
                        identity_state,
                    },
                    identity,
                    now,
                ),
                token: None,
                otp_codes,
                webauthn_options,
            });
        }
        session.changed_at = now;
        let token = new_token(SESSION_TOKEN_PREFIX);
        let sequence = self
            .store
            .update_session(&session, row.session.sequence, Some(&token.digest()))
            .await?
            .ok_or_else(|| ServiceError::PreconditionFailed("the session changed concurrently; retry".into()))?;
        // The old token must stop working at once, also where it is cached.
        self.invalidate(lanyard_store::Invalidation::Session(session.id)).await;
        session.sequence = sequence;
        tracing::info!(session_id = %session.id, "checked session updated; token rotated");
        let identity_state = identity.as_ref().map(|i| i.state);
        Ok(CheckedSession {
            view: self.view(
                SessionRow {
                    session,
                    identity_state,
                },
                identity,
                now,
            ),
            token: Some(token),
            otp_codes,
            webauthn_options,
        })
    }

    /// Whether the caller may see this session without presenting its token.
    fn may_see(caller: &Principal, session: &Session) -> bool {
        match caller {
            Principal::ApiKey(key) => {
                key.allows(Scope::SessionRead) || session.creator.as_deref() == Some(key.id.to_string().as_str())
            }
            // The same rule as the list filter (`OwnedBy`): creator or checked user. ZITADEL's
            // user-agent fingerprint rule is deliberately not applied (see DESIGN.md).
            Principal::Session { identity_id, .. } => {
                session.identity_id == Some(*identity_id)
                    || session.creator.as_deref() == Some(identity_id.to_string().as_str())
            }
        }
    }

    async fn token_matches(&self, id: Uuid, token: &str) -> ServiceResult<bool> {
        let Some(digest) = TokenDigest::of_presented(token) else {
            return Ok(false);
        };
        Ok(self
            .store
            .session_by_digest(&digest)
            .await?
            .is_some_and(|row| row.session.id == id))
    }

    pub async fn get_checked_session(
        &self,
        caller: &Principal,
        id: &str,
        token: Option<&str>,
    ) -> ServiceResult<SessionView> {
        let id = parse_session_id(id)?;
        let row = self
            .live_session(id)
            .await?
            .ok_or(ServiceError::NotFound(Missing::Session))?;
        let allowed = match token.filter(|t| !t.is_empty()) {
            Some(token) => self.token_matches(id, token).await?,
            None => Self::may_see(caller, &row.session),
        };
        if !allowed {
            return Err(Refusal::ReadDenied.into());
        }
        let identity = match row.session.identity_id {
            Some(identity_id) => self.store.identity(identity_id).await?,
            None => None,
        };
        Ok(self.view(row, identity, self.now()))
    }

    /// Terminates a session. Unknown or already terminated sessions succeed once the caller
    /// would have been allowed to delete them.
    /// Deletes (revokes) a session; returns when, by the service's clock.
    pub async fn delete_checked_session(
        &self,
        caller: &Principal,
        id: &str,
        token: Option<&str>,
    ) -> ServiceResult<Micros> {
        let id = parse_session_id(id).ok();
        let row = match id {
            Some(id) => self.live_session(id).await?,
            None => None,
        };
        let Some(row) = row else {
            // Deleting what is not there succeeds, as in ZITADEL, for a caller that could.
            Self::require_scope(caller, Scope::SessionDelete)?;
            return Ok(self.now());
        };
        let allowed = match token.filter(|t| !t.is_empty()) {
            Some(token) => self.token_matches(row.session.id, token).await?,
            None => match caller {
                Principal::ApiKey(key) => key.allows(Scope::SessionDelete),
                Principal::Session { identity_id, .. } => row.session.identity_id == Some(*identity_id),
            },
        };
        if !allowed {
            return Err(Refusal::DeleteDenied.into());
        }
        let now = self.now();
        self.store
            .revoke_sessions(lanyard_store::RevokeTarget::Session(row.session.id), now)
            .await?;
        self.invalidate(lanyard_store::Invalidation::Session(row.session.id))
            .await;
        tracing::info!(session_id = %row.session.id, "checked session deleted");
        Ok(now)
    }

    pub async fn search_sessions(
        &self,
        caller: &Principal,
        search: SearchSessions,
    ) -> ServiceResult<crate::Limited<SessionSearchResult>> {
        let limit = match search.limit {
            0 => DEFAULT_SEARCH_LIMIT,
            n if n > MAX_SEARCH_LIMIT => {
                return Err(Refusal::LimitExceeded {
                    requested: n,
                    max: MAX_SEARCH_LIMIT,
                }
                .into())
            }
            n => n,
        };
        let mut filter = SessionFilter {
            scope: ListScope::NotRevoked,
            ..Default::default()
        };
        // The API bounds each idsQuery (at most 1000 ids, `zitadel::request`); ANDed queries
        // only intersect them.
        if let Some(ids) = search.ids {
            filter.ids = Some(ids.iter().filter_map(|id| Uuid::parse_str(id.trim()).ok()).collect());
        }
        if let Some(user) = search.user_id {
            // A user id that is not a UUID cannot match any session.
            filter.identity_id = Some(Uuid::parse_str(user.trim()).unwrap_or(Uuid::max()));
        }
        filter.created = search.created;
        filter.expires = search.expires;
        // An empty id means "the caller", as absent and null do: the proto documents it so,
        // although ZITADEL itself refuses "" (see the reference's deliberate differences).
        filter.creator = match search.creator {
            None => None,
            Some(Some(id)) if !id.trim().is_empty() => Some(id),
            Some(_) => Some(caller.creator_id()),
        };
        filter.fingerprint_id = match search.fingerprint_id {
            None => None,
            Some(Some(id)) if !id.trim().is_empty() => Some(id),
            Some(_) => match caller {
                Principal::Session {
                    fingerprint_id: Some(f),
                    ..
                } => Some(f.clone()),
                _ => return Err(Refusal::NoUserAgentToQuery.into()),
            },
        };
        filter.owned_by = match caller {
            Principal::ApiKey(key) if key.allows(Scope::SessionRead) => None,
            Principal::ApiKey(key) => Some(OwnedBy {
                identity_id: None,
                creator: key.id.to_string(),
            }),
            Principal::Session { identity_id, .. } => Some(OwnedBy {
                identity_id: Some(*identity_id),
                creator: identity_id.to_string(),
            }),
        };
        let slot = self.list_slot(caller.limit_key()).await?;
        let now = self.now();
        let query = SessionQuery {
            with_devices: true,
            filter,
            sort: if search.ascending {
                SessionSort::CreatedAsc
            } else {
                SessionSort::CreatedDesc
            },
            page: SessionPage::Offset {
                offset: search.offset,
                limit,
            },
        };
        // The count, the page and the sequence come from one snapshot, so they agree.
        let page = self.store.search_sessions(&query, now).await?;
        let sessions = self.views_with_identities(page.rows, now).await?;
        Ok(crate::Limited::new(
            SessionSearchResult {
                sessions,
                total: page.total,
                processed_sequence: page.sequence,
                timestamp: now,
            },
            slot,
        ))
    }
}
