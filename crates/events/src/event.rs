use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::envelope::{Envelope, EnvelopeError, EventAttributes};
use crate::lenient::{self, DecodeWarning};
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
    /// Fields of `data` that had a value of an unexpected type and were read as absent. Never a
    /// field the sync keys on: a bad key field fails the decode instead.
    pub warnings: Vec<DecodeWarning>,
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
        let (data, warnings) = decode_data(&event_type, envelope.data)?;
        Ok(Self {
            event_type,
            timestamp_ms: envelope.timestamp_ms,
            instance_id: envelope.instance_id,
            attributes: envelope.attributes,
            data,
            warnings,
        })
    }

    /// Reads an object as Clerk's Backend API lists it, as the event that would create it: the
    /// same decoding and the same version (`updated_at`) as a webhook's, so a listed object and
    /// an event of the same object are ordered by one rule. Its timestamp is 0: between equal
    /// versions any webhook's event comes later, so a listing never overwrites what a webhook of
    /// the same version wrote. An object without `updated_at` gets version 0: it fills a missing
    /// row and changes nothing else.
    pub fn from_listed(kind: EntityKind, data: &RawValue) -> Result<Self, DecodeError> {
        let event_type = EventType::created(kind);
        let (data, warnings) = decode_data(&event_type, data)?;
        Ok(Self {
            event_type,
            timestamp_ms: 0,
            instance_id: None,
            attributes: None,
            data,
            warnings,
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

fn decode_data(
    event_type: &EventType,
    raw: &RawValue,
) -> Result<(EventData, Vec<DecodeWarning>), DecodeError> {
    let Some(kind) = event_type.kind() else {
        return Ok((EventData::Unknown(strict(event_type, raw)?), Vec::new()));
    };
    let keys = lenient::key_fields(kind);
    if event_type.is_delete() && is_deletion_stub(raw) {
        let (stub, warnings) = lenient::read(event_type, raw, keys)?;
        return Ok((EventData::Deleted(stub), warnings));
    }
    // Each arm decodes its own type: a closure could not be generic over it.
    macro_rules! typed {
        ($variant:path) => {
            lenient::map(lenient::read(event_type, raw, keys)?, $variant)
        };
    }
    Ok(match kind {
        EntityKind::User => typed!(EventData::User),
        EntityKind::Session => typed!(EventData::Session),
        EntityKind::Organization => typed!(EventData::Organization),
        EntityKind::OrganizationMembership => typed!(EventData::OrganizationMembership),
        EntityKind::OrganizationInvitation => typed!(EventData::OrganizationInvitation),
        EntityKind::OrganizationDomain => typed!(EventData::OrganizationDomain),
        EntityKind::Role => typed!(EventData::Role),
        EntityKind::Permission => typed!(EventData::Permission),
        EntityKind::Email => typed!(EventData::Email),
        EntityKind::Sms => typed!(EventData::Sms),
        EntityKind::WaitlistEntry => typed!(EventData::WaitlistEntry),
        EntityKind::Subscription => typed!(EventData::Subscription),
        EntityKind::SubscriptionItem => typed!(EventData::SubscriptionItem),
        EntityKind::PaymentAttempt => typed!(EventData::PaymentAttempt),
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

/// Decodes `data` with no leniency beyond the types' own: the data of unknown types is kept
/// whole, so only a body that is not JSON fails here.
fn strict<T: serde::de::DeserializeOwned>(
    event_type: &EventType,
    raw: &RawValue,
) -> Result<T, DecodeError> {
    serde_json::from_str(raw.get()).map_err(|_| {
        let mut de = serde_json::Deserializer::from_str(raw.get());
        match serde_path_to_error::deserialize::<_, T>(&mut de) {
            Err(err) => {
                let path: Vec<_> = err.path().iter().cloned().collect();
                lenient::data_error(event_type, &path, err.into_inner().to_string())
            }
            Ok(_) => lenient::data_error(event_type, &[], "invalid value".into()),
        }
    })
}

/// The organization and user that pay, for billing objects.
fn payer_ids(payer: &Option<Payer>) -> (Option<&ClerkId>, Option<&ClerkId>) {
    payer.as_ref().map_or((None, None), |p| {
        (p.organization_id.as_ref(), p.user_id.as_ref())
    })
}
