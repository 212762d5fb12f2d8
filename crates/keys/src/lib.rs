//! Keys for lineup's DRM endpoints: CPIX 2.3 as SPEKE v2 speaks it, and `lineup keys`, a
//! test key server.
//!
//! **For**: the documents an encryptor and a key provider exchange over SPEKE v2
//! ([`cpix`]: one serde model for requests and answers, the rules each side checks), and a
//! key server for tests and demos ([`KeyServer`]) playing the part a commercial DRM
//! key provider plays for AWS MediaPackage: a SPEKE v2 endpoint minting deterministic keys
//! from a seed ([`mint`]), the signalling of ClearKey, Widevine, PlayReady and FairPlay
//! ([`signal`]), and a W3C EME ClearKey licence endpoint with CORS, so players in a
//! browser play what the origin encrypted with those keys.
//! **Not for**: protecting anything. The licence answers any key id to anyone; Widevine,
//! PlayReady and FairPlay signalling is shaped right but no real licence server knows
//! these keys. The origin's SPEKE *client* (caching, prefetch, retries) lives in
//! `origin::speke`.
//!
//! Main types: [`Cpix`] ([`cpix::parse`], [`cpix::write`], [`Cpix::check_request`],
//! [`Cpix::check_answer`]), [`KeyServer`], [`KeysArgs`] (`lineup keys`).
//!
//! # Architecture
//! ```text
//!  origin --POST CPIX (kids, systems, rules)--> /speke/v2 --check_request--> 400 + JSON
//!                                                  | fill: key = HMAC(seed, kid)
//!                                                  |       pssh / ContentProtectionData /
//!                                                  |       HLSSignalingData per system
//!        <--------------- CPIX answer ------------'
//!  player --POST {"kids":[..]}--> /clearkey/license --> {"keys":[{kty,kid,k}]}
//! ```
//! Invariants:
//! - The key of a key id is a pure function of the seed and the key id: the SPEKE answer
//!   and every licence agree, across restarts and replicas, with no key store.
//! - Keys leave only in SPEKE answers and licences; logs name content ids and counts.
//! - A request the SPEKE v2 rules refuse (wrong version, missing lists or attributes, an
//!   `ALL` rule beside others, FairPlay with `cenc`, unknown systems) is a 400 with a JSON
//!   body naming the element or attribute.

pub mod cpix;
pub mod mint;
mod server;
pub mod signal;

use std::net::SocketAddr;

pub use cpix::{Cpix, CpixError};
pub use server::{
    Fault, FaultMode, KeyServer, KeyServerConfig, LICENCE_PATH, SPEKE_PATH, WRONG_LICENCE_PATH,
};

/// `lineup keys`: the test key server.
#[derive(clap::Args, Debug, Clone)]
pub struct KeysArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8095")]
    pub listen: SocketAddr,
    /// Public base URL of this server, as players reach it (the licence URL in DASH and
    /// PlayReady signalling); default: the host and path each SPEKE request came to.
    #[arg(long)]
    pub public_url: Option<String>,
    /// Seed phrase the keys are minted from (the key of a key id is HMAC(seed, kid)):
    /// the same seed gives the same keys on every run and replica.
    #[arg(
        long,
        default_value = "lineup-keys-test-seed",
        hide_env_values = true,
        hide_default_value = true
    )]
    pub seed: web::Secret,
    /// Bearer token for the control API (`/api/v1/fault`).
    #[arg(long, hide_env_values = true)]
    pub api_token: Option<web::Secret>,
}

impl KeysArgs {
    /// The key server these arguments describe.
    pub fn server(&self) -> KeyServer {
        KeyServer::new(KeyServerConfig {
            seed: self.seed.clone(),
            public_url: self.public_url.clone(),
            api_token: self.api_token.clone(),
        })
    }
}

/// `lineup keys` in the shell every service shares.
impl web::ServiceConfig for KeysArgs {
    const NAME: &'static str = "keys";

    fn listen(&self) -> String {
        self.listen.to_string()
    }

    fn api_token(&self) -> Option<&str> {
        self.api_token.as_ref().map(web::Secret::expose)
    }

    async fn build(self, _local: SocketAddr) -> Result<web::Service, web::BoxError> {
        let server = self.server();
        let router = server
            .router()
            .merge(web::common_routes())
            .layer(web::cors());
        Ok(web::Service::new("keys", router)
            .banner("SPEKE v2: POST {base}/speke/v2 (X-Speke-Version: 2.0)")
            .banner("ClearKey licence: {base}/clearkey/license (wrong keys: {base}/clearkey/wrong/license)"))
    }
}
