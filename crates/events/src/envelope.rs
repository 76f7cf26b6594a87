use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;

/// The envelope Clerk wraps every event in. `data` stays raw JSON: it is decoded per event type
/// later, and the stored body is always the exact bytes received.
#[derive(Debug, Clone)]
pub struct Envelope<'a> {
    /// The event type, such as `user.created`.
    pub event_type: String,
    /// Always `event` for Clerk events.
    pub object: String,
    /// When Clerk emitted the event, in milliseconds since the epoch.
    pub timestamp_ms: i64,
    /// The Clerk instance (`ins_...`) that sent the event, when present.
    pub instance_id: Option<String>,
    /// Who caused the event, when Clerk says.
    pub attributes: Option<EventAttributes>,
    pub data: &'a RawValue,
}

/// `event_attributes` of an envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventAttributes {
    pub http_request: Option<HttpRequest>,
}

/// The request to Clerk that caused the event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpRequest {
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Why a verified body is not a Clerk envelope. Retrying cannot fix any of these.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("body is not a JSON Clerk event envelope: {0}")]
    Json(#[from] serde_json::Error),
    #[error("envelope field `type` is empty")]
    EmptyType,
    #[error("envelope field `timestamp` is negative")]
    NegativeTimestamp,
    #[error(
        "envelope field `{0}` is longer than {MAX_NAME_LEN} characters or holds control characters"
    )]
    InvalidText(&'static str),
}

/// Longest event type or instance id accepted; Clerk's are under 50 characters.
pub const MAX_NAME_LEN: usize = 200;

fn plain_text(value: &str) -> bool {
    value.chars().count() <= MAX_NAME_LEN && !value.chars().any(char::is_control)
}

#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(rename = "type")]
    event_type: String,
    // Lenient: nothing depends on it (Clerk always sends `event`).
    #[serde(default, deserialize_with = "lenient_text")]
    object: String,
    timestamp: i64,
    #[serde(default)]
    instance_id: Option<String>,
    // Lenient: attributes of an unexpected shape are dropped rather than failing the event.
    #[serde(default, deserialize_with = "lenient_attributes")]
    event_attributes: Option<EventAttributes>,
    #[serde(borrow)]
    data: &'a RawValue,
}

fn lenient_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let value = serde_json::Value::deserialize(deserializer)?;
    Ok(value.as_str().unwrap_or_default().to_owned())
}

fn lenient_attributes<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<EventAttributes>, D::Error> {
    let value = serde_json::Value::deserialize(deserializer)?;
    Ok(serde_json::from_value(value).ok())
}

/// The timestamp to write so that reading it back gives `timestamp_ms` again: a value that
/// reads as seconds is written in seconds (it came from seconds, so it divides by 1000).
pub(crate) fn wire_timestamp(timestamp_ms: i64) -> i64 {
    if timestamp_ms < SECONDS_BELOW && timestamp_ms % 1000 == 0 {
        timestamp_ms / 1000
    } else {
        timestamp_ms
    }
}

/// Timestamps below this are read as seconds: as milliseconds they would fall in 1973, as
/// seconds they reach the year 5138. Clerk documents milliseconds; some examples use seconds.
const SECONDS_BELOW: i64 = 100_000_000_000;

impl<'a> Envelope<'a> {
    pub fn parse(body: &'a [u8]) -> Result<Self, EnvelopeError> {
        let wire: Wire<'a> = serde_json::from_slice(body)?;
        if wire.event_type.trim().is_empty() {
            return Err(EnvelopeError::EmptyType);
        }
        if !plain_text(&wire.event_type) {
            return Err(EnvelopeError::InvalidText("type"));
        }
        if wire
            .instance_id
            .as_deref()
            .is_some_and(|id| !plain_text(id))
        {
            return Err(EnvelopeError::InvalidText("instance_id"));
        }
        if wire.timestamp < 0 {
            return Err(EnvelopeError::NegativeTimestamp);
        }
        let timestamp_ms = if wire.timestamp < SECONDS_BELOW {
            wire.timestamp.saturating_mul(1000)
        } else {
            wire.timestamp
        };
        Ok(Self {
            event_type: wire.event_type,
            object: wire.object,
            timestamp_ms,
            instance_id: wire.instance_id,
            attributes: wire.event_attributes,
            data: wire.data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER_CREATED: &str = r#"{
        "data": {"id": "user_29w83sxmDNGwOuEthce5gg56FcC", "object": "user"},
        "event_attributes": {"http_request": {"client_ip": "0.0.0.0", "user_agent": "curl"}},
        "instance_id": "ins_123",
        "object": "event",
        "timestamp": 1654012591835,
        "type": "user.created"
    }"#;

    #[test]
    fn parses_a_clerk_envelope_keeping_data_raw() {
        let env = Envelope::parse(USER_CREATED.as_bytes()).unwrap();
        assert_eq!(env.event_type, "user.created");
        assert_eq!(env.object, "event");
        assert_eq!(env.timestamp_ms, 1_654_012_591_835);
        assert_eq!(env.instance_id.as_deref(), Some("ins_123"));
        assert!(env.data.get().contains("user_29w83sxmDNGwOuEthce5gg56FcC"));
        let request = env.attributes.unwrap().http_request.unwrap();
        assert_eq!(request.client_ip.as_deref(), Some("0.0.0.0"));
        assert_eq!(request.user_agent.as_deref(), Some("curl"));
    }

    #[test]
    fn normalises_second_timestamps_to_milliseconds() {
        let body = r#"{"data":{},"object":"event","type":"user.deleted","timestamp":1654012591}"#;
        assert_eq!(
            Envelope::parse(body.as_bytes()).unwrap().timestamp_ms,
            1_654_012_591_000
        );
    }

    #[test]
    fn refuses_what_is_not_an_envelope() {
        for body in [
            &b"not json"[..],
            br#"{"object":"event","type":"user.created","timestamp":1}"#,
            br#"{"data":{},"object":"event","type":"","timestamp":1}"#,
            br#"{"data":{},"object":"event","type":"user.created","timestamp":-1}"#,
            br#"{"data":{},"object":"event","type":"user.created","timestamp":"soon"}"#,
            br#"{"data":{},"object":"event","type":"user.\u0000created","timestamp":1}"#,
            br#"{"data":{},"object":"event","type":"user.created","instance_id":"ins\n","timestamp":1}"#,
            b"\xff\xfe",
        ] {
            assert!(
                Envelope::parse(body).is_err(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
