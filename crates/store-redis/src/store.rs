//! [`EventStore`] on Redis lists: one list per aggregate, element `n` is the
//! event with sequence `n`.

use std::sync::Arc;

use angzarr_core::proto::EventPage;
use angzarr_core::store::{StoreLimits, prepare_append};
use angzarr_core::{AggregateKey, Error, EventStore, LoadRange, Result};
use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt};
use prost::Message;

use crate::backend::Shared;
use crate::scripts::{APPEND, DELETE};

/// How many members one `SSCAN` step asks for when listing roots.
const SCAN_COUNT: usize = 1_000;

/// The Redis [`EventStore`]; take it from [`crate::RedisBackend::event_store`].
#[derive(Clone, Debug)]
pub struct RedisEventStore {
    shared: Arc<Shared>,
}

impl RedisEventStore {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// Adds the aggregate to the roots index (`SADD` ×2, one round trip).
    ///
    /// The index keys live in other slots than the aggregate, so they cannot
    /// join the append script on a cluster. Writing the index *before* the
    /// first append means an aggregate with events is never missing from it;
    /// the price is that a first append that then fails (a lost connection)
    /// may leave an indexed aggregate without events, which lists with an
    /// empty history.
    async fn index(&self, key: &AggregateKey) -> Result<()> {
        let keys = &self.shared.keys;
        let (domains, roots) = (keys.domains(), keys.roots(&key.domain));
        let (domain, root) = (key.domain.clone(), root_member(key));
        self.shared
            .connections
            .run(|mut conn| {
                let mut pipe = redis::pipe();
                pipe.sadd(&domains, &domain).ignore();
                pipe.sadd(&roots, &root).ignore();
                async move { pipe.query_async::<()>(&mut conn).await }
            })
            .await
    }

    async fn domains(&self, only: Option<&str>) -> Result<Vec<String>> {
        if let Some(domain) = only {
            return Ok(vec![domain.to_owned()]);
        }
        self.scan(self.shared.keys.domains()).await
    }

    /// Every member of a set, read with `SSCAN` so a large set never blocks
    /// the server.
    async fn scan(&self, set: String) -> Result<Vec<String>> {
        let mut members = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let set = set.clone();
            let (next, batch): (u64, Vec<String>) = self
                .shared
                .connections
                .run(|mut conn| {
                    let mut cmd = redis::cmd("SSCAN");
                    cmd.arg(&set).arg(cursor).arg("COUNT").arg(SCAN_COUNT);
                    async move { cmd.query_async(&mut conn).await }
                })
                .await?;
            members.extend(batch);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        Ok(members)
    }

    async fn roots(&self, only: Option<&str>) -> Result<Vec<AggregateKey>> {
        let mut keys = Vec::new();
        for domain in self.domains(only).await? {
            for root in self.scan(self.shared.keys.roots(&domain)).await? {
                let key = AggregateKey::parse(&format!("{domain}#{root}")).map_err(|e| {
                    Error::Corrupt(format!("roots index of `{domain}` holds `{root}`: {e}"))
                })?;
                keys.push(key);
            }
        }
        keys.sort();
        keys.dedup();
        Ok(keys)
    }
}

#[async_trait]
impl EventStore for RedisEventStore {
    async fn append(
        &self,
        key: &AggregateKey,
        expected: u32,
        pages: Vec<EventPage>,
    ) -> Result<u32> {
        let pages = prepare_append(key, expected, pages, self.shared.limits)?;
        if expected == 0 {
            self.index(key).await?;
        }
        let encoded: Vec<Vec<u8>> = pages.iter().map(Message::encode_to_vec).collect();
        let (list, appends) = (self.shared.keys.events(key), self.shared.keys.appends(key));
        // The same id on the retry `run` makes after a lost connection, so a
        // retry of an append that was applied is answered, not repeated.
        let append_id = uuid::Uuid::new_v4().simple().to_string();
        let (appended, sequence): (u8, u64) = self
            .shared
            .connections
            .run(|mut conn| {
                let mut invocation = APPEND.key(&list);
                invocation.key(&appends).arg(expected).arg(&append_id);
                for page in &encoded {
                    invocation.arg(page.as_slice());
                }
                async move { invocation.invoke_async(&mut conn).await }
            })
            .await?;
        let sequence = u32::try_from(sequence)
            .map_err(|_| Error::Corrupt(format!("{key} has more than u32::MAX events")))?;
        if appended == 1 {
            Ok(sequence)
        } else {
            Err(Error::SequenceConflict {
                key: key.to_string(),
                expected,
                actual: sequence,
            })
        }
    }

