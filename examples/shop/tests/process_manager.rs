//! A process manager over the shop's aggregates: its state kept as an
//! aggregate of its own, its commands sent and facts injected once, its
//! decision recorded so that a redelivery after a failure does not decide
//! twice, and its refusals (too many destinations, its own domain).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use angzarr_core::memory::{MemoryBus, MemoryEventStore, MemoryFiringGuard};
use angzarr_core::proto::event_page::Payload;
use angzarr_core::proto::{
    CommandRequest, CommandResponse, Cover, EventBook, EventPage, EventRequest,
    FactInjectionResponse,
};
use angzarr_core::{AggregateKey, Error, EventStore, EventStoreExt, Result, Subscription, any};
use angzarr_example_shop::proto::{
    ConfirmPayment, CreateShipment, ItemRemoved, LineItem, OrderPaid, PlaceOrder, ShipmentCreated,
    ShipmentState,
};
use angzarr_example_shop::{cart, fulfillment, order};
use angzarr_runtime::authoring::{ProcessDecision, ProcessManagerLogic, command, event};
use angzarr_runtime::process::state_root;
use angzarr_runtime::{
    AggregateCoordinator, CommandRouter, Guarded, MemoryDeadLetters, ProcessManagerDispatch,
};
use common::{key, request, types};

const PM: &str = "shipping-workflow";

/// Ships each paid order once; notes on a side cart that its order shipped
/// (a fact); names `destinations` as `Prepare`'s answer.
fn workflow(
    fact_cart: uuid::Uuid,
    destinations: fn(uuid::Uuid) -> Vec<Cover>,
) -> ProcessManagerLogic<ShipmentState> {
    ProcessManagerLogic::<ShipmentState>::new(PM)
        .apply(|state, _: ShipmentCreated| state.created = true)
        .prepare(move |_, context, _: OrderPaid| Ok(destinations(context.key.root)))
        .on(move |state, context, paid: OrderPaid| {
            if state.created {
                return Ok(ProcessDecision::default());
            }
            let order_id = context.event.key.root.to_string();
            assert_eq!(context.destinations.get(fulfillment::DOMAIN), Some(&0));
            let fact = EventBook {
                cover: Some(key(cart::DOMAIN, fact_cart).cover("")),
                pages: vec![EventPage {
                    payload: Some(Payload::Event(any::pack(&ItemRemoved {
                        sku: order_id.clone(),
                    }))),
                    ..Default::default()
                }],
                ..Default::default()
            };
            Ok(ProcessDecision {
                events: vec![event(&ShipmentCreated {
                    order_id: order_id.clone(),
                    items: paid.items.clone(),
                })],
                commands: vec![command(
                    fulfillment::DOMAIN,
                    context.event.key.root,
                    "",
                    &CreateShipment {
                        order_id,
                        items: paid.items,
                    },
                )],
                facts: vec![fact],
            })
        })
}

fn the_fulfillment(root: uuid::Uuid) -> Vec<Cover> {
    vec![key(fulfillment::DOMAIN, root).cover("")]
}

fn its_own_state(root: uuid::Uuid) -> Vec<Cover> {
    vec![key(PM, root).cover("")]
}

/// A router that refuses (retriably) its first `failures` commands.
#[derive(Debug)]
struct Flaky {
    inner: Arc<AggregateCoordinator>,
    failures: AtomicUsize,
    sent: AtomicUsize,
}

#[async_trait::async_trait]
impl CommandRouter for Flaky {
    async fn send(&self, request: CommandRequest) -> Result<CommandResponse> {
        if self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(Error::unavailable("fulfillment", "connection reset"));
        }
        self.sent.fetch_add(1, Ordering::SeqCst);
        self.inner.send(request).await
    }

    async fn inject(&self, request: EventRequest) -> Result<FactInjectionResponse> {
        self.inner.inject(request).await
    }
}

struct World {
    store: Arc<dyn EventStore>,
    router: Arc<Flaky>,
    dead_letters: MemoryDeadLetters,
    bus: MemoryBus,
    dispatch: ProcessManagerDispatch,
}

