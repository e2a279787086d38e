//! [`ConsulDiscovery`]: healthy instances from the health endpoint, cached
//! for a short time, handed out round-robin.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use angzarr_core::discovery::{Endpoint, ServiceDiscovery};
use angzarr_core::{Error, Result};
use async_trait::async_trait;
use url::Url;

use crate::client::{BACKEND, ConsulClient};
use crate::model::{CatalogService, CatalogServices, ServiceEntry};
use crate::names::{PROJECTOR_TAG, SAGA_TAG_PREFIX, dns_name, instance_url, is_service_name};

/// A [`ServiceDiscovery`] backed by a Consul agent; build it with
/// [`crate::Builder`].
#[derive(Debug)]
pub struct ConsulDiscovery {
    client: ConsulClient,
    template: String,
    ttl: Duration,
    cache: Mutex<HashMap<String, Cached>>,
}

/// The healthy URLs of one service, and where the round robin is.
#[derive(Debug)]
struct Cached {
    fetched: Instant,
    urls: Vec<Url>,
    next: usize,
}

impl ConsulDiscovery {
    pub(crate) fn new(client: ConsulClient, template: String, ttl: Duration) -> Self {
        Self {
            client,
            template,
            ttl,
            cache: Mutex::default(),
        }
    }

    /// The Consul service name of `domain`'s aggregate.
    pub fn service_name(&self, domain: &str) -> String {
        self.template.replace("{domain}", &dns_name(domain))
    }

    /// One healthy instance of `service`, round-robin; `what` names the
    /// component in errors.
    async fn instance(&self, service: &str, what: &str) -> Result<Url> {
        if let Some(url) = self.cached(service) {
            return Ok(url);
        }
        let entries: Vec<ServiceEntry> = self
            .client
            .get(&format!("/v1/health/service/{service}?passing=true"))
            .await?;
        let urls: Vec<Url> = entries.iter().filter_map(instance_url).collect();
        if urls.is_empty() {
            return Err(self.no_instance(service, what).await);
        }
        let mut cache = lock(&self.cache);
        let cached = cache.entry(service.to_owned()).or_insert(Cached {
            fetched: Instant::now(),
            urls: Vec::new(),
            next: 0,
        });
        cached.fetched = Instant::now();
        cached.urls = urls;
        Ok(take_next(cached))
    }

    fn cached(&self, service: &str) -> Option<Url> {
        let mut cache = lock(&self.cache);
        let cached = cache.get_mut(service)?;
        if cached.fetched.elapsed() >= self.ttl || cached.urls.is_empty() {
            return None;
        }
        Some(take_next(cached))
    }

    /// No healthy instance: if the service is registered at all, its
    /// instances are failing their checks (retriable: they may recover);
    /// otherwise nothing by that name exists (not found).
    async fn no_instance(&self, service: &str, what: &str) -> Error {
        lock(&self.cache).remove(service);
        match self
            .client
            .get::<Vec<CatalogService>>(&format!("/v1/catalog/service/{service}"))
            .await
        {
            Ok(registered) if registered.is_empty() => Error::NotFound(format!(
                "{what}: no Consul service `{service}` is registered"
            )),
            Ok(registered) => Error::unavailable(
                BACKEND,
                format!(
                    "{what}: none of the {} instances of Consul service `{service}` passes its health checks",
                    registered.len()
                ),
            ),
            Err(e) => e,
        }
    }

    /// Every service carrying a tag accepted by `wanted`, by name.
    async fn tagged(&self, wanted: impl Fn(&str) -> bool) -> Result<Vec<String>> {
        let services: CatalogServices = self.client.get("/v1/catalog/services").await?;
        Ok(services
            .into_iter()
            .filter(|(_, tags)| tags.iter().flatten().any(|t| wanted(t)))
            .map(|(name, _)| name)
            .collect())
    }

    async fn endpoints(&self, services: Vec<String>, what: &str) -> Result<Vec<Endpoint>> {
        let mut endpoints = Vec::with_capacity(services.len());
        for name in services {
            let url = self.instance(&name, &format!("{what} `{name}`")).await?;
            endpoints.push(Endpoint { name, url });
        }
        Ok(endpoints)
    }
}

fn take_next(cached: &mut Cached) -> Url {
    let index = cached.next % cached.urls.len();
    cached.next = cached.next.wrapping_add(1);
    cached.urls[index].clone()
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The cache is only a cache: a holder that panicked leaves it usable.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[async_trait]
impl ServiceDiscovery for ConsulDiscovery {
    async fn aggregate(&self, domain: &str) -> Result<Url> {
        let service = self.service_name(domain);
        if !is_service_name(&service) {
            return Err(Error::NotFound(format!(
                "domain `{domain}` makes no Consul service name (`{service}`)"
            )));
        }
        self.instance(&service, &format!("aggregate of domain `{domain}`"))
            .await
    }

    /// Services tagged `angzarr-projector`, each with one healthy instance.
    /// A projector with no healthy instance fails the whole call (retriable)
    /// rather than being left out, so no projector silently misses events.
    async fn projectors(&self) -> Result<Vec<Endpoint>> {
        let services = self.tagged(|tag| tag == PROJECTOR_TAG).await?;
        self.endpoints(services, "projector").await
    }

    /// Services tagged `angzarr-saga=<source domain>`.
    async fn sagas(&self, source_domain: &str) -> Result<Vec<Endpoint>> {
        let wanted = dns_name(source_domain);
        let services = self
            .tagged(|tag| {
                tag.strip_prefix(SAGA_TAG_PREFIX)
                    .is_some_and(|domain| dns_name(domain) == wanted)
            })
            .await?;
        self.endpoints(services, "saga").await
    }
}
