//! The legacy `aesgcm` content coding of draft-ietf-webpush-encryption-04,
//! on the record layer of draft-ietf-httpbis-encryption-encoding-02
//! (feature `aesgcm`).
//!
//! **Use this only when a peer needs it.** Every current browser accepts the
//! standard `aes128gcm` coding of RFC 8291 ([`crate::message`]), which stays
//! the default. `aesgcm` is here for migrations: subscriptions stored by
//! libraries that offered it (node `web-push`, `pywebpush`, PHP's
//! `web-push` when a subscription does not say which encoding it supports)
//! and older user agents that still ask for it. Select it per message with
//! [`crate::request::PushOptions::content_encoding`].
//!
//! Unlike `aes128gcm`, the salt, the record size and the sender's key travel
//! in HTTP headers, not in the body, and VAPID uses the `WebPush` scheme with
//! the key in `Crypto-Key`:
//!
//! ```text
//!   Content-Encoding: aesgcm
//!   Encryption: salt=lngarbyKfMoi9Z75xYXmkg
//!   Crypto-Key: dh=BNoRDbb84JGm8g5Z5CFxurSqsXWJ11ItfXEWYVLE85Y7CYkDjXsIEc4aqxYaQ1G8BqkXCJ6DPpDrWtdWj_mugHU;p256ecdsa=<VAPID public key>
//!   Authorization: WebPush <VAPID JWT>
//! ```
//! *draft-ietf-webpush-encryption-04, Section 5 (the `p256ecdsa` parameter
//! and the `WebPush` scheme are those of draft-ietf-webpush-vapid-01).*
//!
//! ```text
//!   ecdh_secret = ECDH(as_private, ua_public)
//!   auth_info = "Content-Encoding: auth" || 0x00
//!   PRK_combine = HMAC-SHA-256(auth_secret, ecdh_secret)
//!   IKM = HMAC-SHA-256(PRK_combine, auth_info || 0x01)
//!   context = "P-256" || 0x00 ||
//!             0x00 || 0x41 || ua_public ||
//!             0x00 || 0x41 || as_public
//!   salt = random(16)
//!   PRK = HMAC-SHA-256(salt, IKM)
//!   cek_info = "Content-Encoding: aesgcm" || 0x00 || context
//!   CEK = HMAC-SHA-256(PRK, cek_info || 0x01)[0..15]
//!   nonce_info = "Content-Encoding: nonce" || 0x00 || context
//!   NONCE = HMAC-SHA-256(PRK, nonce_info || 0x01)[0..11]
//! ```
//! *draft-ietf-webpush-encryption-04, Section 3.5: the key derivation. The
//! nonce of record `SEQ` is `NONCE XOR SEQ` (draft-ietf-httpbis-encryption-
//! encoding-02, Section 2).*
//!
//! ```text
//! +-----------+--------------------+--------+     +---------------------+----------+
//! | pad (2)   | pad zero octets    | data   | ==> | ciphertext          | tag (16) |
//! +-----------+--------------------+--------+     +---------------------+----------+
//! ```
//! *draft-ietf-httpbis-encryption-encoding-02, Section 2: a record. `pad` is
//! a 16-bit big-endian count of the zero octets that follow it. A record's
//! plaintext is at most `rs` octets (default 4096, the `rs` parameter of
//! `Encryption`); every record but the last is exactly `rs` octets, so a body
//! whose length is a multiple of `rs + 16` is truncated, and a sender whose
//! data fills the last record exactly appends an empty one.*
//!
//! [`encrypt`] always sends one record of record size 4096, as the draft's
//! Section 4 requires and every sender does: a body is at most
//! [`MAX_BODY_LEN`] octets and a plaintext (with its padding) at most
//! [`MAX_PLAINTEXT_LEN`] (4078, 85 more than `aes128gcm` carries). [`decrypt`]
//! accepts any number of records of any record size of at least 3.
//!
//! ```
//! use webpush::aesgcm::{self, Params};
//! use webpush::{AuthSecret, Padding, UaKeyPair};
//!
//! let ua = UaKeyPair::generate()?;
//! let auth = AuthSecret::generate()?;
//! let message = aesgcm::encrypt(ua.public_key(), &auth, b"Hello", Padding::None)?;
//! // What goes on the wire: the body and two headers.
//! let encryption = message.params().encryption_header();
//! let crypto_key = message.params().crypto_key_header();
//! // What the user agent does with them.
//! let params = Params::from_headers(&encryption, &crypto_key)?;
//! assert_eq!(aesgcm::decrypt(&ua, &auth, &params, message.body())?, b"Hello");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::fmt;

