//! Lanyard's use cases. Every API adapter calls these; none of them talks to the store.

mod clock;
mod error;
mod identities;
mod keys;
mod passwords;
mod schemas;
mod secrets;
mod sessions;
mod settings;

use std::sync::Arc;

use lanyard_domain::PageTokenKeys;
use lanyard_store::Store;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{ServiceError, ServiceResult};
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
        Lanyard {
            store,
            clock,
            settings,
            schemas,
            passwords,
            page_keys,
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
