//! RFC 8291 "Message Encryption for Web Push", on top of the RFC 8188 record
//! layer in [`crate::ece`].
//!
//! ```text
//!   ecdh_secret = ECDH(as_private, ua_public)
//!   auth_secret = <16 random octets from the user agent>
//!   PRK_key = HKDF-Extract(salt=auth_secret, IKM=ecdh_secret)
//!   key_info = "WebPush: info" || 0x00 || ua_public || as_public
//!   IKM = HKDF-Expand(PRK_key, key_info, L_key=32)
//! ```
//! *RFC 8291, Section 3.4: the IKM that the `aes128gcm` coding then uses with
//! a random salt. The `keyid` of the header is `as_public`, the 65-octet
//! uncompressed point of a key pair generated for this one message.*
//!
//! A message is always one record of record size 4096, so a body is at most
//! [`MAX_BODY_LEN`] octets and a plaintext (with its padding) at most
//! [`MAX_PLAINTEXT_LEN`].

use core::fmt;
use core::num::NonZeroUsize;

use hkdf::Hkdf;
use p256::elliptic_curve::Generate;
use p256::elliptic_curve::sec1::ToSec1Point;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::b64;
use crate::backend::{self, Backend, RecordCipher};
use crate::ece::{self, Header, Ikm, RecordError, RecordSize, Salt};

/// HKDF info prefix for the IKM (RFC 8291, Section 3.4).
pub const KEY_INFO_PREFIX: &[u8] = b"WebPush: info\0";
/// The largest body push services accept (RFC 8291, Section 4; RFC 8030
/// requires services to accept at least 4096 octets of payload).
pub const MAX_BODY_LEN: usize = 4096;
/// The record size used for every message.
pub const RECORD_SIZE: RecordSize = RecordSize::DEFAULT;
/// Length of an uncompressed P-256 point.
pub const PUBLIC_KEY_LEN: usize = backend::PUBLIC_KEY_LEN;
/// Length of the user agent's authentication secret.
pub const AUTH_SECRET_LEN: usize = 16;
/// Header of a Web Push body: 21 octets plus the 65-octet sender key.
pub const HEADER_LEN: usize = ece::HEADER_FIXED_LEN + PUBLIC_KEY_LEN;
/// The largest plaintext plus padding in one message: 4096 - 86 - 1 - 16.
pub const MAX_PLAINTEXT_LEN: usize = MAX_BODY_LEN - HEADER_LEN - ece::RECORD_OVERHEAD;

/// Errors of key parsing (subscription keys, receiver keys).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Not base64 (URL-safe or standard, padded or not).
    #[error("not valid base64")]
    Base64,
    /// Decodes to the wrong number of octets.
    #[error("decodes to {actual} octets, expected {expected}")]
    Length {
        /// Octets required.
        expected: usize,
        /// Octets found.
        actual: usize,
    },
    /// A 65-octet key that does not start with 0x04 (uncompressed form).
    #[error("not an uncompressed P-256 point (first octet is not 0x04)")]
    NotUncompressed,
    /// The coordinates are not a point on P-256.
    #[error("not a point on the P-256 curve")]
    NotOnCurve,
    /// A private key that is zero or not below the group order.
    #[error("private key is zero or out of range for P-256")]
    InvalidScalar,
}

impl KeyError {
    fn from_b64(e: b64::B64Error) -> Self {
        match e {
            b64::B64Error::Invalid => Self::Base64,
            b64::B64Error::Length { expected, actual } => Self::Length { expected, actual },
        }
    }
}

/// Errors of message encryption and decryption.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The plaintext (with the padding asked for) does not fit one message.
    #[error("payload of {len} octets exceeds the limit of {max} octets")]
    PayloadTooLarge {
        /// Plaintext octets given.
        len: usize,
        /// The limit: [`MAX_PLAINTEXT_LEN`], or the fixed padded size.
        max: usize,
    },
    /// The body's key id is not a 65-octet public key.
    #[error("key id is {0} octets; Web Push needs the 65-octet sender public key")]
    KeyIdLength(usize),
    /// The body's key id is not a valid P-256 point.
    #[error("key id is not a valid sender public key: {0}")]
    SenderKey(KeyError),
    /// The record layer refused the body (includes authentication failure).
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The operating system's random number generator failed.
    #[error("system random number generator failed")]
    Rng,
}