use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

use crate::b64;
use crate::backend::{self, ActiveCipher, RecordCipher};
use crate::codec::Reader;
use crate::ece::{SALT_LEN, Salt, TAG_LEN};
use crate::message::{
    AuthSecret, CryptoError, KeyError, PUBLIC_KEY_LEN, Padding, UaKeyPair, UaPublicKey,
};

/// The `Content-Encoding` value.
pub const CONTENT_ENCODING: &str = "aesgcm";
/// HKDF info for combining the ECDH and authentication secrets
/// (draft-ietf-webpush-encryption-04, Section 3.3).
pub const AUTH_INFO: &[u8] = b"Content-Encoding: auth\0";
/// The label that starts the key derivation context
/// (draft-ietf-webpush-encryption-04, Section 3.4).
pub const CONTEXT_LABEL: &[u8] = b"P-256";
/// HKDF info prefix for the content-encryption key; the context follows
/// (draft-ietf-webpush-encryption-04, Section 3.5).
pub const CEK_INFO_PREFIX: &[u8] = b"Content-Encoding: aesgcm\0";
/// HKDF info prefix for the nonce base; the context follows
/// (draft-ietf-webpush-encryption-04, Section 3.5).
pub const NONCE_INFO_PREFIX: &[u8] = b"Content-Encoding: nonce\0";
/// Length of the padding-length prefix of every record
/// (draft-ietf-httpbis-encryption-encoding-02, Section 2).
pub const PAD_LEN_SIZE: usize = 2;
/// What each record adds to its data and padding: the padding length and the
/// tag.
pub const RECORD_OVERHEAD: usize = PAD_LEN_SIZE + TAG_LEN;
/// The largest body push services accept (the same 4096 octets as
/// `aes128gcm`; draft-ietf-webpush-encryption-04, Section 4).
pub const MAX_BODY_LEN: usize = crate::message::MAX_BODY_LEN;
/// The largest plaintext plus padding in one message: 4096 - 2 - 16.
pub const MAX_PLAINTEXT_LEN: usize = MAX_BODY_LEN - RECORD_OVERHEAD;
/// The longest `Encryption` or `Crypto-Key` value parsed.
pub const MAX_HEADER_LEN: usize = 4096;

/// The context's length prefix of each 65-octet public key (Section 3.4).
const KEY_LEN_PREFIX: [u8; 2] = [0x00, 0x41];
const CEK_LEN: usize = 16;
const NONCE_LEN: usize = 12;
const _: () = assert!(PUBLIC_KEY_LEN == 0x41);

/// Errors of `aesgcm` header parsing and decryption. (Encryption fails only
/// as [`crate::message::encrypt`] does, with a [`CryptoError`].)
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AesgcmError {
    /// A record size below [`RecordSize::MIN`].
    #[error("record size {0} is below the minimum of 3 octets")]
    RecordSizeTooSmall(u32),
    /// An `Encryption` or `Crypto-Key` value that does not parse.
    #[error("invalid {header} header: {what}")]
    Header {
        /// `Encryption` or `Crypto-Key`.
        header: &'static str,
        /// What is wrong with it.
        what: &'static str,
    },
    /// The `dh` parameter is not a P-256 public key.
    #[error("dh is not a valid sender public key: {0}")]
    SenderKey(KeyError),
    /// The body is empty, or its length is a multiple of `rs + 16`: its last
    /// record is a full one, so records are missing after it.
    #[error("body is truncated: no final record")]
    Truncated,
    /// A record too short to hold a padding length and a tag.
    #[error("record {index} is {len} octets, too short for a padding length and a tag")]
    RecordTooShort {
        /// Zero-based record index.
        index: u64,
        /// Its length in octets.
        len: usize,
    },
    /// Authentication failed: wrong key, salt or record size, or the body
    /// was altered.
    #[error("decryption failed")]
    Decrypt,
    /// A padding length past the end of its record, or padding that is not
    /// all zeros.
    #[error("record {index} has invalid padding")]
    InvalidPadding {
        /// Zero-based record index.
        index: u64,
    },
}

