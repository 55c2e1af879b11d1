//! RFC 8188 "Encrypted Content-Encoding for HTTP", the `aes128gcm` coding.
//!
//! This module is the record layer only: it knows an input keying material
//! (IKM), a salt, a record size and an opaque key id, and nothing of P-256 or
//! Web Push (that is [`crate::message`], RFC 8291).
//!
//! ```text
//! +-----------+--------+-----------+---------------+
//! | salt (16) | rs (4) | idlen (1) | keyid (idlen) |
//! +-----------+--------+-----------+---------------+
//! ```
//! *RFC 8188, Section 2.1: the header. `rs` is a 32-bit big-endian record size.*
//!
//! ```text
//!   PRK   = HKDF-Extract(salt, IKM)
//!   CEK   = HKDF-Expand(PRK, "Content-Encoding: aes128gcm" || 0x00, 16)
//!   NONCE = HKDF-Expand(PRK, "Content-Encoding: nonce" || 0x00, 12) XOR SEQ
//! ```
//! *RFC 8188, Sections 2.2 and 2.3: key and nonce derivation.*
//!
//! After the header come records of exactly `rs` octets each, except the last,
//! which may be shorter. Each record is the AES-128-GCM encryption of its data,
//! a delimiter octet (`0x01` for every record but the last, `0x02` for the
//! last) and any number of zero octets of padding, followed by the 16-octet tag.
//!
//! # Example
//! ```
//! use webpush::ece::{self, Header, Ikm, RecordSize, Salt};
//!
//! let ikm = Ikm::new(b"sixteen byte key");
//! let header = Header::new(Salt::from_bytes([7; 16]), RecordSize::new(25)?, b"")?;
//! let body = ece::encrypt(&ikm, &header, b"I am the walrus", 0)?;
//! assert_eq!(ece::decrypt(&ikm, &body)?, b"I am the walrus");
//! # Ok::<(), webpush::ece::RecordError>(())
//! ```

use core::fmt;

use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

use crate::backend::{ActiveCipher, RecordCipher};
use crate::codec::Reader;

/// HKDF info for the content-encryption key (RFC 8188, Section 2.2).
pub const CEK_INFO: &[u8] = b"Content-Encoding: aes128gcm\0";
/// HKDF info for the nonce base (RFC 8188, Section 2.3).
pub const NONCE_INFO: &[u8] = b"Content-Encoding: nonce\0";
/// Length of the salt (RFC 8188, Section 2.1).
pub const SALT_LEN: usize = 16;
/// Length of the AES-GCM authentication tag.
pub const TAG_LEN: usize = crate::backend::TAG_LEN;
/// Length of the header without its key id: salt, `rs` and `idlen`.
pub const HEADER_FIXED_LEN: usize = SALT_LEN + 4 + 1;
/// The smallest record size: one delimiter octet plus the tag, plus one
/// octet so that a record can carry data (RFC 8188, Section 2).
pub const MIN_RECORD_SIZE: u32 = 18;
/// What each record adds to its data and padding: delimiter and tag.
pub const RECORD_OVERHEAD: usize = 1 + TAG_LEN;

const CEK_LEN: usize = crate::backend::CEK_LEN;
const NONCE_LEN: usize = crate::backend::NONCE_LEN;
const DELIMITER: u8 = 0x01;
const LAST_DELIMITER: u8 = 0x02;