/// The user agent's public key: the subscription's `p256dh`, a point on
/// P-256 in its 65-octet uncompressed form.
#[derive(Clone, PartialEq, Eq)]
pub struct UaPublicKey {
    key: p256::PublicKey,
    bytes: [u8; PUBLIC_KEY_LEN],
}

impl UaPublicKey {
    /// Parses 65 octets: `0x04 || x || y`, a point on P-256.
    ///
    /// # Errors
    /// [`KeyError::Length`], [`KeyError::NotUncompressed`] or
    /// [`KeyError::NotOnCurve`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let bytes: [u8; PUBLIC_KEY_LEN] = bytes.try_into().map_err(|_| KeyError::Length {
            expected: PUBLIC_KEY_LEN,
            actual: bytes.len(),
        })?;
        if bytes[0] != 0x04 {
            return Err(KeyError::NotUncompressed);
        }
        // 65 octets can never encode the identity, so a parsed point is a key.
        let key = p256::PublicKey::from_sec1_bytes(&bytes).map_err(|_| KeyError::NotOnCurve)?;
        Ok(Self { key, bytes })
    }

    /// Parses base64 (URL-safe or standard, padded or not) of 65 octets.
    ///
    /// # Errors
    /// [`KeyError::Base64`] or any error of [`from_bytes`](Self::from_bytes).
    pub fn from_base64(s: &str) -> Result<Self, KeyError> {
        let bytes = b64::decode_array::<PUBLIC_KEY_LEN>(s).map_err(KeyError::from_b64)?;
        Self::from_bytes(&bytes)
    }

    /// A fresh ephemeral key agreement with this key on backend `B`.
    pub(crate) fn agree_ephemeral<B: Backend>(
        &self,
    ) -> Result<backend::Agreement, backend::RngError> {
        B::agree_ephemeral(&self.key, &self.bytes)
    }

    fn from_key(key: p256::PublicKey) -> Self {
        let mut bytes = [0u8; PUBLIC_KEY_LEN];
        bytes.copy_from_slice(&key.to_uncompressed_point());
        Self { key, bytes }
    }

    /// The 65 octets.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; PUBLIC_KEY_LEN] {
        &self.bytes
    }

    /// Base64url without padding, as browsers give it.
    #[must_use]
    pub fn to_base64(&self) -> String {
        b64::encode(&self.bytes)
    }
}

impl fmt::Debug for UaPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UaPublicKey({})", self.to_base64())
    }
}

/// The user agent's 16-octet authentication secret (the subscription's
/// `auth`). Zeroized on drop; `Debug` shows nothing of it.
#[derive(Clone)]
pub struct AuthSecret(Zeroizing<[u8; AUTH_SECRET_LEN]>);

impl AuthSecret {
    /// Wraps 16 octets.
    #[must_use]
    pub fn from_bytes(bytes: [u8; AUTH_SECRET_LEN]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// Parses exactly 16 octets.
    ///
    /// # Errors
    /// [`KeyError::Length`] for any other length.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, KeyError> {
        let arr = <[u8; AUTH_SECRET_LEN]>::try_from(bytes).map_err(|_| KeyError::Length {
            expected: AUTH_SECRET_LEN,
            actual: bytes.len(),
        })?;
        Ok(Self::from_bytes(arr))
    }

    /// Parses base64 (URL-safe or standard, padded or not) of 16 octets.
    ///
    /// # Errors
    /// [`KeyError::Base64`] or [`KeyError::Length`].
    pub fn from_base64(s: &str) -> Result<Self, KeyError> {
        let bytes = Zeroizing::new(b64::decode_array(s).map_err(KeyError::from_b64)?);
        Ok(Self::from_bytes(*bytes))
    }

    /// Draws a new secret, as a user agent does when it subscribes.
    ///
    /// # Errors
    /// [`CryptoError::Rng`] when the system RNG fails.
    pub fn generate() -> Result<Self, CryptoError> {
        let mut bytes = Zeroizing::new([0u8; AUTH_SECRET_LEN]);
        getrandom::fill(&mut bytes[..]).map_err(|_| CryptoError::Rng)?;
        Ok(Self(bytes))
    }

    /// The secret octets. Handle with care: they must not be logged.
    #[must_use]
    pub fn expose_secret(&self) -> &[u8; AUTH_SECRET_LEN] {
        &self.0
    }

    /// The secret as base64url, inside a zeroizing string.
    #[must_use]
    pub fn expose_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(b64::encode(&self.0[..]))
    }
}

impl PartialEq for AuthSecret {
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq;
        self.0.ct_eq(&*other.0).into()
    }
}