/// The record size `rs` of the `aesgcm` coding: the length of every record's
/// plaintext (padding length included) but the last. Records on the wire are
/// `rs + 16` octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct RecordSize(u32);

impl RecordSize {
    /// 4096, the default when `Encryption` has no `rs` parameter.
    pub const DEFAULT: Self = Self(4096);
    /// 3: a padding length plus one octet of data.
    pub const MIN: u32 = 3;

    /// Checks `rs >= 3`.
    ///
    /// # Errors
    /// [`AesgcmError::RecordSizeTooSmall`] below 3.
    pub const fn new(rs: u32) -> Result<Self, AesgcmError> {
        if rs < Self::MIN {
            return Err(AesgcmError::RecordSizeTooSmall(rs));
        }
        Ok(Self(rs))
    }

    /// The record size in octets.
    #[must_use]
    pub const fn get(self) -> u32 {
        self.0
    }

    /// Data plus padding that one full record carries: `rs - 2`.
    fn content_capacity(self) -> usize {
        usize::try_from(self.0).unwrap_or(usize::MAX) - PAD_LEN_SIZE
    }

    /// A full record on the wire: `rs + 16` (saturating: no body is that long).
    fn encrypted_len(self) -> usize {
        usize::try_from(self.0)
            .unwrap_or(usize::MAX)
            .saturating_add(TAG_LEN)
    }
}

impl Default for RecordSize {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// What an `aesgcm` body needs besides the receiver's keys: the salt
/// (`Encryption: salt=`), the record size (`Encryption: rs=`, default 4096)
/// and the sender's public key (`Crypto-Key: dh=`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    salt: Salt,
    rs: RecordSize,
    dh: UaPublicKey,
}

impl Params {
    /// Assembles parameters.
    #[must_use]
    pub const fn new(salt: Salt, rs: RecordSize, dh: UaPublicKey) -> Self {
        Self { salt, rs, dh }
    }

    /// Parses the `Encryption` and `Crypto-Key` values of a request, as a
    /// user agent or push service does. `Encryption` must be one entry with
    /// one `salt` (16 octets, base64url, quoted or not) and at most one `rs`;
    /// `Crypto-Key` must carry exactly one `dh` (a P-256 point) among its
    /// entries. `keyid` and unknown parameters are ignored.
    ///
    /// # Errors
    /// [`AesgcmError::Header`], [`AesgcmError::SenderKey`] or
    /// [`AesgcmError::RecordSizeTooSmall`].
    pub fn from_headers(encryption: &str, crypto_key: &str) -> Result<Self, AesgcmError> {
        const ENC: &str = "Encryption";
        let bad = |what| AesgcmError::Header { header: ENC, what };
        let mut entries = entries(encryption, ENC)?;
        let entry = entries.next().ok_or(bad("empty"))?;
        if entries.next().is_some() {
            return Err(bad("more than one entry"));
        }
        let (mut salt, mut rs) = (None, None);
        for param in params(entry, ENC) {
            let (name, value) = param?;
            let slot = match name {
                n if n.eq_ignore_ascii_case("salt") => &mut salt,
                n if n.eq_ignore_ascii_case("rs") => &mut rs,
                _ => continue,
            };
            if slot.replace(value).is_some() {
                return Err(bad("parameter given twice"));
            }
        }
        let salt = b64::decode_array::<SALT_LEN>(salt.ok_or(bad("no salt"))?)
            .map_err(|_| bad("salt is not 16 octets of base64url"))?;
        let rs = match rs {
            None => RecordSize::DEFAULT,
            Some(rs) if !rs.is_empty() && rs.bytes().all(|b| b.is_ascii_digit()) => {
                RecordSize::new(rs.parse().map_err(|_| bad("rs does not fit 32 bits"))?)?
            }
            Some(_) => return Err(bad("rs is not a decimal number")),
        };
        let dh = crypto_key_param(crypto_key, "dh")?.ok_or(AesgcmError::Header {
            header: "Crypto-Key",
            what: "no dh",
        })?;
        let dh = UaPublicKey::from_base64(dh).map_err(AesgcmError::SenderKey)?;
        Ok(Self::new(Salt::from_bytes(salt), rs, dh))
    }

