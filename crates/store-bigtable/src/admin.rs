//! Table creation through the Bigtable table admin API, for tests, `xtask`
//! and first deployments. The functions at runtime never call it: they need
//! only `roles/bigtable.user`; creating tables needs `roles/bigtable.admin`.

use std::collections::HashMap;
use std::time::Duration;

use angzarr_core::{Error, Result};
use googleapis_tonic_google_bigtable_admin_v2::google::bigtable::admin::v2::{
    ColumnFamily, CreateTableRequest, GcRule, GetTableRequest, ModifyColumnFamiliesRequest, Table,
    bigtable_table_admin_client::BigtableTableAdminClient,
    gc_rule,
    modify_column_families_request::{Modification, modification},
    table::View,
};
use tonic::Code;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};

use crate::error::{BACKEND, from_status};
use crate::layout::{EVENT_FAMILY, GUARD_FAMILY, RATE_FAMILY, SNAPSHOT_FAMILY};

const ADMIN_HOST: &str = "https://bigtableadmin.googleapis.com";
const ADMIN_SCOPE: &str = "https://www.googleapis.com/auth/bigtable.admin.table";

/// How long the garbage collector keeps firing-guard cells after their
/// expiry (guard cells carry their expiry as timestamp).
pub(crate) const GUARD_GC_AFTER_EXPIRY: Duration = Duration::from_secs(24 * 3600);
/// How long rate-limit counters live after their last increment; windows
/// up to this long are counted exactly.
pub(crate) const RATE_GC_AFTER_LAST_INCREMENT: Duration = Duration::from_secs(2 * 24 * 3600);

/// The four tables of a backend and the column family of each.
#[derive(Clone, Debug)]
pub(crate) struct TableNames {
    pub events: String,
    pub snapshots: String,
    pub guard: String,
    pub rate_limit: String,
}

fn keep_latest() -> GcRule {
    GcRule {
        rule: Some(gc_rule::Rule::MaxNumVersions(1)),
    }
}

fn keep_latest_until(age: Duration) -> GcRule {
    let max_age = prost_types::Duration {
        seconds: i64::try_from(age.as_secs()).unwrap_or(i64::MAX),
        nanos: 0,
    };
    GcRule {
        rule: Some(gc_rule::Rule::Union(gc_rule::Union {
            rules: vec![
                keep_latest(),
                GcRule {
                    rule: Some(gc_rule::Rule::MaxAge(max_age)),
                },
            ],
        })),
    }
}

/// Every (table, family, GC rule) this crate uses.
pub(crate) fn schema(tables: &TableNames) -> Vec<(String, &'static str, GcRule)> {
    vec![
        (tables.events.clone(), EVENT_FAMILY, keep_latest()),
        (tables.snapshots.clone(), SNAPSHOT_FAMILY, keep_latest()),
        (
            tables.guard.clone(),
            GUARD_FAMILY,
            keep_latest_until(GUARD_GC_AFTER_EXPIRY),
        ),
        (
            tables.rate_limit.clone(),
            RATE_FAMILY,
            keep_latest_until(RATE_GC_AFTER_LAST_INCREMENT),
        ),
    ]
}

/// A table admin client on the emulator (`endpoint`) or on Google Cloud.
pub(crate) struct Admin {
    client: BigtableTableAdminClient<Channel>,
    token: Option<std::sync::Arc<dyn gcp_auth::TokenProvider>>,
    instance: String,
}

impl Admin {
    pub(crate) async fn connect(
        project: &str,
        instance: &str,
        endpoint: Option<&str>,
        timeout: Duration,
    ) -> Result<Self> {
        let (channel, token) = match endpoint {
            Some(host_port) => {
                let endpoint = Endpoint::from_shared(format!("http://{host_port}"))
                    .map_err(|e| Error::config("storage.gcp_bigtable.endpoint", e.to_string()))?;
                (endpoint.timeout(timeout).connect_lazy(), None)
            }
            None => {
                let endpoint = Endpoint::from_static(ADMIN_HOST)
                    .tls_config(ClientTlsConfig::new().with_native_roots())
                    .map_err(|e| Error::unavailable(BACKEND, e))?
                    .timeout(timeout);
                let token = gcp_auth::provider()
                    .await
                    .map_err(|e| Error::backend(BACKEND, format!("credentials: {e}"), false))?;
                (endpoint.connect_lazy(), Some(token))
            }
        };
        Ok(Self {
            client: BigtableTableAdminClient::new(channel),
            token,
            instance: format!("projects/{project}/instances/{instance}"),
        })
    }

    async fn request<T>(&self, message: T) -> Result<tonic::Request<T>> {
        let mut request = tonic::Request::new(message);
        if let Some(provider) = &self.token {
            let token = provider
                .token(&[ADMIN_SCOPE])
                .await
                .map_err(|e| Error::backend(BACKEND, format!("access token: {e}"), true))?;
            let value = format!("Bearer {}", token.as_str()).parse().map_err(|_| {
                Error::backend(BACKEND, "access token is not a header value", false)
            })?;
            request.metadata_mut().insert("authorization", value);
        }
        Ok(request)
    }

    /// Creates `table` with `family`, or adds the family to an existing
    /// table that lacks it. Running it again changes nothing.
    pub(crate) async fn ensure_family(
        &self,
        table: &str,
        family: &str,
        gc_rule: GcRule,
    ) -> Result<()> {
        let column_family = ColumnFamily {
            gc_rule: Some(gc_rule),
            value_type: None,
        };
        let create = CreateTableRequest {
            parent: self.instance.clone(),
            table_id: table.to_owned(),
            table: Some(Table {
                column_families: HashMap::from([(family.to_owned(), column_family.clone())]),
                ..Default::default()
            }),
            initial_splits: Vec::new(),
        };
        let mut client = self.client.clone();
        match client.create_table(self.request(create).await?).await {
            Ok(_) => return Ok(()),
            Err(status) if status.code() == Code::AlreadyExists => {}
            Err(status) => return Err(from_status(status)),
        }
        let name = format!("{}/tables/{table}", self.instance);
        let get = GetTableRequest {
            name: name.clone(),
            view: View::SchemaView as i32,
        };
        let existing = client
            .get_table(self.request(get).await?)
            .await
            .map_err(from_status)?
            .into_inner();
        if existing.column_families.contains_key(family) {
            return Ok(());
        }
        let modify = ModifyColumnFamiliesRequest {
            name,
            modifications: vec![Modification {
                id: family.to_owned(),
                update_mask: None,
                r#mod: Some(modification::Mod::Create(column_family)),
            }],
            ignore_warnings: false,
        };
        match client
            .modify_column_families(self.request(modify).await?)
            .await
        {
            Ok(_) => Ok(()),
            // Another process added it meanwhile.
            Err(status) if status.code() == Code::AlreadyExists => Ok(()),
            Err(status) => Err(from_status(status)),
        }
    }
}
