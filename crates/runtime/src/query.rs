//! Reading stored events: by range, by sequence set, as of a sequence or a
//! time; and listing aggregates (`EventQueryService`, and the gateway's
//! polling API).

use std::sync::Arc;

use angzarr_core::proto::query::Selection;
use angzarr_core::proto::temporal_query::PointInTime;
use angzarr_core::proto::{AggregateRoot, EventBook, Query};
use angzarr_core::store::page_sequence;
use angzarr_core::{AggregateKey, Error, EventStore, LoadRange, Result};
use futures::StreamExt;
use futures::stream::BoxStream;

/// Answers event queries from a store.
#[derive(Clone, Debug)]
pub struct EventQueries {
    store: Arc<dyn EventStore>,
}

impl EventQueries {
    /// Queries over `store`.
    pub fn new(store: Arc<dyn EventStore>) -> Self {
        Self { store }
    }

    /// The events a query selects, as one book with the aggregate's next
    /// sequence. Ranges are inclusive of both bounds (`upper` absent: to the
    /// end); a sequence set returns just those sequences that exist;
    /// `as_of_sequence` returns 0..=that sequence, `as_of_time` the events
    /// created at or before that time.
    pub async fn get_event_book(&self, query: Query) -> Result<EventBook> {
        let cover = query
            .cover
            .ok_or_else(|| Error::invalid_argument("query has no cover"))?;
        let key = AggregateKey::from_cover(&cover)?;
        let pages = match query.selection {
            None => self.store.load(&key, LoadRange::all()).await?,
            Some(Selection::Range(range)) => {
                let to = range.upper.map(|upper| upper.saturating_add(1));
                if to.is_some_and(|to| to <= range.lower) {
                    Vec::new()
                } else {
                    self.store
                        .load(
                            &key,
                            LoadRange {
                                from: range.lower,
                                to,
                            },
                        )
                        .await?
                }
            }
            Some(Selection::Sequences(set)) => {
                let (Some(min), Some(max)) = (set.values.iter().min(), set.values.iter().max())
                else {
                    return self.book(key, cover, Vec::new()).await;
                };
                let wanted: std::collections::HashSet<u32> = set.values.iter().copied().collect();
                self.store
                    .load(&key, LoadRange::between(*min, max.saturating_add(1)))
                    .await?
                    .into_iter()
                    .filter(|p| page_sequence(p).is_some_and(|s| wanted.contains(&s)))
                    .collect()
            }
            Some(Selection::Temporal(temporal)) => match temporal.point_in_time {
                Some(PointInTime::AsOfSequence(sequence)) => {
                    self.store
                        .load(&key, LoadRange::between(0, sequence.saturating_add(1)))
                        .await?
                }
                Some(PointInTime::AsOfTime(time)) => {
                    let as_of = (time.seconds, time.nanos);
                    self.store
                        .load(&key, LoadRange::all())
                        .await?
                        .into_iter()
                        .take_while(|p| {
                            p.created_at
                                .as_ref()
                                .is_some_and(|t| (t.seconds, t.nanos) <= as_of)
                        })
                        .collect()
                }
                None => {
                    return Err(Error::invalid_argument(
                        "temporal query has no point in time",
                    ));
                }
            },
        };
        self.book(key, cover, pages).await
    }

    async fn book(
        &self,
        key: AggregateKey,
        cover: angzarr_core::proto::Cover,
        pages: Vec<angzarr_core::proto::EventPage>,
    ) -> Result<EventBook> {
        Ok(EventBook {
            cover: Some(cover),
            snapshot: None,
            pages,
            next_sequence: self.store.next_sequence(&key).await?,
        })
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
