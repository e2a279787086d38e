//! The data-API client: one connection per process, shared by every store of
//! a [`crate::BigtableBackend`], with a timeout on every call and a count of
//! the requests sent (the round trips the README reports are measured with it).

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use angzarr_core::Result;
use bigtable_rs::bigtable::{BigTable, BigTableConnection, RowCell};
use bigtable_rs::google::bigtable::v2::{
    CheckAndMutateRowRequest, MutateRowRequest, ReadModifyWriteRowRequest, ReadRowsRequest, Row,
};

use crate::error::{from_client, from_status, timed_out};

/// Largest gRPC message this client sends or accepts: a batch row of
/// [`crate::events::LIMITS`] at its largest (25 MiB) with room to spare.
const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// A row as read: its key and its cells.
pub(crate) type ReadRow = (Vec<u8>, Vec<RowCell>);

/// Where and how to connect.
#[derive(Clone, Debug)]
pub(crate) struct ConnectOptions {
    pub project: String,
    pub instance: String,
    /// `host:port` of an emulator; `None` connects to Google Cloud with
    /// Application Default Credentials.
    pub endpoint: Option<String>,
    pub timeout: Duration,
    pub channels: usize,
    /// The app profile of every data request (empty: the instance's default).
    pub app_profile: String,
}

/// The shared data-API client.
pub(crate) struct Client {
    data: BigTable,
    table_prefix: String,
    app_profile: String,
    timeout: Duration,
    requests: AtomicU64,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("table_prefix", &self.table_prefix)
            .field("app_profile", &self.app_profile)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Opens the connection. Nothing is sent yet: the channel connects lazily
    /// on the first request, so a cold start pays no round trip here (except
    /// loading credentials when no emulator endpoint is set).
    pub(crate) async fn connect(options: &ConnectOptions) -> Result<Self> {
        let mut connection = match &options.endpoint {
            Some(endpoint) => BigTableConnection::new_with_emulator(
                endpoint,
                &options.project,
                &options.instance,
                false,
                options.channels,
                Some(options.timeout),
            ),
            None => {
                BigTableConnection::new(
                    &options.project,
                    &options.instance,
                    false,
                    options.channels,
                    Some(options.timeout),
                )
                .await
            }
        }
        .map_err(from_client)?;
        connection.configure_inner_client(|client| {
            client
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES)
        });
        Ok(Self {
            data: connection.client(),
            table_prefix: format!(
                "projects/{}/instances/{}/tables/",
                options.project, options.instance
            ),
            app_profile: options.app_profile.clone(),
            timeout: options.timeout,
            requests: AtomicU64::new(0),
        })
    }

    /// The full resource name of table `table`.
    pub(crate) fn table_name(&self, table: &str) -> String {
        format!("{}{table}", self.table_prefix)
    }

    /// Requests sent since the client was made.
    pub(crate) fn request_count(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Counts one request and bounds it by the timeout (the channel's own
    /// timeout covers only the response headers of a streaming read).
    async fn call<T>(
        &self,
        what: &str,
        call: impl Future<Output = Result<T, bigtable_rs::bigtable::Error>>,
    ) -> Result<T> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        match tokio::time::timeout(self.timeout, call).await {
            Ok(result) => result.map_err(from_client),
            Err(_) => Err(timed_out(what, self.timeout)),
        }
    }

    /// Reads rows (the whole response stream, decoded into rows).
    pub(crate) async fn read_rows(&self, mut request: ReadRowsRequest) -> Result<Vec<ReadRow>> {
        request.app_profile_id.clone_from(&self.app_profile);
        let mut data = self.data.clone();
        self.call("ReadRows", data.read_rows(request)).await
    }

    /// Runs a CheckAndMutateRow; returns whether the predicate matched.
    pub(crate) async fn check_and_mutate(
        &self,
        mut request: CheckAndMutateRowRequest,
    ) -> Result<bool> {
        request.app_profile_id.clone_from(&self.app_profile);
        let mut data = self.data.clone();
        let response = self
            .call("CheckAndMutateRow", data.check_and_mutate_row(request))
            .await?;
        Ok(response.predicate_matched)
    }

    /// Applies mutations to one row atomically.
    pub(crate) async fn mutate_row(&self, mut request: MutateRowRequest) -> Result<()> {
        request.app_profile_id.clone_from(&self.app_profile);
        let mut data = self.data.clone();
        self.call("MutateRow", data.mutate_row(request)).await?;
        Ok(())
    }

    /// Runs a ReadModifyWriteRow; returns the modified cells.
    pub(crate) async fn read_modify_write(
        &self,
        mut request: ReadModifyWriteRowRequest,
    ) -> Result<Option<Row>> {
        request.app_profile_id.clone_from(&self.app_profile);
        // `bigtable_rs` does not wrap this call: add the routing header
        // Bigtable expects on every data request ourselves.
        let routing = format!(
            "table_name={}&app_profile_id={}",
            request.table_name.replace('/', "%2F"),
            request.app_profile_id
        );
        let mut tonic_request = tonic::Request::new(request);
        if let Ok(value) = routing.parse() {
            tonic_request
                .metadata_mut()
                .insert("x-goog-request-params", value);
        }
        let mut data = self.data.clone();
        self.requests.fetch_add(1, Ordering::Relaxed);
        let call = data.get_client().read_modify_write_row(tonic_request);
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(response)) => Ok(response.into_inner().row),
            Ok(Err(status)) => Err(from_status(status)),
            Err(_) => Err(timed_out("ReadModifyWriteRow", self.timeout)),
        }
    }
}