impl Eq for AuthSecret {}

impl fmt::Debug for AuthSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthSecret(..)")
    }
}

/// A user agent's key pair: what a browser keeps for a subscription and uses
/// to [`decrypt`] push messages. The private key is zeroized on drop.
#[derive(Clone)]
pub struct UaKeyPair {
    secret: p256::SecretKey,
    public: UaPublicKey,
}

impl UaKeyPair {
    /// Generates a new key pair.
    ///
    /// # Errors
    /// [`CryptoError::Rng`] when the system RNG fails.
    pub fn generate() -> Result<Self, CryptoError> {
        let secret = p256::SecretKey::try_generate().map_err(|_| CryptoError::Rng)?;
        Ok(Self::from_secret(secret))
    }

    /// Imports a 32-octet private scalar.
    ///
    /// # Errors
    /// [`KeyError::Length`] or [`KeyError::InvalidScalar`].
    pub fn from_private_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        if bytes.len() != 32 {
            return Err(KeyError::Length {
                expected: 32,
                actual: bytes.len(),
            });
        }
        let secret = p256::SecretKey::from_slice(bytes).map_err(|_| KeyError::InvalidScalar)?;
        Ok(Self::from_secret(secret))
    }

    /// Imports a private scalar given as base64 (either alphabet, padded or not).
    ///
    /// # Errors
    /// [`KeyError::Base64`] or any error of
    /// [`from_private_bytes`](Self::from_private_bytes).
    pub fn from_private_base64(s: &str) -> Result<Self, KeyError> {
        let bytes = Zeroizing::new(b64::decode_array::<32>(s).map_err(KeyError::from_b64)?);
        Self::from_private_bytes(&bytes[..])
    }

    fn from_secret(secret: p256::SecretKey) -> Self {
        let public = UaPublicKey::from_key(secret.public_key());
        Self { secret, public }
    }

    /// The public half (the subscription's `p256dh`).
    #[must_use]
    pub const fn public_key(&self) -> &UaPublicKey {
        &self.public
    }

    /// ECDH with `peer`: the raw shared secret (the x-coordinate), zeroized
    /// on drop. For the legacy `aesgcm` coding in [`crate::aesgcm`] and the
    /// backend tests.
    #[cfg(any(test, feature = "aesgcm"))]
    pub(crate) fn diffie_hellman(&self, peer: &UaPublicKey) -> Zeroizing<[u8; 32]> {
        raw_ecdh(&self.secret, peer)
    }

    /// The private scalar as base64url, inside a zeroizing string.
    #[must_use]
    pub fn expose_private_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(b64::encode(&self.secret.to_bytes()))
    }
}

impl fmt::Debug for UaKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UaKeyPair")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

/// How much padding to add to a plaintext before encryption. Padding hides
/// the payload's exact length from the push service and the network.
///
/// Sizes count the plaintext plus its padding (not the delimiter or the tag)
/// and are capped at [`MAX_PLAINTEXT_LEN`], which fills a 4096-octet body.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Padding {
    /// No padding (the default).
    #[default]
    None,
    /// Pad up to the next multiple of this many octets (capped).
    BlockSize(NonZeroUsize),
    /// Pad every plaintext to exactly this many octets (capped), so all
    /// messages have the same length. A longer plaintext is an error rather
    /// than a message that gives its length away.
    FixedSize(usize),
}

impl Padding {
    /// Pads every message to the largest size (a 4096-octet body).
    pub const MAX: Self = Self::FixedSize(MAX_PLAINTEXT_LEN);

    /// The padded length (plaintext plus padding) for a plaintext of `len`.
    ///
    /// # Errors
    /// [`CryptoError::PayloadTooLarge`] when `len` does not fit.
    pub fn padded_len(self, len: usize) -> Result<usize, CryptoError> {
        let max = match self {
            Self::FixedSize(n) => n.min(MAX_PLAINTEXT_LEN),
            Self::None | Self::BlockSize(_) => MAX_PLAINTEXT_LEN,
        };
        if len > max {
            return Err(CryptoError::PayloadTooLarge { len, max });
        }
        Ok(match self {
            Self::None => len,
            Self::BlockSize(n) => len.div_ceil(n.get()).saturating_mul(n.get()).min(max),
            Self::FixedSize(_) => max,
        })
    }
}

