//! Editions: named timelines branching off an aggregate's main history.
//!
//! An edition of an aggregate is the main history up to its *divergence
//! point* `d`, then the edition's own events, numbered from `d`. [`Timelines`]
//! gives every [`EventStore`] editions without a change to its layout:
//!
//! * the main timeline's key (`{domain}#{root}`) is passed through untouched;
//! * an edition's key (`{domain}#{root}~{edition}`) is a separate aggregate
//!   in the store. Its stored sequence 0 is a marker recording `d`; its event
//!   with sequence `d + i` is stored at `1 + i`. Loads renumber them back.
//!
//! So an edition's writes never touch the main history's records, and the
//! store's own optimistic concurrency guards each timeline separately.
//!
//! The divergence point is named by the first writer: explicitly
//! (`DomainDivergence.sequence` for the aggregate's domain, passed as
//! `divergence`), or implicitly as the end of the history the writer saw (the
//! expected sequence of the edition's first append, which is at most the main
//! history's end). Until an edition has events, it reads as the main history
//! up to that point. Once recorded, `d` never changes.

use std::sync::Arc;

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use prost::Message;

use crate::error::{Error, Result};
use crate::ids::AggregateKey;
use crate::proto::page_header::SequenceType;
use crate::proto::{EventPage, PageHeader, event_page::Payload};
use crate::store::{EventStore, LoadRange, StoreLimits, page_sequence};

/// The type URL of the marker an edition's stored sequence 0 holds.
pub const DIVERGENCE_TYPE_URL: &str = "type.googleapis.com/angzarr.EditionDivergence";

/// The marker's body: where the edition leaves the main history.
#[derive(Clone, PartialEq, Message)]
struct EditionDivergence {
    /// The first sequence that is the edition's own.
    #[prost(uint32, tag = "1")]
    sequence: u32,
}

/// Where an edition leaves the main history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fork {
    /// Recorded by the edition's first append.
    Recorded(u32),
    /// Not recorded yet: the edition has no events of its own. `Some` is an
    /// explicit divergence; `None` follows the main history to its end.
    Pending(Option<u32>),
}

/// An [`EventStore`] with editions, over any store (see the module docs).
///
/// The [`EventStore`] methods take the divergence point from the store (or,
/// for an edition without events, the end of the history the caller saw);
/// the `_at` methods also take an explicit one.
#[derive(Clone, Debug)]
pub struct Timelines {
    inner: Arc<dyn EventStore>,
}

impl Timelines {
    /// Editions over `inner`. Wrap a store once: an edition's key in `inner`
    /// holds the marker, which only this type reads.
    pub fn new(inner: Arc<dyn EventStore>) -> Self {
        Self { inner }
    }

    /// The store underneath.
    pub fn inner(&self) -> &Arc<dyn EventStore> {
        &self.inner
    }

    /// Where `key`'s edition left the main history, if it has been recorded
    /// (`None` on the main timeline, or for an edition without events).
    pub async fn recorded_divergence(&self, key: &AggregateKey) -> Result<Option<u32>> {
        if key.is_main() {
            return Ok(None);
        }
        let first = self.inner.load(key, LoadRange::between(0, 1)).await?;
        first.first().map(|page| read_marker(key, page)).transpose()
    }

    /// How `key` relates to the main history, checking an explicit
    /// `divergence` against the recorded one and the main history's end.
    async fn fork(&self, key: &AggregateKey, divergence: Option<u32>) -> Result<Fork> {
        match (self.recorded_divergence(key).await?, divergence) {
            (Some(recorded), Some(asked)) if recorded != asked => {
                Err(Error::invalid_argument(format!(
                    "edition `{}` of {} diverged from the main timeline at {recorded}, not {asked}",
                    key.edition(),
                    key.main()
                )))
            }
            (Some(recorded), _) => Ok(Fork::Recorded(recorded)),
            (None, Some(asked)) => {
                let main_next = self.inner.next_sequence(&key.main()).await?;
                if asked > main_next {
                    return Err(Error::invalid_argument(format!(
                        "edition `{}` cannot diverge at {asked}: the main timeline of {} ends at {main_next}",
                        key.edition(),
                        key.main()
                    )));
                }
                Ok(Fork::Pending(Some(asked)))
            }
            (None, None) => Ok(Fork::Pending(None)),
        }
    }