fn world(failures: usize) -> World {
    let store: Arc<dyn EventStore> = Arc::new(MemoryEventStore::new());
    let bus = MemoryBus::new();
    let coordinator = Arc::new(
        AggregateCoordinator::builder(store.clone(), Arc::new(bus.clone()))
            .handler(cart::DOMAIN, Arc::new(cart::logic()))
            .handler(order::DOMAIN, Arc::new(order::logic()))
            .handler(fulfillment::DOMAIN, Arc::new(fulfillment::logic()))
            .build(),
    );
    let router = Arc::new(Flaky {
        inner: coordinator,
        failures: AtomicUsize::new(failures),
        sent: AtomicUsize::new(0),
    });
    let dead_letters = MemoryDeadLetters::new();
    let dispatch = ProcessManagerDispatch::new(
        Arc::new(MemoryFiringGuard::new()),
        Default::default(),
        router.clone(),
        Arc::new(dead_letters.clone()),
        store.clone(),
        Arc::new(bus.clone()),
    );
    World {
        store,
        router,
        dead_letters,
        bus,
        dispatch,
    }
}

/// Places and pays an order; the book of `OrderPaid`.
async fn paid_order(world: &World, root: uuid::Uuid) -> EventBook {
    let items = vec![LineItem {
        sku: "tea".into(),
        quantity: 2,
        unit_price_cents: 300,
    }];
    let placed = request(
        order::DOMAIN,
        root,
        &PlaceOrder {
            cart_id: "c".into(),
            items,
            total_cents: 600,
        },
    );
    world.router.inner.send(placed).await.unwrap();
    let paid = request(
        order::DOMAIN,
        root,
        &ConfirmPayment {
            payment_id: "p".into(),
            amount_cents: 600,
        },
    );
    world.router.inner.send(paid).await.unwrap().events.unwrap()
}

fn state_key() -> AggregateKey {
    // `common::request` stamps the correlation id `corr-test`.
    key(PM, state_root(PM, "corr-test"))
}

#[tokio::test]
async fn a_trigger_records_the_decision_sends_the_command_and_injects_the_fact_once() {
    let world = world(0);
    let watch = world.bus.subscribe("watch");
    let (root, side_cart) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let pm = workflow(side_cart, the_fulfillment);
    let trigger = paid_order(&world, root).await;

    let outcome = world
        .dispatch
        .deliver(&pm, None, trigger.clone())
        .await
        .unwrap();
    let Guarded::Done(outcome) = outcome else {
        panic!("delivered now")
    };
    assert_eq!(
        (
            outcome.sent.len(),
            outcome.facts.len(),
            outcome.dead_lettered
        ),
        (1, 1, 0)
    );

    let state = world.store.load_all(&state_key()).await.unwrap();
    assert_eq!(types(&state), ["shop.ShipmentCreated"]);
    assert!(
        state[0].cascade_id.is_some(),
        "the decision names its delivery"
    );
    let shipments = world
        .store
        .load_all(&key(fulfillment::DOMAIN, root))
        .await
        .unwrap();
    assert_eq!(types(&shipments), ["shop.ShipmentCreated"]);
    let fact = world
        .store
        .load_all(&key(cart::DOMAIN, side_cart))
        .await
        .unwrap();
    assert_eq!(types(&fact), ["shop.ItemRemoved"]);

    // Its state's events are published like any aggregate's.
    let published = watch.receive(16, std::time::Duration::ZERO).await.unwrap();
    assert!(
        published
            .iter()
            .any(|d| AggregateKey::from_book(&d.book).unwrap() == state_key()),
        "the state's book was published"
    );

    // The same trigger again: no second effect.
    let again = world.dispatch.deliver(&pm, None, trigger).await.unwrap();
    assert_eq!(again, Guarded::Duplicate);
    assert_eq!(world.store.load_all(&state_key()).await.unwrap().len(), 1);
    assert_eq!(
        world.router.sent.load(Ordering::SeqCst),
        1,
        "one shipment command"
    );
}

