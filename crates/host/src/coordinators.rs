//! The coordinator services of the hosted projectors, sagas and process
//! managers (`ProjectorCoordinatorService`, `SagaCoordinatorService`,
//! `ProcessManagerCoordinatorService`), over the host's [`Triggers`].
//!
//! Their requests do not name a component: each is run by the one hosted
//! component of its kind that reads the request's source domain, or by the
//! one named in the `x-angzarr-component` request metadata. No such
//! component, or more than one, is INVALID_ARGUMENT naming the candidates.
//! Deliveries go through the firing guard like the bus's: a book delivered
//! before answers an empty result.

use std::sync::Arc;

use angzarr_core::error::wire::grpc_status;
use angzarr_core::proto::process_manager_coordinator_service_server::ProcessManagerCoordinatorService;
use angzarr_core::proto::projector_coordinator_service_server::ProjectorCoordinatorService;
use angzarr_core::proto::saga_coordinator_service_server::SagaCoordinatorService;
use angzarr_core::proto::{
    EventBook, EventRequest, ProcessManagerCoordinatorRequest, ProcessManagerHandleResponse,
    Projection, SagaHandleRequest, SagaResponse, SpeculatePmRequest, SpeculateProjectorRequest,
    SpeculateSagaRequest,
};
use angzarr_core::{AggregateKey, Error, Result};
use angzarr_runtime::{Guarded, ProcessManager, Projector, Saga};
use tonic::{Request, Response, Status};

use crate::{Subscribed, Triggers};

/// The metadata key naming the component a coordinator request is for.
pub const COMPONENT_KEY: &str = "x-angzarr-component";

type Answer<T> = std::result::Result<Response<T>, Status>;

/// Serves the three coordinator services over `triggers`.
#[derive(Clone, Debug)]
pub struct Coordinators {
    triggers: Arc<Triggers>,
}

impl Coordinators {
    /// The coordinators of `triggers`' components.
    pub fn new(triggers: Arc<Triggers>) -> Self {
        Self { triggers }
    }
}

fn answer<T>(result: Result<T>) -> Answer<T> {
    result.map(Response::new).map_err(|e| grpc_status(&e))
}

