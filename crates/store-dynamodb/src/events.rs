//! [`EventStore`] on DynamoDB.
//!
//! One item per event: `pk` = `{domain}#{root}`, `seq` = sequence, `page` =
//! the encoded [`EventPage`], and `offloaded` = true when the page's event was
//! moved to the payload store by this store (so only those are resolved on
//! load; a page that arrived with its own reference is returned as it came).
//!
//! Every written event is conditioned on `attribute_not_exists(pk)`, so no
//! sequence is ever written twice. An append must also not leave a gap
//! (event `expected - 1` must exist); that is proven either by what this
//! process already saw of the aggregate (`known.rs`) or by a
//! `ConditionCheck` on event `expected - 1` inside the transaction.
//!
//! * one event, gap proven: one conditional `PutItem` (a refusal returns the
//!   item in the way, so a retried request that had in fact succeeded is
//!   recognised as ours rather than reported as a conflict);
//! * otherwise: one `TransactWriteItems` with a `Put` per event (plus the
//!   `ConditionCheck` when the gap is not proven), all or nothing. With 100
//!   events and an unproven gap there is no room for the check, so one
//!   `Query` reads the next sequence first (sound because events are deleted
//!   only with their whole aggregate, an edition nothing writes to any more:
//!   once `expected - 1` exists it stays).
//!
//! [`EventStore::delete`] reads the aggregate's keys (`Query`, keys only) and
//! deletes them with `BatchWriteItem`, 25 at a time, retrying unprocessed
//! items.
//!
//! A refused write costs one more `Query` to report the actual next sequence.
//!
//! Every item stores its append's id (`append_id`), so an unknown outcome is
//! resolved instead of repeated: when a transaction is refused by a
//! condition, or its outcome is unknown (a timeout, a lost connection,
//! `TransactionInProgress`, a server error) — the first attempt may have been
//! applied and its answer lost before the SDK retried — one consistent
//! `GetItem` of the event at `expected` tells whether it is this append's,
//! which is then a success. A single `PutItem` learns the same from the item
//! its refusal returns.
use std::sync::Arc;

use angzarr_core::payload::{offload_page, resolve_page};
use angzarr_core::proto::EventPage;
use angzarr_core::store::{page_sequence, prepare_append};
use angzarr_core::{AggregateKey, Error, EventStore, LoadRange, Result, StoreLimits};
use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, DeleteRequest, Put, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, WriteRequest,
};
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use prost::Message;

use crate::backend::Shared;
use crate::error::{BACKEND, from_build, from_sdk};
use crate::item::{Item, PK, b, get_b, get_flag, get_n, get_s, n, s};

const SEQ: &str = "seq";
const PAGE: &str = "page";
const OFFLOADED: &str = "offloaded";
const APPEND_ID: &str = "append_id";

/// Events per append: the 100 actions of one `TransactWriteItems`.
pub const MAX_EVENTS_PER_APPEND: usize = 100;
/// The largest encoded event kept inline: the 400 KB item limit less 4 KiB
/// for the key (a partition key is at most 2 KiB) and attribute names.
pub const MAX_INLINE_EVENT_BYTES: usize = 400 * 1024 - 4 * 1024;
/// The most event bytes one append writes inline: a transaction's items may
/// total 4 MB; the rest is left for keys and attribute names.
pub const MAX_INLINE_APPEND_BYTES: usize = 3_900_000;

/// Items per `BatchWriteItem`, DynamoDB's limit.
const BATCH_WRITE: usize = 25;
/// Tries of one batch's unprocessed items before giving up.
const BATCH_ATTEMPTS: u32 = 8;

/// The [`EventStore`]; made by [`crate::DynamoDb::event_store`].
#[derive(Clone, Debug)]
pub struct DynamoDbEventStore {
    shared: Arc<Shared>,
}

/// A prepared event: its sequence, encoded page and whether it was offloaded.
struct Encoded {
    sequence: u32,
    page: EventPage,
    offloaded: bool,
}