    /// The salt.
    #[must_use]
    pub const fn salt(&self) -> &Salt {
        &self.salt
    }

    /// The record size.
    #[must_use]
    pub const fn record_size(&self) -> RecordSize {
        self.rs
    }

    /// The sender's (application server's) ephemeral public key.
    #[must_use]
    pub const fn dh(&self) -> &UaPublicKey {
        &self.dh
    }

    /// The `Encryption` value: `salt=<base64url>`, with `;rs=<n>` when the
    /// record size is not the default 4096.
    #[must_use]
    pub fn encryption_header(&self) -> String {
        let salt = b64::encode(self.salt.as_bytes());
        if self.rs == RecordSize::DEFAULT {
            format!("salt={salt}")
        } else {
            format!("salt={salt};rs={}", self.rs.0)
        }
    }

    /// The `Crypto-Key` value: `dh=<base64url>` (a VAPID sender appends
    /// `;p256ecdsa=<key>`).
    #[must_use]
    pub fn crypto_key_header(&self) -> String {
        format!("dh={}", self.dh.to_base64())
    }
}

/// The `p256ecdsa` parameter of a `Crypto-Key` value (the VAPID public key
/// that goes with `Authorization: WebPush <jwt>`), if present.
///
/// # Errors
/// [`AesgcmError::Header`] for a malformed value or a second `p256ecdsa`.
pub fn crypto_key_p256ecdsa(crypto_key: &str) -> Result<Option<&str>, AesgcmError> {
    crypto_key_param(crypto_key, "p256ecdsa")
}

/// The one parameter `name` among all entries of a `Crypto-Key` value.
fn crypto_key_param<'a>(crypto_key: &'a str, name: &str) -> Result<Option<&'a str>, AesgcmError> {
    const CK: &str = "Crypto-Key";
    let mut found = None;
    for entry in entries(crypto_key, CK)? {
        for param in params(entry, CK) {
            let (n, value) = param?;
            if n.eq_ignore_ascii_case(name) && found.replace(value).is_some() {
                return Err(AesgcmError::Header {
                    header: CK,
                    what: "parameter given twice",
                });
            }
        }
    }
    Ok(found)
}

/// The non-empty comma-separated entries of a header value.
fn entries<'a>(
    value: &'a str,
    header: &'static str,
) -> Result<impl Iterator<Item = &'a str>, AesgcmError> {
    if value.len() > MAX_HEADER_LEN {
        return Err(AesgcmError::Header {
            header,
            what: "value over 4096 octets",
        });
    }
    Ok(value.split(',').map(str::trim).filter(|e| !e.is_empty()))
}

/// The `name=value` parameters of one entry; a value may be quoted.
fn params<'a>(
    entry: &'a str,
    header: &'static str,
) -> impl Iterator<Item = Result<(&'a str, &'a str), AesgcmError>> {
    let bad = move |what| AesgcmError::Header { header, what };
    entry
        .split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(move |p| {
            let (name, value) = p.split_once('=').ok_or(bad("parameter without ="))?;
            let (name, value) = (name.trim(), value.trim());
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return Err(bad("invalid parameter name"));
            }
            let value = match value.strip_prefix('"') {
                Some(quoted) => quoted.strip_suffix('"').ok_or(bad("unbalanced quote"))?,
                None => value,
            };
            if value.contains('"') {
                return Err(bad("unbalanced quote"));
            }
            Ok((name, value))
        })
}

/// An encrypted `aesgcm` message: the body and the [`Params`] that go into
/// its `Encryption` and `Crypto-Key` headers. `Debug` shows the body's
/// length, not its content.
#[derive(Clone, PartialEq, Eq)]
pub struct Encrypted {
    params: Params,
    body: Vec<u8>,
}

impl Encrypted {
    /// The salt, record size and sender key.
    #[must_use]
    pub const fn params(&self) -> &Params {
        &self.params
    }

    /// The request body.
    #[must_use]
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The request body, by value.
    #[must_use]
    pub fn into_body(self) -> Vec<u8> {
        self.body
    }
}