    async fn load(&self, key: &AggregateKey, range: LoadRange) -> Result<Vec<EventPage>> {
        // LRANGE's stop is inclusive; -1 is the end of the list.
        let stop: i64 = match range.to {
            Some(to) if to <= range.from => return Ok(Vec::new()),
            Some(to) => i64::from(to) - 1,
            None => -1,
        };
        let list = self.shared.keys.events(key);
        let from = i64::from(range.from);
        let raw: Vec<Vec<u8>> = self
            .shared
            .connections
            .run(|mut conn| {
                let cmd = redis::Cmd::lrange(&list, from as isize, stop as isize);
                async move { cmd.query_async(&mut conn).await }
            })
            .await?;
        raw.iter()
            .map(|bytes| {
                EventPage::decode(bytes.as_slice())
                    .map_err(|e| Error::Corrupt(format!("an event of {key} does not decode: {e}")))
            })
            .collect()
    }

    async fn next_sequence(&self, key: &AggregateKey) -> Result<u32> {
        let list = self.shared.keys.events(key);
        let length: u64 = self
            .shared
            .connections
            .run(|mut conn| {
                let cmd = redis::Cmd::llen(&list);
                async move { cmd.query_async(&mut conn).await }
            })
            .await?;
        u32::try_from(length)
            .map_err(|_| Error::Corrupt(format!("{key} has more than u32::MAX events")))
    }

    fn aggregate_roots<'a>(
        &'a self,
        domain: Option<&'a str>,
    ) -> BoxStream<'a, Result<AggregateKey>> {
        stream::once(self.roots(domain))
            .flat_map(|listed| match listed {
                Ok(keys) => stream::iter(keys.into_iter().map(Ok)).boxed(),
                Err(e) => stream::iter([Err(e)]).boxed(),
            })
            .boxed()
    }

    fn limits(&self) -> StoreLimits {
        self.shared.limits
    }

    /// Deletes the events list in one script (`LLEN` + `DEL`), then the
    /// aggregate's entry in the roots index (`SREM`). A failure between the
    /// two leaves an indexed aggregate without events, which lists with an
    /// empty history, as after a failed first append.
    async fn delete(&self, key: &AggregateKey) -> Result<u32> {
        let (list, appends) = (self.shared.keys.events(key), self.shared.keys.appends(key));
        let count: u64 = self
            .shared
            .connections
            .run(|mut conn| {
                let mut invocation = DELETE.key(&list);
                invocation.key(&appends);
                async move { invocation.invoke_async(&mut conn).await }
            })
            .await?;
        let (roots, member) = (self.shared.keys.roots(&key.domain), root_member(key));
        self.shared
            .connections
            .run(|mut conn| {
                let cmd = redis::Cmd::srem(&roots, &member);
                async move { cmd.query_async::<()>(&mut conn).await }
            })
            .await?;
        u32::try_from(count)
            .map_err(|_| Error::Corrupt(format!("{key} had more than u32::MAX events")))
    }
}

/// The aggregate's member of its domain's roots index: the storage key after
/// `{domain}#` (the root, and `~{edition}` on an edition).
fn root_member(key: &AggregateKey) -> String {
    let storage_key = key.storage_key();
    storage_key
        .split_once('#')
        .map_or("", |(_, member)| member)
        .to_owned()
}
