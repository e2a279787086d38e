//! Creating what the services need, for tooling, tests and the demo (the
//! running services never create anything): the Bigtable tables, one
//! Pub/Sub topic per domain, and one push subscription per (handler, source
//! domain) delivering to the trigger endpoints.

use std::time::Duration;

use angzarr_core::{Error, Result};

use crate::handlers::Handlers;
use crate::triggers::{projector_path, saga_path};
use angzarr_host::Adapters;

/// Where the trigger services answer, e.g. `https://projectors-xyz.a.run.app`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushTargets {
    /// Base URL of the `projector-trigger` (or `all`) service.
    pub projectors: String,
    /// Base URL of the `saga-trigger` (or `all`) service.
    pub sagas: String,
}

/// What [`provision`] made (or found already there).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Provisioned {
    /// Topic ids.
    pub topics: Vec<String>,
    /// Push subscriptions: (id, topic, endpoint).
    pub subscriptions: Vec<(String, String, String)>,
}

/// The push subscription id of `handler` on `topic`.
pub fn subscription_id(topic: &str, kind: &str, handler: &str) -> String {
    format!("{topic}.{kind}.{handler}")
}

/// Creates the Bigtable tables (when storage is Bigtable), a topic per event
/// domain of `handlers` (when messaging is Pub/Sub), and, with `targets`, a
/// push subscription per projector and saga and source domain. Running it
/// again changes nothing. Needs `roles/bigtable.admin` and `roles/pubsub.editor`.
pub async fn provision(
    adapters: &Adapters,
    handlers: &Handlers,
    targets: Option<&PushTargets>,
    ack_deadline: Duration,
) -> Result<Provisioned> {
    if let Some(bigtable) = &adapters.bigtable {
        bigtable.create_tables().await?;
    }
    let mut made = Provisioned::default();
    let Some(pubsub) = &adapters.pubsub else {
        return Ok(made);
    };
    let admin = pubsub.admin();
    for domain in handlers.event_domains() {
        let topic = pubsub.topic_id(&domain)?;
        admin.ensure_topic(&topic).await?;
        made.topics.push(topic);
    }
    let Some(targets) = targets else {
        return Ok(made);
    };
    let mut wanted = Vec::new();
    for entry in handlers.projectors() {
        let name = entry.handler.name();
        let endpoint = format!(
            "{}{}",
            targets.projectors.trim_end_matches('/'),
            projector_path(name)
        );
        for domain in &entry.domains {
            wanted.push((
                domain.clone(),
                "projector",
                name.to_owned(),
                endpoint.clone(),
            ));
        }
    }
    for entry in handlers.sagas() {
        let name = entry.handler.name();
        let endpoint = format!("{}{}", targets.sagas.trim_end_matches('/'), saga_path(name));
        for domain in &entry.domains {
            wanted.push((domain.clone(), "saga", name.to_owned(), endpoint.clone()));
        }
    }
    for (domain, kind, name, endpoint) in wanted {
        let topic = pubsub.topic_id(&domain)?;
        let id = subscription_id(&topic, kind, &name);
        match admin
            .create_push_subscription(&id, &topic, &endpoint, ack_deadline, None)
            .await
        {
            Ok(()) => {}
            Err(error) if already_exists(&error) => {}
            Err(error) => return Err(error),
        }
        made.subscriptions.push((id, topic, endpoint));
    }
    Ok(made)
}

fn already_exists(error: &Error) -> bool {
    matches!(error, Error::Backend { message, .. } if message.starts_with("AlreadyExists"))
}