impl fmt::Debug for Encrypted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Encrypted")
            .field("params", &self.params)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// Encrypts a push message in the legacy `aesgcm` coding: a fresh ephemeral
/// key pair and salt every time, one record of record size 4096.
///
/// # Errors
/// [`CryptoError::PayloadTooLarge`] past [`MAX_PLAINTEXT_LEN`] (or the fixed
/// padded size); [`CryptoError::Rng`] when the system RNG fails.
pub fn encrypt(
    ua_public: &UaPublicKey,
    auth: &AuthSecret,
    plaintext: &[u8],
    padding: Padding,
) -> Result<Encrypted, CryptoError> {
    let salt = Salt::random().map_err(|_| CryptoError::Rng)?;
    let agreed = ua_public
        .agree_ephemeral::<backend::Active>()
        .map_err(|_| CryptoError::Rng)?;
    // The backend produced a valid point; parsing it again cannot fail.
    let as_public = UaPublicKey::from_bytes(&agreed.public).map_err(CryptoError::SenderKey)?;
    seal(
        &agreed.secret,
        auth,
        ua_public,
        &as_public,
        salt,
        RecordSize::DEFAULT,
        plaintext,
        padding,
    )
}

/// Decrypts an `aesgcm` body as a user agent does: every record (of
/// `params.record_size()`), its padding length and zero padding, and
/// truncation at a record boundary. The output is bounded by the body's
/// length.
///
/// # Errors
/// [`AesgcmError::Truncated`], [`AesgcmError::RecordTooShort`],
/// [`AesgcmError::Decrypt`] or [`AesgcmError::InvalidPadding`].
pub fn decrypt(
    ua: &UaKeyPair,
    auth: &AuthSecret,
    params: &Params,
    body: &[u8],
) -> Result<Vec<u8>, AesgcmError> {
    let chunk = params.rs.encrypted_len();
    if body.is_empty() || body.len().is_multiple_of(chunk) {
        return Err(AesgcmError::Truncated);
    }
    let shared = ua.diffie_hellman(&params.dh);
    let keys = ContentKeys::derive(&shared, auth, ua.public_key(), &params.dh, &params.salt);
    let mut out = Vec::with_capacity(body.len());
    let result = open_all(&keys, chunk, body, &mut out);
    if result.is_err() {
        out.zeroize();
    }
    result.map(|()| out)
}

/// The part of encryption after key agreement.
#[allow(clippy::too_many_arguments)]
fn seal(
    shared: &[u8; 32],
    auth: &AuthSecret,
    ua_public: &UaPublicKey,
    as_public: &UaPublicKey,
    salt: Salt,
    rs: RecordSize,
    plaintext: &[u8],
    padding: Padding,
) -> Result<Encrypted, CryptoError> {
    let padded = padded_len(padding, plaintext.len(), max_content(rs))?;
    let keys = ContentKeys::derive(shared, auth, ua_public, as_public, &salt);
    let capacity = rs.content_capacity();
    // Every record but the last is full; the last holds the rest, which is
    // less than a full record (an empty one when the content fills them all).
    let records = padded / capacity + 1;
    let body_len = padded + records * RECORD_OVERHEAD;
    let mut out = Vec::with_capacity(body_len);
    let (mut data, mut pad) = (plaintext, padded - plaintext.len());
    for seq in (0u64..).take(records) {
        // Padding first, then data.
        let pad_here = pad.min(capacity);
        let (now, later) = data.split_at((capacity - pad_here).min(data.len()));
        keys.seal_record(seq, pad_here, now, &mut out)?;
        (data, pad) = (later, pad - pad_here);
    }
    debug_assert!(data.is_empty() && pad == 0);
    debug_assert_eq!(out.len(), body_len);
    Ok(Encrypted {
        params: Params::new(salt, rs, as_public.clone()),
        body: out,
    })
}

/// The padded length (plaintext plus padding) of a plaintext of `len`
/// octets, where at most `max` fit.
fn padded_len(padding: Padding, len: usize, max: usize) -> Result<usize, CryptoError> {
    let cap = match padding {
        Padding::FixedSize(n) => n.min(max),
        Padding::None | Padding::BlockSize(_) => max,
    };
    if len > cap {
        return Err(CryptoError::PayloadTooLarge { len, max: cap });
    }
    Ok(match padding {
        Padding::None => len,
        Padding::BlockSize(n) => len.div_ceil(n.get()).saturating_mul(n.get()).min(cap),
        Padding::FixedSize(_) => cap,
    })
}