impl DynamoDbEventStore {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// Moves events too large for an item (or for the transaction) to the
    /// payload store; without one, such appends were refused by the limits or
    /// are refused here, before anything is written.
    async fn offload(&self, pages: Vec<EventPage>) -> Result<Vec<Encoded>> {
        let mut encoded: Vec<Encoded> = pages
            .into_iter()
            .map(|page| Encoded {
                sequence: page_sequence(&page).unwrap_or_default(),
                page,
                offloaded: false,
            })
            .collect();
        let Some(payloads) = self.shared.payloads.as_deref() else {
            let total: usize = encoded.iter().map(|e| e.page.encoded_len()).sum();
            if total > MAX_INLINE_APPEND_BYTES {
                return Err(Error::LimitExceeded {
                    what: "append bytes".into(),
                    limit: MAX_INLINE_APPEND_BYTES as u64,
                    actual: total as u64,
                });
            }
            return Ok(encoded);
        };
        // Largest first: oversized events must go, then as many more as it
        // takes for the transaction to fit.
        let mut order: Vec<usize> = (0..encoded.len()).collect();
        order.sort_by_key(|i| std::cmp::Reverse(encoded[*i].page.encoded_len()));
        let mut total: usize = encoded.iter().map(|e| e.page.encoded_len()).sum();
        for i in order {
            let size = encoded[i].page.encoded_len();
            if size <= MAX_INLINE_EVENT_BYTES && total <= MAX_INLINE_APPEND_BYTES {
                break;
            }
            offload_page(payloads, &mut encoded[i].page).await?;
            encoded[i].offloaded = true;
            let now = encoded[i].page.encoded_len();
            if now > MAX_INLINE_EVENT_BYTES {
                return Err(Error::LimitExceeded {
                    what: "event bytes".into(),
                    limit: MAX_INLINE_EVENT_BYTES as u64,
                    actual: now as u64,
                });
            }
            total = total - size + now;
        }
        Ok(encoded)
    }

    /// The item of one event; `append_id` tells this append's items apart
    /// from anyone else's.
    fn event_item(pk: &str, append_id: &str, event: Encoded) -> Item {
        let mut item = Item::from([
            (PK.to_owned(), s(pk)),
            (SEQ.to_owned(), n(event.sequence)),
            (PAGE.to_owned(), b(event.page.encode_to_vec())),
            (APPEND_ID.to_owned(), s(append_id)),
        ]);
        if event.offloaded {
            item.insert(OFFLOADED.to_owned(), AttributeValue::Bool(true));
        }
        item
    }