/// Errors of the record layer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// A record size below [`MIN_RECORD_SIZE`].
    #[error("record size {0} is below the minimum of 18 octets")]
    RecordSizeTooSmall(u32),
    /// A key id longer than the one-octet `idlen` can describe.
    #[error("key id is {0} octets; the header allows at most 255")]
    KeyIdTooLong(usize),
    /// The body is shorter than the header it announces.
    #[error("body of {0} octets is shorter than its header")]
    HeaderTruncated(usize),
    /// The body ends without a final record: it is empty after the header, or
    /// its last record is not marked as the last one (cut at a record boundary).
    #[error("body is truncated: no final record")]
    Truncated,
    /// A record too short to hold a delimiter and a tag.
    #[error("record {index} is {len} octets, too short for a delimiter and a tag")]
    RecordTooShort {
        /// Zero-based record index.
        index: u64,
        /// Its length in octets.
        len: usize,
    },
    /// Authentication failed: wrong key, or the body was altered.
    #[error("decryption failed")]
    Decrypt,
    /// A record whose plaintext is all zeros: no delimiter.
    #[error("record {index} has no padding delimiter")]
    MissingDelimiter {
        /// Zero-based record index.
        index: u64,
    },
    /// A delimiter other than 0x01 (more records) or 0x02 (last record).
    #[error("record {index} has an invalid padding delimiter 0x{value:02x}")]
    InvalidDelimiter {
        /// Zero-based record index.
        index: u64,
        /// The octet found.
        value: u8,
    },
    /// A record marked as the last one is followed by more data.
    #[error("data follows the final record (record {index} is marked final)")]
    DataAfterFinalRecord {
        /// Zero-based index of the record marked final.
        index: u64,
    },
    /// Data and padding given to [`Encryptor::push_record`] or
    /// [`Encryptor::finish`] do not fit the record size.
    #[error("record content of {actual} octets does not fit: {expected}")]
    RecordContentLength {
        /// What the record needs.
        expected: &'static str,
        /// Data plus padding given.
        actual: usize,
    },
    /// The output length would overflow `usize`.
    #[error("output too large")]
    TooLarge,
}

/// The 16-octet salt. It is public (sent in the header) but must be fresh and
/// random for every message that reuses an IKM.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Salt([u8; SALT_LEN]);

impl Salt {
    /// Wraps 16 octets.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; SALT_LEN]) -> Self {
        Self(bytes)
    }

    /// Draws a salt from the operating system's random number generator.
    ///
    /// # Errors
    /// When the system RNG fails.
    pub fn random() -> Result<Self, getrandom::Error> {
        let mut salt = [0u8; SALT_LEN];
        getrandom::fill(&mut salt)?;
        Ok(Self(salt))
    }

    /// The 16 octets.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; SALT_LEN] {
        &self.0
    }
}

impl fmt::Debug for Salt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Salt(")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

/// The record size `rs`: the length of every record but the last, tag
/// included. At least [`MIN_RECORD_SIZE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct RecordSize(u32);

impl RecordSize {
    /// 4096, the size Web Push uses (RFC 8291, Section 4).
    pub const DEFAULT: Self = Self(4096);

    /// Checks `rs >= 18`.
    ///
    /// # Errors
    /// [`RecordError::RecordSizeTooSmall`] below 18.
    pub const fn new(rs: u32) -> Result<Self, RecordError> {
        if rs < MIN_RECORD_SIZE {
            return Err(RecordError::RecordSizeTooSmall(rs));
        }
        Ok(Self(rs))
    }

    /// The record size in octets.
    #[must_use]
    pub const fn get(self) -> u32 {
        self.0
    }

    /// Data plus padding that one full record carries: `rs - 17`.
    #[must_use]
    pub fn content_capacity(self) -> usize {
        usize::try_from(self.0).unwrap_or(usize::MAX) - RECORD_OVERHEAD
    }

    fn len(self) -> usize {
        usize::try_from(self.0).unwrap_or(usize::MAX)
    }
}

impl Default for RecordSize {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Input keying material, borrowed. `Debug` shows only its length.
#[derive(Clone, Copy)]
pub struct Ikm<'a>(&'a [u8]);

impl<'a> Ikm<'a> {
    /// Wraps the secret octets.
    #[must_use]
    pub const fn new(bytes: &'a [u8]) -> Self {
        Self(bytes)
    }
}

impl fmt::Debug for Ikm<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ikm({} octets, redacted)", self.0.len())
    }
}

/// The header of an `aes128gcm` body (RFC 8188, Section 2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    salt: Salt,
    rs: RecordSize,
    keyid: &'a [u8],
}

impl<'a> Header<'a> {
    /// Builds a header.
    ///
    /// # Errors
    /// [`RecordError::KeyIdTooLong`] for a key id over 255 octets.
    pub fn new(salt: Salt, rs: RecordSize, keyid: &'a [u8]) -> Result<Self, RecordError> {
        if keyid.len() > usize::from(u8::MAX) {
            return Err(RecordError::KeyIdTooLong(keyid.len()));
        }
        Ok(Self { salt, rs, keyid })
    }

