//! # RFC 8216 rules and the checks that enforce them
//!
#![doc = include_str!("RULES.md")]
