//! `angzarr dev`: the application the configuration's `business` section
//! names (and, with `--shop`, the Rust shop linked in) served over gRPC on
//! localhost — `CommandHandlerCoordinatorService`, `EventQueryService` and
//! the projector, saga and process-manager coordinator services —
//! on the adapters the configuration names (memory by default), until
//! stopped.
//!
//! It is the same host as the platforms' (`angzarr-host`): the business
//! section's `grpc:` services are called, its `command:` processes started
//! and supervised. Projectors and sagas are fed from the memory bus before a
//! command is answered, so what a command causes downstream (a saga's
//! commands, a projection) is done when its answer arrives.

use std::sync::Arc;
use std::time::Duration;

use angzarr_core::config::Config;
use angzarr_core::memory::MemorySubscription;
use angzarr_core::proto::command_handler_coordinator_service_server::CommandHandlerCoordinatorServiceServer;
use angzarr_core::proto::event_query_service_server::EventQueryServiceServer;
use angzarr_core::proto::process_manager_coordinator_service_server::ProcessManagerCoordinatorServiceServer;
use angzarr_core::proto::projector_coordinator_service_server::ProjectorCoordinatorServiceServer;
use angzarr_core::proto::saga_coordinator_service_server::SagaCoordinatorServiceServer;
use angzarr_core::proto::{
    CommandRequest, CommandResponse, EventRequest, FactInjectionResponse,
    SpeculateCommandHandlerRequest,
};
use angzarr_core::{Result, Subscription};
use angzarr_host::{
    Adapters, Application, BusinessConfig, Coordinators, HttpTransport, Kind, Role, Triggers,
};
use angzarr_runtime::grpc::server::{CoordinatorServer, QueryServer};
use angzarr_runtime::{CommandRouter, DiscoveryRouter, EventQueries, MemoryDeadLetters};
use anyhow::Context;

/// How many rounds of deliveries one command may cause before its answer
/// is sent anyway (a saga loop would otherwise never end).
const MAX_ROUNDS: usize = 100;

pub async fn run(port: u16, shop: bool) -> anyhow::Result<()> {
    let figment = Config::figment()?;
    let config = Config::from_figment(figment.clone())?;
    let linked = if shop {
        shop_application()
    } else {
        Application::new()
    };
    let app = BusinessConfig::from_figment(&figment)?.apply(linked)?;
    if app.aggregates().is_empty() {
        anyhow::bail!(
            "nothing to host: name your aggregates in the configuration's `business` section \
             ($ANGZARR_CONFIG; see docs/your-application.md), or pass --shop for the example shop"
        );
    }
    let adapters = Adapters::from_config(&config).await?;
    let subscribed = !app.projectors().is_empty()
        || !app.sagas().is_empty()
        || !app.process_managers().is_empty();
    let Some(bus) = adapters
        .memory_bus
        .clone()
        .or_else(|| (!subscribed).then(Default::default))
    else {
        anyhow::bail!(
            "messaging.type: angzarr dev feeds projectors and sagas from the memory bus; \
             leave messaging.type at memory"
        );
    };
    app.start(Role::All).await?;

    let coordinator = Arc::new(app.coordinator(&adapters).build());
    let router: Arc<dyn CommandRouter> = Arc::new(
        DiscoveryRouter::new(Some(coordinator), adapters.discovery.clone())
            .with_transport(Arc::new(HttpTransport::new()?)),
    );
    let triggers = Triggers::from_adapters(
        &adapters,
        router.clone(),
        Arc::new(MemoryDeadLetters::new()),
    )
    .with_application(&app, true, true);
    let subscriptions = triggers
        .projectors()
        .iter()
        .map(|p| (Kind::Projector, p.handler.name().to_owned()))
        .chain(
            triggers
                .sagas()
                .iter()
                .map(|s| (Kind::Saga, s.handler.name().to_owned())),
        )
        .chain(
            triggers
                .process_managers()
                .iter()
                .map(|p| (Kind::ProcessManager, p.handler.name().to_owned())),
        )
        .map(|(kind, name)| {
            let subscription = bus.subscribe(&format!("{kind:?}/{name}"));
            (kind, name, subscription)
        })
        .collect();
    let triggers = Arc::new(triggers);
    let coordinators = Coordinators::new(triggers.clone());
    let settling = Arc::new(Settling {
        router,
        triggers,
        subscriptions,
    });

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("binding 127.0.0.1:{port}"))?;
    let address = listener.local_addr()?;
    println!("angzarr dev: gRPC on http://{address}");
    println!(
        "  services: angzarr.CommandHandlerCoordinatorService, angzarr.EventQueryService, \
         angzarr.ProjectorCoordinatorService, angzarr.SagaCoordinatorService, \
         angzarr.ProcessManagerCoordinatorService"
    );
    println!(
        "  domains: {}; storage {:?}; Ctrl-C stops",
        app.aggregate_domains().join(", "),
        config.storage.kind
    );
    tonic::transport::Server::builder()
        .layer(angzarr_runtime::grpc::server::NameUnserved)
        .add_service(CommandHandlerCoordinatorServiceServer::new(
            CoordinatorServer::new(settling),
        ))
        .add_service(ProjectorCoordinatorServiceServer::new(coordinators.clone()))
        .add_service(SagaCoordinatorServiceServer::new(coordinators.clone()))
        .add_service(ProcessManagerCoordinatorServiceServer::new(coordinators))
        .add_service(EventQueryServiceServer::new(QueryServer::new(
            EventQueries::new(adapters.store.clone()),
        )))
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            async {
                let _ = tokio::signal::ctrl_c().await;
            },
        )
        .await
        .context("serving gRPC")?;
    Ok(())
}