/// The largest data plus padding whose body, in records of `rs`, fits
/// [`MAX_BODY_LEN`]: [`MAX_PLAINTEXT_LEN`] for the default record size.
fn max_content(rs: RecordSize) -> usize {
    let capacity = rs.content_capacity();
    let body_len = |content: usize| content + (content / capacity + 1) * RECORD_OVERHEAD;
    // The body length grows with the content: step down until it fits.
    let mut content = MAX_PLAINTEXT_LEN;
    while content > 0 && body_len(content) > MAX_BODY_LEN {
        content -= 1;
    }
    content
}

/// Opens every record of `body` (whose length is not a multiple of `chunk`)
/// into `out`.
fn open_all(
    keys: &ContentKeys,
    chunk: usize,
    body: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), AesgcmError> {
    let mut reader = Reader::new(body);
    let mut seq = 0u64;
    while let Some(record) = reader.take(chunk) {
        keys.open_record(seq, record, out)?;
        seq += 1;
    }
    // The caller checked that a shorter final record remains.
    keys.open_record(seq, reader.rest(), out)
}

/// The content-encryption key and nonce base, derived once per message.
struct ContentKeys {
    cipher: ActiveCipher,
    nonce_base: [u8; NONCE_LEN],
}

impl ContentKeys {
    fn derive(
        ecdh_secret: &[u8; 32],
        auth: &AuthSecret,
        ua_public: &UaPublicKey,
        as_public: &UaPublicKey,
        salt: &Salt,
    ) -> Self {
        let ikm = derive_ikm(ecdh_secret, auth);
        let (cek, nonce_base) = derive_cek_and_nonce(&ikm, salt, ua_public, as_public);
        Self {
            cipher: ActiveCipher::new(&cek),
            nonce_base: *nonce_base,
        }
    }

    fn nonce(&self, seq: u64) -> Zeroizing<[u8; NONCE_LEN]> {
        let mut nonce = Zeroizing::new(self.nonce_base);
        for (n, s) in nonce[NONCE_LEN - 8..].iter_mut().zip(seq.to_be_bytes()) {
            *n ^= s;
        }
        nonce
    }

    /// Appends one sealed record: padding length, `pad` zeros, `data`, tag.
    fn seal_record(
        &self,
        seq: u64,
        pad: usize,
        data: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), CryptoError> {
        let pad_len = u16::try_from(pad).map_err(|_| CryptoError::PayloadTooLarge {
            len: pad,
            max: usize::from(u16::MAX),
        })?;
        let start = out.len();
        out.extend_from_slice(&pad_len.to_be_bytes());
        out.resize(out.len() + pad, 0);
        out.extend_from_slice(data);
        let tag = self.cipher.seal(&self.nonce(seq), &mut out[start..]);
        out.extend_from_slice(&tag);
        Ok(())
    }

    /// Opens one record onto the end of `out`, keeping only its data.
    fn open_record(&self, seq: u64, record: &[u8], out: &mut Vec<u8>) -> Result<(), AesgcmError> {
        let too_short = AesgcmError::RecordTooShort {
            index: seq,
            len: record.len(),
        };
        let mut r = Reader::new(record);
        let ciphertext = r
            .take(record.len().checked_sub(TAG_LEN).ok_or(too_short.clone())?)
            .ok_or(too_short.clone())?;
        if ciphertext.len() < PAD_LEN_SIZE {
            return Err(too_short);
        }
        let tag = <&[u8; TAG_LEN]>::try_from(r.rest()).map_err(|_| AesgcmError::Decrypt)?;
        let start = out.len();
        out.extend_from_slice(ciphertext);
        self.cipher
            .open(&self.nonce(seq), &mut out[start..], tag)
            .map_err(|_| AesgcmError::Decrypt)?;
        let bad_padding = AesgcmError::InvalidPadding { index: seq };
        let mut plain = Reader::new(&out[start..]);
        let pad = plain
            .array::<PAD_LEN_SIZE>()
            .map(u16::from_be_bytes)
            .ok_or(bad_padding.clone())?;
        let zeros = plain.take(usize::from(pad)).ok_or(bad_padding.clone())?;
        if zeros.iter().any(|&b| b != 0) {
            return Err(bad_padding);
        }
        let data_at = start + PAD_LEN_SIZE + usize::from(pad);
        let data_len = out.len() - data_at;
        out.copy_within(data_at.., start);
        out[start + data_len..].zeroize();
        out.truncate(start + data_len);
        Ok(())
    }
}

