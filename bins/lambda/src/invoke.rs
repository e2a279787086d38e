//! The aggregate function's invoke payload; [`LambdaTransport`], which sends
//! commands to it with the Lambda `Invoke` API (endpoints `lambda:<function>`
//! of the one command router, `angzarr_runtime::DiscoveryRouter`); and
//! [`AggregateFunctions`], which names each domain's function.
//!
//! The payload is JSON, so it can be written by hand and read in logs:
//!
//! ```json
//! {"command_request": "<CommandRequest, protobuf, standard base64>"}
//! ```
//!
//! and the answer is one of
//!
//! ```json
//! {"command_response": "<CommandResponse, protobuf, standard base64>"}
//! {"error": {"code": "rejected", "message": "…", "retriable": false, "detail": {…}}}
//! ```
//!
//! Errors of the pipeline are answers, not function errors: the `error` is
//! the wire form of [`angzarr_core::error::wire`], so the caller sees the same
//! [`angzarr_core::Error`] (variant, fields, retriability) it would see in
//! process. A function error (crash, timeout) reaches the caller as a
//! retriable error.

use std::sync::Arc;

use angzarr_core::error::wire::WireError;
use angzarr_core::proto::{CommandRequest, CommandResponse};
use angzarr_core::{Error, Result, ServiceDiscovery};
use angzarr_runtime::{AggregateCoordinator, CommandTransport};
use async_trait::async_trait;
use aws_sdk_lambda::primitives::Blob;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use prost::Message;
use serde::{Deserialize, Serialize};

use crate::config::LambdaConfig;

/// What the aggregate function is invoked with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AggregateInvocation {
    /// The `CommandRequest`, protobuf in standard base64.
    pub command_request: String,
}

/// What the aggregate function answers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AggregateAnswer {
    /// The `CommandResponse`, protobuf in standard base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_response: Option<String>,
    /// Why the command failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<WireError>,
}

impl AggregateInvocation {
    /// The invocation of `request`.
    pub fn of(request: &CommandRequest) -> Self {
        Self {
            command_request: STANDARD.encode(request.encode_to_vec()),
        }
    }

    /// The request it carries.
    pub fn request(&self) -> Result<CommandRequest> {
        let bytes = STANDARD
            .decode(self.command_request.trim())
            .map_err(|e| Error::invalid_argument(format!("command_request is not base64: {e}")))?;
        Ok(CommandRequest::decode(bytes.as_slice())?)
    }
}

impl AggregateAnswer {
    /// The answer for a pipeline result.
    pub fn of(result: Result<CommandResponse>) -> Self {
        match result {
            Ok(response) => Self {
                command_response: Some(STANDARD.encode(response.encode_to_vec())),
                error: None,
            },
            Err(error) => Self {
                command_response: None,
                error: Some(WireError::from(&error)),
            },
        }
    }

    /// The pipeline result it carries.
    pub fn into_result(self) -> Result<CommandResponse> {
        match (self.command_response, self.error) {
            (_, Some(error)) => Err(error.into_error("aggregate function")),
            (Some(response), None) => {
                let bytes = STANDARD.decode(response.trim()).map_err(|e| {
                    Error::backend(
                        "aggregate function",
                        format!("command_response is not base64: {e}"),
                        false,
                    )
                })?;
                CommandResponse::decode(bytes.as_slice()).map_err(|e| {
                    Error::backend(
                        "aggregate function",
                        format!("malformed command_response: {e}"),
                        false,
                    )
                })
            }
            (None, None) => Err(Error::backend(
                "aggregate function",
                "answer carries neither command_response nor error",
                false,
            )),
        }
    }
}

/// Runs a command in `coordinator` and answers as the aggregate function does.
pub async fn handle_invocation(
    coordinator: &AggregateCoordinator,
    payload: serde_json::Value,
) -> AggregateAnswer {
    let request = serde_json::from_value::<AggregateInvocation>(payload)
        .map_err(|e| Error::invalid_argument(format!("malformed aggregate invocation: {e}")))
        .and_then(|invocation| invocation.request());
    let result = match request {
        Ok(request) => coordinator.handle(request).await,
        Err(error) => Err(error),
    };
    if let Err(error) = &result {
        tracing::info!(%error, code = error.code().as_str(), "command failed");
    }
    AggregateAnswer::of(result)
}

/// Commands to an aggregate function with Lambda `Invoke` (endpoint
/// `lambda:function-name`, a name, ARN or alias ARN): the payload is an
/// [`AggregateInvocation`], the answer an [`AggregateAnswer`], so the error
/// comes back as the same [`Error`].
#[derive(Debug)]
pub struct LambdaTransport {
    client: aws_sdk_lambda::Client,
}

