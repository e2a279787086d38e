//! Creating namespaces, services and instances, for tests and `xtask`
//! (production registrations come from the deploy modules or ECS/Lambda
//! service registration).

use std::collections::HashMap;

use angzarr_core::{Error, Result};

use angzarr_aws::from_sdk;

/// Creates the HTTP namespace `name` and returns its id.
pub async fn create_http_namespace(
    client: &aws_sdk_servicediscovery::Client,
    name: &str,
) -> Result<String> {
    client
        .create_http_namespace()
        .name(name)
        .send()
        .await
        .map_err(|e| from_sdk("cloudmap", e))?;
    // Creation is an asynchronous operation; the id is found by listing.
    let mut pages = client.list_namespaces().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| from_sdk("cloudmap", e))?;
        for namespace in page.namespaces.unwrap_or_default() {
            if namespace.name.as_deref() == Some(name)
                && let Some(id) = namespace.id
            {
                return Ok(id);
            }
        }
    }
    Err(Error::NotFound(format!(
        "namespace `{name}` after creating it"
    )))
}

/// Creates the service `name` in the namespace `namespace_id` and returns its id.
pub async fn create_service(
    client: &aws_sdk_servicediscovery::Client,
    namespace_id: &str,
    name: &str,
) -> Result<String> {
    let output = client
        .create_service()
        .namespace_id(namespace_id)
        .name(name)
        .send()
        .await
        .map_err(|e| from_sdk("cloudmap", e))?;
    output
        .service
        .and_then(|s| s.id)
        .ok_or_else(|| Error::backend("cloudmap", "CreateService returned no id", false))
}

/// Registers the instance `instance_id` of `service_id` with `attributes`
/// (e.g. `url`, `name`).
pub async fn register_instance(
    client: &aws_sdk_servicediscovery::Client,
    service_id: &str,
    instance_id: &str,
    attributes: HashMap<String, String>,
) -> Result<()> {
    client
        .register_instance()
        .service_id(service_id)
        .instance_id(instance_id)
        .set_attributes(Some(attributes))
        .send()
        .await
        .map_err(|e| from_sdk("cloudmap", e))?;
    Ok(())
}

/// Removes the instance `instance_id` of `service_id`.
pub async fn deregister_instance(
    client: &aws_sdk_servicediscovery::Client,
    service_id: &str,
    instance_id: &str,
) -> Result<()> {
    client
        .deregister_instance()
        .service_id(service_id)
        .instance_id(instance_id)
        .send()
        .await
        .map_err(|e| from_sdk("cloudmap", e))?;
    Ok(())
}