    /// [`EventStore::load`] with an explicit divergence point for an edition
    /// that has no events yet.
    ///
    /// What it answers is contiguous: the events of `range` from its start,
    /// with no sequence missing. A read that sees a gap — a concurrent
    /// multi-event append seen in part, where the store reads item by item
    /// (DynamoDB `Query`) or row by row (Bigtable `ReadRows`) — is read
    /// again, up to [`GAP_READS`] times in all; a gap that stays is a
    /// retriable [`Error::Unavailable`], so nothing is ever decided, cached
    /// or snapshotted on a gapped history.
    pub async fn load_at(
        &self,
        key: &AggregateKey,
        range: LoadRange,
        divergence: Option<u32>,
    ) -> Result<Vec<EventPage>> {
        let mut read = 1;
        loop {
            let pages = self.load_once(key, range, divergence).await?;
            match first_gap(range.from, &pages) {
                None => return Ok(pages),
                Some(missing) if read >= GAP_READS => {
                    return Err(Error::unavailable(
                        "event store",
                        format!(
                            "the history of {key} read from {} lacks sequence {missing} \
                             in each of {GAP_READS} reads",
                            range.from
                        ),
                    ));
                }
                Some(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(5 << read)).await;
                    read += 1;
                }
            }
        }
    }

    async fn load_once(
        &self,
        key: &AggregateKey,
        range: LoadRange,
        divergence: Option<u32>,
    ) -> Result<Vec<EventPage>> {
        if key.is_main() {
            return self.inner.load(key, range).await;
        }
        let (at, recorded) = match self.fork(key, divergence).await? {
            Fork::Pending(None) => return self.inner.load(&key.main(), range).await,
            Fork::Pending(Some(at)) => (at, false),
            Fork::Recorded(at) => (at, true),
        };
        let mut pages = Vec::new();
        if range.from < at {
            let to = range.to.map_or(at, |to| to.min(at));
            pages = self
                .inner
                .load(&key.main(), LoadRange::between(range.from, to))
                .await?;
        }
        if recorded && range.to.is_none_or(|to| to > at) {
            let local = LoadRange {
                from: range.from.max(at) - at + 1,
                to: range.to.map(|to| to - at + 1),
            };
            for mut page in self.inner.load(key, local).await? {
                let local = page_sequence(&page)
                    .ok_or_else(|| Error::Corrupt(format!("an event of {key} has no sequence")))?;
                page.header = Some(PageHeader {
                    sequence_type: Some(SequenceType::Sequence(local - 1 + at)),
                });
                pages.push(page);
            }
        }
        Ok(pages)
    }

    /// [`EventStore::next_sequence`] with an explicit divergence point for an
    /// edition that has no events yet.
    pub async fn next_sequence_at(
        &self,
        key: &AggregateKey,
        divergence: Option<u32>,
    ) -> Result<u32> {
        if key.is_main() {
            return self.inner.next_sequence(key).await;
        }
        match self.fork(key, divergence).await? {
            Fork::Recorded(at) => Ok(self.inner.next_sequence(key).await?.saturating_sub(1) + at),
            Fork::Pending(Some(at)) => Ok(at),
            Fork::Pending(None) => self.inner.next_sequence(&key.main()).await,
        }
    }

    /// [`EventStore::append`] with an explicit divergence point for an
    /// edition that has no events yet. The first append of an edition
    /// records its divergence point: the explicit one, or `expected` (the end
    /// of the history the writer saw).
    pub async fn append_at(
        &self,
        key: &AggregateKey,
        expected: u32,
        pages: Vec<EventPage>,
        divergence: Option<u32>,
    ) -> Result<u32> {
        if key.is_main() {
            return self.inner.append(key, expected, pages).await;
        }
        let at = match self.fork(key, divergence).await? {
            Fork::Recorded(at) => at,
            Fork::Pending(asked) => {
                let at = match asked {
                    Some(at) => at,
                    None => {
                        let main_next = self.inner.next_sequence(&key.main()).await?;
                        if expected > main_next {
                            return Err(Error::SequenceConflict {
                                key: key.to_string(),
                                expected,
                                actual: main_next,
                            });
                        }
                        expected
                    }
                };
                match self.inner.append(key, 0, vec![marker(at)]).await {
                    Ok(_) => at,
                    // Another writer recorded the divergence first: its point holds.
                    Err(Error::SequenceConflict { .. }) => {
                        match self.recorded_divergence(key).await? {
                            Some(recorded) => recorded,
                            None => {
                                return Err(Error::Corrupt(format!(
                                    "{key} has events but no divergence marker"
                                )));
                            }
                        }
                    }
                    Err(error) => return Err(error),
                }
            }
        };
        if expected < at {
            return Err(Error::SequenceConflict {
                key: key.to_string(),
                expected,
                actual: self.inner.next_sequence(key).await?.saturating_sub(1) + at,
            });
        }
        match self.inner.append(key, expected - at + 1, pages).await {
            Ok(next) => Ok(next.saturating_sub(1) + at),
            Err(Error::SequenceConflict { actual, .. }) => Err(Error::SequenceConflict {
                key: key.to_string(),
                expected,
                actual: actual.saturating_sub(1) + at,
            }),
            Err(error) => Err(error),
        }
    }

    /// Deletes edition `edition` of every aggregate of `domain` (its own
    /// events and its divergence marker; the main history is untouched) and
    /// answers the keys it deleted with how many of the edition's own events
    /// each had. The main timeline (an empty name or `angzarr`) is refused.
    /// Meant for an edition nothing writes to any more: a command racing
    /// with the deletion may leave part of its events behind.
    pub async fn delete_edition(
        &self,
        domain: &str,
        edition: &str,
    ) -> Result<Vec<(AggregateKey, u32)>> {
        let probe = AggregateKey::new(domain, uuid::Uuid::nil())?.in_edition(edition)?;
        if probe.is_main() {
            return Err(Error::invalid_argument(
                "the main timeline's events are never deleted; name an edition",
            ));
        }
        let keys: Vec<AggregateKey> = self
            .inner
            .aggregate_roots(Some(domain))
            .filter_map(|key| {
                std::future::ready(match key {
                    Ok(key) if key.edition() == probe.edition() => Some(Ok(key)),
                    Ok(_) => None,
                    Err(error) => Some(Err(error)),
                })
            })
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_>>()?;
        let mut deleted = Vec::with_capacity(keys.len());
        for key in keys {
            let count = self.delete(&key).await?;
            deleted.push((key, count));
        }
        Ok(deleted)
    }
}

