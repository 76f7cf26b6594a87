use std::fmt;
use std::str::FromStr;

use hookgate_events::EntityKind;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A kind of object the Backend API lists instance-wide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ListKind {
    Users,
    Organizations,
    OrganizationMemberships,
    OrganizationInvitations,
    OrganizationDomains,
    Roles,
    Permissions,
    WaitlistEntries,
}

/// Why a name is not a list kind; the message lists the valid names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListKindError {
    #[error(
        "Clerk's Backend API cannot list sessions instance-wide (only those of one user or client), so they cannot be backfilled; they arrive by webhook. Valid kinds: {}",
        valid_names()
    )]
    Sessions,
    #[error("unknown kind `{name}`; valid kinds: {}", valid_names())]
    Unknown { name: String },
    #[error("no kinds given; valid kinds: {}, or `all`", valid_names())]
    Empty,
}

fn valid_names() -> String {
    ListKind::ALL
        .iter()
        .map(|kind| kind.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

impl ListKind {
    /// Every kind, owners (users, organizations) before what refers to them.
    pub const ALL: [ListKind; 8] = [
        ListKind::Users,
        ListKind::Organizations,
        ListKind::OrganizationMemberships,
        ListKind::OrganizationInvitations,
        ListKind::OrganizationDomains,
        ListKind::Roles,
        ListKind::Permissions,
        ListKind::WaitlistEntries,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Users => "users",
            Self::Organizations => "organizations",
            Self::OrganizationMemberships => "organization_memberships",
            Self::OrganizationInvitations => "organization_invitations",
            Self::OrganizationDomains => "organization_domains",
            Self::Roles => "roles",
            Self::Permissions => "permissions",
            Self::WaitlistEntries => "waitlist_entries",
        }
    }

    /// The list endpoint's path, below the API's base URL.
    pub fn path(self) -> &'static str {
        match self {
            Self::Users => "/v1/users",
            Self::Organizations => "/v1/organizations",
            Self::OrganizationMemberships => "/v1/organization_memberships",
            Self::OrganizationInvitations => "/v1/organization_invitations",
            Self::OrganizationDomains => "/v1/organization_domains",
            Self::Roles => "/v1/organization_roles",
            Self::Permissions => "/v1/organization_permissions",
            Self::WaitlistEntries => "/v1/waitlist_entries",
        }
    }

    /// The kind of the objects listed, as the webhook events name it.
    pub fn entity_kind(self) -> EntityKind {
        match self {
            Self::Users => EntityKind::User,
            Self::Organizations => EntityKind::Organization,
            Self::OrganizationMemberships => EntityKind::OrganizationMembership,
            Self::OrganizationInvitations => EntityKind::OrganizationInvitation,
            Self::OrganizationDomains => EntityKind::OrganizationDomain,
            Self::Roles => EntityKind::Role,
            Self::Permissions => EntityKind::Permission,
            Self::WaitlistEntries => EntityKind::WaitlistEntry,
        }
    }

    /// Whether the listing pages with a `starting_after` cursor (users) rather than an offset.
    pub fn pages_by_cursor(self) -> bool {
        self == Self::Users
    }

    /// A comma-separated list of kinds (`users,organizations`), in the order given, each once;
    /// `all` stands for every kind. Spaces around names are ignored, as are empty items.
    pub fn parse_list(text: &str) -> Result<Vec<ListKind>, ListKindError> {
        let mut kinds = Vec::new();
        for name in text
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
        {
            let more: &[ListKind] = if name == "all" {
                &Self::ALL
            } else {
                &[name.parse()?]
            };
            for kind in more {
                if !kinds.contains(kind) {
                    kinds.push(*kind);
                }
            }
        }
        if kinds.is_empty() {
            return Err(ListKindError::Empty);
        }
        Ok(kinds)
    }
}

impl fmt::Display for ListKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ListKind {
    type Err = ListKindError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        if let Some(kind) = Self::ALL.into_iter().find(|kind| kind.as_str() == name) {
            return Ok(kind);
        }
        match name {
            "sessions" | "session" => Err(ListKindError::Sessions),
            _ => Err(ListKindError::Unknown {
                name: name.to_owned(),
            }),
        }
    }
}

impl Serialize for ListKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ListKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in ListKind::ALL {
            assert_eq!(kind.as_str().parse::<ListKind>().unwrap(), kind);
            assert_eq!(kind.to_string(), kind.as_str());
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(serde_json::from_str::<ListKind>(&json).unwrap(), kind);
            assert!(kind.path().starts_with("/v1/"));
        }
        assert_eq!(
            ListKind::OrganizationMemberships.as_str(),
            "organization_memberships"
        );
        assert_eq!(ListKind::Roles.path(), "/v1/organization_roles");
        assert_eq!(ListKind::Permissions.path(), "/v1/organization_permissions");
    }

    #[test]
    fn all_is_in_declaration_order() {
        // The client indexes its endpoints by `kind as usize`.
        for (index, kind) in ListKind::ALL.into_iter().enumerate() {
            assert_eq!(kind as usize, index);
        }
    }

    #[test]
    fn entity_kinds_are_distinct() {
        let mut kinds: Vec<EntityKind> = ListKind::ALL.iter().map(|k| k.entity_kind()).collect();
        kinds.sort();
        kinds.dedup();
        assert_eq!(kinds.len(), ListKind::ALL.len());
        assert_eq!(ListKind::Users.entity_kind(), EntityKind::User);
        assert_eq!(
            ListKind::WaitlistEntries.entity_kind(),
            EntityKind::WaitlistEntry
        );
    }

    #[test]
    fn unknown_names_list_the_valid_ones() {
        let err = "user".parse::<ListKind>().unwrap_err();
        let message = err.to_string();
        assert!(message.contains("`user`"), "{message}");
        for kind in ListKind::ALL {
            assert!(message.contains(kind.as_str()), "{message}");
        }
        assert!(serde_json::from_str::<ListKind>("\"Users\"").is_err());
    }

    #[test]
    fn sessions_are_explained() {
        let err = "sessions".parse::<ListKind>().unwrap_err();
        assert_eq!(err, ListKindError::Sessions);
        let message = err.to_string();
        assert!(
            message.contains("cannot list sessions instance-wide"),
            "{message}"
        );
        assert!(message.contains("waitlist_entries"), "{message}");
        assert_eq!(
            ListKind::parse_list("users,sessions").unwrap_err(),
            ListKindError::Sessions
        );
    }

    #[test]
    fn lists_keep_order_and_drop_repeats() {
        assert_eq!(
            ListKind::parse_list("organizations, users,organizations,").unwrap(),
            vec![ListKind::Organizations, ListKind::Users]
        );
        assert_eq!(
            ListKind::parse_list("users").unwrap(),
            vec![ListKind::Users]
        );
        assert_eq!(ListKind::parse_list("all").unwrap(), ListKind::ALL.to_vec());
        assert_eq!(
            ListKind::parse_list("roles,all").unwrap()[..2],
            [ListKind::Roles, ListKind::Users]
        );
    }

    #[test]
    fn lists_refuse_empty_and_unknown() {
        assert_eq!(ListKind::parse_list("").unwrap_err(), ListKindError::Empty);
        assert_eq!(
            ListKind::parse_list(" , ").unwrap_err(),
            ListKindError::Empty
        );
        assert_eq!(
            ListKind::parse_list("users,orgs").unwrap_err(),
            ListKindError::Unknown {
                name: "orgs".to_owned()
            }
        );
    }
}
