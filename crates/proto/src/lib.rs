//! The ZITADEL wire, as protobuf types generated from `proto/` (see build.rs). Each package is a
//! module named after it; every message also has proto3 JSON (serde) from pbjson.

#![allow(clippy::all, clippy::pedantic, missing_docs)]

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
    }
    pub mod session {
        pub mod v2 {
            include!(concat!(env!("OUT_DIR"), "/zitadel.session.v2.rs"));
            include!(concat!(env!("OUT_DIR"), "/zitadel.session.v2.serde.rs"));
        }
    }
}

pub mod google {
    pub mod rpc {
        include!(concat!(env!("OUT_DIR"), "/google.rpc.rs"));
        include!(concat!(env!("OUT_DIR"), "/google.rpc.serde.rs"));
    }
}

/// The well-known types (`google.protobuf.*`) the messages use, with proto3 JSON.
pub use pbjson_types as well_known;
pub use prost::Message;