    fn transaction(
        &self,
        pk: &str,
        append_id: &str,
        expected: u32,
        events: Vec<Encoded>,
        check_gap: bool,
    ) -> Result<Vec<TransactWriteItem>> {
        let table = &self.shared.tables.events;
        let mut actions = Vec::with_capacity(events.len() + 1);
        if let Some(previous) = expected.checked_sub(1)
            && check_gap
        {
            let check = ConditionCheck::builder()
                .table_name(table)
                .key(PK, s(pk))
                .key(SEQ, n(previous))
                .condition_expression("attribute_exists(#pk)")
                .expression_attribute_names("#pk", PK)
                .build()
                .map_err(from_build)?;
            actions.push(TransactWriteItem::builder().condition_check(check).build());
        }
        for event in events {
            let put = Put::builder()
                .table_name(table)
                .set_item(Some(Self::event_item(pk, append_id, event)))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK)
                // A refusal then shows whose the item in the way is.
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .build()
                .map_err(from_build)?;
            actions.push(TransactWriteItem::builder().put(put).build());
        }
        Ok(actions)
    }

    /// All events in one `TransactWriteItems`.
    async fn transact(
        &self,
        key: &AggregateKey,
        expected: u32,
        events: Vec<Encoded>,
        check_gap: bool,
    ) -> Result<u32> {
        let count = events.len() as u32;
        let append_id = uuid::Uuid::new_v4().to_string();
        let actions =
            self.transaction(&key.storage_key(), &append_id, expected, events, check_gap)?;
        let result = self
            .shared
            .client
            .transact_write_items()
            .set_transact_items(Some(actions))
            // The SDK's own retries reuse the token, so a retried append that
            // had in fact succeeded is not reported as a conflict with itself.
            .client_request_token(uuid::Uuid::new_v4().to_string())
            .send()
            .await;
        let error = match result {
            Ok(_) => return Ok(expected + count),
            Err(error) => error,
        };
        // A refusal or an unknown outcome may hide a first attempt that was
        // applied (its answer lost, the SDK's retry then refused or timed
        // out): the event at `expected` tells, by its append id.
        let ambiguous = unknown_outcome(&error)
            || matches!(
                error.as_service_error(),
                Some(
                    TransactWriteItemsError::TransactionInProgressException(_)
                        | TransactWriteItemsError::InternalServerError(_)
                )
            );
        match error.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(cancel)) => {
                let reasons = cancel.cancellation_reasons();
                // An event already there (not the gap check) may be ours:
                // the refusal carries the item where the service returns it,
                // else one read tells.
                let first_put = usize::from(check_gap && expected > 0);
                let refused_puts: Vec<_> = reasons
                    .iter()
                    .skip(first_put)
                    .filter(|r| r.code() == Some("ConditionalCheckFailed"))
                    .collect();
                let ours = match refused_puts.iter().find_map(|r| r.item()) {
                    Some(item) => item.get(APPEND_ID) == Some(&s(&append_id)),
                    None if !refused_puts.is_empty() => {
                        self.written_by(key, expected, &append_id).await?
                    }
                    None => false,
                };
                if ours {
                    return Ok(expected + count);
                }
                let codes = reasons
                    .iter()
                    .filter_map(|r| r.code())
                    .filter(|c| *c != "None")
                    .map(str::to_owned)
                    .collect();
                self.cancelled(key, expected, codes).await
            }
            _ if ambiguous && self.written_by(key, expected, &append_id).await? => {
                Ok(expected + count)
            }
            _ => Err(from_sdk(error)),
        }
    }

    /// Whether the event at `sequence` of `key` was written by the append
    /// `append_id` (one consistent `GetItem` of its id).
    async fn written_by(&self, key: &AggregateKey, sequence: u32, append_id: &str) -> Result<bool> {
        let out = self
            .shared
            .client
            .get_item()
            .table_name(&self.shared.tables.events)
            .key(PK, s(key.storage_key()))
            .key(SEQ, n(sequence))
            .consistent_read(true)
            .projection_expression("#id")
            .expression_attribute_names("#id", APPEND_ID)
            .send()
            .await
            .map_err(from_sdk)?;
        Ok(out
            .item()
            .and_then(|item| item.get(APPEND_ID))
            .is_some_and(|id| *id == s(append_id)))
    }

    /// One event whose gap check is already proven: one conditional
    /// `PutItem`.
    async fn put_one(&self, key: &AggregateKey, expected: u32, event: Encoded) -> Result<u32> {
        let append_id = uuid::Uuid::new_v4().to_string();
        let result = self
            .shared
            .client
            .put_item()
            .table_name(&self.shared.tables.events)
            .set_item(Some(Self::event_item(
                &key.storage_key(),
                &append_id,
                event,
            )))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(expected + 1),
            Err(error) => match error.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(refused)) => {
                    // The SDK retried a request whose first attempt had
                    // written the item but lost the answer: it is ours.
                    let ours = refused
                        .item()
                        .and_then(|old| old.get(APPEND_ID))
                        .is_some_and(|id| *id == s(&append_id));
                    if ours {
                        Ok(expected + 1)
                    } else {
                        self.conflict(key, expected).await
                    }
                }
                Some(PutItemError::InternalServerError(_)) | None
                    if (unknown_outcome(&error) || error.as_service_error().is_some())
                        && self.written_by(key, expected, &append_id).await? =>
                {
                    Ok(expected + 1)
                }
                _ => Err(from_sdk(error)),
            },
        }
    }

    /// A write was refused by a condition: reads the actual next sequence
    /// and reports the conflict.
    async fn conflict(&self, key: &AggregateKey, expected: u32) -> Result<u32> {
        let actual = self.next_sequence(key).await?;
        if actual != expected {
            return Err(Error::SequenceConflict {
                key: key.to_string(),
                expected,
                actual,
            });
        }
        // Only possible if events were deleted behind the store's back.
        Err(Error::backend(
            BACKEND,
            format!(
                "append to {key} at {expected} was refused, yet {expected} is its next sequence"
            ),
            true,
        ))
    }

    /// Explains a cancelled transaction: a failed condition is a conflict
    /// (one extra read finds the actual next sequence); contention and
    /// throttling are retriable; validation is not.
    async fn cancelled(
        &self,
        key: &AggregateKey,
        expected: u32,
        codes: Vec<String>,
    ) -> Result<u32> {
        if codes.is_empty() || codes.iter().any(|c| c == "ConditionalCheckFailed") {
            return self.conflict(key, expected).await;
        }
        let retriable = !codes.iter().any(|c| c == "ValidationError");
        Err(Error::backend(
            BACKEND,
            format!("append to {key} cancelled: {codes:?}"),
            retriable,
        ))
    }

    async fn decode(&self, item: &Item) -> Result<EventPage> {
        let mut page = EventPage::decode(get_b(item, PAGE)?)
            .map_err(|e| Error::Corrupt(format!("stored event is not an EventPage: {e}")))?;
        if get_flag(item, OFFLOADED) {
            let payloads = self.shared.payloads.as_deref().ok_or_else(|| {
                Error::backend(
                    BACKEND,
                    "an event was offloaded to a payload store, but none is configured",
                    false,
                )
            })?;
            resolve_page(payloads, &mut page).await?;
        }
        Ok(page)
    }

    /// The sequences of every event item of `pk` (keys only).
    async fn sequences(&self, pk: &str) -> Result<Vec<u32>> {
        let mut sequences = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .shared
                .client
                .query()
                .table_name(&self.shared.tables.events)
                .consistent_read(true)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#seq", SEQ)
                .expression_attribute_values(":pk", s(pk))
                .projection_expression("#pk, #seq")
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(from_sdk)?;
            for item in out.items() {
                sequences.push(get_n::<u32>(item, SEQ)?);
            }
            match out.last_evaluated_key {
                Some(next) if !next.is_empty() => start = Some(next),
                _ => return Ok(sequences),
            }
        }
    }

    /// Deletes the items of `pk` with these sequences (at most
    /// [`BATCH_WRITE`]), retrying what DynamoDB leaves unprocessed.
    async fn delete_batch(&self, pk: &str, sequences: &[u32]) -> Result<()> {
        let table = &self.shared.tables.events;
        let mut requests = sequences
            .iter()
            .map(|sequence| {
                let delete = DeleteRequest::builder()
                    .key(PK, s(pk))
                    .key(SEQ, n(*sequence))
                    .build()
                    .map_err(from_build)?;
                Ok(WriteRequest::builder().delete_request(delete).build())
            })
            .collect::<Result<Vec<_>>>()?;
        for attempt in 0..BATCH_ATTEMPTS {
            let out = self
                .shared
                .client
                .batch_write_item()
                .request_items(table, requests)
                .send()
                .await
                .map_err(from_sdk)?;
            requests = out
                .unprocessed_items
                .and_then(|mut left| left.remove(table))
                .unwrap_or_default();
            if requests.is_empty() {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(10 << attempt)).await;
        }
        Err(Error::backend(
            BACKEND,
            format!(
                "{} events of {pk} stayed unprocessed after {BATCH_ATTEMPTS} tries",
                requests.len()
            ),
            true,
        ))
    }

    /// One page of the domain's (or every) aggregate: a `Scan` of the first
    /// event items.
    async fn scan_roots(
        &self,
        domain: Option<&str>,
        start: Option<Item>,
    ) -> Result<(Vec<AggregateKey>, Option<Item>)> {
        let mut filter = "#seq = :zero".to_owned();
        let mut request = self
            .shared
            .client
            .scan()
            .table_name(&self.shared.tables.events)
            .projection_expression("#pk")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#seq", SEQ)
            .expression_attribute_values(":zero", n(0))
            .set_exclusive_start_key(start);
        if let Some(domain) = domain {
            filter.push_str(" AND begins_with(#pk, :prefix)");
            request = request.expression_attribute_values(":prefix", s(format!("{domain}#")));
        }
        let out = request
            .filter_expression(filter)
            .send()
            .await
            .map_err(from_sdk)?;
        let keys = out
            .items()
            .iter()
            .map(|item| AggregateKey::parse(get_s(item, PK)?))
            .collect::<Result<Vec<_>>>()?;
        Ok((keys, out.last_evaluated_key))
    }
}

