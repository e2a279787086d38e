//! The conformance suites: one `pub async fn` per behaviour, each taking the
//! trait object under test. Every backend runs all of them against its real
//! emulator; the memory backends run them in every plain test run.
//!
//! Each suite works on fresh, randomly named aggregates and keys, so suites
//! can share one backend and run in parallel. The `*_suites!` macros expand to
//! one `#[tokio::test]` per suite:
//!
//! ```text
//! angzarr_testkit::event_store_suites!(async { Arc::new(MemoryEventStore::new()) as Arc<dyn EventStore> });
//! ```

pub mod bus;
pub mod correlations;
pub mod editions;
pub mod guard;
pub mod host;
pub mod payload;
pub mod rate;
pub mod snapshot;
pub mod store;

use angzarr_core::AggregateKey;
use angzarr_core::proto::EventPage;

/// The type URL of the events the suites write.
pub const TEST_EVENT_TYPE: &str = "type.googleapis.com/angzarr.testkit.Event";

/// An event whose payload is `label`, to recognise it after a round trip.
pub fn event(label: &str) -> EventPage {
    sized_event(label, 0)
}

/// An event whose payload is `label` followed by `padding` bytes.
pub fn sized_event(label: &str, padding: usize) -> EventPage {
    let mut value = label.as_bytes().to_vec();
    value.push(0);
    value.resize(value.len() + padding, b'x');
    EventPage {
        header: None,
        created_at: None,
        payload: Some(angzarr_core::proto::event_page::Payload::Event(
            prost_types::Any {
                type_url: TEST_EVENT_TYPE.to_owned(),
                value,
            },
        )),
        ..Default::default()
    }
}

/// The label of an event made by [`event`] or [`sized_event`].
pub fn label(page: &EventPage) -> String {
    match &page.payload {
        Some(angzarr_core::proto::event_page::Payload::Event(any)) => {
            let end = any
                .value
                .iter()
                .position(|b| *b == 0)
                .unwrap_or(any.value.len());
            String::from_utf8_lossy(&any.value[..end]).into_owned()
        }
        other => panic!("page has no inline event payload: {other:?}"),
    }
}

/// Appends `page` to `key` at `expected`, retrying from each conflict's
/// actual sequence (and after a retriable failure) until it is stored;
/// returns the new next sequence. `who` names the writer in a failure.
pub async fn append_retrying(
    store: &dyn angzarr_core::EventStore,
    key: &AggregateKey,
    mut expected: u32,
    page: EventPage,
    who: &str,
) -> u32 {
    loop {
        match store.append(key, expected, vec![page.clone()]).await {
            Ok(next) => return next,
            Err(angzarr_core::Error::SequenceConflict { actual, .. }) => expected = actual,
            Err(e) if e.is_retriable() => {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            Err(e) => panic!("{who}: {e:?}"),
        }
    }
}

/// A fresh aggregate in a domain unique to this call.
pub fn fresh_key(prefix: &str) -> AggregateKey {
    let domain = format!(
        "{prefix}{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    AggregateKey::new(domain, uuid::Uuid::new_v4()).expect("valid domain")
}

/// A fresh firing-guard or rate-limit key.
pub fn fresh_name(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

#[doc(hidden)]
#[macro_export]
macro_rules! __suite_tests {
    ($make:expr, $module:path, [$($suite:ident),* $(,)?]) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $suite() {
                use $module as suites;
                let subject = $make.await;
                suites::$suite(subject).await;
            }
        )*
    };
}

/// One test per [`store`] suite, one per [`editions`] suite in a module
/// `editions`, and one per [`correlations`] suite in a module `correlations`; `$make` is a future giving an `Arc<dyn EventStore>`.
#[macro_export]
macro_rules! event_store_suites {
    ($make:expr) => {
        $crate::__suite_tests!(
            $make,
            $crate::suites::store,
            [
                append_and_load_round_trip,
                load_ranges,
                aggregates_are_isolated,
                stale_expected_sequence_conflicts,
                empty_append_is_refused,
                multi_event_append_is_all_or_nothing,
                concurrent_batches_never_interleave,
                concurrent_writers_keep_sequences_contiguous,
                limits_are_reported_and_enforced,
                aggregate_roots_are_listed,
            ]
        );
        mod editions {
            #[allow(unused_imports)]
            use super::*;
            $crate::__suite_tests!(
                $make,
                $crate::suites::editions,
                [
                    an_edition_branches_off_the_main_history,
                    an_explicit_divergence_is_recorded_once,
                    stale_appends_to_an_edition_conflict,
                    editions_are_isolated_from_each_other,
                    concurrent_writers_on_main_and_an_edition_do_not_interfere,
                    deleting_an_edition_leaves_main_and_everything_else,
                ]
            );
        }
        mod correlations {
            #[allow(unused_imports)]
            use super::*;
            $crate::__suite_tests!(
                $make,
                $crate::suites::correlations,
                [
                    records_are_found_by_id_and_merged_per_aggregate,
                    concurrent_recorders_lose_nothing,
                ]
            );
        }
    };
}

/// One test per [`snapshot`] suite; `$make` is a future giving an `Arc<dyn SnapshotStore>`.
#[macro_export]
macro_rules! snapshot_store_suites {
    ($make:expr) => {
        $crate::__suite_tests!(
            $make,
            $crate::suites::snapshot,
            [snapshot_put_get_overwrite_delete, snapshots_are_isolated,]
        );
    };
}

/// One test per [`bus`] suite; `$make` is a future giving a [`bus::BusFixture`].
#[macro_export]
macro_rules! event_bus_suites {
    ($make:expr) => {
        $crate::__suite_tests!(
            $make,
            $crate::suites::bus,
            [
                publish_delivers_in_order_per_aggregate_with_attributes,
                publish_refuses_a_book_without_cover,
                publish_refuses_an_oversized_book,
                nacked_delivery_is_redelivered,
                unacked_delivery_is_redelivered_after_the_deadline,
            ]
        );
    };
}

/// One test per [`guard`] suite; `$make` is a future giving an `Arc<dyn FiringGuard>`.
#[macro_export]
macro_rules! firing_guard_suites {
    ($make:expr) => {
        $crate::__suite_tests!(
            $make,
            $crate::suites::guard,
            [
                acquire_then_duplicate,
                in_progress_expires,
                release_allows_a_retry,
                completion_is_retained_then_forgotten,
                stale_lease_cannot_complete,
                a_renewed_lease_keeps_others_out,
                duplicate_deliveries_have_one_effect,
            ]
        );
    };
}

/// One test per [`rate`] suite; `$make` is a future giving an `Arc<dyn RateLimiter>`.
#[macro_export]
macro_rules! rate_limiter_suites {
    ($make:expr) => {
        $crate::__suite_tests!(
            $make,
            $crate::suites::rate,
            [
                counts_within_a_window,
                resets_after_the_window,
                keys_are_independent,
            ]
        );
    };
}

/// One test per [`payload`] suite; `$make` is a future giving an `Arc<dyn PayloadStore>`.
#[macro_export]
macro_rules! payload_store_suites {
    ($make:expr) => {
        $crate::__suite_tests!(
            $make,
            $crate::suites::payload,
            [
                payload_round_trip_is_verified,
                mismatched_reference_is_refused,
                missing_payload_is_an_error,
                page_offloads_and_resolves,
                book_offloads_to_fit_a_limit,
            ]
        );
    };
}