impl LambdaTransport {
    /// Invokes with `client`.
    pub fn new(client: aws_sdk_lambda::Client) -> Self {
        Self { client }
    }

    /// The Lambda client for `config` (region, endpoint override, static
    /// credentials from the environment), sharing an SDK configuration of
    /// `sdk_configs` when one matches. One attempt per `Invoke`, for up to
    /// `lambda.invoke_timeout_secs`: a command that was sent may have run,
    /// so the SDK neither cuts it off at its usual 10 s per attempt nor
    /// sends it again.
    pub async fn client(
        config: &LambdaConfig,
        sdk_configs: &angzarr_aws::SdkConfigs,
    ) -> aws_sdk_lambda::Client {
        let sdk = sdk_configs
            .get(config.region.as_deref(), config.invoke_endpoint.as_deref())
            .await;
        let invoke = std::time::Duration::from_secs(config.invoke_timeout_secs);
        aws_sdk_lambda::Client::from_conf(invoke_config(
            aws_sdk_lambda::config::Builder::from(&sdk),
            invoke,
        ))
    }

    async fn invoke(&self, function: &str, request: &CommandRequest) -> Result<CommandResponse> {
        let payload = serde_json::to_vec(&AggregateInvocation::of(request))
            .map_err(|e| Error::backend("lambda", e.to_string(), false))?;
        let output = self
            .client
            .invoke()
            .function_name(function)
            .payload(Blob::new(payload))
            .send()
            .await
            .map_err(|e| {
                Error::unavailable(
                    "lambda",
                    format!(
                        "invoking `{function}`: {}",
                        aws_sdk_lambda::error::DisplayErrorContext(e)
                    ),
                )
            })?;
        let body = output.payload.map(Blob::into_inner).unwrap_or_default();
        if let Some(kind) = output.function_error {
            return Err(Error::unavailable(
                "lambda",
                format!(
                    "`{function}` failed ({kind}): {}",
                    String::from_utf8_lossy(&body)
                ),
            ));
        }
        let answer: AggregateAnswer = serde_json::from_slice(&body).map_err(|e| {
            Error::backend(
                "lambda",
                format!("`{function}` answered something else than an aggregate answer: {e}"),
                false,
            )
        })?;
        answer.into_result()
    }
}

/// `base` for `Invoke`: one attempt (no SDK retry: a sent command may have
/// run, and Lambda's own synchronous invocation does not retry either) of up
/// to `timeout`, which must cover the invoked function's timeout.
pub fn invoke_config(
    base: aws_sdk_lambda::config::Builder,
    timeout: std::time::Duration,
) -> aws_sdk_lambda::Config {
    let timeouts = aws_sdk_lambda::config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(3))
        .operation_attempt_timeout(timeout)
        .operation_timeout(timeout)
        .build();
    base.retry_config(aws_sdk_lambda::config::retry::RetryConfig::disabled())
        .timeout_config(timeouts)
        .build()
}

#[async_trait]
impl CommandTransport for LambdaTransport {
    fn schemes(&self) -> &'static [&'static str] {
        &["lambda"]
    }

    async fn send(
        &self,
        _domain: &str,
        endpoint: &url::Url,
        request: CommandRequest,
    ) -> Result<CommandResponse> {
        self.invoke(endpoint.path(), &request).await
    }
}

/// Where each domain's aggregate answers for a function: the aggregate
/// function the `lambda` section names for it (`lambda:<function>`), else
/// the configured discovery.
#[derive(Debug)]
pub struct AggregateFunctions {
    config: LambdaConfig,
    discovery: Arc<dyn ServiceDiscovery>,
}

impl AggregateFunctions {
    /// `config`'s functions first, then `discovery`.
    pub fn new(config: LambdaConfig, discovery: Arc<dyn ServiceDiscovery>) -> Self {
        Self { config, discovery }
    }
}

#[async_trait]
impl ServiceDiscovery for AggregateFunctions {
    async fn aggregate(&self, domain: &str) -> Result<url::Url> {
        match self.config.function_for(domain) {
            Some(function) => url::Url::parse(&format!("lambda:{function}")).map_err(|e| {
                Error::config(
                    "lambda.aggregate_function",
                    format!("`{function}` is not a function name: {e}"),
                )
            }),
            None => self.discovery.aggregate(domain).await.map_err(|e| match e {
                Error::NotFound(_) => Error::invalid_argument(format!(
                    "no aggregate function or endpoint serves domain `{domain}`"
                )),
                other => other,
            }),
        }
    }

    async fn projectors(&self) -> Result<Vec<angzarr_core::discovery::Endpoint>> {
        self.discovery.projectors().await
    }

