//! The `business` section: components served over gRPC (here Rust logic
//! behind the runtime's own servers, exactly as a service in another
//! language would be reached) become the Application's handlers; a
//! configured component replaces the code's of the same name; bad entries
//! refuse to start, naming the key; a component that is down is a
//! retriable error.
//!
//! Run with `cargo test -p angzarr-host --test business`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use angzarr_core::memory::{MemoryBus, MemoryEventStore, MemoryFiringGuard};
use angzarr_core::proto::command_handler_service_server::CommandHandlerServiceServer;
use angzarr_core::proto::process_manager_service_server::ProcessManagerServiceServer;
use angzarr_core::proto::projector_service_server::ProjectorServiceServer;
use angzarr_core::proto::{CommandRequest, EventBook, Projection};
use angzarr_core::{AggregateKey, Error, EventStoreExt};
use angzarr_host::{Application, BusinessConfig, Triggers};
use angzarr_runtime::authoring::{
    AggregateLogic, ProcessDecision, ProcessManagerLogic, command, event, reject,
};
use angzarr_runtime::grpc::server::{CommandHandlerServer, ProcessManagerServer, ProjectorServer};
use angzarr_runtime::process::state_root;
use angzarr_runtime::{AggregateCoordinator, MemoryDeadLetters, Projector};
use async_trait::async_trait;
use figment::Figment;
use figment::providers::{Format, Yaml};

#[derive(Clone, PartialEq, prost::Message)]
struct Add {
    #[prost(int64, tag = "1")]
    amount: i64,
}
impl prost::Name for Add {
    const NAME: &'static str = "Add";
    const PACKAGE: &'static str = "test";
}

#[derive(Clone, PartialEq, prost::Message)]
struct Added {
    #[prost(int64, tag = "1")]
    amount: i64,
}
impl prost::Name for Added {
    const NAME: &'static str = "Added";
    const PACKAGE: &'static str = "test";
}

#[derive(Clone, PartialEq, prost::Message)]
struct Total {
    #[prost(int64, tag = "1")]
    total: i64,
}
impl prost::Name for Total {
    const NAME: &'static str = "Total";
    const PACKAGE: &'static str = "test";
}

fn counter() -> AggregateLogic<Total> {
    AggregateLogic::<Total>::new("counter")
        .apply(|state: &mut Total, e: Added| state.total += e.amount)
        .handle(|_state: &Total, c: Add| {
            if c.amount <= 0 {
                return Err(reject("only positive amounts"));
            }
            Ok(vec![event(&Added { amount: c.amount })])
        })
}

/// Counts the books it is given.
#[derive(Debug, Default)]
struct Counting(AtomicUsize);

#[async_trait]
impl Projector for Counting {
    fn name(&self) -> &str {
        "counting"
    }
    async fn handle(&self, _: EventBook) -> angzarr_core::Result<Projection> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(Projection::default())
    }
}

