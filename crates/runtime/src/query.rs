//! Reading stored events: by range, by sequence set, as of a sequence or a
//! time; and listing aggregates (`EventQueryService`, and the gateway's
//! polling API).

use std::sync::Arc;

use angzarr_core::ids::MAIN_EDITION;
use angzarr_core::ids::divergence_for;
use angzarr_core::proto::query::Selection;
use angzarr_core::proto::temporal_query::PointInTime;
use angzarr_core::proto::{AggregateRoot, EventBook, EventPage, Query};
use angzarr_core::store::page_sequence;
use angzarr_core::{AggregateKey, Correlations, Error, EventStore, LoadRange, Result, Timelines};
use futures::StreamExt;
use futures::stream::BoxStream;

/// Whether sequence `s` is in `selection` (an as-of-time selection keeps
/// every sequence: it is applied to a correlation's books by sequence only).
fn selected(selection: &Option<Selection>, s: u32) -> bool {
    match selection {
        None => true,
        Some(Selection::Range(range)) => s >= range.lower && range.upper.is_none_or(|u| s <= u),
        Some(Selection::Sequences(set)) => set.values.contains(&s),
        Some(Selection::Temporal(temporal)) => match temporal.point_in_time {
            Some(PointInTime::AsOfSequence(at)) => s <= at,
            _ => true,
        },
    }
}

/// Sequences of a set closer than this are read as one range.
const SET_GAP: u32 = 32;
/// The most ranges one sequence-set query loads.
const SET_LOADS: usize = 64;
/// Events per load of an as-of-time query.
const TIME_CHUNK: u32 = 256;

/// Answers event queries from a store.
#[derive(Clone, Debug)]
pub struct EventQueries {
    store: Timelines,
    correlations: Correlations,
}

/// Whether `query` asks by correlation id: a cover with a correlation id
/// and no root.
fn by_correlation(query: &Query) -> bool {
    query
        .cover
        .as_ref()
        .is_some_and(|c| c.root.is_none() && !c.correlation_id.is_empty())
}

impl EventQueries {
    /// Queries over `store`, with editions ([`Timelines`]) and the
    /// correlation index ([`Correlations`]).
    pub fn new(store: Arc<dyn EventStore>) -> Self {
        Self {
            correlations: Correlations::new(store.clone()),
            store: Timelines::new(store),
        }
    }

    /// The books a query selects: one, or for a query by correlation id
    /// (a cover with `correlation_id` and no root), one per aggregate
    /// written under it — of the cover's domain, or of every domain when
    /// the domain is empty — holding the events written under it, ordered
    /// by domain and root. A selection other than none is applied to each
    /// of those books' events by sequence (range, set, as of a sequence);
    /// an aggregate with no events left (a deleted edition's, or none the
    /// selection keeps) has no book.
    pub async fn get_event_books(&self, query: Query) -> Result<Vec<EventBook>> {
        if !by_correlation(&query) {
            return Ok(vec![self.aggregate_book(query).await?]);
        }
        self.correlated(query).await
    }

    async fn correlated(&self, query: Query) -> Result<Vec<EventBook>> {
        let cover = query.cover.unwrap_or_default();
        let edition = match &cover.edition {
            Some(edition) if !edition.name.is_empty() && edition.name != MAIN_EDITION => {
                Some(edition.name.as_str())
            }
            _ => None,
        };
        let mut books = Vec::new();
        for found in self.correlations.lookup(&cover.correlation_id).await? {
            if (!cover.domain.is_empty() && found.key.domain != cover.domain)
                || (found.key.edition() != edition.unwrap_or(""))
            {
                continue;
            }
            let mut pages = Vec::new();
            for (first, last) in &found.ranges {
                let loaded = self
                    .store
                    .load(
                        &found.key,
                        LoadRange::between(*first, last.saturating_add(1)),
                    )
                    .await?;
                pages.extend(loaded.into_iter().filter(|page| {
                    page_sequence(page).is_some_and(|s| selected(&query.selection, s))
                }));
            }
            pages.sort_by_key(|page| page_sequence(page).unwrap_or_default());
            pages.dedup_by_key(|page| page_sequence(page));
            if pages.is_empty() {
                // A deleted edition's, or none the selection keeps.
                continue;
            }
            books.push(EventBook {
                next_sequence: self.store.next_sequence(&found.key).await?,
                cover: Some(found.key.cover(cover.correlation_id.clone())),
                snapshot: None,
                pages,
            });
        }
        Ok(books)
    }

    /// The events a query selects, as one book with the aggregate's next
    /// sequence. Ranges are inclusive of both bounds (`upper` absent: to the
    /// end); a sequence set returns just those sequences that exist, loading
    /// only the clusters it names; `as_of_sequence` returns 0..=that sequence,
    /// `as_of_time` the events created at or before that time, loading the
    /// history in chunks and stopping at the time.
    ///
    /// A query by correlation id answers the first book
    /// [`EventQueries::get_event_books`] finds (an empty book under the
    /// query's cover when there is none).
    pub async fn get_event_book(&self, query: Query) -> Result<EventBook> {
        if by_correlation(&query) {
            let cover = query.cover.clone();
            let mut books = self.correlated(query).await?;
            return Ok(if books.is_empty() {
                EventBook {
                    cover,
                    ..Default::default()
                }
            } else {
                books.swap_remove(0)
            });
        }
        self.aggregate_book(query).await
    }