impl Drop for ContentKeys {
    fn drop(&mut self) {
        self.nonce_base.zeroize();
    }
}

/// draft-ietf-webpush-encryption-04, Section 3.3: the IKM.
fn derive_ikm(ecdh_secret: &[u8; 32], auth: &AuthSecret) -> Zeroizing<[u8; 32]> {
    let hk = Hkdf::<Sha256>::new(Some(&auth.expose_secret()[..]), ecdh_secret);
    let mut ikm = Zeroizing::new([0u8; 32]);
    hk.expand(AUTH_INFO, &mut ikm[..])
        .expect("32 octets is a valid HKDF-SHA256 output length");
    ikm
}

/// draft-ietf-webpush-encryption-04, Sections 3.4 and 3.5: the CEK and the
/// nonce base, with the context passed as pieces.
fn derive_cek_and_nonce(
    ikm: &[u8; 32],
    salt: &Salt,
    ua_public: &UaPublicKey,
    as_public: &UaPublicKey,
) -> (Zeroizing<[u8; CEK_LEN]>, Zeroizing<[u8; NONCE_LEN]>) {
    let hk = Hkdf::<Sha256>::new(Some(salt.as_bytes()), ikm);
    let context: [&[u8]; 6] = [
        CONTEXT_LABEL,
        b"\0",
        &KEY_LEN_PREFIX,
        ua_public.as_bytes(),
        &KEY_LEN_PREFIX,
        as_public.as_bytes(),
    ];
    let mut cek = Zeroizing::new([0u8; CEK_LEN]);
    let mut nonce = Zeroizing::new([0u8; NONCE_LEN]);
    let [c0, c1, c2, c3, c4, c5] = context;
    hk.expand_multi_info(&[CEK_INFO_PREFIX, c0, c1, c2, c3, c4, c5], &mut cek[..])
        .expect("16 octets is a valid HKDF-SHA256 output length");
    hk.expand_multi_info(&[NONCE_INFO_PREFIX, c0, c1, c2, c3, c4, c5], &mut nonce[..])
        .expect("12 octets is a valid HKDF-SHA256 output length");
    (cek, nonce)
}

pub mod hazmat {
    //! # ⚠️ Warning: hazmat
    //!
    //! Deterministic `aesgcm` encryption, for reproducing known-answer
    //! vectors and comparing bodies byte for byte with other
    //! implementations. Reusing a sender key or a salt across messages
    //! breaks the encryption's guarantees. Normal callers use
    //! [`super::encrypt`], which draws both fresh for every message.

    use super::{Encrypted, RecordSize, seal};
    use crate::ece::Salt;
    use crate::message::hazmat::SenderKeyPair;
    use crate::message::{AuthSecret, CryptoError, Padding, UaPublicKey};

    /// Encrypts with a caller-chosen sender key, salt and record size: the
    /// same inputs give the same body, byte for byte. Records are filled
    /// padding first, then data; a body is still at most 4096 octets.
    ///
    /// # Errors
    /// [`CryptoError::PayloadTooLarge`] when the body would pass 4096 octets.
    pub fn encrypt_predictably(
        sender: &SenderKeyPair,
        salt: &Salt,
        rs: RecordSize,
        ua_public: &UaPublicKey,
        auth: &AuthSecret,
        plaintext: &[u8],
        padding: Padding,
    ) -> Result<Encrypted, CryptoError> {
        let shared = sender.diffie_hellman(ua_public);
        seal(
            &shared,
            auth,
            ua_public,
            sender.public_key(),
            *salt,
            rs,
            plaintext,
            padding,
        )
    }
}

/// Entry points for the `fuzz/` targets (internal feature `__fuzz`).
#[cfg(feature = "__fuzz")]
#[doc(hidden)]
pub mod fuzz;

#[cfg(test)]
mod tests;
