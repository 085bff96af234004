//! The store conformance suite: the behaviour every [`Store`] implementation must show.
//!
//! Each test is a backend-agnostic `async fn(Arc<dyn Store>)` in one of the modules below.
//! [`conformance_tests!`] instantiates all of them as `#[tokio::test]`s for one backend, so a
//! new backend joins the suite with one line at the bottom of this file:
//!
//! ```ignore
//! conformance_tests!(postgres, postgres_store().await);
//! ```
//!
//! where the expression yields a fresh, empty, migrated [`Backend`] for every test.
//!
//! PostgreSQL runs against a real server: `LANYARD_TEST_POSTGRES_URL`, by default
//! `postgres://postgres@127.0.0.1:5432/test`. Every test gets its own schema, dropped when it
//! ends. When the server cannot be reached the PostgreSQL tests fail; they never skip.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "the store conformance tests: a panic is a test failure"
)]

mod changes;
mod check_attempts;
mod cleanup;
mod common;
mod counting;
mod filters;
mod identities;
mod idp_intents;
mod keys;
mod leases;
mod otp_challenges;
mod paging;
mod pending_enrolments;
mod pg;
mod sessions;
mod settings;
mod sqlite_only;

use std::any::Any;
use std::sync::Arc;

use lanyard_store::{SqliteOptions, SqliteStore, Store};

pub use pg::postgres_store;

/// A fresh, empty store, and whatever must outlive it (a temporary directory, a scratch database).
pub struct Backend {
    pub store: Arc<dyn Store>,
    _guard: Box<dyn Any + Send>,
}

impl Backend {
    pub fn new(store: Arc<dyn Store>, guard: impl Any + Send) -> Self {
        Backend {
            store,
            _guard: Box::new(guard),
        }
    }
}

/// A migrated SQLite database in its own temporary directory, removed when the test ends.
pub async fn sqlite_store() -> Backend {
    let dir = tempfile::tempdir().expect("temporary directory");
    let options = SqliteOptions::new(dir.path().join("db.sqlite"));
    let store = SqliteStore::open_and_migrate(&options)
        .await
        .expect("open and migrate SQLite");
    Backend::new(Arc::new(store), dir)
}

