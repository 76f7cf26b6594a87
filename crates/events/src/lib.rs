//! Clerk's webhook events as hookgate reads them. Pure: no I/O.
//!
//! For now this holds the envelope every Clerk event shares; the typed `data` of each event
//! type is decoded by the sync engine from the raw `data` kept here.

mod envelope;
mod svix_id;

pub use envelope::{Envelope, EnvelopeError};
pub use svix_id::{SvixId, SvixIdError};
