//! The shop on the memory backends: every piece in one process, with the
//! memory bus standing in for the cloud's.

use std::sync::Arc;
use std::time::Duration;

use angzarr_core::Subscription;
use angzarr_core::memory::{
    MemoryBus, MemoryEventStore, MemoryFiringGuard, MemorySnapshotStore, MemorySubscription,
};
use angzarr_core::proto::{CommandRequest, CommandResponse, EventBook};
use angzarr_runtime::{
    AggregateCoordinator, EventQueries, FiringPolicy, MemoryDeadLetters, Projector,
    ProjectorDispatch, Saga, SagaDispatch,
};

use crate::summary::OrderSummaries;
use crate::{cart, fulfillment, order, sagas, summary};

/// What one subscription feeds.
#[derive(Debug)]
enum Consumer {
    Projector(Arc<dyn Projector>),
    Saga(Arc<dyn Saga>),
}

/// The whole shop in one process.
#[derive(Debug)]
pub struct Shop {
    /// Runs commands for `cart`, `order` and `fulfillment`.
    pub coordinator: Arc<AggregateCoordinator>,
    /// Reads stored events.
    pub queries: EventQueries,
    /// The order-summary read model.
    pub summaries: OrderSummaries,
    /// Saga commands that could not be delivered.
    pub dead_letters: MemoryDeadLetters,
    /// The bus every book is published on (subscribe to watch them).
    pub bus: MemoryBus,
    projectors: Arc<ProjectorDispatch>,
    sagas: Arc<SagaDispatch>,
    consumers: Vec<(MemorySubscription, Consumer)>,
}

impl Shop {
    /// The shop on fresh memory backends, snapshotting every 100 events and
    /// keeping the states of up to 10 000 aggregates in process.
    pub fn in_memory() -> Self {
        let store = Arc::new(MemoryEventStore::new());
        let bus = MemoryBus::new();
        let guard = Arc::new(MemoryFiringGuard::new());
        let policy = FiringPolicy::default();
        let summaries = OrderSummaries::default();
        let dead_letters = MemoryDeadLetters::new();

        let coordinator = Arc::new(
            AggregateCoordinator::builder(store.clone(), Arc::new(bus.clone()))
                .handler(cart::DOMAIN, Arc::new(cart::logic()))
                .handler(order::DOMAIN, Arc::new(order::logic()))
                .handler(fulfillment::DOMAIN, Arc::new(fulfillment::logic()))
                .snapshots(Arc::new(MemorySnapshotStore::new()))
                .snapshot_every(100)
                .cache_states(10_000)
                .build(),
        );
        let projectors = Arc::new(ProjectorDispatch::new(guard.clone(), policy));
        let sagas = Arc::new(SagaDispatch::new(
            guard,
            policy,
            coordinator.clone(),
            Arc::new(dead_letters.clone()),
        ));

        let deadline = Duration::from_secs(30);
        let consumers = vec![
            (
                bus.subscribe_with(
                    "order-summary",
                    Some(&[order::DOMAIN, fulfillment::DOMAIN]),
                    deadline,
                ),
                Consumer::Projector(Arc::new(summary::projector(&summaries))),
            ),
            (
                bus.subscribe_with("saga-checkout", Some(&[cart::DOMAIN]), deadline),
                Consumer::Saga(Arc::new(sagas::checkout())),
            ),
            (
                bus.subscribe_with("saga-fulfillment", Some(&[order::DOMAIN]), deadline),
                Consumer::Saga(Arc::new(sagas::fulfillment())),
            ),
        ];
        Self {
            coordinator,
            queries: EventQueries::new(store),
            summaries,
            dead_letters,
            bus,
            projectors,
            sagas,
            consumers,
        }
    }

    /// Runs a command.
    pub async fn send(&self, request: CommandRequest) -> angzarr_core::Result<CommandResponse> {
        self.coordinator.handle(request).await
    }

    /// Delivers published books to the projector and the sagas — and the
    /// books their commands publish — until nothing is left; returns how
    /// many deliveries were made. A failed delivery is handed back to the
    /// bus and its error returned.
    pub async fn pump(&self) -> angzarr_core::Result<usize> {
        self.pump_each(1).await
    }

    /// [`Shop::pump`], handing every book to each of its consumers `copies`
    /// times, as an at-least-once bus may; returns how many deliveries were
    /// made, every copy counted.
    pub async fn pump_each(&self, copies: usize) -> angzarr_core::Result<usize> {
        let mut delivered = 0;
        loop {
            let mut quiet = true;
            for (subscription, consumer) in &self.consumers {
                for delivery in subscription.receive(64, Duration::ZERO).await? {
                    quiet = false;
                    for _ in 0..copies {
                        if let Err(error) = self.deliver(consumer, delivery.book.clone()).await {
                            subscription.nack(&delivery.ack_id).await?;
                            return Err(error);
                        }
                        delivered += 1;
                    }
                    subscription.ack(&delivery.ack_id).await?;
                }
            }
            if quiet {
                return Ok(delivered);
            }
        }
    }

    async fn deliver(&self, consumer: &Consumer, book: EventBook) -> angzarr_core::Result<()> {
        match consumer {
            Consumer::Projector(projector) => self
                .projectors
                .deliver(projector.as_ref(), book)
                .await
                .map(drop),
            Consumer::Saga(saga) => self.sagas.deliver(saga.as_ref(), book).await.map(drop),
        }
    }
}
