use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::envelope::{Envelope, EnvelopeError, EventAttributes};
use crate::resources::{
    DeletedObject, Email, Organization, OrganizationDomain, OrganizationInvitation,
    OrganizationMembership, Payer, PaymentAttempt, Permission, Role, Session, SmsMessage,
    Subscription, SubscriptionItem, User, WaitlistEntry,
};
use crate::{ClerkId, EntityKind, EventType};

/// A Clerk webhook event, decoded: the envelope's fields and the typed object it carries.
#[derive(Debug, Clone, PartialEq)]
pub struct ClerkEvent {
    pub event_type: EventType,
    /// When Clerk emitted the event, in milliseconds since the epoch.
    pub timestamp_ms: i64,
    pub instance_id: Option<String>,
    pub attributes: Option<EventAttributes>,
    pub data: EventData,
}

/// The object an event carries, by kind.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum EventData {
    User(Box<User>),
    Session(Box<Session>),
    Organization(Box<Organization>),
    OrganizationMembership(Box<OrganizationMembership>),
    OrganizationInvitation(Box<OrganizationInvitation>),
    OrganizationDomain(Box<OrganizationDomain>),
    Role(Box<Role>),
    Permission(Box<Permission>),
    Email(Box<Email>),
    Sms(Box<SmsMessage>),
    WaitlistEntry(Box<WaitlistEntry>),
    Subscription(Box<Subscription>),
    SubscriptionItem(Box<SubscriptionItem>),
    PaymentAttempt(Box<PaymentAttempt>),
    /// A delete that carries only `{object, id, deleted: true}`.
    Deleted(DeletedObject),
    /// The data of an event type this version does not know, kept whole.
    Unknown(serde_json::Value),
}

/// Which object an event concerns, and the objects that own it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EntityRef<'a> {
    pub kind: EntityKind,
    pub id: &'a ClerkId,
    pub organization_id: Option<&'a ClerkId>,
    pub user_id: Option<&'a ClerkId>,
}

/// Why a body is not a Clerk event hookgate can use. Names the field at fault.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    #[error("`{event_type}` event: field `{path}` is invalid: {message}")]
    Data {
        event_type: String,
        path: String,
        message: String,
    },
}

impl ClerkEvent {
    /// Decodes a webhook body.
    pub fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        Self::from_envelope(Envelope::parse(body)?)
    }

    /// Decodes the `data` of an envelope already parsed.
    pub fn from_envelope(envelope: Envelope<'_>) -> Result<Self, DecodeError> {
        let event_type = EventType::parse(&envelope.event_type);
        let data = decode_data(&event_type, envelope.data)?;
        Ok(Self {
            event_type,
            timestamp_ms: envelope.timestamp_ms,
            instance_id: envelope.instance_id,
            attributes: envelope.attributes,
            data,
        })
    }

    /// Whether the event removes its object.
    pub fn is_delete(&self) -> bool {
        self.event_type.is_delete()
    }

    /// The version that orders events of one object: the object's `updated_at`, or for a delete
    /// (and for objects without `updated_at`) the envelope's timestamp. Milliseconds.
    pub fn version(&self) -> i64 {
        if self.is_delete() {
            return self.timestamp_ms;
        }
        self.updated_at().unwrap_or(self.timestamp_ms)
    }

    fn updated_at(&self) -> Option<i64> {
        match &self.data {
            EventData::User(x) => x.updated_at,
            EventData::Session(x) => x.updated_at,
            EventData::Organization(x) => x.updated_at,
            EventData::OrganizationMembership(x) => x.updated_at,
            EventData::OrganizationInvitation(x) => x.updated_at,
            EventData::OrganizationDomain(x) => x.updated_at,
            EventData::Role(x) => x.updated_at,
            EventData::Permission(x) => x.updated_at,
            EventData::WaitlistEntry(x) => x.updated_at,
            EventData::Subscription(x) => x.updated_at,
            EventData::SubscriptionItem(x) => x.updated_at,
            EventData::PaymentAttempt(x) => x.updated_at,
            EventData::Email(_)
            | EventData::Sms(_)
            | EventData::Deleted(_)
            | EventData::Unknown(_) => None,
        }
    }

    /// The object the event concerns; `None` for unknown event types and for a delete that
    /// does not say which object it deletes.
    pub fn entity(&self) -> Option<EntityRef<'_>> {
        let kind = self.event_type.kind()?;
        let (id, organization_id, user_id) = match &self.data {
            EventData::User(x) => (&x.id, None, None),
            EventData::Session(x) => (&x.id, None, x.user_id.as_ref()),
            EventData::Organization(x) => (&x.id, None, None),
            EventData::OrganizationMembership(x) => (
                &x.id,
                Some(&x.organization.id),
                x.public_user_data.as_ref().map(|u| &u.user_id),
            ),
            EventData::OrganizationInvitation(x) => (
                &x.id,
                x.organization_id
                    .as_ref()
                    .or(x.public_organization_data.as_ref().map(|o| &o.id)),
                x.user_id.as_ref(),
            ),
            EventData::OrganizationDomain(x) => (&x.id, x.organization_id.as_ref(), None),
            EventData::Role(x) => (&x.id, None, None),
            EventData::Permission(x) => (&x.id, None, None),
            EventData::Email(x) => (&x.id, None, x.user_id.as_ref()),
            EventData::Sms(x) => (&x.id, None, x.user_id.as_ref()),
            EventData::WaitlistEntry(x) => (&x.id, None, None),
            EventData::Subscription(x) => {
                let (org, user) = payer_ids(&x.payer);
                (&x.id, org, user)
            }
            EventData::SubscriptionItem(x) => {
                let (org, user) = payer_ids(&x.payer);
                (&x.id, org, user)
            }
            EventData::PaymentAttempt(x) => {
                let (org, user) = payer_ids(&x.payer);
                (&x.id, org, user)
            }
            EventData::Deleted(x) => (x.id.as_ref()?, None, None),
            EventData::Unknown(_) => return None,
        };
        Some(EntityRef {
            kind,
            id,
            organization_id,
            user_id,
        })
    }

    /// For user events, the primary email address resolved from `primary_email_address_id`.
    pub fn primary_email(&self) -> Option<&str> {
        match &self.data {
            EventData::User(user) => user.primary_email_address(),
            _ => None,
        }
    }

    /// The event as an envelope again (keys in a fixed order; unknown fields dropped).
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        #[derive(Serialize)]
        struct Out<'a> {
            data: &'a EventData,
            event_attributes: &'a Option<EventAttributes>,
            instance_id: &'a Option<String>,
            object: &'static str,
            timestamp: i64,
            #[serde(rename = "type")]
            event_type: &'a EventType,
        }
        serde_json::to_vec(&Out {
            data: &self.data,
            event_attributes: &self.attributes,
            instance_id: &self.instance_id,
            object: "event",
            timestamp: crate::envelope::wire_timestamp(self.timestamp_ms),
            event_type: &self.event_type,
        })
    }
}