#[tokio::test]
async fn a_redelivery_after_a_failed_command_finds_its_decision_and_decides_nothing_twice() {
    let world = world(1);
    let (root, side_cart) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let pm = workflow(side_cart, the_fulfillment);
    let trigger = paid_order(&world, root).await;

    let failed = world.dispatch.deliver(&pm, None, trigger.clone()).await;
    assert!(
        failed.unwrap_err().is_retriable(),
        "the bus delivers it again"
    );
    assert_eq!(world.store.load_all(&state_key()).await.unwrap().len(), 1);

    // Without the recorded decision, the state (shipment created) would
    // make the process manager decide nothing, and the order never ship.
    let Guarded::Done(outcome) = world.dispatch.deliver(&pm, None, trigger).await.unwrap() else {
        panic!("delivered again")
    };
    assert_eq!(
        outcome.sent.len(),
        1,
        "the command is sent on the redelivery"
    );
    assert_eq!(
        world.store.load_all(&state_key()).await.unwrap().len(),
        1,
        "decided once"
    );
    let shipments = world
        .store
        .load_all(&key(fulfillment::DOMAIN, root))
        .await
        .unwrap();
    assert_eq!(types(&shipments), ["shop.ShipmentCreated"]);
    let fact = world
        .store
        .load_all(&key(cart::DOMAIN, side_cart))
        .await
        .unwrap();
    assert_eq!(fact.len(), 1, "the fact is injected once");
}

#[tokio::test]
async fn too_many_destinations_or_its_own_domain_refuse_the_trigger_and_send_nothing() {
    for (limit, destinations, reason) in [
        (
            Some(0),
            the_fulfillment as fn(uuid::Uuid) -> Vec<Cover>,
            "at most 0",
        ),
        (None, its_own_state, "its own domain"),
    ] {
        let world = world(0);
        let (root, side_cart) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        let pm = workflow(side_cart, destinations);
        let trigger = paid_order(&world, root).await;
        let Guarded::Done(outcome) = world.dispatch.deliver(&pm, limit, trigger).await.unwrap()
        else {
            panic!("delivered now")
        };
        let refused = outcome.refused.expect("refused");
        assert!(refused.contains(reason), "{refused}");
        let letters = world.dead_letters.letters();
        assert_eq!(letters.len(), 1);
        assert_eq!(letters[0].source_component_type, "process_manager");
        assert!(world.store.load_all(&state_key()).await.unwrap().is_empty());
        assert!(
            world
                .store
                .load_all(&key(fulfillment::DOMAIN, root))
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            world
                .store
                .load_all(&key(cart::DOMAIN, side_cart))
                .await
                .unwrap()
                .is_empty()
        );
    }
}

#[tokio::test]
async fn a_trigger_without_a_correlation_id_is_acknowledged_untouched() {
    let world = world(0);
    let (root, side_cart) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let pm = workflow(side_cart, the_fulfillment);
    let mut trigger = paid_order(&world, root).await;
    trigger.cover.as_mut().unwrap().correlation_id.clear();
    let Guarded::Done(outcome) = world.dispatch.deliver(&pm, None, trigger).await.unwrap() else {
        panic!("acknowledged")
    };
    assert_eq!(outcome, Default::default());
    assert!(
        world
            .store
            .load_all(&key(fulfillment::DOMAIN, root))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_speculation_decides_on_the_stored_state_or_the_given_one_and_changes_nothing() {
    let world = world(0);
    let (root, side_cart) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let pm = workflow(side_cart, the_fulfillment);
    let trigger = paid_order(&world, root).await;
    let speculate = |process_state: Option<EventBook>| {
        // Given with a state, as the workflow expects them.
        let destination_sequences = if process_state.is_some() {
            [(fulfillment::DOMAIN.to_owned(), 0)].into()
        } else {
            Default::default()
        };
        world.dispatch.speculate(
            &pm,
            angzarr_core::proto::ProcessManagerHandleRequest {
                trigger: Some(trigger.clone()),
                process_state,
                destination_sequences,
            },
        )
    };

    // Nothing stored yet: it would ship, and nothing is sent or recorded.
    let before = speculate(None).await.unwrap();
    assert_eq!(before.commands.len(), 1);
    assert!(world.store.load_all(&state_key()).await.unwrap().is_empty());
    assert_eq!(world.router.sent.load(Ordering::SeqCst), 0);

    // After the delivery, the stored state says it shipped already.
    world
        .dispatch
        .deliver(&pm, None, trigger.clone())
        .await
        .unwrap();
    let after = speculate(None).await.unwrap();
    assert!(after.commands.is_empty(), "decided on the stored state");
    // A state the caller gives is the one decided on.
    let given = speculate(Some(EventBook::default())).await.unwrap();
    assert_eq!(given.commands.len(), 1);
    assert_eq!(world.store.load_all(&state_key()).await.unwrap().len(), 1);
    assert_eq!(world.router.sent.load(Ordering::SeqCst), 1);
}
