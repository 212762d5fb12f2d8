//! The `lineup` binary's commands, as a library so that tests can drive them in-process.
//!
//! For: the CLI surface (`validate`, `demo`, and each service as a subcommand). Not for:
//! service logic, which lives in the service crates (`engine`, `pullpush`, `origin`); this
//! crate only parses arguments, wires services together, prints, and serves the demo's web
//! page (`page`, assets embedded from `assets/`).

pub mod cli;
pub mod config;
pub mod demo;
pub mod demo_aws;
pub mod page;
pub mod validate;
pub mod validate_dash;
