//! Micro-benchmark of decoding a typical `user.created` (about 2.5 KB), run by
//! `cargo xtask bench decode` in release mode. Prints one JSON line of figures.

use std::hint::black_box;
use std::time::Instant;

use hookgate_events::{ClerkEvent, Envelope};

const BODY: &[u8] = include_bytes!("user_created.json");

fn main() {
    let rounds: u32 = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(200_000);
    // A time is worth printing only for work that succeeded: the body decodes, to the user it
    // holds, without warnings, on every call timed.
    match ClerkEvent::decode(BODY) {
        Ok(event) if event.entity().is_some() && event.warnings.is_empty() => {}
        other => {
            eprintln!("the benchmark body does not decode cleanly: {other:?}");
            std::process::exit(1);
        }
    }
    let mut failures = 0u64;
    let envelope_ns = time(rounds, || {
        failures += u64::from(black_box(Envelope::parse(black_box(BODY))).is_err());
    });
    let typed_ns = time(rounds, || {
        failures += u64::from(black_box(ClerkEvent::decode(black_box(BODY))).is_err());
    });
    if failures > 0 {
        eprintln!("{failures} timed calls failed to decode");
        std::process::exit(1);
    }
    let mb_per_s = |ns: f64| BODY.len() as f64 / ns * 1e9 / 1e6;
    println!(
        "{{\"body_bytes\":{},\"rounds\":{rounds},\"envelope_ns\":{envelope_ns:.0},\"envelope_mb_s\":{:.0},\"typed_ns\":{typed_ns:.0},\"typed_mb_s\":{:.0}}}",
        BODY.len(),
        mb_per_s(envelope_ns),
        mb_per_s(typed_ns),
    );
}

/// Nanoseconds per call: the best of five runs, after a warm-up.
fn time(rounds: u32, mut f: impl FnMut()) -> f64 {
    for _ in 0..rounds / 10 {
        f();
    }
    (0..5)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..rounds {
                f();
            }
            start.elapsed().as_nanos() as f64 / f64::from(rounds)
        })
        .fold(f64::INFINITY, f64::min)
}
