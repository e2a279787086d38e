//! Writing business logic in Rust: state folded from typed events, commands
//! dispatched by type, and errors that become rejections.
//!
//! ```text
//! let cart = AggregateLogic::<CartState>::new("cart")
//!     .apply(|state, e: ItemAdded| { *state.items.entry(e.sku).or_default() += e.quantity; })
//!     .handle(|state, c: AddItem| {
//!         if state.checked_out { return Err(reject("cart is checked out")); }
//!         Ok(vec![event(&ItemAdded { sku: c.sku, quantity: c.quantity })])
//!     });
//! ```
//!
//! Messages are prost types implementing [`prost::Name`]; they travel as
//! `google.protobuf.Any` and are matched by full name.

mod aggregate;
mod process;
mod projector;
mod saga;

pub use aggregate::AggregateLogic;
pub use process::{ProcessContext, ProcessDecision, ProcessManagerLogic};
pub use projector::ProjectorLogic;
pub use saga::SagaLogic;

use angzarr_core::proto::command_page::Payload as CommandPayload;
use angzarr_core::proto::{CommandBook, CommandPage, Cover, EventBook, MergeStrategy};
use angzarr_core::store::page_sequence;
use angzarr_core::{AggregateKey, Error, Result, any};
use prost::Name;
use prost_types::Any;

/// A command's outcome: the events it causes, or why it is refused.
pub type Decision = Result<Vec<Any>>;

/// Packs an event (or any message) for a [`Decision`].
pub fn event<M: Name>(message: &M) -> Any {
    any::pack(message)
}

/// A refusal: the command is rejected with `reason` and nothing is appended.
pub fn reject(reason: impl Into<String>) -> Error {
    Error::Rejected {
        reason: reason.into(),
    }
}

/// Where an event came from, for projectors and sagas.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventContext {
    /// The aggregate that recorded the event.
    pub key: AggregateKey,
    /// The event's sequence in its aggregate.
    pub sequence: u32,
    /// The correlation id of the book it arrived in.
    pub correlation_id: String,
}

impl EventContext {
    fn pages(book: &EventBook) -> Result<impl Iterator<Item = (Self, &Any)>> {
        let cover = book
            .cover
            .as_ref()
            .ok_or_else(|| Error::invalid_argument("event book has no cover"))?;
        let key = AggregateKey::from_cover(cover)?;
        let correlation_id = cover.correlation_id.clone();
        Ok(book.pages.iter().filter_map(move |page| {
            let event = match &page.payload {
                Some(angzarr_core::proto::event_page::Payload::Event(event)) => event,
                _ => return None,
            };
            Some((
                EventContext {
                    key: key.clone(),
                    sequence: page_sequence(page).unwrap_or_default(),
                    correlation_id: correlation_id.clone(),
                },
                event,
            ))
        }))
    }
}

/// A command book of one command for the aggregate `domain`/`root`, with the
/// default merge strategy (commutative: applied to the latest state).
pub fn command<M: Name>(
    domain: &str,
    root: uuid::Uuid,
    correlation_id: &str,
    message: &M,
) -> CommandBook {
    CommandBook {
        cover: Some(Cover {
            root: Some(root.into()),
            domain: domain.to_owned(),
            correlation_id: correlation_id.to_owned(),
            edition: None,
        }),
        pages: vec![CommandPage {
            header: None,
            merge_strategy: MergeStrategy::MergeCommutative as i32,
            payload: Some(CommandPayload::Command(any::pack(message))),
        }],
    }
}

/// Folds of typed events into a state `S`, by event type.
pub(crate) struct Appliers<S> {
    folds: std::collections::HashMap<String, Fold<S>>,
}

type Fold<S> = Box<dyn Fn(&mut S, &Any) -> Result<()> + Send + Sync>;

impl<S> Default for Appliers<S> {
    fn default() -> Self {
        Self {
            folds: std::collections::HashMap::new(),
        }
    }
}

impl<S> Appliers<S> {
    /// The event types folded.
    pub(crate) fn types(&self) -> Vec<&String> {
        self.folds.keys().collect()
    }
}

impl<S: prost::Message + Name + Default> Appliers<S> {
    /// Folds events of type `E` with `apply`.
    pub(crate) fn insert<E, F>(&mut self, apply: F)
    where
        E: prost::Message + Name + Default,
        F: Fn(&mut S, E) + Send + Sync + 'static,
    {
        self.folds.insert(
            E::full_name(),
            Box::new(move |state, event| {
                apply(state, any::unpack::<E>(event)?);
                Ok(())
            }),
        );
    }

    /// Folds `event` into `state` (events of other types leave it as it is).
    pub(crate) fn apply(&self, state: &mut S, event: &Any) -> Result<()> {
        match self.folds.get(any::type_name(&event.type_url)) {
            Some(apply) => apply(state, event),
            None => Ok(()),
        }
    }

    /// The state after `snapshot` (a packed `S`) and `pages`.
    pub(crate) fn fold(
        &self,
        snapshot: Option<&angzarr_core::proto::Snapshot>,
        pages: &[angzarr_core::proto::EventPage],
    ) -> Result<S> {
        let mut state = match snapshot.and_then(|s| s.state.as_ref()) {
            Some(state) => any::unpack::<S>(state)?,
            None => S::default(),
        };
        for page in pages {
            if let Some(angzarr_core::proto::event_page::Payload::Event(event)) = &page.payload {
                self.apply(&mut state, event)?;
            }
        }
        Ok(state)
    }
}

/// A boxed handler of one message type.
type Handler<Ctx, Out> = Box<dyn Fn(Ctx, &Any) -> Result<Out> + Send + Sync>;
