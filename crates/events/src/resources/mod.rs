//! The objects Clerk sends in `data`, with the field sets of Clerk's published webhook schema
//! (Clerk's webhook OpenAPI document and the `@clerk/backend` JSON types). Every object needs its
//! `id` (and a membership its `organization`); everything else is optional. Unknown fields are
//! ignored; absent or `null` optional fields are `None`; absent or `null` lists, maps and flags are
//! empty or false; an empty string where an optional id is expected is `None`.

mod billing;
mod messaging;
mod organization;
mod role;
mod session;
mod user;
mod waitlist;

use serde::{Deserialize, Serialize};

pub use billing::{
    Amount, Credit, Money, Payer, PaymentAttempt, PaymentSource, Plan, Subscription,
    SubscriptionItem, Totals,
};
pub use messaging::{Email, SmsMessage};
pub use organization::{
    DomainVerification, Organization, OrganizationDomain, OrganizationInvitation,
    OrganizationMembership, PublicOrganizationData, PublicUserData,
};
pub use role::{Permission, Role};
pub use session::{Session, SessionActivity};
pub use user::{
    EmailAddress, EnterpriseAccount, EnterpriseConnection, ExternalAccount, IdentificationLink,
    Passkey, PhoneNumber, SamlAccount, SamlConnection, User, Verification, Web3Wallet,
};
pub use waitlist::{Invitation, WaitlistEntry};

use crate::ClerkId;

/// What a delete carries when it does not carry the whole object: `{object, id, deleted}`, and
/// for users sometimes `external_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeletedObject {
    pub object: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::optional_id")]
    pub id: Option<ClerkId>,
    pub slug: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::null_default")]
    pub deleted: bool,
    pub external_id: Option<String>,
}
