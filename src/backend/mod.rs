//! The two primitives whose speed decides the cost of a message, behind one
//! interface: ephemeral ECDH on P-256 (RFC 8291, Section 3.1) and AES-128-GCM
//! on a record (RFC 8188, Section 2). Everything else (HKDF, the header, the
//! record framing) is the same code for every backend.
//!
//! - [`rust_crypto`]: `p256` and `aes-gcm`, pure Rust; always compiled, and
//!   the only backend that can take a caller's private key (user agents
//!   decrypting with their stored key, [`crate::message::hazmat`]).
//! - `ring` (feature `ring`): `ring`'s P-256 and AES-GCM, the crypto that
//!   rustls already uses in this crate's HTTP client. `ring` cannot import a
//!   private key for ECDH, so it serves only the sender's ephemeral side.
//! - `graviola` (feature `graviola`, when `ring` is off): `graviola`'s
//!   P-256 and AES-GCM, pure Rust with verified assembly, no C compiler;
//!   on a CPU without the features it needs, it runs [`rust_crypto`].
//!
//! [`Active`] is the backend chosen at build time (`ring` if enabled, else
//! `graviola` if enabled, else `rust_crypto`); the public API is the same
//! either way.

use zeroize::Zeroizing;

/// Length of an uncompressed P-256 point.
pub(crate) const PUBLIC_KEY_LEN: usize = 65;

pub(crate) mod rust_crypto;

#[cfg(feature = "ring")]
pub(crate) mod ring;

#[cfg(feature = "graviola")]
pub(crate) mod graviola;

/// The backend every message uses in this build.
#[cfg(not(any(feature = "ring", feature = "graviola")))]
pub(crate) type Active = rust_crypto::RustCrypto;
/// The backend every message uses in this build.
#[cfg(feature = "ring")]
pub(crate) type Active = ring::Ring;
/// The backend every message uses in this build.
#[cfg(all(feature = "graviola", not(feature = "ring")))]
pub(crate) type Active = graviola::Graviola;

/// The AES-128-GCM cipher of the active backend.
pub(crate) type ActiveCipher = <Active as Backend>::Cipher;

/// AES-128-GCM content-encryption key length.
pub(crate) const CEK_LEN: usize = 16;
/// AES-GCM nonce length.
pub(crate) const NONCE_LEN: usize = 12;
/// AES-GCM tag length.
pub(crate) const TAG_LEN: usize = 16;

/// The ephemeral sender key and the ECDH secret it shares with a user agent.
pub(crate) struct Agreement {
    /// The sender's public key, uncompressed (`as_public`).
    pub(crate) public: [u8; PUBLIC_KEY_LEN],
    /// The x-coordinate of the shared point (`ecdh_secret`).
    pub(crate) secret: Zeroizing<[u8; 32]>,
}

/// The system random number generator failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RngError;

/// A crypto backend.
pub(crate) trait Backend {
    /// Its AES-128-GCM.
    type Cipher: RecordCipher;

    /// What it runs on this CPU, for [`crate::message::crypto_backend`].
    fn name() -> &'static str;

    /// Generates a key pair used for this one message and agrees on a
    /// secret with `peer` (given parsed and as its 65 octets).
    fn agree_ephemeral(
        peer: &p256::PublicKey,
        peer_bytes: &[u8; PUBLIC_KEY_LEN],
    ) -> Result<Agreement, RngError>;
}

/// AES-128-GCM with an empty AAD and a detached 16-octet tag, as RFC 8188
/// records use it. Implementations zeroize their key schedule on drop where
/// the underlying crate allows it.
pub(crate) trait RecordCipher: Sized {
    /// Expands the key.
    fn new(cek: &[u8; CEK_LEN]) -> Self;

    /// Encrypts `in_out` in place and returns the tag.
    fn seal(&self, nonce: &[u8; NONCE_LEN], in_out: &mut [u8]) -> [u8; TAG_LEN];

    /// Checks `tag` and decrypts `in_out` in place. On failure the contents
    /// of `in_out` are unspecified (the caller discards them).
    fn open(
        &self,
        nonce: &[u8; NONCE_LEN],
        in_out: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), OpenError>;
}

/// Authentication failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OpenError;

#[cfg(test)]
mod tests;