fn named<T>(request: &Request<T>) -> Option<String> {
    request
        .metadata()
        .get(COMPONENT_KEY)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

/// The domain of `book`'s cover.
fn domain_of(book: Option<&EventBook>, what: &str) -> Result<String> {
    let book = book.ok_or_else(|| Error::invalid_argument(format!("the request has no {what}")))?;
    Ok(AggregateKey::from_book(book)?.domain)
}

/// The one entry of `entries` named `name`, or else reading `domain`.
fn pick<'a, T: ?Sized>(
    entries: &'a [Subscribed<T>],
    name_of: impl Fn(&T) -> &str,
    kind: &str,
    name: Option<&str>,
    domain: &str,
) -> Result<&'a Subscribed<T>> {
    if let Some(name) = name {
        return entries
            .iter()
            .find(|e| name_of(&e.handler) == name)
            .ok_or_else(|| Error::invalid_argument(format!("no {kind} `{name}` is hosted here")));
    }
    let candidates: Vec<&Subscribed<T>> = entries.iter().filter(|e| e.wants(domain)).collect();
    match candidates.as_slice() {
        [one] => Ok(one),
        [] => Err(Error::invalid_argument(format!(
            "no hosted {kind} reads domain `{domain}`"
        ))),
        many => Err(Error::invalid_argument(format!(
            "{} hosted {kind}s read domain `{domain}` ({}); name one in the `{COMPONENT_KEY}` metadata",
            many.len(),
            many.iter()
                .map(|e| name_of(&e.handler))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

impl Coordinators {
    /// The projector for `events`.
    fn projector(
        &self,
        name: Option<&str>,
        events: Option<&EventBook>,
    ) -> Result<&Subscribed<dyn Projector>> {
        let domain = domain_of(events, "events")?;
        pick(
            self.triggers.projectors(),
            |p| p.name(),
            "projector",
            name,
            &domain,
        )
    }

    /// The saga for `source`.
    fn saga(
        &self,
        name: Option<&str>,
        source: Option<&EventBook>,
    ) -> Result<&Subscribed<dyn Saga>> {
        let domain = domain_of(source, "source")?;
        pick(self.triggers.sagas(), |s| s.name(), "saga", name, &domain)
    }

    /// The process manager for `trigger`.
    fn process_manager(
        &self,
        name: Option<&str>,
        trigger: Option<&EventBook>,
    ) -> Result<&Subscribed<dyn ProcessManager>> {
        let domain = domain_of(trigger, "trigger")?;
        pick(
            self.triggers.process_managers(),
            |p| p.name(),
            "process manager",
            name,
            &domain,
        )
    }

    async fn project(&self, name: Option<String>, events: Option<EventBook>) -> Result<Projection> {
        let projector = self.projector(name.as_deref(), events.as_ref())?;
        let book = events.unwrap_or_default();
        let cover = book.cover.clone();
        match self
            .triggers
            .projector_dispatch()
            .deliver(projector.handler.as_ref(), book)
            .await?
        {
            Guarded::Done(projection) => Ok(projection),
            Guarded::Duplicate => Ok(Projection {
                cover,
                projector: projector.handler.name().to_owned(),
                ..Default::default()
            }),
        }
    }
}

#[tonic::async_trait]
impl ProjectorCoordinatorService for Coordinators {
    async fn handle_sync(&self, request: Request<EventRequest>) -> Answer<Projection> {
        let name = named(&request);
        answer(self.project(name, request.into_inner().events).await)
    }

    async fn handle(&self, request: Request<EventBook>) -> Answer<()> {
        let name = named(&request);
        answer(
            self.project(name, Some(request.into_inner()))
                .await
                .map(|_| ()),
        )
    }

    async fn handle_speculative(
        &self,
        request: Request<SpeculateProjectorRequest>,
    ) -> Answer<Projection> {
        let name = named(&request);
        let events = request.into_inner().events;
        answer(
            async {
                self.projector(name.as_deref(), events.as_ref())?
                    .handler
                    .handle_speculative(events.unwrap_or_default())
                    .await
            }
            .await,
        )
    }
}

#[tonic::async_trait]
impl SagaCoordinatorService for Coordinators {
    async fn execute(&self, request: Request<SagaHandleRequest>) -> Answer<SagaResponse> {
        let name = named(&request);
        let request = request.into_inner();
        answer(
            async {
                let saga = self.saga(name.as_deref(), request.source.as_ref())?;
                let book = request.source.unwrap_or_default();
                match self
                    .triggers
                    .saga_dispatch()
                    .deliver(saga.handler.as_ref(), book)
                    .await?
                {
                    Guarded::Done(outcome) => Ok(outcome.response),
                    Guarded::Duplicate => Ok(SagaResponse::default()),
                }
            }
            .await,
        )
    }

    async fn execute_speculative(
        &self,
        request: Request<SpeculateSagaRequest>,
    ) -> Answer<SagaResponse> {
        let name = named(&request);
        let request = request.into_inner().request.unwrap_or_default();
        answer(
            async {
                let saga = self.saga(name.as_deref(), request.source.as_ref())?;
                self.triggers
                    .saga_dispatch()
                    .speculate(saga.handler.as_ref(), request)
                    .await
            }
            .await,
        )
    }
}

#[tonic::async_trait]
impl ProcessManagerCoordinatorService for Coordinators {
    async fn handle(
        &self,
        request: Request<ProcessManagerCoordinatorRequest>,
    ) -> Answer<ProcessManagerHandleResponse> {
        let name = named(&request);
        let trigger = request.into_inner().trigger;
        answer(
            async {
                let pm = self.process_manager(name.as_deref(), trigger.as_ref())?;
                let dispatch = self.dispatch()?;
                match dispatch
                    .deliver(
                        pm.handler.as_ref(),
                        pm.max_destinations,
                        trigger.unwrap_or_default(),
                    )
                    .await?
                {
                    Guarded::Done(outcome) => match outcome.refused {
                        Some(reason) => Err(Error::invalid_argument(reason)),
                        None => Ok(outcome.decision),
                    },
                    Guarded::Duplicate => Ok(ProcessManagerHandleResponse::default()),
                }
            }
            .await,
        )
    }

    async fn handle_speculative(
        &self,
        request: Request<SpeculatePmRequest>,
    ) -> Answer<ProcessManagerHandleResponse> {
        let name = named(&request);
        let request = request.into_inner().request.unwrap_or_default();
        answer(
            async {
                // The process state names the process manager; else the
                // trigger's domain picks it.
                let state_domain = request
                    .process_state
                    .as_ref()
                    .and_then(|b| b.cover.as_ref())
                    .map(|c| c.domain.clone())
                    .filter(|d| {
                        self.triggers
                            .process_managers()
                            .iter()
                            .any(|p| p.handler.name() == d)
                    });
                let pm = self.process_manager(
                    name.as_deref().or(state_domain.as_deref()),
                    request.trigger.as_ref(),
                )?;
                self.dispatch()?
                    .speculate(pm.handler.as_ref(), request)
                    .await
            }
            .await,
        )
    }
}

impl Coordinators {
    fn dispatch(&self) -> Result<&angzarr_runtime::ProcessManagerDispatch> {
        self.triggers
            .process_dispatch()
            .ok_or_else(|| Error::Unsupported {
                backend: "process manager coordinator".into(),
                operation: "process managers without an event store for their state".into(),
            })
    }
}