    /// Splits a body into its header and the records that follow.
    ///
    /// # Errors
    /// [`RecordError::HeaderTruncated`] when the body is shorter than the
    /// header, [`RecordError::RecordSizeTooSmall`] for `rs < 18`.
    pub fn parse(body: &'a [u8]) -> Result<(Self, &'a [u8]), RecordError> {
        let short = || RecordError::HeaderTruncated(body.len());
        let mut r = Reader::new(body);
        let salt = Salt(r.array().ok_or_else(short)?);
        let rs = RecordSize::new(r.u32_be().ok_or_else(short)?)?;
        let idlen = r.u8().ok_or_else(short)?;
        let keyid = r.take(usize::from(idlen)).ok_or_else(short)?;
        Ok((Self { salt, rs, keyid }, r.rest()))
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

    /// The key id (for Web Push: the sender's public key).
    #[must_use]
    pub const fn keyid(&self) -> &'a [u8] {
        self.keyid
    }

    /// Encoded length: 21 octets plus the key id.
    #[must_use]
    pub const fn encoded_len(&self) -> usize {
        HEADER_FIXED_LEN + self.keyid.len()
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.salt.0);
        out.extend_from_slice(&self.rs.0.to_be_bytes());
        // `new` and `parse` bound the key id to 255 octets.
        out.push(u8::try_from(self.keyid.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(self.keyid);
    }
}

/// The content-encryption key and nonce base, derived once per body.
struct ContentKeys<C> {
    cipher: C,
    nonce_base: [u8; NONCE_LEN],
}

impl<C: RecordCipher> ContentKeys<C> {
    fn derive(ikm: &Ikm<'_>, salt: &Salt) -> Self {
        let (cek, nonce_base) = derive_cek_and_nonce(ikm, salt);
        Self {
            cipher: C::new(&cek),
            nonce_base: *nonce_base,
        }
    }

    /// RFC 8188, Section 2.3: the nonce base XOR the record's sequence
    /// number, big-endian in the low 96 bits.
    fn nonce(&self, seq: u64) -> Zeroizing<[u8; NONCE_LEN]> {
        let mut nonce = Zeroizing::new(self.nonce_base);
        for (n, s) in nonce[NONCE_LEN - 8..].iter_mut().zip(seq.to_be_bytes()) {
            *n ^= s;
        }
        nonce
    }
}

impl<C> Drop for ContentKeys<C> {
    fn drop(&mut self) {
        self.nonce_base.zeroize();
    }
}

/// HKDF as in RFC 8188, Sections 2.2 and 2.3.
pub(crate) fn derive_cek_and_nonce(
    ikm: &Ikm<'_>,
    salt: &Salt,
) -> (Zeroizing<[u8; CEK_LEN]>, Zeroizing<[u8; NONCE_LEN]>) {
    let hk = Hkdf::<Sha256>::new(Some(&salt.0), ikm.0);
    let mut cek = Zeroizing::new([0u8; CEK_LEN]);
    let mut nonce = Zeroizing::new([0u8; NONCE_LEN]);
    // Both lengths are far below HKDF-SHA256's 255 * 32 octet limit.
    hk.expand(CEK_INFO, &mut cek[..])
        .expect("16 octets is a valid HKDF-SHA256 output length");
    hk.expand(NONCE_INFO, &mut nonce[..])
        .expect("12 octets is a valid HKDF-SHA256 output length");
    (cek, nonce)
}

/// Writes a body record by record. Every record but the last goes through
/// [`push_record`](Self::push_record); [`finish`](Self::finish) seals the last
/// one and consumes the encryptor, so nothing can follow it.
pub struct Encryptor(Sealer<ActiveCipher>);

impl fmt::Debug for Encryptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Encryptor")
            .field("rs", &self.0.rs)
            .field("records", &self.0.seq)
            .finish_non_exhaustive()
    }
}

