use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What a Clerk event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    User,
    Session,
    Organization,
    OrganizationMembership,
    OrganizationInvitation,
    OrganizationDomain,
    Role,
    Permission,
    Email,
    Sms,
    WaitlistEntry,
    Subscription,
    SubscriptionItem,
    PaymentAttempt,
}

macro_rules! event_types {
    ($($variant:ident => $name:literal, $kind:ident, $deletes:literal;)*) => {
        /// A Clerk event type. Parses from and prints to Clerk's exact string; a type this
        /// version does not know is kept as `Unknown` with its string.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum EventType {
            $($variant,)*
            Unknown(String),
        }

        impl EventType {
            /// Every type this version knows, in Clerk's documentation order.
            pub const KNOWN: &'static [EventType] = &[$(EventType::$variant,)*];

            pub fn parse(text: &str) -> Self {
                match text {
                    $($name => Self::$variant,)*
                    other => Self::Unknown(other.to_owned()),
                }
            }

            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $name,)*
                    Self::Unknown(text) => text,
                }
            }

            /// The kind of object the event carries; `None` for unknown types.
            pub fn kind(&self) -> Option<EntityKind> {
                match self {
                    $(Self::$variant => Some(EntityKind::$kind),)*
                    Self::Unknown(_) => None,
                }
            }

            /// Whether the event removes its object (synced as a tombstone).
            pub fn is_delete(&self) -> bool {
                match self {
                    $(Self::$variant => $deletes,)*
                    Self::Unknown(_) => false,
                }
            }
        }
    };
}

event_types! {
    UserCreated => "user.created", User, false;
    UserUpdated => "user.updated", User, false;
    UserDeleted => "user.deleted", User, true;
    SessionCreated => "session.created", Session, false;
    SessionPending => "session.pending", Session, false;
    SessionEnded => "session.ended", Session, false;
    SessionRemoved => "session.removed", Session, false;
    SessionRevoked => "session.revoked", Session, false;
    OrganizationCreated => "organization.created", Organization, false;
    OrganizationUpdated => "organization.updated", Organization, false;
    OrganizationDeleted => "organization.deleted", Organization, true;
    OrganizationMembershipCreated => "organizationMembership.created", OrganizationMembership, false;
    OrganizationMembershipUpdated => "organizationMembership.updated", OrganizationMembership, false;
    OrganizationMembershipDeleted => "organizationMembership.deleted", OrganizationMembership, true;
    OrganizationInvitationCreated => "organizationInvitation.created", OrganizationInvitation, false;
    OrganizationInvitationAccepted => "organizationInvitation.accepted", OrganizationInvitation, false;
    OrganizationInvitationRevoked => "organizationInvitation.revoked", OrganizationInvitation, false;
    OrganizationDomainCreated => "organizationDomain.created", OrganizationDomain, false;
    OrganizationDomainUpdated => "organizationDomain.updated", OrganizationDomain, false;
    OrganizationDomainDeleted => "organizationDomain.deleted", OrganizationDomain, true;
    RoleCreated => "role.created", Role, false;
    RoleUpdated => "role.updated", Role, false;
    RoleDeleted => "role.deleted", Role, true;
    PermissionCreated => "permission.created", Permission, false;
    PermissionUpdated => "permission.updated", Permission, false;
    PermissionDeleted => "permission.deleted", Permission, true;
    EmailCreated => "email.created", Email, false;
    SmsCreated => "sms.created", Sms, false;
    WaitlistEntryCreated => "waitlistEntry.created", WaitlistEntry, false;
    WaitlistEntryUpdated => "waitlistEntry.updated", WaitlistEntry, false;
    SubscriptionCreated => "subscription.created", Subscription, false;
    SubscriptionUpdated => "subscription.updated", Subscription, false;
    SubscriptionActive => "subscription.active", Subscription, false;
    SubscriptionPastDue => "subscription.pastDue", Subscription, false;
    SubscriptionItemCreated => "subscriptionItem.created", SubscriptionItem, false;
    SubscriptionItemUpdated => "subscriptionItem.updated", SubscriptionItem, false;
    SubscriptionItemActive => "subscriptionItem.active", SubscriptionItem, false;
    SubscriptionItemCanceled => "subscriptionItem.canceled", SubscriptionItem, false;
    SubscriptionItemUpcoming => "subscriptionItem.upcoming", SubscriptionItem, false;
    SubscriptionItemEnded => "subscriptionItem.ended", SubscriptionItem, false;
    SubscriptionItemAbandoned => "subscriptionItem.abandoned", SubscriptionItem, false;
    SubscriptionItemIncomplete => "subscriptionItem.incomplete", SubscriptionItem, false;
    SubscriptionItemPastDue => "subscriptionItem.pastDue", SubscriptionItem, false;
    SubscriptionItemFreeTrialEnding => "subscriptionItem.freeTrialEnding", SubscriptionItem, false;
    PaymentAttemptCreated => "paymentAttempt.created", PaymentAttempt, false;
    PaymentAttemptUpdated => "paymentAttempt.updated", PaymentAttempt, false;
}