/// Serves `router` on a free loopback port; returns its URL.
async fn serve(router: tonic::transport::server::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(
        router.serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    url
}

fn business(yaml: &str) -> angzarr_core::Result<BusinessConfig> {
    BusinessConfig::from_figment(&Figment::new().merge(Yaml::string(yaml)))
}

fn add(root: uuid::Uuid, amount: i64) -> CommandRequest {
    CommandRequest {
        command: Some(command("counter", root, "corr-1", &Add { amount })),
        ..Default::default()
    }
}

#[tokio::test]
async fn configured_grpc_components_are_the_applications_handlers() {
    let aggregate = serve(tonic::transport::Server::builder().add_service(
        CommandHandlerServiceServer::new(CommandHandlerServer(Arc::new(counter()))),
    ))
    .await;
    let counting = Arc::new(Counting::default());
    let projector = serve(tonic::transport::Server::builder().add_service(
        ProjectorServiceServer::new(ProjectorServer(counting.clone())),
    ))
    .await;
    let config = business(&format!(
        "business:
           aggregates: {{ counter: {{ grpc: '{aggregate}' }} }}
           projectors: {{ totals: {{ grpc: '{projector}', domains: [counter] }} }}"
    ))
    .unwrap();
    let app = config.apply(Application::new()).unwrap();
    assert_eq!(app.aggregate_domains(), ["counter"]);
    assert_eq!(app.projectors().len(), 1);
    let totals = &app.projectors()[0];
    assert_eq!(totals.handler.name(), "totals", "named by its key");
    assert!(totals.wants("counter") && !totals.wants("other"));

    // A command through the pipeline reaches the service and is stored.
    let store = Arc::new(MemoryEventStore::new());
    let mut builder = AggregateCoordinator::builder(store.clone(), Arc::new(MemoryBus::new()));
    for (domain, handler) in app.aggregates() {
        builder = builder.handler(domain, handler.clone());
    }
    let coordinator = builder.build();
    let root = uuid::Uuid::new_v4();
    let answer = coordinator.handle(add(root, 5)).await.unwrap();
    let book = answer.events.unwrap();
    assert_eq!(book.pages.len(), 1);
    // A rejection over the wire stays a rejection.
    match coordinator.handle(add(root, -1)).await {
        Err(Error::Rejected { reason }) => assert!(reason.contains("positive"), "{reason}"),
        other => panic!("{other:?}"),
    }
    // The projector is the configured service.
    totals.handler.handle(book).await.unwrap();
    assert_eq!(counting.0.load(Ordering::SeqCst), 1);
}

/// A process manager that counts, in its own state, the `Added` events of
/// each workflow and asks for one more `Add` on the counter each time.
fn tally() -> ProcessManagerLogic<Total> {
    ProcessManagerLogic::<Total>::new("tally")
        .apply(|state: &mut Total, e: Added| state.total += e.amount)
        .prepare(|_, context, _: Added| Ok(vec![context.key.cover("")]))
        .on(|_state: &Total, context, e: Added| {
            Ok(ProcessDecision {
                events: vec![event(&Added { amount: e.amount })],
                commands: vec![command(
                    "counter",
                    context.event.key.root,
                    "",
                    &Add { amount: 1 },
                )],
                facts: Vec::new(),
            })
        })
}

#[tokio::test]
async fn a_configured_process_manager_is_hosted_with_its_state_and_limit() {
    let aggregate = serve(tonic::transport::Server::builder().add_service(
        CommandHandlerServiceServer::new(CommandHandlerServer(Arc::new(counter()))),
    ))
    .await;
    let pm = serve(tonic::transport::Server::builder().add_service(
        ProcessManagerServiceServer::new(ProcessManagerServer(Arc::new(tally()))),
    ))
    .await;
    let config = business(&format!(
        "business:
           aggregates: {{ counter: {{ grpc: '{aggregate}' }} }}
           process_managers: {{ tally: {{ grpc: '{pm}', domains: [counter], max_destinations: 1 }} }}"
    ))
    .unwrap();
    let app = config.apply(Application::new()).unwrap();
    assert_eq!(app.process_managers().len(), 1);
    assert_eq!(app.process_managers()[0].max_destinations, Some(1));
    assert!(
        app.event_domains().contains("tally"),
        "its state is published"
    );

    let store = Arc::new(MemoryEventStore::new());
    let bus = Arc::new(MemoryBus::new());
    let mut builder = AggregateCoordinator::builder(store.clone(), bus.clone());
    for (domain, handler) in app.aggregates() {
        builder = builder.handler(domain, handler.clone());
    }
    let coordinator = Arc::new(builder.build());
    let triggers = Triggers::new(
        Arc::new(MemoryFiringGuard::new()),
        Default::default(),
        coordinator.clone(),
        Arc::new(MemoryDeadLetters::new()),
    )
    .process_state(store.clone(), bus)
    .with_application(&app, false, true);

    let root = uuid::Uuid::new_v4();
    let mut request = add(root, 5);
    request
        .command
        .as_mut()
        .unwrap()
        .cover
        .as_mut()
        .unwrap()
        .correlation_id = "flow-1".into();
    let book = coordinator.handle(request).await.unwrap().events.unwrap();
    let report = triggers.deliver("m1", book).await.unwrap();
    assert_eq!(report.done, ["tally"]);
    let counts = triggers.stats().get("tally");
    assert_eq!((counts.commands_sent, counts.process_events), (1, 1));

    let state = AggregateKey::new("tally", state_root("tally", "flow-1")).unwrap();
    assert_eq!(store.load_all(&state).await.unwrap().len(), 1);
    let counter = AggregateKey::new("counter", root).unwrap();
    assert_eq!(
        store.load_all(&counter).await.unwrap().len(),
        2,
        "its command ran"
    );
}

#[tokio::test]
async fn a_configured_component_replaces_the_codes_of_the_same_name() {
    let url = serve(tonic::transport::Server::builder().add_service(
        CommandHandlerServiceServer::new(CommandHandlerServer(Arc::new(counter()))),
    ))
    .await;
    let code = Application::new()
        .aggregate("counter", Arc::new(AggregateLogic::<Total>::new("counter")))
        .aggregate("other", Arc::new(counter()));
    let app = business(&format!(
        "business: {{ aggregates: {{ counter: {{ grpc: '{url}' }} }} }}"
    ))
    .unwrap()
    .apply(code)
    .unwrap();
    assert_eq!(app.aggregate_domains(), ["other", "counter"]);
    let handler = format!("{:?}", app.handler("counter").unwrap());
    assert!(handler.contains("GrpcCommandHandler"), "{handler}");
}

#[tokio::test]
async fn a_component_that_is_down_is_a_retriable_error() {
    // A port that was free a moment ago: nothing answers there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = business(&format!(
        "business: {{ aggregates: {{ counter: {{ grpc: 'http://127.0.0.1:{port}' }} }}, timeout_ms: 2000 }}"
    ))
    .unwrap()
    .apply(Application::new())
    .unwrap();
    let coordinator = AggregateCoordinator::builder(
        Arc::new(MemoryEventStore::new()),
        Arc::new(MemoryBus::new()),
    )
    .handler("counter", app.handler("counter").unwrap().clone())
    .build();
    let error = coordinator
        .handle(add(uuid::Uuid::new_v4(), 1))
        .await
        .unwrap_err();
    assert!(error.is_retriable(), "{error:?}");
}

