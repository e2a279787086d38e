//! Content negotiation and the two encodings: protobuf and the protobuf JSON
//! mapping.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use prost_reflect::{DeserializeOptions, DynamicMessage, SerializeOptions};

use crate::error::{ApiError, JSON};
use crate::registry::TypeRegistry;

/// The protobuf content type the gateway answers with.
pub const PROTOBUF: &str = "application/x-protobuf";

/// Media types read as protobuf.
const PROTOBUF_TYPES: [&str; 3] = [
    PROTOBUF,
    "application/protobuf",
    "application/vnd.google.protobuf",
];

/// How a body is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// Binary protobuf.
    Protobuf,
    /// The protobuf JSON mapping.
    Json,
}

impl Format {
    fn content_type(self) -> &'static str {
        match self {
            Format::Protobuf => PROTOBUF,
            Format::Json => JSON,
        }
    }

    fn of_media_type(media_type: &str) -> Option<Self> {
        let media_type = media_type.trim().to_ascii_lowercase();
        if PROTOBUF_TYPES.contains(&media_type.as_str()) {
            Some(Format::Protobuf)
        } else if media_type == JSON || media_type.ends_with("+json") {
            Some(Format::Json)
        } else {
            None
        }
    }
}

/// The format of a request body, from `Content-Type`: 415 if missing or neither.
pub(crate) fn content_format(headers: &HeaderMap) -> Result<Format, ApiError> {
    let unsupported = |what: &str| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("{what}; send `{PROTOBUF}` or `{JSON}`"),
        )
    };
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Err(unsupported("the request has no Content-Type"));
    };
    let value = value
        .to_str()
        .map_err(|_| unsupported("the Content-Type is not text"))?;
    let media_type = value.split(';').next().unwrap_or_default();
    Format::of_media_type(media_type)
        .ok_or_else(|| unsupported(&format!("Content-Type `{value}` is not supported")))
}

/// The format to answer in, from `Accept`: `fallback` when there is no
/// `Accept` or it allows anything; 406 when it names only other types.
pub(crate) fn accept_format(headers: &HeaderMap, fallback: Format) -> Result<Format, ApiError> {
    let values: Vec<&str> = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.split(';').next().unwrap_or_default().trim())
        .filter(|v| !v.is_empty())
        .collect();
    if values.is_empty() {
        return Ok(fallback);
    }
    // The first type named wins; wildcards take the fallback.
    for value in &values {
        if let Some(format) = Format::of_media_type(value) {
            return Ok(format);
        }
        if *value == "*/*" || *value == "application/*" {
            return Ok(fallback);
        }
    }
    Err(ApiError::new(
        StatusCode::NOT_ACCEPTABLE,
        "not_acceptable",
        format!(
            "cannot answer as `{}`; accept `{PROTOBUF}` or `{JSON}`",
            values.join(", ")
        ),
    ))
}

/// Reads a whole body; 413 if the body limit layer cut it off.
pub(crate) async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, usize::MAX)
        .await
        .map_err(|error| {
            if is_length_limit(&error) {
                ApiError::too_large(limit)
            } else {
                ApiError::invalid(format!("could not read the request body: {error}"))
            }
        })
}

fn is_length_limit(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if error.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        current = error.source();
    }
    false
}

/// Decodes a message `M` (full protobuf name `name`) from `bytes`.
pub(crate) fn decode<M: prost::Message + Default>(
    registry: &TypeRegistry,
    name: &str,
    format: Format,
    bytes: &[u8],
) -> Result<M, ApiError> {
    match format {
        Format::Protobuf => M::decode(bytes)
            .map_err(|e| ApiError::invalid(format!("malformed protobuf `{name}`: {e}"))),
        Format::Json => {
            let descriptor = registry.message(name)?;
            let mut deserializer = serde_json::Deserializer::from_slice(bytes);
            let message = DynamicMessage::deserialize_with_options(
                descriptor,
                &mut deserializer,
                &DeserializeOptions::new(),
            )
            .and_then(|m| deserializer.end().map(|()| m))
            .map_err(|e| ApiError::invalid(format!("malformed JSON `{name}`: {e}")))?;
            message
                .transcode_to::<M>()
                .map_err(|e| ApiError::invalid(format!("malformed JSON `{name}`: {e}")))
        }
    }
}

/// The protobuf JSON mapping of `message` (full protobuf name `name`).
pub(crate) fn to_json<M: prost::Message>(
    registry: &TypeRegistry,
    name: &str,
    message: &M,
) -> Result<serde_json::Value, ApiError> {
    let descriptor = registry.message(name)?;
    let dynamic = DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice())
        .map_err(|e| internal(format!("cannot re-read `{name}`: {e}")))?;
    dynamic
        .serialize_with_options(serde_json::value::Serializer, &SerializeOptions::new())
        .map_err(|e| {
            internal(format!(
                "the answer cannot be written as JSON ({e}); register its message types \
                 with the gateway, or ask for `{PROTOBUF}`"
            ))
        })
}

/// Answers `message` (full protobuf name `name`) in `format`, with `headers`.
pub(crate) fn answer<M: prost::Message>(
    registry: &TypeRegistry,
    name: &str,
    format: Format,
    message: &M,
) -> Result<Response, ApiError> {
    let body = match format {
        Format::Protobuf => message.encode_to_vec(),
        Format::Json => to_json(registry, name, message)?.to_string().into_bytes(),
    };
    Ok(with_type(body, format))
}

/// A 200 response of `body` with the content type of `format`.
pub(crate) fn with_type(body: Vec<u8>, format: Format) -> Response {
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    response
}

fn internal(message: String) -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        angzarr_core::ErrorCode::Internal.as_str(),
        message,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: header::HeaderName, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            name,
            HeaderValue::from_str(value).unwrap_or(HeaderValue::from_static("")),
        );
        headers
    }

    #[test]
    fn content_types_are_read_without_parameters_and_case() {
        for (value, format) in [
            ("application/x-protobuf", Format::Protobuf),
            ("application/protobuf", Format::Protobuf),
            ("Application/JSON; charset=utf-8", Format::Json),
            ("application/vnd.shop+json", Format::Json),
        ] {
            assert_eq!(
                content_format(&headers(header::CONTENT_TYPE, value)).ok(),
                Some(format),
                "{value}"
            );
        }
        let refused = content_format(&headers(header::CONTENT_TYPE, "text/plain"));
        assert_eq!(
            refused.err().map(|e| e.status),
            Some(StatusCode::UNSUPPORTED_MEDIA_TYPE)
        );
    }

    #[test]
    fn accept_takes_the_first_known_type_or_the_fallback() {
        let accept = |value: &str| accept_format(&headers(header::ACCEPT, value), Format::Protobuf);
        assert_eq!(accept("application/json").ok(), Some(Format::Json));
        assert_eq!(
            accept("text/html, application/x-protobuf;q=0.9").ok(),
            Some(Format::Protobuf)
        );
        assert_eq!(accept("*/*").ok(), Some(Format::Protobuf));
        assert_eq!(accept("application/*").ok(), Some(Format::Protobuf));
        assert_eq!(
            accept_format(&HeaderMap::new(), Format::Json).ok(),
            Some(Format::Json)
        );
        assert_eq!(
            accept("text/html").err().map(|e| e.status),
            Some(StatusCode::NOT_ACCEPTABLE)
        );
    }
}
