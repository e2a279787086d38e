//! The command pipeline's contract on the memory backends: rejections, bad
//! input, merge strategies, concurrency, snapshots, duplicates, dead letters.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use angzarr_core::proto::{CommandRequest, SyncMode};
use angzarr_core::store::page_sequence;
use angzarr_core::{Error, ErrorCode, any};
use angzarr_example_shop::Shop;
use angzarr_example_shop::proto::{
    AddItem, CartState, CheckedOut, Checkout, ConfirmPayment, PlaceOrder,
};
use angzarr_runtime::authoring::{SagaLogic, command};
use angzarr_runtime::{Guarded, MemoryDeadLetters, ProjectorDispatch, SagaDispatch};
use common::{decode, key, request, strict, types};

fn add(sku: &str) -> AddItem {
    AddItem {
        sku: sku.into(),
        quantity: 1,
        unit_price_cents: 100,
    }
}

async fn history(
    shop: &Shop,
    domain: &str,
    root: uuid::Uuid,
) -> Vec<angzarr_core::proto::EventPage> {
    shop.queries
        .get_event_book(angzarr_core::proto::Query {
            cover: Some(key(domain, root).cover("")),
            selection: None,
        })
        .await
        .unwrap()
        .pages
}

#[tokio::test]
async fn a_rejection_appends_nothing_and_says_why() {
    let shop = Shop::in_memory();
    let cart = uuid::Uuid::new_v4();
    let err = shop
        .send(request(
            "cart",
            cart,
            &Checkout {
                order_id: uuid::Uuid::new_v4().to_string(),
            },
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Rejected { reason } if reason.contains("empty cart")),
        "{err}"
    );
    assert_eq!(
        tonic::Status::from(err).code(),
        tonic::Code::FailedPrecondition
    );
    assert!(history(&shop, "cart", cart).await.is_empty());
}

#[tokio::test]
async fn an_unknown_command_type_is_invalid_argument_naming_the_type() {
    let shop = Shop::in_memory();
    let mut request = request("cart", uuid::Uuid::new_v4(), &add("x"));
    let page = &mut request.command.as_mut().unwrap().pages[0];
    if let Some(angzarr_core::proto::command_page::Payload::Command(c)) = page.payload.as_mut() {
        c.type_url = "type.googleapis.com/shop.Frobnicate".into();
    }
    let err = shop.send(request).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArgument);
    assert!(err.to_string().contains("shop.Frobnicate"), "{err}");
}

#[tokio::test]
async fn commands_without_cover_domain_or_root_are_invalid() {
    let shop = Shop::in_memory();
    let good = request("cart", uuid::Uuid::new_v4(), &add("x"));
    let mut no_cover = good.clone();
    no_cover.command.as_mut().unwrap().cover = None;
    let mut no_domain = good.clone();
    no_domain
        .command
        .as_mut()
        .unwrap()
        .cover
        .as_mut()
        .unwrap()
        .domain
        .clear();
    let mut no_root = good.clone();
    no_root
        .command
        .as_mut()
        .unwrap()
        .cover
        .as_mut()
        .unwrap()
        .root = None;
    let mut bad_root = good.clone();
    bad_root
        .command
        .as_mut()
        .unwrap()
        .cover
        .as_mut()
        .unwrap()
        .root = Some(angzarr_core::proto::Uuid {
        value: vec![1, 2, 3],
    });
    let mut no_pages = good.clone();
    no_pages.command.as_mut().unwrap().pages.clear();
    let unknown_domain = request("warehouse", uuid::Uuid::new_v4(), &add("x"));
    for (name, bad) in [
        ("no command", CommandRequest::default()),
        ("no cover", no_cover),
        ("no domain", no_domain),
        ("no root", no_root),
        ("bad root", bad_root),
        ("no pages", no_pages),
        ("unknown domain", unknown_domain),
    ] {
        let err = shop.send(bad).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidArgument, "{name}: {err}");
    }
}

