//! Where commands and events that cannot be processed are kept, with the reason.

use std::fmt;
use std::sync::{Arc, Mutex};

use angzarr_core::Result;
use angzarr_core::proto::AngzarrDeadLetter;
use async_trait::async_trait;

/// Receives dead letters; never drops one silently.
#[async_trait]
pub trait DeadLetterSink: Send + Sync + fmt::Debug {
    /// Keeps `letter`.
    async fn send(&self, letter: AngzarrDeadLetter) -> Result<()>;
}

/// Dead letters kept in memory, for tests and the local runtime.
#[derive(Clone, Debug, Default)]
pub struct MemoryDeadLetters {
    letters: Arc<Mutex<Vec<AngzarrDeadLetter>>>,
}

impl MemoryDeadLetters {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// The letters received so far.
    pub fn letters(&self) -> Vec<AngzarrDeadLetter> {
        self.letters
            .lock()
            .map(|l| l.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }
}

#[async_trait]
impl DeadLetterSink for MemoryDeadLetters {
    async fn send(&self, letter: AngzarrDeadLetter) -> Result<()> {
        tracing::error!(
            reason = %letter.rejection_reason,
            source = %letter.source_component,
            "dead letter"
        );
        match self.letters.lock() {
            Ok(mut letters) => letters.push(letter),
            Err(poisoned) => poisoned.into_inner().push(letter),
        }
        Ok(())
    }
}
