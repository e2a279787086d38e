//! [`PayloadStore`] on S3: one object per distinct content, named by its
//! SHA-256 (`{prefix}{sha256-hex}`), referenced as `s3://{bucket}/{key}`.

use angzarr_core::payload::{content_hash, hex};
use angzarr_core::proto::{PayloadReference, PayloadStorageType};
use angzarr_core::{Error, PayloadStore, Result};
use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;

use crate::error::{BACKEND, from_sdk};

/// The claim-check store; made by [`crate::Builder::build`].
#[derive(Clone, Debug)]
pub struct S3PayloadStore {
    client: Client,
    bucket: String,
    prefix: String,
}

impl S3PayloadStore {
    pub(crate) fn new(client: Client, bucket: String, prefix: String) -> Self {
        Self {
            client,
            bucket,
            prefix,
        }
    }

    /// The SDK client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The object key of a reference's URI, if it names this store's bucket.
    fn object_key<'a>(&self, uri: &'a str) -> Result<&'a str> {
        uri.strip_prefix("s3://")
            .and_then(|rest| rest.split_once('/'))
            .filter(|(bucket, key)| *bucket == self.bucket && !key.is_empty())
            .map(|(_, key)| key)
            .ok_or_else(|| {
                Error::invalid_argument(format!(
                    "payload `{uri}` is not an object of bucket `{}`",
                    self.bucket
                ))
            })
    }
}

#[async_trait]
impl PayloadStore for S3PayloadStore {
    async fn put(&self, content: Vec<u8>) -> Result<PayloadReference> {
        let hash = content_hash(&content);
        let key = format!("{}{}", self.prefix, hex(&hash));
        let uri = format!("s3://{}/{key}", self.bucket);
        let size = content.len() as u64;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .content_type("application/octet-stream")
            .body(ByteStream::from(content))
            .send()
            .await
            .map_err(|e| from_sdk(e, &uri))?;
        Ok(PayloadReference {
            storage_type: PayloadStorageType::S3 as i32,
            uri,
            content_hash: hash,
            original_size: size,
            stored_at: Some(std::time::SystemTime::now().into()),
        })
    }

    async fn get_raw(&self, reference: &PayloadReference) -> Result<Vec<u8>> {
        let key = self.object_key(&reference.uri)?;
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| from_sdk(e, &reference.uri))?;
        let body = out.body.collect().await.map_err(|e| {
            Error::unavailable(BACKEND, format!("reading `{}`: {e}", reference.uri))
        })?;
        Ok(body.into_bytes().to_vec())
    }
}