/// Instantiates every conformance test for one backend: `conformance_tests!(name, backend_expr)`.
///
/// Tests are listed here once; a test function missing from the list is reported by the
/// compiler as dead code, so the list cannot silently fall behind the modules.
macro_rules! conformance_tests {
    ($backend:ident, $make:expr) => {
        conformance_tests!(@expand $backend, $make;
            identities: [
                identity_round_trips_every_field,
                missing_identities_are_none,
                duplicate_login_identifier_conflicts_case_insensitively,
                duplicate_external_id_conflicts,
                duplicate_identity_id_conflicts,
                update_replaces_fields_and_frees_old_identifiers,
                update_that_would_steal_a_unique_value_changes_nothing,
                identity_by_identifier_is_case_insensitive,
                list_identities_pages_by_id_with_every_filter,
                delete_identity_cascades_its_sessions,
            ],
            sessions: [
                session_round_trips_every_field,
                session_without_identity_round_trips,
                missing_sessions_are_none,
                token_digests_are_unique,
                sequence_strictly_increases_across_writes,
                concurrent_inserts_get_distinct_sequences,
                update_session_writes_the_mutable_fields,
                stale_update_changes_nothing,
                concurrent_updates_from_one_sequence_let_exactly_one_win,
                new_digest_replaces_the_token,
                revoking_one_session_reports_it_once,
                revoking_an_identitys_active_sessions_keeps_the_exception,
                delete_sessions_of_identity_removes_only_theirs,
                many_concurrent_inserts_land_with_their_devices,
                failing_concurrent_inserts_fail_only_themselves,
                lists_read_devices_only_when_asked,
            ],
            filters: [
                scope_with_identity_hides_sessions_without_identity,
                scope_not_revoked_hides_revoked_sessions,
                active_filter_partitions_sessions_by_is_active,
                active_filter_follows_identity_state_changes,
                sessions_inserted_during_a_state_change_follow_the_final_state,
                ids_identity_exclude_creator_and_fingerprint_filters,
                created_filters_with_every_date_method,
                expires_filters_treat_no_expiry_as_later_than_any_date,
                every_filter_combination_matches_the_model_and_count,
            ],
            paging: [
                keyset_pages_follow_both_sort_orders,
                keyset_paging_through_two_thousand_tied_timestamps,
                rows_inserted_while_paging_are_never_repeated_or_skipped,
                offset_paging_returns_the_same_order,
                keyset_paging_property,
            ],
            idp_intents: [
                idp_intents_round_trip_and_are_used_up_once,
                concurrent_uses_of_one_intent_let_exactly_one_win,
                recording_an_intent_forgets_the_expired_ones,
                deleting_the_identity_deletes_its_intents,
            ],
            otp_challenges: [
                otp_challenges_are_kept_per_channel_replaced_and_used_up_once,
                concurrent_uses_of_one_code_let_exactly_one_win,
                setting_a_challenge_forgets_the_expired_ones,
            ],
            pending_enrolments: [
                pending_enrolments_are_kept_per_kind_replaced_and_used_up_once,
                concurrent_verifications_of_one_registration_let_exactly_one_win,
                recording_a_registration_forgets_the_expired_ones_and_identities_take_theirs,
                webauthn_challenges_are_replaced_and_taken_once,
            ],
            keys: [
                api_keys_round_trip_list_and_revoke,
                duplicate_api_key_digest_conflicts,
            ],
            settings: [
                ping_succeeds,
                setting_or_insert_keeps_the_first_value,
                concurrent_setting_or_insert_agrees_on_one_value,
            ],
            leases: [
                lease_is_exclusive_until_it_expires_and_renewable_by_its_holder,
                concurrent_takers_of_one_lease_agree_on_one_holder,
            ],
            check_attempts: [
                reservations_count_in_flight_checks_until_the_window_ends,
                passed_checks_give_their_attempt_back_and_failed_ones_keep_it,
                a_concurrent_burst_gets_exactly_the_limit,
                password_lockout_holds_until_unlocked_and_resets_on_success,
                deleting_the_identity_deletes_its_counters,
            ],
            counting: [
                broad_counts_equal_a_brute_force_count_after_random_operations,
                counts_stay_exact_under_concurrent_writers,
                search_reads_count_rows_and_sequence_from_one_snapshot,
                a_session_never_expires_before_it_was_created,
                a_cut_hour_is_counted_exactly_from_either_side,
                a_page_of_long_expired_sessions_is_the_slice_of_the_full_list,
                searches_at_the_ends_of_time_answer_exact_pages,
            ],
            changes: [
                every_write_that_changes_whoami_is_in_the_feed_in_order,
                the_feed_is_read_in_pages,
                pruning_forgets_only_old_changes,
            ],
            cleanup: [
                delete_expired_sessions_removes_only_sessions_past_the_cutoffs,
                delete_expired_sessions_respects_the_limit,
                cleanups_beside_writers_of_the_same_hours_all_succeed,
            ],
        );
    };
    (@expand $backend:ident, $make:expr;
        $($module:ident: [$($test:ident),* $(,)?]),* $(,)?
    ) => {
        mod $backend {
            #[allow(unused_imports)]
            use super::*;

            async fn backend() -> $crate::Backend {
                $make
            }

            $(
                mod $module {
                    $(
                        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                        async fn $test() {
                            let backend = super::backend().await;
                            $crate::$module::$test(backend.store.clone()).await;
                        }
                    )*
                }
            )*
        }
    };
}

conformance_tests!(sqlite, sqlite_store().await);
conformance_tests!(postgres, postgres_store().await);
