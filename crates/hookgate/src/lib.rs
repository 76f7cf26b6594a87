//! The hookgate binary's library: settings, telemetry, start-up and the CLI. It wires the other
//! crates together and holds no business logic.

pub mod cli;
pub mod inspect;
pub mod notify;
mod periodic;
pub mod prometheus;
mod serve;
pub mod settings;
pub mod startup;
pub mod telemetry;

pub use settings::Settings;
pub use startup::Application;
