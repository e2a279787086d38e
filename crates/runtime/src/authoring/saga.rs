use std::collections::HashMap;
use std::fmt;

use angzarr_core::proto::{CommandBook, SagaHandleRequest, SagaResponse};
use angzarr_core::{Error, Result, any};
use async_trait::async_trait;
use prost::{Message, Name};

use super::{EventContext, Handler};
use crate::logic::Saga;

/// A saga written in Rust: typed event handlers answering the commands each
/// event causes (build them with [`super::command`]). The runtime stamps the
/// source's correlation id on every command.
pub struct SagaLogic {
    name: String,
    handlers: HashMap<String, Handler<EventContext, Vec<CommandBook>>>,
}

impl fmt::Debug for SagaLogic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SagaLogic")
            .field("name", &self.name)
            .field("events", &self.handlers.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl SagaLogic {
    /// A saga named `name`.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            handlers: HashMap::new(),
        }
    }

    /// Reacts to events of type `E` with commands.
    pub fn on<E, F>(mut self, react: F) -> Self
    where
        E: Message + Name + Default,
        F: Fn(&EventContext, E) -> Result<Vec<CommandBook>> + Send + Sync + 'static,
    {
        self.handlers.insert(
            E::full_name(),
            Box::new(move |context, event| react(&context, any::unpack::<E>(event)?)),
        );
        self
    }
}

#[async_trait]
impl Saga for SagaLogic {
    fn name(&self) -> &str {
        &self.name
    }

    async fn handle(&self, request: SagaHandleRequest) -> Result<SagaResponse> {
        let source = request
            .source
            .ok_or_else(|| Error::invalid_argument("saga request has no source events"))?;
        let mut commands = Vec::new();
        for (context, event) in EventContext::pages(&source)? {
            if let Some(react) = self.handlers.get(any::type_name(&event.type_url)) {
                commands.extend(react(context, event)?);
            }
        }
        Ok(SagaResponse {
            commands,
            events: Vec::new(),
        })
    }
}