/// The key of a refused configuration.
fn refused(result: angzarr_core::Result<Application>) -> (String, String) {
    match result {
        Err(Error::Config { key, message }) => (key, message),
        Err(other) => panic!("not a configuration error: {other:?}"),
        Ok(app) => panic!("accepted: {app:?}"),
    }
}

fn apply(yaml: &str) -> angzarr_core::Result<Application> {
    business(yaml)?.apply(Application::new())
}

#[test]
fn bad_entries_refuse_to_start_naming_the_key() {
    let cases = [
        (
            "business: { aggregates: { cart: { grpc: 'not a url' } } }",
            "business.aggregates.cart.grpc",
            "not a URL",
        ),
        (
            "business: { aggregates: { cart: { grpc: 'ftp://127.0.0.1:21' } } }",
            "business.aggregates.cart.grpc",
            "scheme",
        ),
        (
            "business: { aggregates: { cart: { grpc: 'http://127.0.0.1:1/cart' } } }",
            "business.aggregates.cart.grpc",
            "host and port only",
        ),
        (
            "business: { projectors: { '': { grpc: 'http://127.0.0.1:1' } } }",
            "business.projectors.",
            "needs a name",
        ),
        (
            "business: { projectors: { p: { grpc: 'http://127.0.0.1:1', domains: [''] } } }",
            "business.projectors.p.domains",
            "empty",
        ),
        (
            "business: { sagas: { s: { grpc: 'http://127.0.0.1:1', synchronous: true } } }",
            "business.sagas.s.synchronous",
            "only projectors",
        ),
        (
            "business: { process_managers: { pm: { grpc: 'http://127.0.0.1:1', domains: [pm] } } }",
            "business.process_managers.pm.domains",
            "its own state",
        ),
        (
            "business: { sagas: { s: { grpc: 'http://127.0.0.1:1', max_destinations: 2 } } }",
            "business.sagas.s.max_destinations",
            "only process managers",
        ),
        (
            "business: { timeout_ms: 0 }",
            "business.timeout_ms",
            "above 0",
        ),
        (
            "business: { descriptors: /no/such/file.binpb }",
            "business.descriptors",
            "cannot read",
        ),
    ];
    for (yaml, key, message) in cases {
        let (got_key, got_message) = refused(apply(yaml));
        assert_eq!(got_key, key, "{yaml}");
        assert!(got_message.contains(message), "{yaml}: {got_message}");
    }

    // An unknown component kind or key is refused by the loader.
    for yaml in [
        "business: { aggregates: { cart: { smtp: 'mail:25' } } }",
        "business: { aggregates: { cart: { grpc: 'http://x:1', domains: [a] } } }",
        "business: { aggregate: {} }",
    ] {
        let (key, message) = refused(apply(yaml));
        assert!(key.starts_with("business"), "{yaml}: {key}");
        assert!(message.contains("unknown field"), "{yaml}: {message}");
    }
}

#[test]
fn a_descriptor_file_must_be_a_file_descriptor_set() {
    let dir = std::env::temp_dir().join(format!("angzarr-host-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let garbage = dir.join("types.binpb");
    std::fs::write(&garbage, b"\xff\xff\xffnot protobuf").unwrap();
    let (key, message) = refused(apply(&format!(
        "business: {{ descriptors: '{}' }}",
        garbage.display()
    )));
    assert_eq!(key, "business.descriptors");
    assert!(message.contains("FileDescriptorSet"), "{message}");

    // The contract's own descriptors are a valid set.
    let good = dir.join("angzarr.binpb");
    std::fs::write(&good, angzarr_core::proto::FILE_DESCRIPTOR_SET).unwrap();
    let app = apply(&format!(
        "business: {{ descriptors: '{}' }}",
        good.display()
    ))
    .unwrap();
    assert!(app.message_types().registry().is_ok());
    std::fs::remove_dir_all(&dir).unwrap();
}
