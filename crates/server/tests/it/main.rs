//! Every integration test in one binary, to link once.
//!
//! The tests drive the real HTTP routers over TCP against a real SQLite file; only the clock
//! is controlled, so expiry can be tested without sleeping.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "the integration tests: a panic is a test failure"
)]

mod abuse;
mod cleanup;
mod contract;
mod crash;
mod db_recovery;
mod db_unavailable;
mod error_formats;
mod fuzz;
mod harness;
mod http2_abuse;
mod kratos_admin_sessions;
mod kratos_errors;
mod kratos_identities;
mod kratos_paging;
mod kratos_public;
mod lanyard_enrolment;
mod list_limits;
mod openapi;
mod operations;
mod python;
mod slow_clients;
mod tls;
mod token_cache;
mod two_nodes;
mod typescript;
mod zitadel;
mod zitadel_grpc;
mod zitadel_idp_intents;
mod zitadel_otp;
mod zitadel_user_service;
mod zitadel_webauthn;
