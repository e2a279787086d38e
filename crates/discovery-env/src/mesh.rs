//! [`MeshDiscovery`]: aggregates of a Cloud Run service mesh, found by host
//! name; projectors and sagas from an [`EnvDiscovery`].

use angzarr_core::config::GcpMeshConfig;
use angzarr_core::discovery::{Endpoint, ServiceDiscovery};
use angzarr_core::{Error, Result};
use async_trait::async_trait;
use url::Url;

use crate::env::EnvDiscovery;
use crate::names::{canonical, is_sensible};

const KEY_MESH: &str = "discovery.gcp_mesh.mesh";
const KEY_TEMPLATE: &str = "discovery.gcp_mesh.url_template";

/// Cloud Run service mesh discovery (`discovery.type: gcp_mesh`).
///
/// A domain's aggregate URL is the template with `{domain}` and `{mesh}`
/// replaced, by default `https://{domain}-aggregate.{mesh}.mesh.internal`.
/// The domain is written as a DNS label: lower case, `_` as `-` (host names
/// cannot contain `_`), so `Order_Fulfillment` answers at
/// `https://order-fulfillment-aggregate.<mesh>.mesh.internal`.
///
/// The mesh offers no listing, so projectors and sagas come from the
/// [`EnvDiscovery`] given to [`MeshDiscovery::with_components`] (the
/// `ANGZARR_PROJECTOR_*` / `ANGZARR_SAGA_*` variables and
/// `discovery.env_urls`). An aggregate URL set there for a domain takes
/// precedence over the template.
#[derive(Clone, Debug)]
pub struct MeshDiscovery {
    mesh: String,
    template: String,
    components: EnvDiscovery,
}

impl MeshDiscovery {
    /// Validates the `discovery.gcp_mesh` section: the template must contain
    /// `{domain}`, a `{mesh}` in it needs a non-empty `mesh`, and the result
    /// must be an `http`/`https` URL.
    pub fn from_config(config: &GcpMeshConfig) -> Result<Self> {
        Self::new(&config.mesh, &config.url_template)
    }

    /// A mesh named `mesh` with the URL template `template`.
    pub fn new(mesh: &str, template: &str) -> Result<Self> {
        if !template.contains("{domain}") {
            return Err(Error::config(
                KEY_TEMPLATE,
                format!("`{template}` must contain `{{domain}}`"),
            ));
        }
        if template.contains("{mesh}") && mesh.trim().is_empty() {
            return Err(Error::config(
                KEY_MESH,
                "must name the mesh (the URL template uses `{mesh}`)",
            ));
        }
        let discovery = Self {
            mesh: mesh.trim().to_owned(),
            template: template.to_owned(),
            components: EnvDiscovery::default(),
        };
        let sample = discovery.render("example");
        match Url::parse(&sample) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => {}
            _ => {
                return Err(Error::config(
                    KEY_TEMPLATE,
                    format!("`{template}` does not make an http(s) URL (e.g. `{sample}`)"),
                ));
            }
        }
        Ok(discovery)
    }

    /// Projectors, sagas (and aggregate URL overrides) from `components`.
    pub fn with_components(mut self, components: EnvDiscovery) -> Self {
        self.components = components;
        self
    }

    fn render(&self, label: &str) -> String {
        self.template
            .replace("{domain}", label)
            .replace("{mesh}", &self.mesh)
    }
}

#[async_trait]
impl ServiceDiscovery for MeshDiscovery {
    async fn aggregate(&self, domain: &str) -> Result<Url> {
        let wanted = canonical(domain);
        if let Some(url) = self.components.aggregates().get(&wanted) {
            return Ok(url.clone());
        }
        if !is_sensible(&wanted) {
            return Err(Error::NotFound(format!(
                "domain `{domain}` cannot be a mesh host name"
            )));
        }
        let label = wanted.replace('_', "-");
        let rendered = self.render(&label);
        Url::parse(&rendered).map_err(|e| {
            Error::NotFound(format!(
                "domain `{domain}` makes no URL from the mesh template (`{rendered}`: {e})"
            ))
        })
    }

    async fn projectors(&self) -> Result<Vec<Endpoint>> {
        self.components.projectors().await
    }

    async fn sagas(&self, source_domain: &str) -> Result<Vec<Endpoint>> {
        self.components.sagas(source_domain).await
    }
}
