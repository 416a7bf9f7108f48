//! The store conformance suite: what every backend must do, as async cases over a
//! [`support::Backend`]. The `conformance!` macro below turns each case into a test for a backend;
//! `every_case!` holds the one list of cases, and this file runs it against SQLite (module
//! `sqlite`, a fresh temporary directory per test) and PostgreSQL (module `postgres`, a fresh
//! database per test on `LIVECERT_TEST_POSTGRES`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`; a server that cannot be reached fails the
//! PostgreSQL tests, it never skips them).
//!
//! `postgres_nodes` is PostgreSQL's own: several nodes (stores) on one database — migrating at
//! once, racing on the same rows — and the NOTIFY of each commit; `postgres_listen` is the change
//! feed that listens for those notifications (`Store::listen_changes`), cut and reconnected.
//! `shared_limits` is the state those nodes share for the API: rate-limit buckets and nonces
//! (SQLite has none).
//!
//! `kill9` is SQLite's own: the test binary kills a child copy of itself mid-write (PostgreSQL's
//! durability is the server's, not livecert's).
//!
//! Cases cite spec/operations.md (rows of the SetLiveDomainCertificate decision table) and
//! spec/access.md (`accounts`, `ram`, `audit`).

mod accounts;
mod acme;
mod audit;
mod domains;
mod dry_run;
mod durability;
mod edge;
mod free;
mod group_commit;
mod https_off;
mod kill9;
mod listing;
mod migrate;
mod postgres_listen;
mod postgres_nodes;
mod ram;
mod shared_limits;
mod support;
mod upload;

/// Generates, in a module named `$backend_mod`, one tokio test per case, each with a fresh
/// backend from `$factory`.
macro_rules! conformance {
    ($backend_mod:ident, $factory:expr, [$($module:ident :: $case:ident),* $(,)?]) => {
        mod $backend_mod {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let backend = $factory;
                    crate::$module::$case(&backend).await;
                }
            )*
        }
    };
}

/// Runs `conformance!` for one backend with every case of the suite.
macro_rules! every_case {
    ($backend_mod:ident, $factory:expr) => {
        conformance!(
            $backend_mod,
            $factory,
            [
                accounts::bootstrap_creates_root_credentials_once,
                accounts::accounts_have_random_16_digit_ids,
                accounts::imported_access_key_round_trips_its_secret,
                accounts::access_key_changes_are_seen_at_once,
                accounts::secrets_and_private_keys_never_reach_the_disk_in_plaintext,
                accounts::is_empty_until_the_first_account,
                accounts::verify_master_key_refuses_another_key,
                domains::domain_names_are_unique_across_accounts,
                domains::foreign_domains_are_hidden,
                domains::start_stop_delete_and_flags,
                upload::row_7_unknown_or_foreign_domain_is_refused,
                upload::rows_8_to_11_domain_state_is_rechecked,
                upload::row_29_creates_and_binds,
                upload::row_23_same_name_other_content_is_refused,
                upload::row_24_same_leaf_under_another_name_is_refused,
                upload::row_25_same_content_changes_nothing,
                upload::row_26_forced_replacement_must_cover_bound_domains,
                upload::row_28_record_is_committed_binding_unchanged,
                upload::forced_replacement_keeps_the_cert_id,
                upload::cert_ids_come_from_one_global_sequence,
                free::row_37_free_record_is_created_and_bound,
                free::free_follows_the_upload_rules,
                free::set_free_dry_run_writes_nothing,
                free::row_33_applying_or_failed_free_record_is_not_usable,
                acme::a_free_request_reserves_an_applying_record_and_one_order,
                acme::leases_are_taken_once_and_taken_over_when_they_run_out,
                acme::one_account_cannot_fill_a_nodes_slots,
                acme::failures_are_retried_or_final_with_their_problem,
                acme::renewals_fall_due_once_and_replace_the_record_in_place,
                acme::the_acme_account_is_kept_once_and_sealed,
                upload::cas_binding_checks_the_record,
                dry_run::add_domain_dry_run_answers_as_the_real_call,
                dry_run::set_https_off_dry_run_answers_as_the_real_call,
                dry_run::set_upload_dry_run_answers_as_the_real_call,
                dry_run::bind_certificate_dry_run_answers_as_the_real_call,
                dry_run::dry_runs_among_real_writes_keep_nothing,
                https_off::row_13_already_off_changes_nothing,
                https_off::row_15_turns_https_off_and_keeps_the_record,
                https_off::row_12_https_required_refuses,
                listing::list_certificates_whole_and_by_domains,
                listing::change_counter_moves_with_what_the_edge_serves,
                listing::edge_snapshot_lists_every_binding,
                listing::a_domains_origin_reaches_the_edge_snapshot,
                listing::https_required_reaches_the_edge_snapshot,
                edge::edge_changes_since_lists_each_changed_domain_as_it_is_now,
                edge::a_record_change_fans_out_to_every_bound_domain,
                edge::private_keys_reach_the_edge_sealed,
                edge::committed_changes_are_published_in_process,
                group_commit::concurrent_uploads_are_all_answered_and_present,
                group_commit::a_failing_call_does_not_roll_back_its_group,
                durability::data_survives_reopen,
                ram::accounts_are_listed_with_their_status,
                ram::users_are_well_formed_and_unique_per_account,
                ram::generated_keys_act_for_root_or_a_user,
                ram::imported_user_keys_keep_to_their_principal,
                ram::a_users_key_carries_its_attached_policies,
                ram::policies_are_named_documents,
                ram::deleting_a_user_deletes_its_keys_and_attachments,
                ram::any_key_can_be_deleted,
                ram::sts_credentials_carry_expiry_token_hash_and_session_policy,
                ram::changes_from_another_process_are_seen_within_a_second,
                audit::audit_batches_flush_and_survive_reopen,
                audit::audit_entries_are_written_without_being_asked,
                audit::a_burst_is_written_or_counted_never_waited_for,
                audit::audit_rows_never_contain_secrets,
            ]
        );
    };
}

every_case!(sqlite, crate::support::Sqlite::new());
every_case!(postgres, crate::support::Postgres::new());