/// Whether a request's outcome is unknown at the transport: it may have been
/// applied (a timeout, a connection lost after sending, an unreadable
/// answer). Server errors are told apart by their service error.
fn unknown_outcome<E, R>(error: &SdkError<E, R>) -> bool {
    matches!(
        error,
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_)
    )
}

#[async_trait]
impl EventStore for DynamoDbEventStore {
    async fn append(
        &self,
        key: &AggregateKey,
        expected: u32,
        pages: Vec<EventPage>,
    ) -> Result<u32> {
        let pages = prepare_append(key, expected, pages, self.limits())?;
        let pk = key.storage_key();
        let mut gap_proven = self.shared.known.reaches(&pk, expected);
        if !gap_proven && pages.len() >= MAX_EVENTS_PER_APPEND {
            // No room for the gap check in the transaction: read instead.
            let actual = self.next_sequence(key).await?;
            if actual != expected {
                return Err(Error::SequenceConflict {
                    key: key.to_string(),
                    expected,
                    actual,
                });
            }
            gap_proven = true;
        }
        let mut events = self.offload(pages).await?;
        let next = match events.pop() {
            Some(only) if events.is_empty() && gap_proven => {
                self.put_one(key, expected, only).await?
            }
            Some(last) => {
                events.push(last);
                self.transact(key, expected, events, !gap_proven).await?
            }
            None => expected,
        };
        self.shared.known.observe(&pk, next);
        Ok(next)
    }

