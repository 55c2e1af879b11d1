//! VAPID (RFC 8292): how an application server identifies itself to push
//! services.
//!
//! - [`VapidKey`]: the P-256 signing key, imported from every common format
//!   (PKCS#8, SEC1, raw scalar, JWK) and exported as PKCS#8 PEM plus the
//!   `applicationServerKey` that browsers take.
//! - [`token`]: the ES256 JWT (`aud`, `exp`, `sub`), the `Authorization:
//!   vapid t=…, k=…` header value, the legacy `WebPush`/`Crypto-Key` pair, and
//!   verification (what a push service does).
//! - [`VapidSigner`]: a shareable cache that signs once per push service origin
//!   and re-signs only when a token nears its expiry.
//!
//! ```text
//!   Authorization: vapid
//!      t=eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NiJ9.eyJhdWQiOiJodHRwczovL3B1c2guZXhhbXBsZS5uZXQiLCJleHAiOjE0NTM1MjM3NjgsInN1YiI6Im1haWx0bzpwdXNoQGV4YW1wbGUuY29tIn0.i3CYb7t4xfxCDquptFOepC9GAu_HLGkMlMuCGSK2rpiUfnK9ojFwDXb1JrErtmysazNjjvW2L9OkSSHzvoD1oA,
//!      k=BA1Hxzyi1RUM1b5wjxsn7nGxAszw2u61m164i3MrAIxHF6YK5h4SDYic-dRuU_RCPCfA5aq9ojSwk5Y2EmClBPs
//! ```
//! *RFC 8292, Section 3.1: a VAPID `Authorization` header.*

pub mod key;
mod signer;
pub mod token;

pub use key::{VapidKey, VapidKeyError};
pub use signer::{DEFAULT_MAX_ORIGINS, VapidHeader, VapidSigner, VapidSignerBuilder};
pub use token::{Audience, Claims, Subject, VapidError};

use core::fmt;

/// The time source for tokens: seconds since the Unix epoch. Inject a fixed
/// or manual clock in tests; [`SystemClock`] otherwise.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Seconds since the Unix epoch.
    fn unix_time(&self) -> u64;
}

/// The operating system's clock. (On `wasm32-unknown-unknown` there is no
/// system clock: supply your own [`Clock`] there.)
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn unix_time(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}