    async fn aggregate_book(&self, query: Query) -> Result<EventBook> {
        let cover = query
            .cover
            .ok_or_else(|| Error::invalid_argument("query has no cover"))?;
        let key = AggregateKey::from_cover(&cover)?;
        let at = divergence_for(&cover)?;
        let pages = match query.selection {
            None => self.store.load_at(&key, LoadRange::all(), at).await?,
            Some(Selection::Range(range)) => {
                let to = range.upper.map(|upper| upper.saturating_add(1));
                if to.is_some_and(|to| to <= range.lower) {
                    Vec::new()
                } else {
                    self.store
                        .load_at(
                            &key,
                            LoadRange {
                                from: range.lower,
                                to,
                            },
                            at,
                        )
                        .await?
                }
            }
            Some(Selection::Sequences(set)) => self.load_set(&key, &set.values, at).await?,
            Some(Selection::Temporal(temporal)) => match temporal.point_in_time {
                Some(PointInTime::AsOfSequence(sequence)) => {
                    self.store
                        .load_at(&key, LoadRange::between(0, sequence.saturating_add(1)), at)
                        .await?
                }
                Some(PointInTime::AsOfTime(time)) => {
                    self.load_as_of(&key, (time.seconds, time.nanos), at)
                        .await?
                }
                None => {
                    return Err(Error::invalid_argument(
                        "temporal query has no point in time",
                    ));
                }
            },
        };
        Ok(EventBook {
            next_sequence: self.store.next_sequence_at(&key, at).await?,
            cover: Some(cover),
            snapshot: None,
            pages,
        })
    }

    /// The events of `sequences` that exist, in order. Only what the set
    /// names is loaded: one range per cluster of nearby sequences (gaps of
    /// under [`SET_GAP`] are read through), or, past [`SET_LOADS`] clusters,
    /// the one range from the lowest to the highest.
    async fn load_set(
        &self,
        key: &AggregateKey,
        sequences: &[u32],
        at: Option<u32>,
    ) -> Result<Vec<EventPage>> {
        let mut wanted: Vec<u32> = sequences.to_vec();
        wanted.sort_unstable();
        wanted.dedup();
        let mut ranges: Vec<(u32, u32)> = Vec::new();
        for &sequence in &wanted {
            match ranges.last_mut() {
                Some((_, end)) if sequence - *end < SET_GAP => *end = sequence,
                _ => ranges.push((sequence, sequence)),
            }
        }
        if ranges.len() > SET_LOADS
            && let (Some(first), Some(last)) = (ranges.first(), ranges.last())
        {
            ranges = vec![(first.0, last.1)];
        }
        let mut pages = Vec::new();
        for (from, to) in ranges {
            let loaded = self
                .store
                .load_at(key, LoadRange::between(from, to.saturating_add(1)), at)
                .await?;
            pages.extend(
                loaded
                    .into_iter()
                    .filter(|p| page_sequence(p).is_some_and(|s| wanted.binary_search(&s).is_ok())),
            );
        }
        Ok(pages)
    }

    /// The events created at or before `as_of` (seconds, nanos), read in
    /// chunks of [`TIME_CHUNK`] from the start, stopping at the first event
    /// after the time: the history after it is not loaded.
    async fn load_as_of(
        &self,
        key: &AggregateKey,
        as_of: (i64, i32),
        at: Option<u32>,
    ) -> Result<Vec<EventPage>> {
        let mut pages = Vec::new();
        let mut from = 0u32;
        loop {
            let chunk = self
                .store
                .load_at(
                    key,
                    LoadRange::between(from, from.saturating_add(TIME_CHUNK)),
                    at,
                )
                .await?;
            let complete = chunk.len() == TIME_CHUNK as usize;
            for page in chunk {
                let at_or_before = page
                    .created_at
                    .as_ref()
                    .is_some_and(|t| (t.seconds, t.nanos) <= as_of);
                if !at_or_before {
                    return Ok(pages);
                }
                pages.push(page);
            }
            if !complete {
                return Ok(pages);
            }
            from = from.saturating_add(TIME_CHUNK);
        }
    }

    /// Every aggregate with events, optionally of one domain.
    pub fn aggregate_roots<'a>(
        &'a self,
        domain: Option<&'a str>,
    ) -> BoxStream<'a, Result<AggregateRoot>> {
        self.store
            .aggregate_roots(domain)
            .map(|key| {
                key.map(|key| AggregateRoot {
                    domain: key.domain,
                    root: Some(key.root.into()),
                })
            })
            .boxed()
    }
}
