#![doc = include_str!("../README.md")]
//!
//! # Design overview
//!
//! Each RFC lives in one module, and each layer uses only the ones above it:
//!
//! | layer | module | RFC | I/O |
//! |---|---|---|---|
//! | records | [`ece`] | RFC 8188 `aes128gcm` (IKM, salt, record size, key id) | none |
//! | message encryption | [`message`] | RFC 8291 (ECDH P-256, auth secret → IKM) | none |
//! | legacy message encryption (feature `aesgcm`) | `aesgcm` | draft-ietf-webpush-encryption-04 `aesgcm`, only for peers that need it | none |
//! | subscriptions | [`subscription`] | W3C Push API `PushSubscription.toJSON()` | none |
//! | sender identity | [`vapid`] | RFC 8292 (ES256 JWT, `vapid t=…, k=…`, token cache) | none |
//! | notification payloads | [`notification`] | Declarative Web Push (WebKit) and plain notification JSON | none |
//! | push services | [`push_service`] | which service an endpoint is; its TTL limits and refusal codes | none |
//! | push requests | [`request`] | RFC 8030 (TTL, Urgency, Topic) as an `http::Request` | none |
//! | outcomes | [`outcome`], [`policy`] | RFC 8030 responses; which endpoints may be contacted | none |
//! | transport | [`sender`] | the `Sender` trait; `ReqwestSender` (feature `client` or `client-graviola`) | HTTPS |
//! | sending | [`client`], `batch` | one push; many, with bounded concurrency and retries | via `Sender` |
//! | scale-out (feature `jetstream`) | `queue` | jobs, workers and feedback over NATS JetStream, at-least-once | NATS + `batch` |
//!
//! Under `ece` and `message` sits a private crypto backend (ephemeral ECDH and
//! AES-128-GCM): `p256` + `aes-gcm` by default, `ring` with the `ring`
//! feature, `graviola` with the `graviola` feature (falling back to `p256`
//! at run time on a CPU `graviola` cannot use). Everything down to `outcome` is pure computation and builds for
//! `wasm32-unknown-unknown` with `--no-default-features`; the crate never
//! stores subscriptions and retries only in `batch`, as its policy says.
//!
//! # Security notes
//!
//! - Cryptography is RustCrypto's (`p256`, `hkdf`, `sha2`, `aes-gcm`), pure
//!   Rust and constant-time where it handles secrets; none of it has had an
//!   independent audit for this crate's use. The `ring` feature moves the
//!   sender's ephemeral ECDH and AES-128-GCM to `ring`, the `graviola`
//!   feature to `graviola` (unaudited too; its arithmetic is formally
//!   verified assembly); the choice is made at build time and changes neither
//!   the API nor the bytes on the wire.
//! - Private keys, auth secrets, ECDH secrets, IKMs, content keys and nonces
//!   are zeroized when dropped, and `Debug` never prints them. The HMAC state
//!   inside `hkdf` is not zeroized by that crate.
//! - A fresh ephemeral key and salt are drawn for every message;
//!   [`message::hazmat`] exists only to reproduce test vectors.
//! - Endpoint URLs are capabilities: `Debug` of an [`Endpoint`] shows only its
//!   origin, and no error message contains one.

#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

#[cfg(all(
    feature = "__sender",
    not(any(feature = "client", feature = "client-graviola"))
))]
compile_error!(
    "the HTTP sender needs a TLS provider: enable feature `client` (ring) or `client-graviola`"
);

#[cfg(feature = "aesgcm")]
pub mod aesgcm;
mod b64;
mod backend;
#[cfg(feature = "__sender")]
pub mod batch;
pub mod client;
mod codec;
pub mod ece;
pub mod message;
pub mod notification;
pub mod outcome;
pub mod policy;
pub mod push_service;
// The job and event formats also build under `__fuzz`, for their fuzz target.
#[cfg(any(feature = "jetstream", feature = "__fuzz"))]
pub mod queue;
pub mod request;
pub mod sender;
pub mod subscription;
#[cfg(test)]
mod test_vectors;
#[cfg(feature = "testing")]
pub mod testing;
pub mod vapid;

pub use client::PushClient;
pub use message::{AuthSecret, CryptoError, KeyError, Padding, UaKeyPair, UaPublicKey};
pub use subscription::{Endpoint, Subscription, SubscriptionError};

/// Any error of this crate, for callers who do not need to tell layers apart.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// RFC 8188 record layer.
    #[error(transparent)]
    Record(#[from] ece::RecordError),
    /// RFC 8291 message encryption or decryption.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// A key that does not parse.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A subscription that does not validate.
    #[error(transparent)]
    Subscription(#[from] SubscriptionError),
    /// Legacy `aesgcm` headers or decryption (feature `aesgcm`).
    #[cfg(feature = "aesgcm")]
    #[error(transparent)]
    Aesgcm(#[from] aesgcm::AesgcmError),
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn assert_send_sync<T: Send + Sync + 'static>() {}

    #[test]
    fn public_types_are_send_sync_and_errors_small() {
        assert_send_sync::<Error>();
        assert_send_sync::<Subscription>();
        assert_send_sync::<UaKeyPair>();
        assert!(
            core::mem::size_of::<Error>() <= 48,
            "{}",
            core::mem::size_of::<Error>()
        );
    }
}
