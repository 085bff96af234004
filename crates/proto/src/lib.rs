//! The ZITADEL wire, as protobuf types generated from `proto/` (see build.rs). Each package is a
//! module named after it; every message also has proto3 JSON (serde) from pbjson.

#![allow(clippy::all, clippy::pedantic, missing_docs)]

pub mod wkt;

pub mod zitadel {
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/zitadel.v1.rs"));
        include!(concat!(env!("OUT_DIR"), "/zitadel.v1.serde.rs"));
    }
    pub mod object {
        pub mod v2 {
            include!(concat!(env!("OUT_DIR"), "/zitadel.object.v2.rs"));
            include!(concat!(env!("OUT_DIR"), "/zitadel.object.v2.serde.rs"));
        }
        pub mod v2beta {
            include!(concat!(env!("OUT_DIR"), "/zitadel.object.v2beta.rs"));
            include!(concat!(env!("OUT_DIR"), "/zitadel.object.v2beta.serde.rs"));
        }
    }
    pub mod session {
        pub mod v2 {
            include!(concat!(env!("OUT_DIR"), "/zitadel.session.v2.rs"));
            include!(concat!(env!("OUT_DIR"), "/zitadel.session.v2.serde.rs"));
        }
        /// Deprecated upstream; identical to v2 on the wire and in JSON except that v2 added
        /// recovery codes and the creator, user agent and expiration date queries.
        pub mod v2beta {
            include!(concat!(env!("OUT_DIR"), "/zitadel.session.v2beta.rs"));
            include!(concat!(env!("OUT_DIR"), "/zitadel.session.v2beta.serde.rs"));
        }
    }
    pub mod user {
        /// The authenticator RPCs of the User Service v2 (passkeys, U2F, TOTP, OTP SMS/email).
        pub mod v2 {
            include!(concat!(env!("OUT_DIR"), "/zitadel.user.v2.rs"));
            include!(concat!(env!("OUT_DIR"), "/zitadel.user.v2.serde.rs"));
        }
    }
}

pub mod google {
    pub mod rpc {
        include!(concat!(env!("OUT_DIR"), "/google.rpc.rs"));
        include!(concat!(env!("OUT_DIR"), "/google.rpc.serde.rs"));
    }
}

/// The well-known types (`google.protobuf.*`) the messages use, with proto3 JSON; `Timestamp`
/// is [`wkt::Timestamp`].
pub use pbjson_types as well_known;
pub use prost::Message;

/// The compiled protos (a `google.protobuf.FileDescriptorSet`), for what is derived from them
/// at run time: the REST part of the OpenAPI document.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptors.bin"));
pub use wkt::Timestamp;
