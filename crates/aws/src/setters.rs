//! The connection setters every AWS adapter's builder offers, written once.

/// Expands, inside an `impl Builder` block, to the connection setters of a
/// builder whose [`ClientSettings`](crate::ClientSettings) field is named
/// `$field`: `with_region`, `with_endpoint`, `with_credentials`,
/// `with_timeouts`, `with_max_attempts`, `with_request_counter` and
/// `with_sdk_config`.
#[macro_export]
macro_rules! client_setters {
    ($field:ident) => {
        /// The AWS region.
        pub fn with_region(mut self, region: impl Into<String>) -> Self {
            self.$field.region = Some(region.into());
            self
        }

        /// An endpoint override (e.g. moto's `http://127.0.0.1:PORT`).
        pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
            self.$field.endpoint = Some(endpoint.into());
            self
        }

        /// A static access key instead of the SDK's credential chain.
        pub fn with_credentials(
            mut self,
            access_key_id: impl Into<String>,
            secret_access_key: impl Into<String>,
        ) -> Self {
            self.$field.credentials = Some($crate::StaticCredentials {
                access_key_id: access_key_id.into(),
                secret_access_key: secret_access_key.into(),
                session_token: None,
            });
            self
        }

        /// Connect timeout and per-attempt timeout (defaults: see the
        /// builder's own documentation).
        pub fn with_timeouts(
            mut self,
            connect: std::time::Duration,
            attempt: std::time::Duration,
        ) -> Self {
            self.$field.connect_timeout = connect;
            self.$field.operation_timeout = attempt;
            self
        }

        /// Attempts per request, retries included (default 3).
        pub fn with_max_attempts(mut self, attempts: u32) -> Self {
            self.$field.max_attempts = attempts;
            self
        }

        /// Counts every HTTP request the clients send.
        pub fn with_request_counter(mut self, counter: $crate::RequestCounter) -> Self {
            self.$field.counter = Some(counter);
            self
        }

        /// Builds the clients from an SDK configuration loaded already (shared
        /// with the process's other AWS clients: one HTTP stack, one
        /// credentials provider, a shorter cold start); region, endpoint,
        /// credentials, timeouts and attempts set here are then ignored.
        pub fn with_sdk_config(mut self, sdk: $crate::SdkConfig) -> Self {
            self.$field.shared = Some(sdk);
            self
        }
    };
}
