//! Flushing before a short-lived function returns: a publish whose caller
//! stopped waiting after the message was handed to the publisher is still
//! sent by `flush`, and the bus publishes normally afterwards.
//!
//! The message must not sit in the publisher's queue when the caller goes
//! away: the client library's worker stops at `shutdown` without draining a
//! queue it has not read yet, so `flush` waits for each publish itself.

use std::time::Duration;

use angzarr_core::EventBus;
use angzarr_testkit::suites::bus::receive_all;

use crate::support::{ACK_DEADLINE, domain_with_pull_subscription, fresh_book, shared_bus};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_sends_what_an_abandoned_publish_handed_over() {
    let bus = shared_bus().await;
    let (domain, subscription) = domain_with_pull_subscription(&bus, "flush").await;
    let abandoned = fresh_book(&domain, 0);
    // Polled once: the message reaches the publisher's queue, then the caller
    // gives up before the server answers (a cancelled request, a timeout).
    let outcome = tokio::time::timeout(Duration::ZERO, bus.publish(&abandoned)).await;
    assert!(
        outcome.is_err(),
        "the publish was still waiting for its answer"
    );
    bus.flush().await;

    // The publishers stay up after a flush.
    let after = fresh_book(&domain, 0);
    bus.publish(&after).await.unwrap();

    let subscriber = bus.subscriber(&subscription, ACK_DEADLINE);
    let received = receive_all(&subscriber, 2, Duration::from_secs(30)).await;
    let mut books: Vec<_> = received.into_iter().map(|d| d.book).collect();
    books.sort_by_key(|b| b == &after);
    assert_eq!(books, vec![abandoned, after]);
    subscriber.close().await;
}
