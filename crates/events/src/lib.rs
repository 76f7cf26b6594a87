//! Clerk's webhook events as hookgate reads them. Pure: no I/O.
//!
//! [`Envelope`] reads only what ingest needs (type, timestamp, instance) and keeps `data` raw;
//! [`ClerkEvent::decode`] gives the typed object of every event type Clerk sends, keeping the
//! data of types this version does not know as [`EventData::Unknown`].

mod clerk_id;
mod destination;
mod envelope;
mod event;
mod event_type;
mod lenient;
pub mod resources;

pub use clerk_id::{ClerkId, ClerkIdError};
pub use destination::{
    DestinationKind, DestinationUrl, DestinationUrlError, NatsAuth, Target, Template,
};
pub use envelope::{Envelope, EnvelopeError, EventAttributes, HttpRequest};
pub use event::{ClerkEvent, DecodeError, EntityRef, EventData};
pub use event_type::{EntityKind, EventFilter, EventFilterError, EventType};
pub use lenient::{DecodeWarning, Metadata};
pub use resources::{OrganizationMembership, User};
