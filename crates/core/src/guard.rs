//! Idempotency for at-least-once deliveries.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;

use crate::error::Result;
use crate::ids::AggregateKey;
use crate::proto::EventBook;
use crate::store::page_sequence;

/// Proof that this holder acquired a key; needed to complete or release it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The guarded key.
    pub key: String,
    /// A token unique to this acquisition.
    pub token: String,
}

/// The outcome of [`FiringGuard::acquire`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Acquisition {
    /// This holder may do the work; complete or release the lease afterwards.
    Acquired(Lease),
    /// The work was already done: acknowledge the delivery without doing it again.
    Completed,
    /// Another holder is doing the work; its lease ends in `expires_in`.
    InProgress {
        /// Time left on the other holder's lease.
        expires_in: Duration,
    },
}

/// Makes a duplicate delivery have no second effect.
///
/// A key is absent, *in progress* (leased to one holder until the lease
/// expires), or *completed* (kept for a retention period, then forgotten).
#[async_trait]
pub trait FiringGuard: Send + Sync + fmt::Debug {
    /// Tries to take `key` for `lease`. Succeeds when the key is absent, its
    /// lease expired, or its completion's retention ended.
    async fn acquire(&self, key: &str, lease: Duration) -> Result<Acquisition>;

    /// Marks the work done; duplicates see [`Acquisition::Completed`] for
    /// `retention`. Fails with [`crate::Error::LeaseLost`] if another holder
    /// took the key over after this lease expired.
    async fn complete(&self, lease: &Lease, retention: Duration) -> Result<()>;

    /// Gives the key up after a failure, so a redelivery can do the work.
    /// Fails with [`crate::Error::LeaseLost`] if another holder has it.
    async fn release(&self, lease: &Lease) -> Result<()>;

    /// Extends the lease to `duration` from now while its work goes on, so
    /// that a delivery slower than one lease is not taken over and done a
    /// second time. Fails with [`crate::Error::LeaseLost`] if the key is no
    /// longer this lease's (another holder took it over, or, where the store
    /// forgets expired keys itself, it expired).
    async fn renew(&self, lease: &Lease, duration: Duration) -> Result<()>;
}

/// The firing-guard key of `handler` processing `book`:
/// `{handler}/{domain}#{root}/{first}-{last}` over the book's page sequences.
pub fn firing_key(handler: &str, book: &EventBook) -> Result<String> {
    let key = AggregateKey::from_book(book)?;
    let mut sequences = book.pages.iter().filter_map(page_sequence);
    let first = sequences.next();
    let last = sequences.next_back().or(first);
    Ok(match (first, last) {
        (Some(first), Some(last)) => format!("{handler}/{key}/{first}-{last}"),
        _ => format!("{handler}/{key}/next-{}", book.next_sequence),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{EventPage, PageHeader, page_header::SequenceType};

    fn page(sequence: u32) -> EventPage {
        EventPage {
            header: Some(PageHeader {
                sequence_type: Some(SequenceType::Sequence(sequence)),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn firing_keys_name_handler_aggregate_and_sequences() {
        let key = AggregateKey::new("order", uuid::Uuid::nil()).unwrap();
        let mut book = EventBook {
            cover: Some(key.cover("c")),
            pages: vec![page(3), page(4), page(5)],
            ..Default::default()
        };
        assert_eq!(
            firing_key("summary", &book).unwrap(),
            format!("summary/{key}/3-5")
        );
        book.pages.truncate(1);
        assert_eq!(
            firing_key("summary", &book).unwrap(),
            format!("summary/{key}/3-3")
        );
        assert!(firing_key("summary", &EventBook::default()).is_err());
    }
}