impl Encryptor {
    /// Starts a body: derives the keys and writes the header. `capacity` is
    /// the expected body length, so that the output is allocated once.
    #[must_use]
    pub fn new(ikm: &Ikm<'_>, header: &Header<'_>, capacity: usize) -> Self {
        Self(Sealer::new(ikm, header, capacity))
    }

    /// Seals a record that is not the last: `data.len() + padding` must be
    /// exactly `rs - 17`.
    ///
    /// # Errors
    /// [`RecordError::RecordContentLength`] when it is not.
    pub fn push_record(&mut self, data: &[u8], padding: usize) -> Result<(), RecordError> {
        self.0.push_record(data, padding)
    }

    /// Seals the last record (`data.len() + padding <= rs - 17`) and returns
    /// the body.
    ///
    /// # Errors
    /// [`RecordError::RecordContentLength`] when the record would overflow.
    pub fn finish(self, data: &[u8], padding: usize) -> Result<Vec<u8>, RecordError> {
        self.0.finish(data, padding)
    }
}

/// [`Encryptor`] for any backend's cipher.
struct Sealer<C> {
    keys: ContentKeys<C>,
    rs: RecordSize,
    seq: u64,
    out: Vec<u8>,
}

impl<C: RecordCipher> Sealer<C> {
    fn new(ikm: &Ikm<'_>, header: &Header<'_>, capacity: usize) -> Self {
        let mut out = Vec::with_capacity(capacity.max(header.encoded_len()));
        header.write(&mut out);
        Self {
            keys: ContentKeys::derive(ikm, &header.salt),
            rs: header.rs,
            seq: 0,
            out,
        }
    }

    fn push_record(&mut self, data: &[u8], padding: usize) -> Result<(), RecordError> {
        let content = data
            .len()
            .checked_add(padding)
            .ok_or(RecordError::TooLarge)?;
        if content != self.rs.content_capacity() {
            return Err(RecordError::RecordContentLength {
                expected: "exactly rs - 17 octets for a record before the last",
                actual: content,
            });
        }
        self.seal(data, padding, DELIMITER);
        Ok(())
    }

    fn finish(mut self, data: &[u8], padding: usize) -> Result<Vec<u8>, RecordError> {
        let content = data
            .len()
            .checked_add(padding)
            .ok_or(RecordError::TooLarge)?;
        if content > self.rs.content_capacity() {
            return Err(RecordError::RecordContentLength {
                expected: "at most rs - 17 octets for the last record",
                actual: content,
            });
        }
        self.seal(data, padding, LAST_DELIMITER);
        Ok(core::mem::take(&mut self.out))
    }

    fn seal(&mut self, data: &[u8], padding: usize, delimiter: u8) {
        let start = self.out.len();
        self.out.extend_from_slice(data);
        self.out.push(delimiter);
        self.out.resize(self.out.len() + padding, 0);
        let nonce = self.keys.nonce(self.seq);
        let tag = self.keys.cipher.seal(&nonce, &mut self.out[start..]);
        self.out.extend_from_slice(&tag);
        self.seq += 1;
    }
}

/// Length of a body carrying `content` octets of data plus padding.
///
/// # Errors
/// [`RecordError::TooLarge`] on overflow.
pub fn body_len(header: &Header<'_>, content: usize) -> Result<usize, RecordError> {
    let records = content.div_ceil(header.rs.content_capacity()).max(1);
    records
        .checked_mul(RECORD_OVERHEAD)
        .and_then(|o| o.checked_add(content))
        .and_then(|o| o.checked_add(header.encoded_len()))
        .ok_or(RecordError::TooLarge)
}

/// Encrypts `plaintext` followed by `padding` zero octets, filling each record
/// before starting the next (data first, then padding).
///
/// # Errors
/// [`RecordError::TooLarge`] if the body length overflows.
pub fn encrypt(
    ikm: &Ikm<'_>,
    header: &Header<'_>,
    plaintext: &[u8],
    padding: usize,
) -> Result<Vec<u8>, RecordError> {
    encrypt_with::<ActiveCipher>(ikm, header, plaintext, padding)
}

