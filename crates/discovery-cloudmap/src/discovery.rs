//! [`CloudMapDiscovery`]: `DiscoverInstances`, cached per service.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use angzarr_core::discovery::Endpoint;
use angzarr_core::{Error, Result, ServiceDiscovery};
use async_trait::async_trait;
use aws_sdk_servicediscovery::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_servicediscovery::types::HealthStatusFilter;
use url::Url;

use angzarr_aws::from_sdk;

/// The instance attribute naming a projector or saga.
pub const NAME_ATTRIBUTE: &str = "name";

/// How services and attributes are named.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Naming {
    pub namespace: String,
    pub service_template: String,
    pub url_attribute: String,
    pub projector_service: String,
    pub saga_service_template: String,
}

/// One discovered instance.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Instance {
    id: String,
    attributes: HashMap<String, String>,
}

/// Service discovery on AWS Cloud Map.
///
/// - A domain's aggregate: the first instance of the service
///   `{domain}-aggregate` (template configurable, domain lower-cased), its
///   URL in the instance attribute `url` (configurable).
/// - Projectors: every instance of the service `projectors`, named by its
///   `name` attribute (else its instance id).
/// - Sagas reacting to a domain: every instance of `{domain}-sagas`, named
///   the same way.
///
/// Answers are cached per service for the cache TTL; failures are not cached.
pub struct CloudMapDiscovery {
    client: aws_sdk_servicediscovery::Client,
    naming: Naming,
    cache_ttl: Duration,
    cache: Mutex<HashMap<String, (Instant, Vec<Instance>)>>,
}

impl fmt::Debug for CloudMapDiscovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloudMapDiscovery")
            .field("naming", &self.naming)
            .field("cache_ttl", &self.cache_ttl)
            .finish_non_exhaustive()
    }
}

impl CloudMapDiscovery {
    pub(crate) fn new(
        client: aws_sdk_servicediscovery::Client,
        naming: Naming,
        cache_ttl: Duration,
    ) -> Self {
        Self {
            client,
            naming,
            cache_ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The Cloud Map service holding `domain`'s aggregate.
    pub fn aggregate_service(&self, domain: &str) -> String {
        self.naming
            .service_template
            .replace("{domain}", &domain.to_lowercase())
    }

    /// The Cloud Map service holding the sagas reacting to `domain`.
    pub fn saga_service(&self, domain: &str) -> String {
        self.naming
            .saga_service_template
            .replace("{domain}", &domain.to_lowercase())
    }

    /// Forgets every cached answer.
    pub fn clear_cache(&self) {
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// The instances of `service` (none when the service does not exist),
    /// from the cache while it is fresh.
    async fn instances(&self, service: &str) -> Result<Vec<Instance>> {
        if let Some((at, instances)) = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(service)
            && at.elapsed() < self.cache_ttl
        {
            return Ok(instances.clone());
        }
        let instances = self.discover(service).await?;
        if !self.cache_ttl.is_zero() {
            self.cache
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(service.to_owned(), (Instant::now(), instances.clone()));
        }
        Ok(instances)
    }

    async fn discover(&self, service: &str) -> Result<Vec<Instance>> {
        let output = match self
            .client
            .discover_instances()
            .namespace_name(&self.naming.namespace)
            .service_name(service)
            .health_status(HealthStatusFilter::HealthyOrElseAll)
            .send()
            .await
        {
            Ok(output) => output,
            Err(SdkError::ServiceError(e))
                if matches!(
                    e.err().code(),
                    Some("ServiceNotFound" | "NamespaceNotFound")
                ) =>
            {
                return Ok(Vec::new());
            }
            Err(e) => return Err(from_sdk("cloudmap", e)),
        };
        // Instance ids are unique in Cloud Map; moto repeats a re-registered
        // one, so keep the first of each.
        let mut seen = HashSet::new();
        Ok(output
            .instances
            .unwrap_or_default()
            .into_iter()
            .filter_map(|summary| {
                let id = summary.instance_id?;
                seen.insert(id.clone()).then(|| Instance {
                    id,
                    attributes: summary.attributes.unwrap_or_default(),
                })
            })
            .collect())
    }

    fn url_of(&self, service: &str, instance: &Instance) -> Result<Url> {
        let raw = instance
            .attributes
            .get(&self.naming.url_attribute)
            .ok_or_else(|| {
                Error::backend(
                    "cloudmap",
                    format!(
                        "instance `{}` of `{service}` has no `{}` attribute",
                        instance.id, self.naming.url_attribute
                    ),
                    false,
                )
            })?;
        Url::parse(raw).map_err(|e| {
            Error::backend(
                "cloudmap",
                format!(
                    "instance `{}` of `{service}` has a bad URL `{raw}`: {e}",
                    instance.id
                ),
                false,
            )
        })
    }

    async fn endpoints(&self, service: &str) -> Result<Vec<Endpoint>> {
        let mut endpoints = Vec::new();
        for instance in self.instances(service).await? {
            let name = instance
                .attributes
                .get(NAME_ATTRIBUTE)
                .cloned()
                .unwrap_or_else(|| instance.id.clone());
            let url = self.url_of(service, &instance)?;
            endpoints.push(Endpoint { name, url });
        }
        endpoints.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(endpoints)
    }
}

#[async_trait]
impl ServiceDiscovery for CloudMapDiscovery {
    async fn aggregate(&self, domain: &str) -> Result<Url> {
        let service = self.aggregate_service(domain);
        let instances = self.instances(&service).await?;
        // Any instance will do: they all serve the same aggregate.
        let first = instances.first().ok_or_else(|| {
            Error::NotFound(format!(
                "no aggregate for domain `{domain}` (Cloud Map service `{service}` in namespace `{}` has no instance)",
                self.naming.namespace
            ))
        })?;
        self.url_of(&service, first)
    }

    async fn projectors(&self) -> Result<Vec<Endpoint>> {
        self.endpoints(&self.naming.projector_service).await
    }

    async fn sagas(&self, source_domain: &str) -> Result<Vec<Endpoint>> {
        self.endpoints(&self.saga_service(source_domain)).await
    }
}