/// The crypto that [`encrypt`] runs in this build, on this CPU, for logs:
/// `"ring"` (feature `ring`), `"graviola"` (feature `graviola`, on a CPU
/// with the features it needs; on others it says it falls back to
/// RustCrypto), or `"RustCrypto (p256, aes-gcm)"`. The bytes on the wire do
/// not depend on it.
///
/// ```
/// println!("message crypto: {}", webpush::message::crypto_backend());
/// ```
#[must_use]
pub fn crypto_backend() -> &'static str {
    <backend::Active as Backend>::name()
}

/// Encrypts a push message for a user agent: a fresh ephemeral key pair and a
/// fresh random salt every time. The result is the request body, to be sent
/// with `Content-Encoding: aes128gcm`.
///
/// ```
/// use webpush::message::{self, AuthSecret, Padding, UaKeyPair};
///
/// // What the browser holds (normally it only gives you the public parts).
/// let ua = UaKeyPair::generate()?;
/// let auth = AuthSecret::generate()?;
///
/// let body = message::encrypt(ua.public_key(), &auth, b"Hello", Padding::None)?;
/// assert_eq!(message::decrypt(&ua, &auth, &body)?, b"Hello");
/// # Ok::<(), webpush::message::CryptoError>(())
/// ```
///
/// # Errors
/// [`CryptoError::PayloadTooLarge`] past [`MAX_PLAINTEXT_LEN`] (or the fixed
/// padded size); [`CryptoError::Rng`] when the system RNG fails.
pub fn encrypt(
    ua_public: &UaPublicKey,
    auth: &AuthSecret,
    plaintext: &[u8],
    padding: Padding,
) -> Result<Vec<u8>, CryptoError> {
    encrypt_with::<backend::Active>(ua_public, auth, plaintext, padding)
}

/// [`encrypt`] with a given backend.
pub(crate) fn encrypt_with<B: Backend>(
    ua_public: &UaPublicKey,
    auth: &AuthSecret,
    plaintext: &[u8],
    padding: Padding,
) -> Result<Vec<u8>, CryptoError> {
    let padded = padding.padded_len(plaintext.len())?;
    let salt = Salt::random().map_err(|_| CryptoError::Rng)?;
    let agreed = ua_public
        .agree_ephemeral::<B>()
        .map_err(|_| CryptoError::Rng)?;
    seal::<B::Cipher>(
        &agreed.secret,
        &agreed.public,
        &salt,
        ua_public,
        auth,
        plaintext,
        padded,
    )
}

/// The part of encryption after key agreement.
fn seal<C: RecordCipher>(
    ecdh_secret: &[u8; 32],
    as_public: &[u8; PUBLIC_KEY_LEN],
    salt: &Salt,
    ua_public: &UaPublicKey,
    auth: &AuthSecret,
    plaintext: &[u8],
    padded: usize,
) -> Result<Vec<u8>, CryptoError> {
    let ikm = derive_ikm(ecdh_secret, auth, &ua_public.bytes, as_public);
    let header = Header::new(*salt, RECORD_SIZE, as_public)?;
    let padding = padded - plaintext.len();
    Ok(ece::encrypt_with::<C>(
        &Ikm::new(&ikm[..]),
        &header,
        plaintext,
        padding,
    )?)
}

/// ECDH on P-256 with a stored private key: the raw shared secret, copied
/// into a zeroizing array.
fn raw_ecdh(secret: &p256::SecretKey, peer: &UaPublicKey) -> Zeroizing<[u8; 32]> {
    let shared = secret.diffie_hellman(&peer.key);
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(shared.raw_secret_bytes().as_ref());
    out
}

/// RFC 8291, Section 3.4.
fn derive_ikm(
    ecdh_secret: &[u8],
    auth: &AuthSecret,
    ua_public: &[u8; PUBLIC_KEY_LEN],
    as_public: &[u8; PUBLIC_KEY_LEN],
) -> Zeroizing<[u8; 32]> {
    let hk = Hkdf::<Sha256>::new(Some(&auth.0[..]), ecdh_secret);
    let mut ikm = Zeroizing::new([0u8; 32]);
    hk.expand_multi_info(&[KEY_INFO_PREFIX, ua_public, as_public], &mut ikm[..])
        .expect("32 octets is a valid HKDF-SHA256 output length");
    ikm
}