/// [`encrypt`] with a given backend's cipher.
pub(crate) fn encrypt_with<C: RecordCipher>(
    ikm: &Ikm<'_>,
    header: &Header<'_>,
    plaintext: &[u8],
    padding: usize,
) -> Result<Vec<u8>, RecordError> {
    let content = plaintext
        .len()
        .checked_add(padding)
        .ok_or(RecordError::TooLarge)?;
    let len = body_len(header, content)?;
    let mut enc = Sealer::<C>::new(ikm, header, len);
    let cap = header.rs.content_capacity();
    let mut data = plaintext;
    let mut pad = padding;
    while data.len() + pad > cap {
        let (now, later) = data.split_at(data.len().min(cap));
        let now_pad = cap - now.len();
        enc.push_record(now, now_pad)?;
        data = later;
        pad -= now_pad;
    }
    let body = enc.finish(data, pad)?;
    debug_assert_eq!(body.len(), len);
    Ok(body)
}

/// Decrypts a whole `aes128gcm` body (header and records).
///
/// # Errors
/// Any [`RecordError`] about the header or the records; a failed
/// authentication is [`RecordError::Decrypt`].
pub fn decrypt(ikm: &Ikm<'_>, body: &[u8]) -> Result<Vec<u8>, RecordError> {
    let (header, records) = Header::parse(body)?;
    decrypt_records(ikm, &header, records)
}

/// Decrypts the records that follow `header`. The output is bounded by the
/// input's length, never by a header field.
pub(crate) fn decrypt_records(
    ikm: &Ikm<'_>,
    header: &Header<'_>,
    records: &[u8],
) -> Result<Vec<u8>, RecordError> {
    decrypt_records_with::<ActiveCipher>(ikm, header, records)
}

/// [`decrypt_records`] with a given backend's cipher.
pub(crate) fn decrypt_records_with<C: RecordCipher>(
    ikm: &Ikm<'_>,
    header: &Header<'_>,
    records: &[u8],
) -> Result<Vec<u8>, RecordError> {
    if records.is_empty() {
        return Err(RecordError::Truncated);
    }
    let keys = ContentKeys::<C>::derive(ikm, &header.salt);
    let mut out = Vec::with_capacity(records.len());
    let result = open_all(&keys, header.rs, records, &mut out);
    if result.is_err() {
        out.zeroize();
    }
    result.map(|()| out)
}

fn open_all<C: RecordCipher>(
    keys: &ContentKeys<C>,
    rs: RecordSize,
    records: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), RecordError> {
    let count = records.len().div_ceil(rs.len());
    for (seq, record) in (0u64..).zip(records.chunks(rs.len())) {
        let last = seq + 1 == count as u64;
        let (ciphertext, tag) = record
            .split_at_checked(record.len().wrapping_sub(TAG_LEN))
            .filter(|(c, _)| !c.is_empty())
            .ok_or(RecordError::RecordTooShort {
                index: seq,
                len: record.len(),
            })?;
        let start = out.len();
        out.extend_from_slice(ciphertext);
        let tag = <&[u8; TAG_LEN]>::try_from(tag).map_err(|_| RecordError::Decrypt)?;
        keys.cipher
            .open(&keys.nonce(seq), &mut out[start..], tag)
            .map_err(|_| RecordError::Decrypt)?;
        let delimiter_at = out[start..]
            .iter()
            .rposition(|&b| b != 0)
            .ok_or(RecordError::MissingDelimiter { index: seq })?;
        match (out[start + delimiter_at], last) {
            (DELIMITER, false) | (LAST_DELIMITER, true) => {}
            (DELIMITER, true) => return Err(RecordError::Truncated),
            (LAST_DELIMITER, false) => {
                return Err(RecordError::DataAfterFinalRecord { index: seq });
            }
            (value, _) => return Err(RecordError::InvalidDelimiter { index: seq, value }),
        }
        out[start + delimiter_at..].zeroize();
        out.truncate(start + delimiter_at);
    }
    Ok(())
}

/// Entry points for the `fuzz/` targets (internal feature `__fuzz`).
#[cfg(feature = "__fuzz")]
#[doc(hidden)]
pub mod fuzz;

#[cfg(test)]
mod tests;
