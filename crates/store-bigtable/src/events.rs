//! [`EventStore`] on Bigtable: one row per append batch, written in one
//! conditional mutation. See the README ("Why appends are atomic and
//! conflict-safe") for the argument.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use angzarr_core::proto::EventPage;
use angzarr_core::store::{page_sequence, prepare_append};
use angzarr_core::{AggregateKey, Error, EventStore, LoadRange, Result, StoreLimits};
use async_trait::async_trait;
use bigtable_rs::google::bigtable::v2::row_range::StartKey;
use bigtable_rs::google::bigtable::v2::{
    CheckAndMutateRowRequest, MutateRowRequest, ReadRowsRequest,
};
use futures::stream::{self, BoxStream, StreamExt};
use prost::Message;

use crate::client::{Client, ReadRow};
use crate::error::{BACKEND, corrupt};
use crate::layout::{
    COUNT, CREATED_AT, DATA_PREFIX, EVENT_FAMILY, NEXT, aggregate_prefix, batch_row_key,
    cell_value, chain, column, columns_between, data_qualifier, delete_row, hint_row_key,
    key_range, keys_only, latest, one_row, parse_batch_row_key, parse_decimal, prefix_range,
    ranges, set_cell,
};

/// What one append may carry. A batch is one row: at most 100 events of at
/// most 256 KiB each keep the largest row at 25 MiB, a quarter of Bigtable's
/// 100 MB row guidance, and every cell far under the 10 MB cell guidance.
pub const LIMITS: StoreLimits = StoreLimits {
    max_events_per_append: 100,
    max_event_bytes: 256 * 1024,
};

/// The hint row is raised when an append crosses a multiple of this, so
/// finding the end scans about this many batch rows at most.
const HINT_STRIDE: u32 = 16;

/// Batch rows an append reads to check its expected sequence before it
/// falls back to the hint row.
const TAIL_LIMIT: i64 = 1_000;

/// Rows listed per request by [`EventStore::aggregate_roots`].
const ROOTS_PAGE: i64 = 1_000;

/// The [`EventStore`] of a [`crate::BigtableBackend`].
#[derive(Clone, Debug)]
pub struct BigtableEventStore {
    client: Arc<Client>,
    table: String,
    boundaries: Arc<KnownBoundaries>,
    crash_after_commit: bool,
}

/// The latest batch boundary (a sequence some batch ends at) this process
/// has seen per aggregate. A batch, once written, ends there for good, so an
/// append expecting exactly that sequence needs no read before its commit:
/// the commit's condition (no row starts there) is then the whole check.
#[derive(Debug, Default)]
struct KnownBoundaries(Mutex<HashMap<AggregateKey, u32>>);

/// Aggregates remembered before the map is cleared (a cache, not a record).
const KNOWN_BOUNDARIES: usize = 10_000;

impl KnownBoundaries {
    fn is_known(&self, key: &AggregateKey, boundary: u32) -> bool {
        boundary == 0 || self.lock().get(key) == Some(&boundary)
    }

    fn remember(&self, key: &AggregateKey, boundary: u32) {
        let mut known = self.lock();
        if known.len() >= KNOWN_BOUNDARIES && !known.contains_key(key) {
            known.clear();
        }
        let entry = known.entry(key.clone()).or_insert(boundary);
        *entry = (*entry).max(boundary);
    }