/// The example shop in Rust: its three aggregates, two sagas and the
/// order-summary projector (kept in this process's memory).
fn shop_application() -> Application {
    use angzarr_example_shop::{cart, fulfillment, order, sagas, summary};
    Application::new()
        .aggregate(cart::DOMAIN, Arc::new(cart::logic()))
        .aggregate(order::DOMAIN, Arc::new(order::logic()))
        .aggregate(fulfillment::DOMAIN, Arc::new(fulfillment::logic()))
        .saga(Arc::new(sagas::checkout()), [cart::DOMAIN])
        .saga(Arc::new(sagas::fulfillment()), [order::DOMAIN])
        .projector(
            Arc::new(summary::projector(&summary::OrderSummaries::default())),
            [order::DOMAIN, fulfillment::DOMAIN],
        )
}

/// Commands through the router; before the answer, everything published is
/// delivered to the projectors and sagas (their commands' books too).
#[derive(Debug)]
struct Settling {
    router: Arc<dyn CommandRouter>,
    triggers: Arc<Triggers>,
    subscriptions: Vec<(Kind, String, MemorySubscription)>,
}

impl Settling {
    /// Delivers until a round finds nothing; a failed delivery is handed
    /// back (delivered again by the next command) and ends the round.
    async fn settle(&self) -> Result<()> {
        for _ in 0..MAX_ROUNDS {
            let mut quiet = true;
            for (kind, name, subscription) in &self.subscriptions {
                for delivery in subscription.receive(64, Duration::ZERO).await? {
                    quiet = false;
                    let delivered = self
                        .triggers
                        .deliver_to(*kind, name, &delivery.message_id, delivery.book)
                        .await;
                    match delivered {
                        Ok(_) => subscription.ack(&delivery.ack_id).await?,
                        Err(error) => {
                            subscription.nack(&delivery.ack_id).await?;
                            return Err(error);
                        }
                    }
                }
            }
            if quiet {
                return Ok(());
            }
        }
        eprintln!("deliveries were still coming after {MAX_ROUNDS} rounds; answering anyway");
        Ok(())
    }
}

#[async_trait::async_trait]
impl CommandRouter for Settling {
    async fn send(&self, request: CommandRequest) -> Result<CommandResponse> {
        let answer = self.router.send(request).await;
        self.settled().await;
        answer
    }

    async fn inject(&self, request: EventRequest) -> Result<FactInjectionResponse> {
        let answer = self.router.inject(request).await;
        self.settled().await;
        answer
    }

    async fn speculate(&self, request: SpeculateCommandHandlerRequest) -> Result<CommandResponse> {
        self.router.speculate(request).await
    }
}

impl Settling {
    /// [`Settling::settle`], a failure reported.
    async fn settled(&self) {
        if let Err(error) = self.settle().await {
            eprintln!("delivery failed (delivered again after the next command): {error}");
        }
    }
}
