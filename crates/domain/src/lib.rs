//! Lanyard's domain: plain data and the rules over it.
//!
//! Nothing here performs I/O or reads a clock. Every rule that depends on time takes `now`
//! as a parameter, so callers (and tests) decide what time it is.

pub mod aal;
pub mod api_key;
pub mod device;
pub mod enrolment;
pub mod factor;
mod identity;
pub mod idp_intent;
pub mod ip;
pub mod otp;
pub mod page_token;
pub mod query;
pub mod session;
pub mod timestamp;
pub mod token;

pub use aal::Aal;
pub use api_key::{ApiKey, Scope};
pub use device::Device;
pub use enrolment::{EnrolmentKind, PendingEnrolment, WebauthnChallenge};
pub use factor::{Factor, Method};
pub use identity::{Credential, CredentialType, Identity, IdentityState};
pub use idp_intent::IdpIntent;
pub use ip::{canonical_ip, parse_ip, InvalidIp};
pub use otp::{OtpChallenge, OtpChannel};
pub use page_token::{Cursor, PageTokenError, PageTokenKeys};
pub use query::{DateFilter, DateMethod, OwnedBy, SessionFilter, SessionPage, SessionQuery, SessionSort};
pub use session::Session;
pub use timestamp::{Micros, TimestampError};
pub use token::{SessionToken, TokenDigest, IDP_INTENT_TOKEN_PREFIX};
