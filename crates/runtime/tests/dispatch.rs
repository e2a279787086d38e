//! Saga deliveries under redelivery: what a saga answers is sent once per
//! command, whatever order the saga answers in the second time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use angzarr_core::memory::MemoryFiringGuard;
use angzarr_core::proto::{
    CommandBook, CommandPage, CommandRequest, CommandResponse, Cover, EventBook, EventPage,
    SagaHandleRequest, SagaResponse, command_page,
};
use angzarr_core::{AggregateKey, Error, Result, any};
use angzarr_runtime::{CommandRouter, Guarded, MemoryDeadLetters, Saga, SagaDispatch};
use async_trait::async_trait;

fn command(label: &str) -> CommandBook {
    CommandBook {
        cover: Some(
            AggregateKey::new("target", uuid::Uuid::nil())
                .unwrap()
                .cover(""),
        ),
        pages: vec![CommandPage {
            payload: Some(command_page::Payload::Command(any::pack(
                &prost_types::Duration {
                    seconds: i64::from(label.as_bytes()[0]),
                    nanos: 0,
                },
            ))),
            ..Default::default()
        }],
    }
}

fn label(request: &CommandRequest) -> char {
    let page = &request.command.as_ref().unwrap().pages[0];
    let Some(command_page::Payload::Command(body)) = &page.payload else {
        panic!("{page:?}")
    };
    let seconds = any::unpack::<prost_types::Duration>(body).unwrap().seconds;
    char::from(u8::try_from(seconds).unwrap())
}

/// Answers `[A, B]` the first time and `[B, A]` after.
#[derive(Debug, Default)]
struct Reordering {
    calls: Mutex<u32>,
}

#[async_trait]
impl Saga for Reordering {
    fn name(&self) -> &str {
        "reordering"
    }
    async fn handle(&self, _: SagaHandleRequest) -> Result<SagaResponse> {
        let mut calls = self.calls.lock().unwrap();
        *calls += 1;
        let order = if *calls == 1 { ["A", "B"] } else { ["B", "A"] };
        Ok(SagaResponse {
            commands: order.iter().map(|l| command(l)).collect(),
            events: Vec::new(),
        })
    }
}

/// Records every command; refuses `B` (retriably) the first time it comes.
#[derive(Debug, Default)]
struct Router {
    received: Mutex<Vec<char>>,
    refused_b: Mutex<bool>,
}

#[async_trait]
impl CommandRouter for Router {
    async fn send(&self, request: CommandRequest) -> Result<CommandResponse> {
        let label = label(&request);
        if label == 'B' && !std::mem::replace(&mut *self.refused_b.lock().unwrap(), true) {
            return Err(Error::unavailable("target", "connection reset"));
        }
        self.received.lock().unwrap().push(label);
        Ok(CommandResponse::default())
    }
}

#[tokio::test]
async fn a_redelivered_saga_answering_in_another_order_sends_each_command_once() {
    let router = Arc::new(Router::default());
    let dispatch = SagaDispatch::new(
        Arc::new(MemoryFiringGuard::new()),
        Default::default(),
        router.clone(),
        Arc::new(MemoryDeadLetters::new()),
    );
    let source = EventBook {
        cover: Some(Cover {
            correlation_id: "flow".into(),
            ..AggregateKey::new("source", uuid::Uuid::new_v4())
                .unwrap()
                .cover("flow")
        }),
        pages: vec![EventPage {
            header: Some(angzarr_core::proto::PageHeader {
                sequence_type: Some(angzarr_core::proto::page_header::SequenceType::Sequence(0)),
            }),
            ..Default::default()
        }],
        ..Default::default()
    };
    let saga = Reordering::default();

    let failed = dispatch.deliver(&saga, source.clone()).await;
    assert!(failed.unwrap_err().is_retriable(), "B failed: redelivered");
    let redelivered = dispatch.deliver(&saga, source.clone()).await.unwrap();
    assert!(matches!(redelivered, Guarded::Done(_)));
    let mut received = router.received.lock().unwrap().clone();
    received.sort_unstable();
    assert_eq!(received, ['A', 'B'], "each command once");
}

/// A projector that takes `slow` per book and counts what it applied.
#[derive(Debug)]
struct Slow {
    slow: std::time::Duration,
    applied: Mutex<u32>,
}

#[async_trait]
impl angzarr_runtime::Projector for Slow {
    fn name(&self) -> &str {
        "slow"
    }
    async fn handle(&self, _: EventBook) -> Result<angzarr_core::proto::Projection> {
        tokio::time::sleep(self.slow).await;
        *self.applied.lock().unwrap() += 1;
        Ok(Default::default())
    }
}

/// A projector slower than its lease, and a second delivery of the same
/// book once the first lease would have ended: the lease is renewed while
/// the first runs, so the second waits (retriable) and then finds it done —
/// one effect.
#[tokio::test]
async fn a_delivery_slower_than_its_lease_is_not_done_twice() {
    // Renewed every 200 ms: far more often than a loaded machine stalls.
    let lease = std::time::Duration::from_millis(600);
    let dispatch = Arc::new(angzarr_runtime::ProjectorDispatch::new(
        Arc::new(MemoryFiringGuard::new()),
        angzarr_runtime::FiringPolicy {
            lease,
            retention: std::time::Duration::from_secs(60),
        },
    ));
    let projector = Arc::new(Slow {
        slow: lease * 3,
        applied: Mutex::default(),
    });
    let book = EventBook {
        cover: Some(
            AggregateKey::new("source", uuid::Uuid::new_v4())
                .unwrap()
                .cover(""),
        ),
        pages: vec![EventPage {
            header: Some(angzarr_core::proto::PageHeader {
                sequence_type: Some(angzarr_core::proto::page_header::SequenceType::Sequence(0)),
            }),
            ..Default::default()
        }],
        ..Default::default()
    };
    let first = tokio::spawn({
        let (dispatch, projector, book) = (dispatch.clone(), projector.clone(), book.clone());
        async move { dispatch.deliver(projector.as_ref(), book).await }
    });
    tokio::time::sleep(lease * 2).await;
    let second = dispatch.deliver(projector.as_ref(), book.clone()).await;
    assert!(
        second.unwrap_err().is_retriable(),
        "still in progress: redelivered later"
    );
    assert!(matches!(first.await.unwrap().unwrap(), Guarded::Done(_)));
    let third = dispatch.deliver(projector.as_ref(), book).await.unwrap();
    assert_eq!(third, Guarded::Duplicate);
    assert_eq!(*projector.applied.lock().unwrap(), 1, "one effect");
}