    fn forget(&self, key: &AggregateKey) {
        self.lock().remove(key);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<AggregateKey, u32>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl BigtableEventStore {
    pub(crate) fn new(client: Arc<Client>, table: String) -> Self {
        Self {
            client,
            table,
            boundaries: Arc::default(),
            crash_after_commit: false,
        }
    }

    /// Test hook: this store's appends stop right after the batch row is
    /// written, before the hint row, and fail as if the process had died.
    #[doc(hidden)]
    pub fn crashing_after_commit(mut self) -> Self {
        self.crash_after_commit = true;
        self
    }

    /// The (first, end) sequences of the aggregate's batch rows from the one
    /// starting at `from` on (at most `limit` rows), reading only their
    /// `count` cells.
    async fn batches_from(
        &self,
        key: &AggregateKey,
        from: u32,
        limit: Option<i64>,
    ) -> Result<Vec<(u32, u32)>> {
        let mut rows = prefix_range(&aggregate_prefix(key));
        rows.start_key = Some(StartKey::StartKeyClosed(batch_row_key(key, from)));
        let request = ReadRowsRequest {
            table_name: self.table.clone(),
            rows: ranges(vec![rows]),
            filter: Some(chain(vec![column(COUNT), latest()])),
            rows_limit: limit.unwrap_or(0),
            ..Default::default()
        };
        let rows = self.client.read_rows(request).await?;
        rows.iter()
            .map(|(row_key, cells)| {
                let (_, first) = parse_batch_row_key(row_key)
                    .filter(|(aggregate, _)| aggregate == key)
                    .ok_or_else(|| corrupt(format!("unexpected events row key {row_key:?}")))?;
                let count: u32 = cell_value(cells, COUNT)
                    .and_then(parse_decimal)
                    .ok_or_else(|| corrupt(format!("batch row {row_key:?} has no valid count")))?;
                let end = first
                    .checked_add(count)
                    .ok_or_else(|| corrupt(format!("batch row {row_key:?} overflows")))?;
                Ok((first, end))
            })
            .collect()
    }

    /// The end of the chain of batches from the boundary `from` on.
    async fn end_from(&self, key: &AggregateKey, from: u32) -> Result<u32> {
        let batches = self.batches_from(key, from, None).await?;
        let end = batches.last().map_or(from, |(_, end)| *end).max(from);
        self.boundaries.remember(key, end);
        Ok(end)
    }

    /// The aggregate's next sequence: from the hint row (a batch boundary at
    /// or before the end), scan the batch rows after it. Two requests.
    async fn end_of_history(&self, key: &AggregateKey) -> Result<u32> {
        let request = ReadRowsRequest {
            table_name: self.table.clone(),
            rows: one_row(hint_row_key(key)),
            filter: Some(chain(vec![column(NEXT), latest()])),
            rows_limit: 1,
            ..Default::default()
        };
        let rows = self.client.read_rows(request).await?;
        let hint: u32 = match rows.first() {
            Some((_, cells)) => cell_value(cells, NEXT)
                .and_then(parse_decimal)
                .ok_or_else(|| corrupt(format!("hint row of {key} has no valid `next`")))?,
            None => 0,
        };
        self.end_from(key, hint).await
    }

    /// Checks that `expected` is the end of the aggregate's history as far as
    /// one read can tell: a batch ends exactly there (or it is 0) and none
    /// starts at or after it. Returns the actual end when it is not.
    ///
    /// A batch ending at `expected` stays in the history for good, so if no
    /// row starts at `expected` when the commit writes there, `expected` is
    /// still the end then (batches are contiguous: anything after it would
    /// start exactly at `expected`).
    async fn check_expected(&self, key: &AggregateKey, expected: u32) -> Result<Option<u32>> {
        let span = u32::try_from(LIMITS.max_events_per_append).unwrap_or(u32::MAX);
        let window_start = expected.saturating_sub(span);
        let batches = self
            .batches_from(key, window_start, Some(TAIL_LIMIT))
            .await?;
        let ends_here = expected == 0 || batches.iter().any(|(_, end)| *end == expected);
        let none_after = batches.iter().all(|(first, _)| *first < expected);
        if ends_here && none_after {
            return Ok(None);
        }
        let complete = (batches.len() as i64) < TAIL_LIMIT;
        let actual = match batches.last() {
            Some((_, end)) if complete => {
                self.boundaries.remember(key, *end);
                *end
            }
            None if window_start == 0 => 0,
            // Far behind (or far ahead): find the end from the hint.
            _ => self.end_of_history(key).await?,
        };
        Ok(Some(actual))
    }

    /// Raises the hint to `next`. The cell's timestamp is `next` itself, so
    /// the newest version is the highest hint ever written, whatever order
    /// concurrent writers' hints arrive in.
    async fn raise_hint(&self, key: &AggregateKey, next: u32) -> Result<()> {
        let request = MutateRowRequest {
            table_name: self.table.clone(),
            row_key: hint_row_key(key),
            mutations: vec![set_cell(
                EVENT_FAMILY,
                NEXT,
                next.to_string(),
                i64::from(next) * 1000,
            )],
            ..Default::default()
        };
        self.client.mutate_row(request).await
    }

    /// Deletes one row.
    async fn delete_row(&self, row_key: Vec<u8>) -> Result<()> {
        let request = MutateRowRequest {
            table_name: self.table.clone(),
            row_key,
            mutations: vec![delete_row()],
            ..Default::default()
        };
        self.client.mutate_row(request).await
    }

    fn conflict(key: &AggregateKey, expected: u32, actual: u32) -> Error {
        Error::SequenceConflict {
            key: key.to_string(),
            expected,
            actual,
        }
    }
}

fn decode_pages(rows: Vec<ReadRow>, range: LoadRange) -> Result<Vec<EventPage>> {
    let mut pages = Vec::new();
    for (row_key, cells) in rows {
        for cell in cells {
            let Some(sequence) = cell
                .qualifier
                .strip_prefix(DATA_PREFIX.as_bytes())
                .and_then(parse_decimal::<u32>)
            else {
                continue;
            };
            if !range.contains(sequence) {
                continue;
            }
            let page = EventPage::decode(cell.value.as_slice()).map_err(|e| {
                corrupt(format!(
                    "event {sequence} in row {row_key:?} does not decode: {e}"
                ))
            })?;
            pages.push(page);
        }
    }
    Ok(pages)
}

#[async_trait]
impl EventStore for BigtableEventStore {
    async fn append(
        &self,
        key: &AggregateKey,
        expected: u32,
        pages: Vec<EventPage>,
    ) -> Result<u32> {
        let pages = prepare_append(key, expected, pages, LIMITS)?;
        // A stale expected sequence, a gap, and a start inside a batch all
        // fail here, mostly in this one read.
        if !self.boundaries.is_known(key, expected)
            && let Some(actual) = self.check_expected(key, expected).await?
        {
            return Err(Self::conflict(key, expected, actual));
        }
        let count = u32::try_from(pages.len()).unwrap_or(u32::MAX);
        let created_at = prost_types::Timestamp::from(SystemTime::now()).to_string();
        let mut mutations = Vec::with_capacity(pages.len() + 2);
        mutations.push(set_cell(EVENT_FAMILY, COUNT, count.to_string(), -1));
        mutations.push(set_cell(EVENT_FAMILY, CREATED_AT, created_at, -1));
        for (sequence, page) in (expected..).zip(&pages) {
            mutations.push(set_cell(
                EVENT_FAMILY,
                data_qualifier(sequence),
                page.encode_to_vec(),
                -1,
            ));
        }
        // The commit: no predicate "matches" when the row has any cell, and
        // the batch is written only when it does not (the row is absent).
        let request = CheckAndMutateRowRequest {
            table_name: self.table.clone(),
            row_key: batch_row_key(key, expected),
            predicate_filter: None,
            true_mutations: Vec::new(),
            false_mutations: mutations,
            ..Default::default()
        };
        if self.client.check_and_mutate(request).await? {
            // Another writer took this sequence since we looked.
            let actual = self.end_from(key, expected).await?;
            return Err(Self::conflict(key, expected, actual));
        }
        if self.crash_after_commit {
            return Err(Error::unavailable(
                BACKEND,
                "simulated crash between the batch write and the hint write",
            ));
        }
        let next = expected + count;
        self.boundaries.remember(key, next);
        // The hint only shortens the search for the end, so it is raised
        // once per HINT_STRIDE sequences, and the append is committed
        // already: a failure here is logged, not returned.
        if next / HINT_STRIDE > expected / HINT_STRIDE
            && let Err(error) = self.raise_hint(key, next).await
        {
            tracing::warn!(%key, next, %error, "could not raise the event hint row");
        }
        Ok(next)
    }

    async fn load(&self, key: &AggregateKey, range: LoadRange) -> Result<Vec<EventPage>> {
        if range.to.is_some_and(|to| to <= range.from) {
            return Ok(Vec::new());
        }
        // The batch holding `range.from` starts at most one batch earlier;
        // the column range keeps only the events asked for.
        let span = u32::try_from(LIMITS.max_events_per_append - 1).unwrap_or(0);
        let first_row = batch_row_key(key, range.from.saturating_sub(span));
        let rows = match range.to {
            Some(to) => key_range(first_row, batch_row_key(key, to)),
            None => {
                let mut all = prefix_range(&aggregate_prefix(key));
                all.start_key = Some(StartKey::StartKeyClosed(first_row));
                all
            }
        };
        let last_column = match range.to {
            Some(to) => data_qualifier(to),
            // Every `data:` column sorts before "data;".
            None => b"data;".to_vec(),
        };
        let request = ReadRowsRequest {
            table_name: self.table.clone(),
            rows: ranges(vec![rows]),
            filter: Some(chain(vec![
                columns_between(EVENT_FAMILY, data_qualifier(range.from), last_column),
                latest(),
            ])),
            ..Default::default()
        };
        let rows = self.client.read_rows(request).await?;
        let pages = decode_pages(rows, range)?;
        if range.to.is_none() {
            // Read to the end: the last event ends the last batch.
            if let Some(last) = pages.last().and_then(page_sequence) {
                self.boundaries.remember(key, last.saturating_add(1));
            }
        }
        Ok(pages)
    }

    async fn next_sequence(&self, key: &AggregateKey) -> Result<u32> {
        self.end_of_history(key).await
    }

    fn aggregate_roots<'a>(
        &'a self,
        domain: Option<&'a str>,
    ) -> BoxStream<'a, Result<AggregateKey>> {
        // Pages through the row keys (values stripped), one aggregate per
        // run of batch rows. Cost: one request per 1,000 batch rows.
        let prefix = domain.map(|d| format!("{d}#")).unwrap_or_default();
        let first = prefix_range(&prefix);
        let pages = stream::unfold(
            (Some(first), None::<AggregateKey>),
            move |(range, last)| async move {
                let range = range?;
                let request = ReadRowsRequest {
                    table_name: self.table.clone(),
                    rows: ranges(vec![range.clone()]),
                    filter: Some(keys_only()),
                    rows_limit: ROOTS_PAGE,
                    ..Default::default()
                };
                let rows = match self.client.read_rows(request).await {
                    Ok(rows) => rows,
                    Err(e) => return Some((vec![Err(e)], (None, last))),
                };
                let full = rows.len() as i64 == ROOTS_PAGE;
                let mut last = last;
                let mut found = Vec::new();
                let mut next = None;
                for (row_key, _) in &rows {
                    if let Some((aggregate, _)) = parse_batch_row_key(row_key)
                        && last.as_ref() != Some(&aggregate)
                    {
                        found.push(Ok(aggregate.clone()));
                        last = Some(aggregate);
                    }
                    next = Some(row_key.clone());
                }
                let range = match (full, next) {
                    (true, Some(after)) => {
                        let mut rest = range;
                        rest.start_key = Some(StartKey::StartKeyOpen(after));
                        Some(rest)
                    }
                    _ => None,
                };
                Some((found, (range, last)))
            },
        );
        pages.flat_map(stream::iter).boxed()
    }

    fn limits(&self) -> StoreLimits {
        LIMITS
    }

    /// Reads the batch rows' counts, then deletes each batch row and the
    /// hint row (one `MutateRow` each).
    async fn delete(&self, key: &AggregateKey) -> Result<u32> {
        let batches = self.batches_from(key, 0, None).await?;
        let count = batches.iter().map(|(first, end)| end - first).sum();
        for (first, _) in &batches {
            self.delete_row(batch_row_key(key, *first)).await?;
        }
        self.delete_row(hint_row_key(key)).await?;
        self.boundaries.forget(key);
        Ok(count)
    }
}
