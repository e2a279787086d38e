//! The JSON body of a Pub/Sub push request, and its decoding into a [`Delivery`].

use std::collections::HashMap;

use angzarr_core::{Delivery, Error, PayloadStore, Result};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

/// `{"message":{..},"subscription":"projects/P/subscriptions/S","deliveryAttempt":N}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PushEnvelope {
    /// The message.
    pub message: PushMessage,
    /// The subscription that pushed it.
    #[serde(default)]
    pub subscription: String,
    /// How many times it was delivered, when the subscription has a
    /// dead-letter policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_attempt: Option<u32>,
}

/// The message inside a [`PushEnvelope`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PushMessage {
    /// The data, base64 (standard alphabet, padded).
    #[serde(default)]
    pub data: String,
    /// The message's attributes.
    #[serde(default)]
    pub attributes: HashMap<String, String>,
    /// The id the server gave the message.
    pub message_id: String,
    /// When it was published (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish_time: Option<String>,
    /// The ordering key (absent on the emulator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ordering_key: Option<String>,
}

impl PushEnvelope {
    /// Parses a push request body.
    pub fn parse(body: &[u8]) -> Result<Self> {
        serde_json::from_slice(body)
            .map_err(|e| Error::invalid_argument(format!("malformed push envelope: {e}")))
    }

    /// The message id of a body that may not parse as a whole, for logging.
    pub fn message_id_of(body: &[u8]) -> Option<String> {
        let value: serde_json::Value = serde_json::from_slice(body).ok()?;
        let message = value.get("message")?;
        message
            .get("messageId")
            .or_else(|| message.get("message_id"))?
            .as_str()
            .map(str::to_owned)
    }

    /// The event book and attributes carried, as a [`Delivery`] whose
    /// `ack_id` is the message id (a push is acknowledged by the answer).
    pub async fn into_delivery(self, payloads: Option<&dyn PayloadStore>) -> Result<Delivery> {
        let data = STANDARD
            .decode(self.message.data.as_bytes())
            .map_err(|e| Error::invalid_argument(format!("push data is not base64: {e}")))?;
        let (book, attributes) =
            crate::subscriber::decode(&data, &self.message.attributes, payloads).await?;
        Ok(Delivery {
            ack_id: self.message.message_id.clone(),
            message_id: self.message.message_id,
            book,
            attributes,
            attempt: self.delivery_attempt.unwrap_or(1).max(1),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape Pub/Sub documents, with the snake_case duplicates it also sends.
    #[test]
    fn parses_the_documented_push_body() {
        let body = br#"{
            "message": {
                "attributes": {"domain": "order", "root_id": "r1"},
                "data": "",
                "messageId": "2070443601311540",
                "message_id": "2070443601311540",
                "publishTime": "2021-02-26T19:13:55.749Z",
                "publish_time": "2021-02-26T19:13:55.749Z",
                "orderingKey": "r1"
            },
            "subscription": "projects/myproject/subscriptions/mysubscription",
            "deliveryAttempt": 3
        }"#;
        let envelope = PushEnvelope::parse(body).unwrap();
        assert_eq!(envelope.message.message_id, "2070443601311540");
        assert_eq!(envelope.message.ordering_key.as_deref(), Some("r1"));
        assert_eq!(envelope.delivery_attempt, Some(3));
        assert_eq!(
            PushEnvelope::message_id_of(body).as_deref(),
            Some("2070443601311540")
        );
        assert!(PushEnvelope::parse(br#"{"message": {}}"#).is_err());
        assert_eq!(PushEnvelope::message_id_of(b"{oops"), None);
    }
}
