use std::collections::HashMap;
use std::fmt;

use angzarr_core::proto::{EventBook, Projection};
use angzarr_core::{Result, any};
use async_trait::async_trait;
use prost::{Message, Name};
use prost_types::Any;

use super::{EventContext, Handler};
use crate::logic::Projector;

type Output = Box<dyn Fn(&EventContext) -> Option<Any> + Send + Sync>;

/// A projector written in Rust: typed event handlers that update a read model
/// the closures own (e.g. behind an `Arc<Mutex<_>>`), and optionally the
/// projection to answer for the aggregate.
///
/// Events of types with no handler are skipped.
pub struct ProjectorLogic {
    name: String,
    handlers: HashMap<String, Handler<EventContext, ()>>,
    output: Option<Output>,
}

impl fmt::Debug for ProjectorLogic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProjectorLogic")
            .field("name", &self.name)
            .field("events", &self.handlers.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl ProjectorLogic {
    /// A projector named `name` (its firing-guard keys start with it).
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            handlers: HashMap::new(),
            output: None,
        }
    }

    /// Handles events of type `E`.
    pub fn on<E, F>(mut self, handle: F) -> Self
    where
        E: Message + Name + Default,
        F: Fn(&EventContext, E) -> Result<()> + Send + Sync + 'static,
    {
        self.handlers.insert(
            E::full_name(),
            Box::new(move |context, event| handle(&context, any::unpack::<E>(event)?)),
        );
        self
    }

    /// What the projection answers after a book: `output` of the context of
    /// the book's last event.
    pub fn projection<F>(mut self, output: F) -> Self
    where
        F: Fn(&EventContext) -> Option<Any> + Send + Sync + 'static,
    {
        self.output = Some(Box::new(output));
        self
    }
}

#[async_trait]
impl Projector for ProjectorLogic {
    fn name(&self) -> &str {
        &self.name
    }

    async fn handle(&self, events: EventBook) -> Result<Projection> {
        let mut last = None;
        for (context, event) in EventContext::pages(&events)? {
            if let Some(handle) = self.handlers.get(any::type_name(&event.type_url)) {
                handle(context.clone(), event)?;
            }
            last = Some(context);
        }
        Ok(Projection {
            cover: events.cover,
            projector: self.name.clone(),
            sequence: last.as_ref().map_or(0, |c| c.sequence),
            projection: match (&self.output, &last) {
                (Some(output), Some(context)) => output(context),
                _ => None,
            },
        })
    }
}
