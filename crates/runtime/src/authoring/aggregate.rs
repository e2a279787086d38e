use std::collections::HashMap;
use std::fmt;

use angzarr_core::proto::business_response::Result as Business;
use angzarr_core::proto::command_page::Payload as CommandPayload;
use angzarr_core::proto::event_page::Payload as EventPayload;
use angzarr_core::proto::page_header::SequenceType;
use angzarr_core::proto::{
    BusinessResponse, ContextualCommand, EventBook, EventPage, PageHeader, ReplayRequest,
    ReplayResponse, Snapshot,
};
use angzarr_core::{Error, Result, any};
use async_trait::async_trait;
use prost::{Message, Name};
use prost_types::Any;

use super::{Appliers, Decision};
use crate::logic::CommandHandler;

type Decide<S> = Box<dyn Fn(&S, &Any) -> Decision + Send + Sync>;

/// An aggregate written in Rust: its state `S` (a protobuf message, so it can
/// be snapshotted) folded from typed events, and typed command handlers.
///
/// Events of types with no `apply` leave the state as it is; a command of a
/// type with no `handle` is refused with INVALID_ARGUMENT naming the type.
pub struct AggregateLogic<S> {
    domain: String,
    appliers: Appliers<S>,
    deciders: HashMap<String, Decide<S>>,
}

impl<S> fmt::Debug for AggregateLogic<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AggregateLogic")
            .field("domain", &self.domain)
            .field("events", &self.appliers.types())
            .field("commands", &self.deciders.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl<S> AggregateLogic<S>
where
    S: Message + Name + Default + Send + Sync + 'static,
{
    /// An aggregate of `domain` with no events or commands yet.
    pub fn new(domain: &str) -> Self {
        Self {
            domain: domain.to_owned(),
            appliers: Appliers::default(),
            deciders: HashMap::new(),
        }
    }

    /// Folds events of type `E` into the state.
    pub fn apply<E, F>(mut self, apply: F) -> Self
    where
        E: Message + Name + Default,
        F: Fn(&mut S, E) + Send + Sync + 'static,
    {
        self.appliers.insert(apply);
        self
    }

    /// Decides commands of type `C` against the current state.
    pub fn handle<C, F>(mut self, decide: F) -> Self
    where
        C: Message + Name + Default,
        F: Fn(&S, C) -> Decision + Send + Sync + 'static,
    {
        self.deciders.insert(
            C::full_name(),
            Box::new(move |state, command| decide(state, any::unpack::<C>(command)?)),
        );
        self
    }

    /// The state after `snapshot` and `pages`.
    pub fn fold(&self, snapshot: Option<&Snapshot>, pages: &[EventPage]) -> Result<S> {
        self.appliers.fold(snapshot, pages)
    }

    fn apply_event(&self, state: &mut S, event: &Any) -> Result<()> {
        self.appliers.apply(state, event)
    }
}

#[async_trait]
impl<S> CommandHandler for AggregateLogic<S>
where
    S: Message + Name + Default + Send + Sync + 'static,
{
    async fn handle(&self, command: ContextualCommand) -> Result<BusinessResponse> {
        let history = command.events.unwrap_or_default();
        let mut state = self.fold(history.snapshot.as_ref(), &history.pages)?;
        let book = command
            .command
            .ok_or_else(|| Error::invalid_argument("contextual command has no command"))?;
        let mut pages = Vec::new();
        for page in &book.pages {
            let Some(CommandPayload::Command(command)) = &page.payload else {
                return Err(Error::invalid_argument(
                    "command page has no inline command",
                ));
            };
            let name = any::type_name(&command.type_url);
            let decide = self.deciders.get(name).ok_or_else(|| {
                Error::invalid_argument(format!(
                    "unknown command type `{name}` for domain `{}`",
                    self.domain
                ))
            })?;
            for event in decide(&state, command)? {
                // Later commands of the same book see the earlier ones' events.
                self.apply_event(&mut state, &event)?;
                pages.push(event);
            }
        }
        // Numbered from the history's next sequence; the runtime stamps the
        // authoritative ones.
        let pages = (history.next_sequence..)
            .zip(pages)
            .map(|(sequence, event)| EventPage {
                header: Some(PageHeader {
                    sequence_type: Some(SequenceType::Sequence(sequence)),
                }),
                created_at: None,
                payload: Some(EventPayload::Event(event)),
                ..Default::default()
            })
            .collect();
        Ok(BusinessResponse {
            result: Some(Business::Events(EventBook {
                cover: history.cover,
                snapshot: None,
                pages,
                next_sequence: 0,
            })),
        })
    }

    async fn replay(&self, request: ReplayRequest) -> Result<ReplayResponse> {
        let state = self.fold(request.base_snapshot.as_ref(), &request.events)?;
        Ok(ReplayResponse {
            state: Some(any::pack(&state)),
        })
    }
}