impl FromStr for EventType {
    type Err = std::convert::Infallible;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(Self::parse(text))
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for EventType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Ok(Self::parse(&text))
    }
}

impl EventType {
    /// The event Clerk sends when an object of `kind` is created.
    pub fn created(kind: EntityKind) -> Self {
        match kind {
            EntityKind::User => Self::UserCreated,
            EntityKind::Session => Self::SessionCreated,
            EntityKind::Organization => Self::OrganizationCreated,
            EntityKind::OrganizationMembership => Self::OrganizationMembershipCreated,
            EntityKind::OrganizationInvitation => Self::OrganizationInvitationCreated,
            EntityKind::OrganizationDomain => Self::OrganizationDomainCreated,
            EntityKind::Role => Self::RoleCreated,
            EntityKind::Permission => Self::PermissionCreated,
            EntityKind::Email => Self::EmailCreated,
            EntityKind::Sms => Self::SmsCreated,
            EntityKind::WaitlistEntry => Self::WaitlistEntryCreated,
            EntityKind::Subscription => Self::SubscriptionCreated,
            EntityKind::SubscriptionItem => Self::SubscriptionItemCreated,
            EntityKind::PaymentAttempt => Self::PaymentAttemptCreated,
        }
    }
}

/// A glob over event types, for routing: `*` matches any run of characters (dots included),
/// `?` any one character. `user.*`, `organization*.*`, `*.deleted`, `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFilter(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an event filter is 1 to 200 characters of letters, digits, `.`, `_`, `*` and `?`")]
pub struct EventFilterError;

impl FromStr for EventFilter {
    type Err = EventFilterError;
    fn from_str(pattern: &str) -> Result<Self, Self::Err> {
        Self::parse(pattern)
    }
}

impl EventFilter {
    pub fn parse(pattern: &str) -> Result<Self, EventFilterError> {
        let ok = (1..=200).contains(&pattern.len())
            && pattern
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'*' | b'?'));
        if ok {
            Ok(Self(pattern.to_owned()))
        } else {
            Err(EventFilterError)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `?` stands for one character, as in the database's GLOB and LIKE that list events by
    /// the same filter; an unknown type may hold characters beyond ASCII.
    pub fn matches(&self, event_type: &EventType) -> bool {
        let text = event_type.as_str();
        if text.is_ascii() {
            glob(self.0.as_bytes(), text.as_bytes())
        } else {
            glob(self.0.as_bytes(), &text.chars().collect::<Vec<_>>())
        }
    }
}

/// Iterative glob matching with one backtrack point: linear in practice, never exponential.
/// The pattern is ASCII (see [`EventFilter::parse`]); the text is bytes or characters.
fn glob<T: Copy + PartialEq + From<u8>>(pattern: &[u8], text: &[T]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || T::from(c) == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_type_round_trips_through_its_string() {
        assert_eq!(EventType::KNOWN.len(), 46);
        for known in EventType::KNOWN {
            let text = known.to_string();
            assert_eq!(&EventType::parse(&text), known, "{text}");
            assert_eq!(text.parse::<EventType>().unwrap().as_str(), text);
            let json = serde_json::to_string(known).unwrap();
            assert_eq!(&serde_json::from_str::<EventType>(&json).unwrap(), known);
            assert!(known.kind().is_some());
            let kind = known.kind().unwrap();
            let created = EventType::created(kind);
            assert_eq!(created.kind(), Some(kind), "{created}");
            assert!(created.as_str().ends_with(".created") && !created.is_delete());
        }
    }

    #[test]
    fn unknown_types_keep_their_string() {
        let unknown = EventType::parse("agent.created");
        assert_eq!(unknown, EventType::Unknown("agent.created".into()));
        assert_eq!(unknown.to_string(), "agent.created");
        assert_eq!(unknown.kind(), None);
        assert!(!unknown.is_delete());
    }

    #[test]
    fn globs_select_event_types() {
        let matches = |pattern: &str, ty: &str| {
            EventFilter::parse(pattern)
                .unwrap()
                .matches(&EventType::parse(ty))
        };
        assert!(matches("user.*", "user.created"));
        assert!(!matches("user.*", "userx.created"));
        assert!(matches("organization*.*", "organization.created"));
        assert!(matches("organization*.*", "organizationMembership.deleted"));
        assert!(!matches("organization*.*", "role.created"));
        assert!(matches("*.deleted", "permission.deleted"));
        assert!(matches("*", "anything.new"));
        assert!(matches("session.???", "session.end") && !matches("session.???", "session.ended"));
        assert!(matches(
            "subscriptionItem.*",
            "subscriptionItem.freeTrialEnding"
        ));
        assert!(!matches("user.created", "user.created.extra"));
        // One character, not one byte.
        assert!(matches("caf?.created", "café.created"));
        assert!(!matches("caf??.created", "café.created"));
        assert!(EventFilter::parse("").is_err());
        assert!(EventFilter::parse("user/*").is_err());
    }
}
