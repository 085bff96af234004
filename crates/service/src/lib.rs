//! Lanyard's use cases. Every API adapter calls these; none of them talks to the store.

mod checked_sessions;
mod clock;
mod error;
mod factors;
mod identities;
mod keys;
mod passwords;
mod rate_limit;
mod schemas;
mod secrets;
mod sessions;
mod settings;

use std::sync::Arc;

use lanyard_domain::PageTokenKeys;
use lanyard_store::Store;

pub use checked_sessions::{
    CheckedSession, Checks, CreateCheckedSession, SearchSessions, SessionSearchResult, SetCheckedSession, UserCheck,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{ServiceError, ServiceResult};
pub use factors::{totp_code_at, TotpEnrolment, TOTP_ISSUER};
pub use identities::{IdentityList, IdentityListRequest, IdentityWrite, PasswordInput};
/// An RFC 6902 JSON Patch, as `patch_identity` takes it.
pub use json_patch::Patch as JsonPatch;
pub use keys::{NewApiKey, Principal};
pub use lanyard_store::IdentityFilter;
pub use passwords::PasswordHasher;
pub use schemas::{IdentitySchema, SchemaRegistry, SchemaSource};
pub use secrets::random_secret;
pub use sessions::{
    DeviceInput, FactorInput, IssueSession, IssuedSession, ListSessions, OffsetPage, SessionList, SessionView,
};
pub use settings::{RequiredAal, Settings};

/// The service: shared by every request handler.
pub struct Lanyard {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    settings: Settings,
    schemas: SchemaRegistry,
    passwords: PasswordHasher,
    page_keys: PageTokenKeys,
    identity_failures: rate_limit::FailureLimiter,
    ip_failures: rate_limit::FailureLimiter,
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
        let window = settings.failed_checks_window;
        let identity_failures = rate_limit::FailureLimiter::new(rate_limit::FailureLimit {
            max_failures: settings.failed_checks_per_identity,
            window,
        });
        let ip_failures = rate_limit::FailureLimiter::new(rate_limit::FailureLimit {
            max_failures: settings.failed_checks_per_ip,
            window,
        });
        Lanyard {
            store,
            clock,
            settings,
            schemas,
            passwords,
            page_keys,
            identity_failures,
            ip_failures,
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn schemas(&self) -> &SchemaRegistry {
        &self.schemas
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The page token that points at `cursor`, e.g. the start of a list for `Link: rel="first"`.
    pub fn page_token_for(&self, cursor: lanyard_domain::Cursor) -> String {
        self.page_keys.encode(cursor)
    }

    /// Readiness: the store answers.
    pub async fn ready(&self) -> ServiceResult<()> {
        self.store.ping().await.map_err(ServiceError::from)
    }

    fn now(&self) -> lanyard_domain::Micros {
        lanyard_domain::Micros::from_datetime(self.clock.now())
    }
}
