//! Lanyard's use cases. Every API adapter calls these; none of them talks to the store.

mod cache_refresh;
mod checked_sessions;
mod cleanup;
mod clock;
mod delivery;
mod error;
mod factors;
mod identities;
mod idp_intents;
mod key_cache;
mod keys;
mod list_limit;
mod passwords;
mod rate_limit;
mod schemas;
mod secrets;
mod sessions;
mod settings;
#[cfg(test)]
mod test_fixture;
mod token_cache;
mod view_memo;

use std::sync::Arc;

use lanyard_domain::PageTokenKeys;
use lanyard_store::Store;

/// Distinct API keys kept authenticated in memory; deployments have a handful.
const API_KEY_CACHE_CAPACITY: u64 = 1_000;

pub use cache_refresh::{CacheRefreshed, CHANGES_RETENTION};
pub use checked_sessions::{
    CheckedSession, Checks, CreateCheckedSession, SearchSessions, SessionSearchResult, SetCheckedSession, UserCheck,
};
pub use cleanup::{
    CleanupOptions, CleanupOutcome, CleanupReport, CLEANUP_LEASE, CLEANUP_LEASE_TTL, MAX_CLEANUP_BATCH_SIZE,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use delivery::{CodeDelivery, CodeMessage, DeliveryError, NoDelivery};
pub use error::{FailedCheck, Limit, Missing, Refusal, ServiceError, ServiceResult};
pub use factors::{
    totp_code_at, AuthMethod, AuthenticatorKind, OtpChallengeRequest, OtpCodes, OtpDelivery, RelyingParty,
    RelyingPartyError, TotpEnrolment, UserVerification, WebauthnChallengeRequest, WebauthnKey, WebauthnRegistration,
    OTP_CODE_DIGITS, OTP_CODE_LIFETIME, TOTP_ISSUER, TOTP_REGISTRATION_LIFETIME,
};
pub use identities::{IdentityList, IdentityListRequest, IdentityWrite, PasswordInput};
pub use idp_intents::{IdpIntentCheck, RecordIdpIntent, RecordedIdpIntent, IDP_INTENT_LIFETIME};
/// An RFC 6902 JSON Patch, as `patch_identity` takes it.
pub use json_patch::Patch as JsonPatch;
pub use keys::{NewApiKey, Principal};
pub use lanyard_store::IdentityFilter;
pub use list_limit::{LimitKey, Limited, ListPermit};
pub use passwords::PasswordHasher;
pub use schemas::{IdentitySchema, SchemaRegistry, SchemaSource};
pub use secrets::random_secret;
pub use sessions::{
    DeviceInput, FactorInput, IssueSession, IssuedSession, ListSessions, OffsetPage, SessionList, SessionView,
};
pub use settings::{RequiredAal, Settings};
pub use token_cache::CacheStats;
pub use view_memo::ViewMemo;

/// A session creation counted against the per-identity and per-IP allowances.
pub(crate) struct CreationReservation {
    identity: Option<rate_limit::Reserved>,
    ip: Option<rate_limit::Reserved>,
}

/// The service: shared by every request handler.
pub struct Lanyard {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    settings: Settings,
    schemas: SchemaRegistry,
    passwords: PasswordHasher,
    page_keys: PageTokenKeys,
    ip_failures: rate_limit::WindowLimiter,
    identity_creations: rate_limit::WindowLimiter,
    ip_creations: rate_limit::WindowLimiter,
    lists: list_limit::ListLimiter,
    token_cache: Option<token_cache::TokenCache>,
    /// Where the polls of the store's change feed left off (see `cache_refresh`).
    cache_refresh: cache_refresh::CacheRefresh,
    /// On whenever the token cache is, with the same lifetime.
    api_key_cache: Option<key_cache::ApiKeyCache>,
    /// Sends one-time codes; nothing is configured by default.
    code_delivery: Arc<dyn CodeDelivery>,
    /// Checks passkeys and security keys; off until a relying party is configured.
    relying_party: Option<Arc<RelyingParty>>,
}

impl Lanyard {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        settings: Settings,
        schemas: SchemaRegistry,
        page_keys: PageTokenKeys,
    ) -> Self {
        let passwords = PasswordHasher::new(settings.password_hash_concurrency);
        let ip_failures = rate_limit::WindowLimiter::new(rate_limit::WindowLimit {
            max: settings.failed_checks_per_ip,
            window: settings.failed_checks_window,
        });
        let creation_limit = |max| rate_limit::WindowLimit {
            max,
            window: settings.sessions_window,
        };
        let identity_creations = rate_limit::WindowLimiter::new(creation_limit(settings.sessions_per_identity));
        let ip_creations = rate_limit::WindowLimiter::new(creation_limit(settings.sessions_per_ip));
        let lists = list_limit::ListLimiter::new(list_limit::ListLimits {
            per_principal: settings.list_concurrency_per_principal,
            total: settings.list_concurrency,
        });
        let token_cache = (settings.token_cache_capacity > 0)
            .then(|| token_cache::TokenCache::new(settings.token_cache_capacity, settings.token_cache_ttl));
        let api_key_cache = (settings.token_cache_capacity > 0)
            .then(|| key_cache::ApiKeyCache::new(API_KEY_CACHE_CAPACITY, settings.token_cache_ttl.unsigned_abs()));
        Lanyard {
            store,
            clock,
            settings,
            schemas,
            passwords,
            page_keys,
            ip_failures,
            identity_creations,
            ip_creations,
            lists,
            token_cache,
            cache_refresh: cache_refresh::CacheRefresh::default(),
            api_key_cache,
            code_delivery: Arc::new(NoDelivery),
            relying_party: None,
        }
    }

    /// Sends one-time codes with `delivery` (SMTP, an SMS provider) instead of refusing to.
    pub fn with_code_delivery(mut self, delivery: Arc<dyn CodeDelivery>) -> Self {
        self.code_delivery = delivery;
        self
    }

    /// Registers and checks passkeys and security keys for `relying_party`.
    pub fn with_relying_party(mut self, relying_party: RelyingParty) -> Self {
        self.relying_party = Some(Arc::new(relying_party));
        self
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn schemas(&self) -> &SchemaRegistry {
        &self.schemas
    }

    /// The page token that points at `cursor`, e.g. the start of a list for `Link: rel="first"`.
    pub fn page_token_for(&self, cursor: lanyard_domain::Cursor) -> String {
        self.page_keys.encode(cursor)
    }

    /// Drops cached tokens here and tells the other nodes. A failed broadcast is logged, not
    /// returned: the change itself succeeded, and the store recorded it in its change feed,
    /// from which the other nodes learn of it within `cache.ttl` regardless.
    pub(crate) async fn invalidate(&self, invalidation: lanyard_store::Invalidation) {
        self.invalidate_locally(invalidation);
        if let Err(error) = self.store.notify_invalidation(invalidation).await {
            tracing::warn!(%error, "could not broadcast a cache invalidation");
        }
    }

    /// Applies an invalidation to this node's cache only (e.g. one heard from another node).
    pub fn invalidate_locally(&self, invalidation: lanyard_store::Invalidation) {
        if invalidation == lanyard_store::Invalidation::All {
            if let Some(keys) = &self.api_key_cache {
                keys.clear();
            }
        }
        let Some(cache) = &self.token_cache else { return };
        match invalidation {
            lanyard_store::Invalidation::Session(id) | lanyard_store::Invalidation::Identity(id) => {
                cache.invalidate(&[id])
            }
            lanyard_store::Invalidation::All => cache.clear(),
        }
    }

    /// Token cache counters, for metrics; `None` when the cache is off.
    pub fn cache_stats(&self) -> Option<CacheStats> {
        self.token_cache.as_ref().map(|c| c.stats())
    }

    /// Follows the other nodes' invalidations until the store's channel closes. A reconnect
    /// flushes the whole cache, since messages may have been missed meanwhile.
    pub fn spawn_invalidation_listener(self: &Arc<Self>) -> Option<tokio::task::JoinHandle<()>> {
        let mut events = self.store.subscribe_invalidations()?;
        let service = Arc::downgrade(self);
        Some(tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                let Some(service) = service.upgrade() else { break };
                match event {
                    lanyard_store::InvalidationEvent::Invalidate(inv) => service.invalidate_locally(inv),
                    lanyard_store::InvalidationEvent::Reconnected => {
                        tracing::info!("invalidation listener reconnected; flushing the token cache");
                        service.invalidate_locally(lanyard_store::Invalidation::All);
                    }
                }
            }
        }))
    }

    /// Takes a session creation from the identity's and the end-user IP's allowance, or
    /// refuses it when either is used up. Give it back with [`Lanyard::give_back_creation`]
    /// when the session is not created after all.
    pub(crate) fn reserve_creation(
        &self,
        identity: uuid::Uuid,
        ip: Option<std::net::IpAddr>,
    ) -> ServiceResult<CreationReservation> {
        let now = self.now();
        let identity = self
            .identity_creations
            .reserve(&identity.to_string(), now)
            .map_err(|retry_after_seconds| ServiceError::RateLimited {
                limit: Limit::NewSessions,
                retry_after_seconds,
            })?;
        let ip = match ip.map(|ip| self.ip_creations.reserve(&ip.to_string(), now)).transpose() {
            Ok(ip) => ip.flatten(),
            Err(retry_after_seconds) => {
                if let Some(identity) = identity {
                    self.identity_creations.give_back(identity);
                }
                return Err(ServiceError::RateLimited {
                    limit: Limit::NewSessions,
                    retry_after_seconds,
                });
            }
        };
        Ok(CreationReservation { identity, ip })
    }

    pub(crate) fn give_back_creation(&self, reservation: CreationReservation) {
        if let Some(identity) = reservation.identity {
            self.identity_creations.give_back(identity);
        }
        if let Some(ip) = reservation.ip {
            self.ip_creations.give_back(ip);
        }
    }

    /// A slot for one list or search by `key`, waiting up to `list_queue_timeout` for one
    /// to free; refused with 429 after that (see [`list_limit`]).
    pub(crate) async fn list_slot(&self, key: LimitKey) -> ServiceResult<ListPermit> {
        let wait = self.settings.list_queue_timeout.unsigned_abs();
        let give_up = async move {
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
        };
        self.lists.acquire(key, give_up).await.map_err(|refusal| {
            tracing::debug!(?key, ?refusal, "list or search refused");
            ServiceError::RateLimited {
                limit: match refusal {
                    list_limit::Refusal::Principal => Limit::CallerSearches,
                    list_limit::Refusal::Total => Limit::NodeSearches,
                },
                // A slot frees as soon as any running list finishes, typically well within a
                // second; the header has whole seconds.
                retry_after_seconds: 1,
            }
        })
    }

    /// Readiness: the store answers.
    pub async fn ready(&self) -> ServiceResult<()> {
        self.store.ping().await.map_err(ServiceError::from)
    }

    /// The service clock's time (tests set it), as the store keeps times.
    pub fn now(&self) -> lanyard_domain::Micros {
        lanyard_domain::Micros::from_datetime(self.clock.now())
    }
}