#[async_trait]
impl EventStore for Timelines {
    async fn append(
        &self,
        key: &AggregateKey,
        expected: u32,
        pages: Vec<EventPage>,
    ) -> Result<u32> {
        self.append_at(key, expected, pages, None).await
    }

    async fn load(&self, key: &AggregateKey, range: LoadRange) -> Result<Vec<EventPage>> {
        self.load_at(key, range, None).await
    }

    async fn next_sequence(&self, key: &AggregateKey) -> Result<u32> {
        self.next_sequence_at(key, None).await
    }

    /// The aggregates with events on their main timeline; an aggregate that
    /// has only editions is not listed.
    fn aggregate_roots<'a>(
        &'a self,
        domain: Option<&'a str>,
    ) -> BoxStream<'a, Result<AggregateKey>> {
        self.inner
            .aggregate_roots(domain)
            .filter(|key| {
                std::future::ready(key.as_ref().map_or(true, |key| {
                    key.is_main() && key.domain != crate::correlation::CORRELATION_DOMAIN
                }))
            })
            .boxed()
    }

    fn limits(&self) -> StoreLimits {
        self.inner.limits()
    }

    /// Deletes an edition's events and its divergence marker, answering how
    /// many of the edition's own events there were. The main timeline is
    /// refused: its history is immutable.
    async fn delete(&self, key: &AggregateKey) -> Result<u32> {
        if key.is_main() {
            return Err(Error::invalid_argument(format!(
                "the main timeline of {key} is never deleted; name an edition"
            )));
        }
        Ok(self.inner.delete(key).await?.saturating_sub(1))
    }
}

/// How many times [`Timelines::load_at`] reads a range whose answer has a
/// gap before it gives up.
pub const GAP_READS: u32 = 3;

/// The first sequence missing from `pages`, read from `from`: they must be
/// `from, from + 1, ...` (a history is contiguous from 0, so a page at or
/// after `from` means `from` exists). A page without a sequence counts as
/// missing.
fn first_gap(from: u32, pages: &[EventPage]) -> Option<u32> {
    let mut expected = from;
    for page in pages {
        match page_sequence(page) {
            Some(sequence) if sequence == expected => expected = expected.saturating_add(1),
            _ => return Some(expected),
        }
    }
    None
}

/// The page an edition's stored sequence 0 holds.
fn marker(at: u32) -> EventPage {
    EventPage {
        payload: Some(Payload::Event(prost_types::Any {
            type_url: DIVERGENCE_TYPE_URL.to_owned(),
            value: EditionDivergence { sequence: at }.encode_to_vec(),
        })),
        ..EventPage::default()
    }
}

fn read_marker(key: &AggregateKey, page: &EventPage) -> Result<u32> {
    match &page.payload {
        Some(Payload::Event(any)) if any.type_url == DIVERGENCE_TYPE_URL => {
            EditionDivergence::decode(any.value.as_slice())
                .map(|marker| marker.sequence)
                .map_err(|e| Error::Corrupt(format!("the divergence marker of {key}: {e}")))
        }
        _ => Err(Error::Corrupt(format!(
            "{key} does not start with a divergence marker"
        ))),
    }
}
