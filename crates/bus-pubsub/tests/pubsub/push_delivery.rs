//! Push subscriptions on the emulator delivering to the axum receiver served
//! on a loopback port: 2xx only after the work, retries after a failure, and
//! one effect for duplicates through the firing guard.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use angzarr_bus_pubsub::PubSubBus;
use angzarr_bus_pubsub::push::PushReceiver;
use angzarr_core::guard::firing_key;
use angzarr_core::memory::MemoryFiringGuard;
use angzarr_core::{Acquisition, Delivery, Error, FiringGuard};
use angzarr_testkit::emulators;
use tokio::net::TcpListener;

use crate::support::{ACK_DEADLINE, fresh_book, shared_bus};

/// Serves `receiver` on a free loopback port at `/push`.
async fn serve(receiver: PushReceiver) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = receiver.router("/push");
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

/// A fresh domain whose topic pushes to `addr`.
async fn push_domain(bus: &PubSubBus, addr: SocketAddr) -> String {
    let domain = emulators::unique_name("push");
    let topic = bus.topic_id(&domain).unwrap();
    let admin = bus.admin();
    admin.ensure_topic(&topic).await.unwrap();
    admin
        .create_push_subscription(
            &emulators::unique_name("push-sub"),
            &topic,
            &format!("http://{addr}/push"),
            ACK_DEADLINE,
            None,
        )
        .await
        .unwrap();
    domain
}

/// Polls `done` until it holds, for at most `within`.
async fn eventually(within: Duration, what: &str, done: impl Fn() -> bool) {
    let give_up = Instant::now() + within;
    while !done() {
        assert!(
            Instant::now() < give_up,
            "{what} did not happen within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_failure_makes_the_emulator_push_again() {
    // Every call, with whether the handler succeeded.
    let calls: Arc<Mutex<Vec<(Delivery, bool)>>> = Arc::default();
    let recorded = calls.clone();
    let receiver = PushReceiver::new(move |delivery: Delivery| {
        let calls = recorded.clone();
        async move {
            let mut calls = calls.lock().unwrap();
            let first = !calls
                .iter()
                .any(|(d, _)| d.message_id == delivery.message_id);
            calls.push((delivery, !first));
            if first {
                Err(Error::unavailable("projector", "first attempt fails"))
            } else {
                Ok(())
            }
        }
    });
    let addr = serve(receiver).await;
    let bus = shared_bus().await;
    let domain = push_domain(&bus, addr).await;
    let book = fresh_book(&domain, 0);
    let message_id = bus.publish_for_id(&book).await.unwrap();

    eventually(
        Duration::from_secs(60),
        "a second push after the failure",
        || {
            calls
                .lock()
                .unwrap()
                .iter()
                .any(|(_, succeeded)| *succeeded)
        },
    )
    .await;
    let calls = calls.lock().unwrap();
    assert_eq!(calls.len(), 2, "failed once, then succeeded: {calls:?}");
    for (delivery, _) in calls.iter() {
        assert_eq!(
            delivery.message_id, message_id,
            "the same message came again"
        );
        assert_eq!(delivery.book, book);
        assert_eq!(delivery.attributes.domain, domain);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_push_has_one_effect_through_the_firing_guard() {
    let guard = Arc::new(MemoryFiringGuard::new());
    let effects = Arc::new(AtomicUsize::new(0));
    let answers: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let (g, e, a) = (guard.clone(), effects.clone(), answers.clone());
    let receiver = PushReceiver::new(move |delivery: Delivery| {
        let (guard, effects, answers) = (g.clone(), e.clone(), a.clone());
        async move {
            let key = firing_key("projector", &delivery.book)?;
            let outcome = match guard.acquire(&key, Duration::from_secs(30)).await? {
                Acquisition::Acquired(lease) => {
                    effects.fetch_add(1, Ordering::SeqCst);
                    guard.complete(&lease, Duration::from_secs(3600)).await
                }
                Acquisition::Completed => Ok(()),
                Acquisition::InProgress { .. } => {
                    Err(Error::unavailable("projector", "in progress elsewhere"))
                }
            };
            if outcome.is_ok() {
                *answers
                    .lock()
                    .unwrap()
                    .entry(delivery.message_id)
                    .or_default() += 1;
            }
            outcome
        }
    });
    let addr = serve(receiver).await;
    let bus = shared_bus().await;
    let domain = push_domain(&bus, addr).await;
    // The same book published twice: two messages, one firing key.
    let book = fresh_book(&domain, 0);
    let first = bus.publish_for_id(&book).await.unwrap();
    let second = bus.publish_for_id(&book).await.unwrap();
    assert_ne!(first, second);

    eventually(Duration::from_secs(60), "both duplicates answered", || {
        answers.lock().unwrap().len() == 2
    })
    .await;
    assert_eq!(
        effects.load(Ordering::SeqCst),
        1,
        "one effect for two deliveries"
    );
}