#[tokio::test]
async fn strict_commands_check_the_expected_sequence() {
    let shop = Shop::in_memory();
    let cart = uuid::Uuid::new_v4();
    shop.send(strict("cart", cart, 0, &add("a"))).await.unwrap();
    let err = shop
        .send(strict("cart", cart, 0, &add("b")))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::SequenceConflict {
                expected: 0,
                actual: 1,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        tonic::Status::from(err).code(),
        tonic::Code::FailedPrecondition
    );
    shop.send(strict("cart", cart, 1, &add("b"))).await.unwrap();
    assert_eq!(history(&shop, "cart", cart).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_concurrent_clients_each_apply_every_command_exactly_once() {
    const CLIENTS: usize = 16;
    const COMMANDS: usize = 25;
    let shop = Arc::new(Shop::in_memory());
    let cart = uuid::Uuid::new_v4();
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let shop = shop.clone();
            tokio::spawn(async move {
                for n in 0..COMMANDS {
                    shop.send(request("cart", cart, &add(&format!("c{client}-{n}"))))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let pages = history(&shop, "cart", cart).await;
    let total = CLIENTS * COMMANDS;
    let sequences: Vec<u32> = pages.iter().filter_map(page_sequence).collect();
    assert_eq!(sequences, (0..total as u32).collect::<Vec<_>>());
    let skus: HashSet<String> = pages
        .iter()
        .map(|p| decode::<angzarr_example_shop::proto::ItemAdded>(p).sku)
        .collect();
    assert_eq!(skus.len(), total, "every command applied exactly once");
}

#[tokio::test]
async fn snapshots_keep_the_state_whole() {
    let shop = Shop::in_memory();
    let cart = uuid::Uuid::new_v4();
    // The shop snapshots every 100 events; 250 events cross two snapshots.
    for n in 0..250 {
        shop.send(request("cart", cart, &add(&format!("sku-{n}"))))
            .await
            .unwrap();
    }
    let order = uuid::Uuid::new_v4();
    let response = shop
        .send(request(
            "cart",
            cart,
            &Checkout {
                order_id: order.to_string(),
            },
        ))
        .await
        .unwrap();
    let checked_out: CheckedOut = decode(&response.events.unwrap().pages[0]);
    assert_eq!(
        checked_out.items.len(),
        250,
        "state folded from snapshot plus later events"
    );
    assert_eq!(checked_out.total_cents, 250 * 100);
}

#[tokio::test]
async fn the_same_book_twice_has_one_effect_on_projectors_and_sagas() {
    let shop = Shop::in_memory();
    let order = uuid::Uuid::new_v4();
    let items = vec![angzarr_example_shop::proto::LineItem {
        sku: "a".into(),
        quantity: 1,
        unit_price_cents: 5,
    }];
    shop.send(request(
        "order",
        order,
        &PlaceOrder {
            cart_id: "c".into(),
            items,
            total_cents: 5,
        },
    ))
    .await
    .unwrap();
    let paid = shop
        .send(request(
            "order",
            order,
            &ConfirmPayment {
                payment_id: "p".into(),
                amount_cents: 5,
            },
        ))
        .await
        .unwrap()
        .events
        .unwrap();

    let guard = Arc::new(angzarr_core::memory::MemoryFiringGuard::new());
    let sagas = SagaDispatch::new(
        guard.clone(),
        Default::default(),
        shop.coordinator.clone(),
        Arc::new(MemoryDeadLetters::new()),
    );
    let saga = angzarr_example_shop::sagas::fulfillment();
    let first = sagas.deliver(&saga, paid.clone()).await.unwrap();
    assert!(matches!(first, Guarded::Done(ref outcome) if outcome.sent.len() == 1));
    assert_eq!(
        sagas.deliver(&saga, paid.clone()).await.unwrap(),
        Guarded::Duplicate
    );
    assert_eq!(
        history(&shop, "fulfillment", order).await.len(),
        1,
        "one shipment"
    );

    let projectors = ProjectorDispatch::new(guard, Default::default());
    let projector = angzarr_example_shop::summary::projector(&shop.summaries);
    assert!(matches!(
        projectors.deliver(&projector, paid.clone()).await.unwrap(),
        Guarded::Done(_)
    ));
    assert_eq!(
        projectors.deliver(&projector, paid).await.unwrap(),
        Guarded::Duplicate
    );
}

#[tokio::test]
async fn a_saga_command_to_an_unknown_domain_becomes_a_dead_letter() {
    let shop = Shop::in_memory();
    let dead_letters = MemoryDeadLetters::new();
    let sagas = SagaDispatch::new(
        Arc::new(angzarr_core::memory::MemoryFiringGuard::new()),
        Default::default(),
        shop.coordinator.clone(),
        Arc::new(dead_letters.clone()),
    );
    let saga = SagaLogic::new("restock").on(|source, e: angzarr_example_shop::proto::ItemAdded| {
        Ok(vec![command(
            "warehouse",
            source.key.root,
            "ignored",
            &add(&e.sku),
        )])
    });
    let cart = uuid::Uuid::new_v4();
    let mut added = request("cart", cart, &add("kiwi"));
    added
        .command
        .as_mut()
        .unwrap()
        .cover
        .as_mut()
        .unwrap()
        .correlation_id = "corr-dl".into();
    let book = shop.send(added).await.unwrap().events.unwrap();
    let outcome = sagas.deliver(&saga, book).await.unwrap();
    assert!(matches!(outcome, Guarded::Done(ref o) if o.dead_lettered == 1 && o.sent.is_empty()));
    let letters = dead_letters.letters();
    assert_eq!(letters.len(), 1);
    assert!(
        letters[0].rejection_reason.contains("warehouse"),
        "{}",
        letters[0].rejection_reason
    );
    assert_eq!(letters[0].source_component, "restock");
    assert_eq!(letters[0].cover.as_ref().unwrap().correlation_id, "corr-dl");
}

#[tokio::test]
async fn sync_mode_simple_returns_the_projections() {
    use angzarr_core::memory::{MemoryBus, MemoryEventStore, MemoryFiringGuard};
    use angzarr_runtime::AggregateCoordinator;
    let summaries = angzarr_example_shop::summary::OrderSummaries::default();
    let coordinator = AggregateCoordinator::builder(
        Arc::new(MemoryEventStore::new()),
        Arc::new(MemoryBus::new()),
    )
    .handler("order", Arc::new(angzarr_example_shop::order::logic()))
    .sync_projectors(
        Arc::new(ProjectorDispatch::new(
            Arc::new(MemoryFiringGuard::new()),
            Default::default(),
        )),
        vec![Arc::new(angzarr_example_shop::summary::projector(
            &summaries,
        ))],
    )
    .build();
    let order = uuid::Uuid::new_v4();
    let items = vec![angzarr_example_shop::proto::LineItem {
        sku: "a".into(),
        quantity: 2,
        unit_price_cents: 5,
    }];
    let mut place = request(
        "order",
        order,
        &PlaceOrder {
            cart_id: "c".into(),
            items,
            total_cents: 10,
        },
    );
    place.sync_mode = SyncMode::Simple as i32;
    let response = coordinator.handle(place).await.unwrap();
    assert_eq!(response.projections.len(), 1);
    let projection = &response.projections[0];
    assert_eq!(projection.projector, "order-summary");
    let summary: angzarr_example_shop::proto::OrderSummary =
        any::unpack(projection.projection.as_ref().unwrap()).unwrap();
    assert_eq!(summary.total_cents, 10);
    assert_eq!(summary.item_count, 2);
}

#[tokio::test]
async fn replay_folds_the_state() {
    use angzarr_runtime::CommandHandler;
    let shop = Shop::in_memory();
    let cart = uuid::Uuid::new_v4();
    shop.send(request("cart", cart, &add("a"))).await.unwrap();
    shop.send(request("cart", cart, &add("b"))).await.unwrap();
    let state = angzarr_example_shop::cart::logic()
        .replay(angzarr_core::proto::ReplayRequest {
            base_snapshot: None,
            events: history(&shop, "cart", cart).await,
        })
        .await
        .unwrap();
    let state: CartState = any::unpack(state.state.as_ref().unwrap()).unwrap();
    assert_eq!(state.items.len(), 2);
    let _ = types(&[]);
}

#[tokio::test]
async fn a_saga_fired_on_an_edition_sends_its_commands_into_that_edition() {
    let shop = Shop::in_memory();
    let order = uuid::Uuid::new_v4();
    let rehearsal = angzarr_core::proto::Edition {
        name: "rehearsal".into(),
        divergences: Vec::new(),
    };
    let on_edition = |mut request: CommandRequest| {
        if let Some(cover) = request.command.as_mut().and_then(|c| c.cover.as_mut()) {
            cover.edition = Some(rehearsal.clone());
        }
        request
    };
    shop.send(on_edition(request(
        "order",
        order,
        &PlaceOrder {
            cart_id: "c".into(),
            items: vec![angzarr_example_shop::proto::LineItem {
                sku: "a".into(),
                quantity: 1,
                unit_price_cents: 5,
            }],
            total_cents: 5,
        },
    )))
    .await
    .unwrap();
    let paid = shop
        .send(on_edition(request(
            "order",
            order,
            &ConfirmPayment {
                payment_id: "p".into(),
                amount_cents: 5,
            },
        )))
        .await
        .unwrap()
        .events
        .unwrap();

    let sagas = SagaDispatch::new(
        Arc::new(angzarr_core::memory::MemoryFiringGuard::new()),
        Default::default(),
        shop.coordinator.clone(),
        Arc::new(MemoryDeadLetters::new()),
    );
    let outcome = sagas
        .deliver(&angzarr_example_shop::sagas::fulfillment(), paid)
        .await
        .unwrap();
    let Guarded::Done(outcome) = outcome else {
        panic!("the saga ran")
    };
    let shipped = outcome.sent[0].events.as_ref().unwrap();
    let shipped = angzarr_core::AggregateKey::from_book(shipped).unwrap();
    assert_eq!(shipped.edition(), "rehearsal");

    let fulfillment = key("fulfillment", order);
    assert!(
        history(&shop, "fulfillment", order).await.is_empty(),
        "main untouched"
    );
    assert!(
        history(&shop, "order", order).await.is_empty(),
        "main untouched"
    );
    let in_rehearsal = shop
        .queries
        .get_event_book(angzarr_core::proto::Query {
            cover: Some(fulfillment.in_edition("rehearsal").unwrap().cover("")),
            selection: None,
        })
        .await
        .unwrap();
    assert_eq!(in_rehearsal.pages.len(), 1, "one shipment, in the edition");
}

/// An order's books and its shipment's come on different topics, so the
/// read model may see the shipment before the payment: the status still
/// ends at the furthest step, not at whichever book came last.
#[tokio::test]
async fn the_summary_status_only_moves_forward_whatever_the_arrival_order() {
    use angzarr_core::proto::{EventBook, EventPage, PageHeader, page_header::SequenceType};
    use angzarr_example_shop::proto::{OrderPaid, OrderStatus, ShipmentCreated};
    use angzarr_runtime::Projector;

    let book = |domain: &str, root, sequence, event: prost_types::Any| EventBook {
        cover: Some(key(domain, root).cover("")),
        pages: vec![EventPage {
            header: Some(PageHeader {
                sequence_type: Some(SequenceType::Sequence(sequence)),
            }),
            payload: Some(angzarr_core::proto::event_page::Payload::Event(event)),
            ..Default::default()
        }],
        ..Default::default()
    };
    let summaries = angzarr_example_shop::summary::OrderSummaries::default();
    let projector = angzarr_example_shop::summary::projector(&summaries);
    let order = uuid::Uuid::new_v4();
    let shipment = ShipmentCreated {
        order_id: order.to_string(),
        items: Vec::new(),
    };
    projector
        .handle(book("fulfillment", order, 0, any::pack(&shipment)))
        .await
        .unwrap();
    let paid = OrderPaid {
        payment_id: "p".into(),
        amount_cents: 1,
        items: Vec::new(),
    };
    projector
        .handle(book("order", order, 1, any::pack(&paid)))
        .await
        .unwrap();
    assert_eq!(
        summaries.get(&order.to_string()).unwrap().status,
        OrderStatus::Fulfilling as i32
    );
}
