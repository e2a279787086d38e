//! The Pub/Sub push endpoints of projectors, sagas and process managers: each push names its
//! handler by path and goes through the host's one delivery path
//! ([`angzarr_host::Triggers`]: domain filter, firing guard, counts); the
//! answer is 2xx only once the work is done (or was done before), so a
//! failure is delivered again by Pub/Sub.

use std::sync::Arc;

use angzarr_bus_pubsub::push::{PushAuth, PushReceiver};
use angzarr_core::Delivery;
use angzarr_host::{Kind, Triggers};
use axum::Router;

pub use angzarr_host::{Counts, TriggerStats};

/// The push path of projector `name`.
pub fn projector_path(name: &str) -> String {
    format!("/push/projectors/{name}")
}

/// The push path of saga `name`.
pub fn saga_path(name: &str) -> String {
    format!("/push/sagas/{name}")
}

/// The push path of process manager `name`.
pub fn process_manager_path(name: &str) -> String {
    format!("/push/process-managers/{name}")
}

/// `POST /push/projectors/{name}` for each projector, `POST
/// /push/sagas/{name}` for each saga and `POST /push/process-managers/{name}`
/// for each process manager of `triggers`.
pub(crate) fn routes(triggers: &Arc<Triggers>, auth: Option<&PushAuth>) -> Router {
    let projectors = triggers
        .projectors()
        .iter()
        .map(|p| (Kind::Projector, p.handler.name().to_owned()));
    let sagas = triggers
        .sagas()
        .iter()
        .map(|s| (Kind::Saga, s.handler.name().to_owned()));
    let process_managers = triggers
        .process_managers()
        .iter()
        .map(|p| (Kind::ProcessManager, p.handler.name().to_owned()));
    let mut router = Router::new();
    for (kind, name) in projectors.chain(sagas).chain(process_managers) {
        let path = match kind {
            Kind::Saga => saga_path(&name),
            Kind::ProcessManager => process_manager_path(&name),
            _ => projector_path(&name),
        };
        let triggers = triggers.clone();
        let mut receiver = PushReceiver::new(move |delivery: Delivery| {
            let (triggers, name) = (triggers.clone(), name.clone());
            async move {
                triggers
                    .deliver_to(kind, &name, &delivery.message_id, delivery.book)
                    .await
                    .map(|_| ())
            }
        });
        if let Some(auth) = auth {
            receiver = receiver.with_auth(auth.clone());
        }
        router = router.merge(receiver.router(&path));
    }
    router
}
