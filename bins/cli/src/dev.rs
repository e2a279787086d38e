//! `angzarr dev`: the shop served over gRPC on localhost with the memory
//! backends — `CommandHandlerCoordinatorService` and `EventQueryService` —
//! with sagas and the projector fed from the memory bus, until stopped.

use std::sync::Arc;
use std::time::Duration;

use angzarr_core::proto::command_handler_coordinator_service_server::CommandHandlerCoordinatorServiceServer;
use angzarr_core::proto::event_query_service_server::EventQueryServiceServer;
use angzarr_example_shop::Shop;
use angzarr_runtime::grpc::server::{CoordinatorServer, QueryServer};
use anyhow::Context;

pub async fn run(port: u16) -> anyhow::Result<()> {
    let shop = Arc::new(Shop::in_memory());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("binding 127.0.0.1:{port}"))?;
    let address = listener.local_addr()?;

    // The event-driven topology, locally: deliver published books to the
    // sagas and the projector as the bus triggers would.
    let pump = shop.clone();
    tokio::spawn(async move {
        loop {
            if let Err(error) = pump.pump().await {
                eprintln!("delivery failed (will retry): {error}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });

    println!("angzarr dev: shop on the memory backends, gRPC on http://{address}");
    println!("  services: angzarr.CommandHandlerCoordinatorService, angzarr.EventQueryService");
    println!("  domains: cart, order, fulfillment; Ctrl-C stops");
    tonic::transport::Server::builder()
        .add_service(CommandHandlerCoordinatorServiceServer::new(
            CoordinatorServer::new(shop.coordinator.clone()),
        ))
        .add_service(EventQueryServiceServer::new(QueryServer::new(
            shop.queries.clone(),
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
