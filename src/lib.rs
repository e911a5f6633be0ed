//! badgegate answers JustCall's Custom Contact Badge requests: it verifies
//! JustCall's signature, looks the caller's number up in the configured
//! sources, caches the answer and replies within a deadline.
//!
//! The binary is [`cli::run`] with [`Registry::builtin`]. A binary with its
//! own adapter types calls `cli::run` with a registry that has them too.

pub mod admin;
pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod logging;
pub mod lookup;
pub mod registry;
pub mod server;
pub mod shared;
pub mod signature;
pub mod telemetry;

pub use registry::Registry;
