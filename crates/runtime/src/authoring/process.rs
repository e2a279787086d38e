use std::collections::HashMap;
use std::fmt;

use angzarr_core::proto::event_page::Payload as EventPayload;
use angzarr_core::proto::{
    CommandBook, Cover, EventBook, EventPage, ProcessManagerHandleRequest,
    ProcessManagerHandleResponse, ProcessManagerPrepareRequest, ProcessManagerPrepareResponse,
};
use angzarr_core::{Error, Result, any};
use async_trait::async_trait;
use prost::{Message, Name};
use prost_types::Any;

use super::{Appliers, EventContext};
use crate::logic::ProcessManager;

/// What a process manager's handler sees besides its state and the event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessContext {
    /// Where the trigger event came from.
    pub event: EventContext,
    /// The next sequence of each prepared destination, by domain.
    pub destinations: HashMap<String, u32>,
}

/// What a process manager decides for one event.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProcessDecision {
    /// Events of its own state (build them with [`super::event`]); later
    /// events of the same trigger see them folded in.
    pub events: Vec<Any>,
    /// Commands to send (build them with [`super::command`]).
    pub commands: Vec<CommandBook>,
    /// Facts to inject into other aggregates.
    pub facts: Vec<EventBook>,
}

type Prepare<S> = Box<dyn Fn(&S, &EventContext, &Any) -> Result<Vec<Cover>> + Send + Sync>;
type React<S> = Box<dyn Fn(&S, &ProcessContext, &Any) -> Result<ProcessDecision> + Send + Sync>;

/// A process manager written in Rust: its state `S` folded from its own
/// typed events, the destinations each trigger event needs, and typed
/// handlers deciding events, commands and facts. The runtime keeps the
/// state (one aggregate per correlation id, domain = the name).
///
/// ```text
/// let pm = ProcessManagerLogic::<Workflow>::new("order-workflow")
///     .apply(|state, e: StepDone| state.steps += 1)
///     .prepare(|_, _, e: OrderPlaced| Ok(vec![stock_cover(&e)]))
///     .on(|state, context, e: OrderPlaced| Ok(ProcessDecision { commands: vec![reserve(&e)], ..Default::default() }));
/// ```
pub struct ProcessManagerLogic<S> {
    name: String,
    appliers: Appliers<S>,
    preparers: HashMap<String, Prepare<S>>,
    handlers: HashMap<String, React<S>>,
}

impl<S> fmt::Debug for ProcessManagerLogic<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessManagerLogic")
            .field("name", &self.name)
            .field("triggers", &self.handlers.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl<S> ProcessManagerLogic<S>
where
    S: Message + Name + Default + Send + Sync + 'static,
{
    /// A process manager named `name`.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            appliers: Appliers::default(),
            preparers: HashMap::new(),
            handlers: HashMap::new(),
        }
    }

    /// Folds its own events of type `E` into the state.
    pub fn apply<E, F>(mut self, apply: F) -> Self
    where
        E: Message + Name + Default,
        F: Fn(&mut S, E) + Send + Sync + 'static,
    {
        self.appliers.insert(apply);
        self
    }

    /// Names the destinations a trigger event of type `E` needs.
    pub fn prepare<E, F>(mut self, prepare: F) -> Self
    where
        E: Message + Name + Default,
        F: Fn(&S, &EventContext, E) -> Result<Vec<Cover>> + Send + Sync + 'static,
    {
        self.preparers.insert(
            E::full_name(),
            Box::new(move |state, context, event| prepare(state, context, any::unpack(event)?)),
        );
        self
    }

    /// Decides on trigger events of type `E`.
    pub fn on<E, F>(mut self, react: F) -> Self
    where
        E: Message + Name + Default,
        F: Fn(&S, &ProcessContext, E) -> Result<ProcessDecision> + Send + Sync + 'static,
    {
        self.handlers.insert(
            E::full_name(),
            Box::new(move |state, context, event| react(state, context, any::unpack(event)?)),
        );
        self
    }

    fn state(&self, process_state: Option<&EventBook>) -> Result<S> {
        match process_state {
            Some(book) => self.appliers.fold(book.snapshot.as_ref(), &book.pages),
            None => Ok(S::default()),
        }
    }
}

fn trigger(book: Option<EventBook>) -> Result<EventBook> {
    book.ok_or_else(|| Error::invalid_argument("process manager request has no trigger"))
}

#[async_trait]
impl<S> ProcessManager for ProcessManagerLogic<S>
where
    S: Message + Name + Default + Send + Sync + 'static,
{
    fn name(&self) -> &str {
        &self.name
    }

    async fn prepare(
        &self,
        request: ProcessManagerPrepareRequest,
    ) -> Result<ProcessManagerPrepareResponse> {
        let state = self.state(request.process_state.as_ref())?;
        let trigger = trigger(request.trigger)?;
        let mut destinations = Vec::new();
        for (context, event) in EventContext::pages(&trigger)? {
            if let Some(prepare) = self.preparers.get(any::type_name(&event.type_url)) {
                destinations.extend(prepare(&state, &context, event)?);
            }
        }
        Ok(ProcessManagerPrepareResponse { destinations })
    }

    async fn handle(
        &self,
        request: ProcessManagerHandleRequest,
    ) -> Result<ProcessManagerHandleResponse> {
        let mut state = self.state(request.process_state.as_ref())?;
        let trigger = trigger(request.trigger)?;
        let mut response = ProcessManagerHandleResponse::default();
        let mut events = Vec::new();
        for (event_context, event) in EventContext::pages(&trigger)? {
            let Some(react) = self.handlers.get(any::type_name(&event.type_url)) else {
                continue;
            };
            let context = ProcessContext {
                event: event_context,
                destinations: request.destination_sequences.clone(),
            };
            let decision = react(&state, &context, event)?;
            for event in decision.events {
                self.appliers.apply(&mut state, &event)?;
                events.push(EventPage {
                    payload: Some(EventPayload::Event(event)),
                    ..Default::default()
                });
            }
            response.commands.extend(decision.commands);
            response.facts.extend(decision.facts);
        }
        if !events.is_empty() {
            response.process_events = Some(EventBook {
                cover: request.process_state.and_then(|book| book.cover),
                pages: events,
                ..Default::default()
            });
        }
        Ok(response)
    }
}