    async fn sagas(&self, source_domain: &str) -> Result<Vec<angzarr_core::discovery::Endpoint>> {
        self.discovery.sagas(source_domain).await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use angzarr_core::proto::{CommandBook, Cover};

    fn request() -> CommandRequest {
        CommandRequest {
            command: Some(CommandBook {
                cover: Some(Cover {
                    domain: "cart".into(),
                    ..Default::default()
                }),
                pages: vec![],
            }),
            ..Default::default()
        }
    }

    #[test]
    fn invocations_round_trip_through_json() {
        let invocation = AggregateInvocation::of(&request());
        let json = serde_json::to_value(&invocation).unwrap();
        let back: AggregateInvocation = serde_json::from_value(json).unwrap();
        assert_eq!(back.request().unwrap(), request());
        let bad = AggregateInvocation {
            command_request: "%%%".into(),
        };
        assert!(matches!(bad.request(), Err(Error::InvalidArgument(_))));
    }

    #[test]
    fn every_error_round_trips_through_the_answer() {
        use angzarr_testkit::errors::{every_variant, observed};
        for error in every_variant() {
            let expected = observed(&error);
            let json = serde_json::to_string(&AggregateAnswer::of(Err(error))).unwrap();
            let answer: AggregateAnswer = serde_json::from_str(&json).unwrap();
            let back = answer.into_result().unwrap_err();
            assert_eq!(observed(&back), expected, "{json}");
        }
        let ok = AggregateAnswer::of(Ok(CommandResponse::default()));
        assert_eq!(ok.into_result().unwrap(), CommandResponse::default());
        assert!(AggregateAnswer::default().into_result().is_err());
    }

    /// A stand-in for the Lambda `Invoke` API whose function takes `delay`
    /// to answer; the count of invocations it received.
    async fn slow_function(
        delay: std::time::Duration,
    ) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        let invoked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = invoked.clone();
        let app = axum::Router::new().route(
            "/2015-03-31/functions/{name}/invocations",
            axum::routing::post(move || {
                let counted = counted.clone();
                async move {
                    counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    tokio::time::sleep(delay).await;
                    axum::Json(AggregateAnswer::of(Ok(CommandResponse::default())))
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, invoked)
    }

    /// The client settings every SDK client of a function shares: 3
    /// attempts of at most `attempt` each.
    fn shared_settings(
        endpoint: &str,
        attempt: std::time::Duration,
    ) -> aws_sdk_lambda::config::Builder {
        aws_sdk_lambda::Config::builder()
            .behavior_version(aws_sdk_lambda::config::BehaviorVersion::latest())
            .region(aws_sdk_lambda::config::Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(aws_sdk_lambda::config::Credentials::new(
                "t", "t", None, None, "test",
            ))
            .http_client(angzarr_aws::default_https_client())
            .retry_config(
                aws_sdk_lambda::config::retry::RetryConfig::standard().with_max_attempts(3),
            )
            .timeout_config(
                aws_sdk_lambda::config::timeout::TimeoutConfig::builder()
                    .operation_attempt_timeout(attempt)
                    .build(),
            )
    }

    async fn invoke_through(config: aws_sdk_lambda::Config) -> Result<CommandResponse> {
        let transport = LambdaTransport::new(aws_sdk_lambda::Client::from_conf(config));
        let endpoint = url::Url::parse("lambda:aggregate").unwrap();
        transport.send("cart", &endpoint, request()).await
    }

    /// A command slower than the shared per-attempt timeout runs once, and
    /// its answer is waited for; one slower than the invoke timeout fails
    /// without being sent again.
    #[tokio::test]
    async fn an_invoke_is_waited_for_and_never_sent_twice() {
        let attempt = std::time::Duration::from_millis(300);
        let (url, invoked) = slow_function(std::time::Duration::from_millis(800)).await;
        let count = || invoked.swap(0, std::sync::atomic::Ordering::SeqCst);

        // The shared settings alone would cut it off and send it again.
        let shared = shared_settings(&url, attempt).build();
        assert!(invoke_through(shared).await.is_err());
        tokio::time::sleep(std::time::Duration::from_millis(900)).await;
        assert_eq!(count(), 3, "the command ran three times");

        // The invoke settings: waited for, once.
        let waited = invoke_config(
            shared_settings(&url, attempt),
            std::time::Duration::from_secs(5),
        );
        invoke_through(waited).await.unwrap();
        assert_eq!(count(), 1);

        // Slower than the invoke timeout: a failure, and still one run.
        let short = invoke_config(
            shared_settings(&url, attempt),
            std::time::Duration::from_millis(400),
        );
        assert!(invoke_through(short).await.is_err());
        tokio::time::sleep(std::time::Duration::from_millis(900)).await;
        assert_eq!(count(), 1, "not sent again");
    }
}
