//! Envelope and typed event decoding of any body: an error, never a panic; what decodes answers
//! its accessors.

#![no_main]

use hookgate_events::{ClerkEvent, Envelope};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(envelope) = Envelope::parse(data) {
        let event_type = envelope.event_type.clone();
        match ClerkEvent::from_envelope(envelope) {
            Ok(event) => {
                assert_eq!(event.event_type.as_str(), event_type);
                let _ = event.entity();
                let _ = event.version();
                let _ = event.is_delete();
            }
            Err(err) => {
                let _ = err.to_string();
            }
        }
    }
    let _ = ClerkEvent::decode(data).map_err(|e| e.to_string());
});