    async fn load(&self, key: &AggregateKey, range: LoadRange) -> Result<Vec<EventPage>> {
        let mut condition = "#pk = :pk AND #seq >= :from".to_owned();
        let mut pages = Vec::new();
        if let Some(to) = range.to {
            if to <= range.from {
                return Ok(pages);
            }
            condition = "#pk = :pk AND #seq BETWEEN :from AND :last".to_owned();
        }
        let mut start = None;
        loop {
            let mut request = self
                .shared
                .client
                .query()
                .table_name(&self.shared.tables.events)
                .consistent_read(true)
                .key_condition_expression(&condition)
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#seq", SEQ)
                .expression_attribute_values(":pk", s(key.storage_key()))
                .expression_attribute_values(":from", n(range.from))
                .set_exclusive_start_key(start);
            if let Some(to) = range.to {
                request = request.expression_attribute_values(":last", n(to - 1));
            }
            let out = request.send().await.map_err(from_sdk)?;
            for item in out.items() {
                pages.push(self.decode(item).await?);
            }
            if let Some(last) = out.items().last() {
                let last: u32 = get_n(last, SEQ)?;
                self.shared
                    .known
                    .observe(&key.storage_key(), last.saturating_add(1));
            }
            match out.last_evaluated_key {
                Some(next) if !next.is_empty() => start = Some(next),
                _ => return Ok(pages),
            }
        }
    }

    async fn next_sequence(&self, key: &AggregateKey) -> Result<u32> {
        let out = self
            .shared
            .client
            .query()
            .table_name(&self.shared.tables.events)
            .consistent_read(true)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":pk", s(key.storage_key()))
            .scan_index_forward(false)
            .limit(1)
            .projection_expression("#pk, #seq")
            .expression_attribute_names("#seq", SEQ)
            .send()
            .await
            .map_err(from_sdk)?;
        let next = match out.items().first() {
            Some(item) => get_n::<u32>(item, SEQ)?.saturating_add(1),
            None => 0,
        };
        self.shared.known.observe(&key.storage_key(), next);
        Ok(next)
    }

    /// A paginated `Scan` of the whole events table, keeping the items of
    /// sequence 0: its cost grows with the number of *events*, not of
    /// aggregates. Meant for rebuilds and tooling, not for request paths.
    fn aggregate_roots<'a>(
        &'a self,
        domain: Option<&'a str>,
    ) -> BoxStream<'a, Result<AggregateKey>> {
        // `Some(start)` means another page is to be read.
        stream::try_unfold(Some(None), move |state: Option<Option<Item>>| async move {
            let Some(start) = state else {
                return Ok::<_, Error>(None);
            };
            let (keys, next) = self.scan_roots(domain, start).await?;
            let state = next.filter(|k| !k.is_empty()).map(Some);
            Ok(Some((keys, state)))
        })
        .map_ok(|keys| stream::iter(keys.into_iter().map(Ok::<_, Error>)))
        .try_flatten()
        .boxed()
    }

    async fn delete(&self, key: &AggregateKey) -> Result<u32> {
        let pk = key.storage_key();
        let sequences = self.sequences(&pk).await?;
        for batch in sequences.chunks(BATCH_WRITE) {
            self.delete_batch(&pk, batch).await?;
        }
        self.shared.known.forget(&pk);
        Ok(u32::try_from(sequences.len()).unwrap_or(u32::MAX))
    }

    fn limits(&self) -> StoreLimits {
        StoreLimits {
            max_events_per_append: MAX_EVENTS_PER_APPEND,
            max_event_bytes: if self.shared.payloads.is_some() {
                self.shared.max_offloaded_event_bytes
            } else {
                MAX_INLINE_EVENT_BYTES
            },
        }
    }
}