/// Decrypts a push message as a user agent does. Validates the header
/// (`rs >= 18`, a 65-octet key id that is a point on P-256), every record, the
/// delimiters and the zero padding, and refuses truncated bodies. Bodies of
/// several records are accepted, as RFC 8188 allows.
///
/// # Errors
/// [`CryptoError::KeyIdLength`], [`CryptoError::SenderKey`], or
/// [`CryptoError::Record`] for anything wrong with the header or records,
/// including a failed authentication ([`RecordError::Decrypt`]).
pub fn decrypt(ua: &UaKeyPair, auth: &AuthSecret, body: &[u8]) -> Result<Vec<u8>, CryptoError> {
    decrypt_with::<backend::ActiveCipher>(ua, auth, body)
}

/// [`decrypt`] with a given backend's cipher (ECDH with a stored private key
/// is always `p256`'s).
pub(crate) fn decrypt_with<C: RecordCipher>(
    ua: &UaKeyPair,
    auth: &AuthSecret,
    body: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let (header, records) = Header::parse(body)?;
    let keyid = header.keyid();
    let as_public = <&[u8; PUBLIC_KEY_LEN]>::try_from(keyid)
        .map_err(|_| CryptoError::KeyIdLength(keyid.len()))?;
    let as_key = UaPublicKey::from_bytes(as_public).map_err(CryptoError::SenderKey)?;
    let ecdh_secret = raw_ecdh(&ua.secret, &as_key);
    let ikm = derive_ikm(&ecdh_secret[..], auth, &ua.public.bytes, as_public);
    Ok(ece::decrypt_records_with::<C>(
        &Ikm::new(&ikm[..]),
        &header,
        records,
    )?)
}

pub mod hazmat {
    //! # ⚠️ Warning: hazmat
    //!
    //! Deterministic encryption, for reproducing known-answer vectors. Reusing
    //! a sender key or a salt across messages breaks the encryption's
    //! guarantees. Normal callers use [`super::encrypt`], which draws both
    //! fresh for every message.

    use super::{CryptoError, KeyError, PUBLIC_KEY_LEN, Padding, UaPublicKey, seal};
    use crate::backend::ActiveCipher;
    use crate::ece::Salt;
    use crate::message::AuthSecret;
    use core::fmt;

    /// An application server's (sender's) key pair, fixed by the caller.
    #[derive(Clone)]
    pub struct SenderKeyPair {
        pub(super) secret: p256::SecretKey,
        public: UaPublicKey,
    }

    impl SenderKeyPair {
        /// Imports a 32-octet private scalar.
        ///
        /// # Errors
        /// [`KeyError::Length`] or [`KeyError::InvalidScalar`].
        pub fn from_private_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
            let ua = super::UaKeyPair::from_private_bytes(bytes)?;
            Ok(Self {
                secret: ua.secret,
                public: ua.public,
            })
        }

        /// The public key that goes into the header's key id.
        #[must_use]
        pub const fn public_bytes(&self) -> &[u8; PUBLIC_KEY_LEN] {
            self.public.as_bytes()
        }

        /// ECDH with `peer`, for the legacy `aesgcm` coding in
        /// [`crate::aesgcm`].
        #[cfg(feature = "aesgcm")]
        pub(crate) fn diffie_hellman(&self, peer: &UaPublicKey) -> zeroize::Zeroizing<[u8; 32]> {
            super::raw_ecdh(&self.secret, peer)
        }

        /// The public key.
        #[cfg(feature = "aesgcm")]
        pub(crate) const fn public_key(&self) -> &UaPublicKey {
            &self.public
        }
    }

    impl fmt::Debug for SenderKeyPair {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("SenderKeyPair")
                .field("public", &self.public)
                .finish_non_exhaustive()
        }
    }

    /// Encrypts with a caller-chosen sender key and salt: the same inputs give
    /// the same body, byte for byte.
    ///
    /// # Errors
    /// As [`super::encrypt`], without the RNG failure.
    pub fn encrypt_predictably(
        sender: &SenderKeyPair,
        salt: &Salt,
        ua_public: &UaPublicKey,
        auth: &AuthSecret,
        plaintext: &[u8],
        padding: Padding,
    ) -> Result<Vec<u8>, CryptoError> {
        let padded = padding.padded_len(plaintext.len())?;
        let ecdh_secret = super::raw_ecdh(&sender.secret, ua_public);
        seal::<ActiveCipher>(
            &ecdh_secret,
            sender.public_bytes(),
            salt,
            ua_public,
            auth,
            plaintext,
            padded,
        )
    }
}

/// Entry points for the `fuzz/` targets (internal feature `__fuzz`).
#[cfg(feature = "__fuzz")]
#[doc(hidden)]
pub mod fuzz;

#[cfg(test)]
mod tests;