fn decode_data(event_type: &EventType, raw: &RawValue) -> Result<EventData, DecodeError> {
    let Some(kind) = event_type.kind() else {
        return Ok(EventData::Unknown(read(event_type, raw)?));
    };
    if event_type.is_delete() && is_deletion_stub(raw) {
        return Ok(EventData::Deleted(read(event_type, raw)?));
    }
    Ok(match kind {
        EntityKind::User => EventData::User(read(event_type, raw)?),
        EntityKind::Session => EventData::Session(read(event_type, raw)?),
        EntityKind::Organization => EventData::Organization(read(event_type, raw)?),
        EntityKind::OrganizationMembership => {
            EventData::OrganizationMembership(read(event_type, raw)?)
        }
        EntityKind::OrganizationInvitation => {
            EventData::OrganizationInvitation(read(event_type, raw)?)
        }
        EntityKind::OrganizationDomain => EventData::OrganizationDomain(read(event_type, raw)?),
        EntityKind::Role => EventData::Role(read(event_type, raw)?),
        EntityKind::Permission => EventData::Permission(read(event_type, raw)?),
        EntityKind::Email => EventData::Email(read(event_type, raw)?),
        EntityKind::Sms => EventData::Sms(read(event_type, raw)?),
        EntityKind::WaitlistEntry => EventData::WaitlistEntry(read(event_type, raw)?),
        EntityKind::Subscription => EventData::Subscription(read(event_type, raw)?),
        EntityKind::SubscriptionItem => EventData::SubscriptionItem(read(event_type, raw)?),
        EntityKind::PaymentAttempt => EventData::PaymentAttempt(read(event_type, raw)?),
    })
}

/// A delete that carries `deleted: true` carries only the id (and maybe `external_id`); others,
/// such as `organizationMembership.deleted` and some role deletes, carry the whole object.
fn is_deletion_stub(raw: &RawValue) -> bool {
    #[derive(Deserialize)]
    struct Probe {
        deleted: Option<bool>,
    }
    serde_json::from_str::<Probe>(raw.get()).is_ok_and(|p| p.deleted == Some(true))
}

/// Decodes `data` at full speed; only when that fails is it decoded again, tracking the path,
/// so that the error can name the field at fault.
fn read<T: serde::de::DeserializeOwned>(
    event_type: &EventType,
    raw: &RawValue,
) -> Result<T, DecodeError> {
    serde_json::from_str(raw.get()).map_err(|_| {
        let mut de = serde_json::Deserializer::from_str(raw.get());
        let (path, message) = match serde_path_to_error::deserialize::<_, T>(&mut de) {
            Err(err) => (err.path().to_string(), err.into_inner().to_string()),
            Ok(_) => (".".to_owned(), "invalid value".to_owned()),
        };
        DecodeError::Data {
            event_type: event_type.to_string(),
            path: if path == "." {
                "data".into()
            } else {
                format!("data.{path}")
            },
            message,
        }
    })
}

/// The organization and user that pay, for billing objects.
fn payer_ids(payer: &Option<Payer>) -> (Option<&ClerkId>, Option<&ClerkId>) {
    payer.as_ref().map_or((None, None), |p| {
        (p.organization_id.as_ref(), p.user_id.as_ref())
    })
}
