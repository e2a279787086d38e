//! The Pub/Sub push endpoints of projectors and sagas: each delivery goes
//! through the firing guard ([`ProjectorDispatch`], [`SagaDispatch`]), and
//! the answer is 2xx only once the work is done (or was done before).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use angzarr_core::{Delivery, Result};
use angzarr_runtime::{Guarded, ProjectorDispatch, SagaDispatch};
use axum::Router;

use crate::handlers::{ProjectorEntry, SagaEntry};
use angzarr_bus_pubsub::push::{PushAuth, PushReceiver};

/// The push path of projector `name`.
pub fn projector_path(name: &str) -> String {
    format!("/push/projectors/{name}")
}

/// The push path of saga `name`.
pub fn saga_path(name: &str) -> String {
    format!("/push/sagas/{name}")
}

/// What one handler's deliveries came to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Delivered and handled now.
    pub done: u64,
    /// Delivered again after being handled: no second effect.
    pub duplicates: u64,
    /// Failed (answered non-2xx, so Pub/Sub delivers again).
    pub failed: u64,
    /// From a domain the handler does not read (acknowledged, not handled).
    pub skipped: u64,
    /// Saga commands sent.
    pub commands_sent: u64,
    /// Saga commands refused for good, kept as dead letters.
    pub dead_lettered: u64,
}

/// Per-handler delivery counts of one process, for logs, tests and the demo.
#[derive(Clone, Debug, Default)]
pub struct TriggerStats {
    counts: Arc<Mutex<BTreeMap<String, Counts>>>,
}

impl TriggerStats {
    /// The counts of `handler` (zero when it saw nothing).
    pub fn get(&self, handler: &str) -> Counts {
        self.lock().get(handler).copied().unwrap_or_default()
    }

    /// Every handler's counts.
    pub fn all(&self) -> BTreeMap<String, Counts> {
        self.lock().clone()
    }

    fn update(&self, handler: &str, change: impl FnOnce(&mut Counts)) {
        change(self.lock().entry(handler.to_owned()).or_default());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Counts>> {
        self.counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn with_auth(receiver: PushReceiver, auth: Option<&PushAuth>) -> PushReceiver {
    match auth {
        Some(auth) => receiver.with_auth(auth.clone()),
        None => receiver,
    }
}

/// `POST /push/projectors/{name}` for each projector.
pub(crate) fn projector_routes(
    entries: &[ProjectorEntry],
    dispatch: Arc<ProjectorDispatch>,
    stats: &TriggerStats,
    auth: Option<&PushAuth>,
) -> Router {
    let mut router = Router::new();
    for entry in entries {
        let entry = entry.clone();
        let name = entry.handler.name().to_owned();
        let (dispatch, stats, handler) = (dispatch.clone(), stats.clone(), name.clone());
        let receiver = PushReceiver::new(move |delivery: Delivery| {
            let (entry, dispatch, stats, name) = (
                entry.clone(),
                dispatch.clone(),
                stats.clone(),
                handler.clone(),
            );
            async move {
                if !reads(&entry.domains, &delivery) {
                    stats.update(&name, |c| c.skipped += 1);
                    return Ok(());
                }
                let outcome = dispatch
                    .deliver(entry.handler.as_ref(), delivery.book)
                    .await
                    .map(|guarded| match guarded {
                        Guarded::Done(_) => Guarded::Done(()),
                        Guarded::Duplicate => Guarded::Duplicate,
                    });
                record(&stats, &name, &delivery.message_id, outcome)
            }
        });
        router = router.merge(with_auth(receiver, auth).router(&projector_path(&name)));
    }
    router
}

/// `POST /push/sagas/{name}` for each saga.
pub(crate) fn saga_routes(
    entries: &[SagaEntry],
    dispatch: Arc<SagaDispatch>,
    stats: &TriggerStats,
    auth: Option<&PushAuth>,
) -> Router {
    let mut router = Router::new();
    for entry in entries {
        let entry = entry.clone();
        let name = entry.handler.name().to_owned();
        let (dispatch, stats, handler) = (dispatch.clone(), stats.clone(), name.clone());
        let receiver = PushReceiver::new(move |delivery: Delivery| {
            let (entry, dispatch, stats, name) = (
                entry.clone(),
                dispatch.clone(),
                stats.clone(),
                handler.clone(),
            );
            async move {
                if !reads(&entry.domains, &delivery) {
                    stats.update(&name, |c| c.skipped += 1);
                    return Ok(());
                }
                let outcome = dispatch
                    .deliver(entry.handler.as_ref(), delivery.book)
                    .await
                    .map(|guarded| match guarded {
                        Guarded::Done(outcome) => {
                            let sent = outcome.sent.len() as u64;
                            let dead = outcome.dead_lettered as u64;
                            stats.update(&name, |c| {
                                c.commands_sent += sent;
                                c.dead_lettered += dead;
                            });
                            Guarded::Done(())
                        }
                        Guarded::Duplicate => Guarded::Duplicate,
                    });
                record(&stats, &name, &delivery.message_id, outcome)
            }
        });
        router = router.merge(with_auth(receiver, auth).router(&saga_path(&name)));
    }
    router
}

fn reads(domains: &[String], delivery: &Delivery) -> bool {
    let domain = &delivery.attributes.domain;
    let wanted = domains.is_empty() || domains.iter().any(|d| d == domain);
    if !wanted {
        tracing::info!(message_id = %delivery.message_id, %domain, "delivery of a domain this handler does not read; acknowledged");
    }
    wanted
}

fn record(
    stats: &TriggerStats,
    name: &str,
    message_id: &str,
    outcome: Result<Guarded<()>>,
) -> Result<()> {
    match outcome {
        Ok(Guarded::Done(())) => {
            tracing::info!(handler = name, message_id, "delivery handled");
            stats.update(name, |c| c.done += 1);
            Ok(())
        }
        Ok(Guarded::Duplicate) => {
            tracing::info!(
                handler = name,
                message_id,
                "duplicate delivery; no second effect"
            );
            stats.update(name, |c| c.duplicates += 1);
            Ok(())
        }
        Err(error) => {
            // The receiver logs it with the message id and answers non-2xx,
            // so Pub/Sub delivers it again.
            stats.update(name, |c| c.failed += 1);
            Err(error)
        }
    }
}
