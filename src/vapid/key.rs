//! The application server's VAPID key (RFC 8292): a P-256 signing key.
//!
//! Keys come from many tools, so [`VapidKey::parse`] accepts every common
//! form and tells them apart on its own:
//!
//! | form | typical source |
//! |---|---|
//! | PEM `EC PRIVATE KEY` (SEC1), with or without `EC PARAMETERS` | `openssl ecparam -genkey -name prime256v1` |
//! | PEM `PRIVATE KEY` (PKCS#8) | `openssl genpkey`, `openssl pkcs8 -topk8 -nocrypt`, most libraries |
//! | JWK `{"kty":"EC","crv":"P-256","d":..}` | WebCrypto `exportKey("jwk")`, JOSE libraries |
//! | base64 of the 32-octet scalar | `web-push generate-vapid-keys` and similar |
//!
//! DER is read by [`VapidKey::from_der`]. Keys on another curve, encrypted
//! keys and keys whose embedded public key does not match the private scalar
//! are refused with their own [`VapidKeyError`].

use core::fmt;

use p256::ecdsa::SigningKey;
use p256::elliptic_curve::Generate;
use p256::elliptic_curve::sec1::ToSec1Point;
use p256::pkcs8::PrivateKeyInfoRef;
use p256::pkcs8::der::asn1::{
    AnyRef, BitStringRef, ContextSpecific, ObjectIdentifier, OctetStringRef,
};
use p256::pkcs8::der::{
    self, Decode, DecodeValue, Header, Reader, Sequence, SliceReader, Tag, TagMode, TagNumber,
    Tagged,
};
use zeroize::Zeroizing;

use crate::b64;

/// Length of the private scalar.
pub const PRIVATE_KEY_LEN: usize = 32;
/// Length of the uncompressed public key (`0x04 || x || y`).
pub const PUBLIC_KEY_LEN: usize = 65;
/// The largest input (text or DER) any parser here accepts: 16 KiB.
pub const MAX_INPUT_LEN: usize = 16 * 1024;

/// `id-ecPublicKey` (RFC 5480).
const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// `prime256v1` / `secp256r1` / NIST P-256 (RFC 5480).
const PRIME256V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

/// Why a VAPID key was refused. Never carries key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VapidKeyError {
    /// The operating system's random number generator failed.
    #[error("system random number generator failed")]
    Rng,
    /// The input is empty (or only whitespace).
    #[error("key input is empty")]
    Empty,
    /// The input is longer than [`MAX_INPUT_LEN`]; nothing was parsed.
    #[error("key input is {len} octets, more than the limit of {max}")]
    TooLarge {
        /// Octets given.
        len: usize,
        /// The limit, [`MAX_INPUT_LEN`].
        max: usize,
    },
    /// Not PEM, not a JWK and not a base64 scalar.
    #[error("unrecognized key format (expected PEM, JWK or a base64 private scalar)")]
    UnrecognizedFormat,
    /// Malformed PEM, or PEM without a private key.
    #[error("malformed PEM: {0}")]
    Pem(&'static str),
    /// An encrypted private key (PKCS#8 `ENCRYPTED PRIVATE KEY`, or a legacy
    /// OpenSSL PEM with `Proc-Type: 4,ENCRYPTED`). Decrypt it first, e.g. with
    /// `openssl pkcs8 -in key.pem -out plain.pem`.
    #[error("the private key is encrypted; decrypt it first")]
    Encrypted,
    /// Malformed DER (PKCS#8 or SEC1 structure).
    #[error("malformed DER: {0}")]
    Der(&'static str),
    /// A key that is not an elliptic-curve key on P-256 (RSA, secp384r1, ...).
    #[error("not a P-256 (prime256v1) elliptic-curve key")]
    NotP256,
    /// Curve given by explicit parameters instead of the named-curve OID.
    #[error("explicit curve parameters are not supported; use the named curve prime256v1")]
    ExplicitCurveParameters,
    /// The private scalar is zero or not below the P-256 group order.
    #[error("private key is zero or out of range for P-256")]
    InvalidScalar,
    /// The private scalar has the wrong length (32 octets, or 31 with the
    /// leading zero dropped, are accepted).
    #[error("private key is {actual} octets, expected 32")]
    ScalarLength {
        /// Octets found.
        actual: usize,
    },
    /// Not base64 (URL-safe or standard, padded or not).
    #[error("not valid base64")]
    Base64,
    /// A JWK that is not usable (the reason says which member).
    #[error("invalid JWK: {0}")]
    Jwk(&'static str),
    /// A JWK `x` or `y` that does not decode to 32 octets.
    #[error("JWK coordinate is {actual} octets, expected 32")]
    JwkCoordinateLength {
        /// Octets found.
        actual: usize,
    },
    /// The JWK's `x`/`y` are not the public key of its `d`.
    #[error("JWK x/y do not match the public key of d")]
    JwkPublicMismatch,
    /// The public key embedded in a SEC1 or PKCS#8 key is not the public key
    /// of its private scalar.
    #[error("embedded public key does not match the private key")]
    PublicKeyMismatch,
}

impl VapidKeyError {
    fn from_b64_scalar(e: b64::B64Error) -> Self {
        match e {
            b64::B64Error::Invalid => Self::Base64,
            b64::B64Error::Length { actual, .. } => Self::ScalarLength { actual },
        }
    }
}

/// A VAPID (RFC 8292) signing key on P-256.
///
/// The private scalar is zeroized on drop, and `Debug` shows only the public
/// key.
///
/// ```
/// use webpush::vapid::key::VapidKey;
///
/// let key = VapidKey::generate()?;
/// // Give this to the browser as `applicationServerKey`.
/// let k = key.public_key_base64();
/// assert_eq!(k.len(), 87);
///
/// // Store the private key, e.g. as PKCS#8 PEM, and read it back later.
/// let pem = key.to_pkcs8_pem();
/// let again = VapidKey::parse(&pem)?;
/// assert_eq!(again.public_key_base64(), k);
/// # Ok::<(), webpush::vapid::key::VapidKeyError>(())
/// ```
#[derive(Clone)]
pub struct VapidKey {
    signing: SigningKey,
    public: [u8; PUBLIC_KEY_LEN],
}

impl VapidKey {
    /// Generates a new key with the system RNG.
    ///
    /// # Errors
    /// [`VapidKeyError::Rng`] when the system RNG fails.
    pub fn generate() -> Result<Self, VapidKeyError> {
        let signing = SigningKey::try_generate().map_err(|_| VapidKeyError::Rng)?;
        Ok(Self::from_signing(signing))
    }

    /// Parses a key in any supported text form, detected from its content:
    /// PEM (`PRIVATE KEY` or `EC PRIVATE KEY`), a JWK (JSON object), or the
    /// base64 private scalar. Surrounding whitespace is ignored.
    ///
    /// # Errors
    /// [`VapidKeyError::TooLarge`], [`VapidKeyError::Empty`],
    /// [`VapidKeyError::UnrecognizedFormat`], or any error of
    /// [`from_pem`](Self::from_pem), [`from_jwk`](Self::from_jwk) or
    /// [`from_base64_scalar`](Self::from_base64_scalar).
    pub fn parse(text: &str) -> Result<Self, VapidKeyError> {
        check_len(text.len())?;
        let t = text.trim();
        if t.is_empty() {
            return Err(VapidKeyError::Empty);
        }
        if t.contains("-----BEGIN ") {
            Self::from_pem(t)
        } else if t.starts_with('{') {
            Self::from_jwk(t)
        } else if t
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'+' | b'/' | b'='))
        {
            Self::from_base64_scalar(t)
        } else {
            Err(VapidKeyError::UnrecognizedFormat)
        }
    }

    /// Parses PEM: `PRIVATE KEY` (PKCS#8) or `EC PRIVATE KEY` (SEC1), with or
    /// without a preceding `EC PARAMETERS` block as `openssl ecparam -genkey`
    /// writes it. Text around the blocks, CRLF line endings and trailing
    /// whitespace are tolerated; other blocks (certificates, public keys) are
    /// skipped.
    ///
    /// # Errors
    /// [`VapidKeyError::TooLarge`]; [`VapidKeyError::Pem`] for malformed PEM
    /// or when there is not exactly one private key block;
    /// [`VapidKeyError::Encrypted`] for an encrypted key;
    /// [`VapidKeyError::NotP256`] for an RSA/DSA key or `EC PARAMETERS` of
    /// another curve; any error of [`from_der`](Self::from_der).
    pub fn from_pem(pem: &str) -> Result<Self, VapidKeyError> {
        check_len(pem.len())?;
        let mut key: Option<(KeyFormat, Zeroizing<Vec<u8>>)> = None;
        for block in pem_blocks(pem) {
            let block = block?;
            let format = match block.label {
                "PRIVATE KEY" => KeyFormat::Pkcs8,
                "EC PRIVATE KEY" => KeyFormat::Sec1,
                "EC PARAMETERS" => {
                    check_ec_parameters(&block.decode()?)?;
                    continue;
                }
                "ENCRYPTED PRIVATE KEY" => return Err(VapidKeyError::Encrypted),
                "RSA PRIVATE KEY" | "DSA PRIVATE KEY" => return Err(VapidKeyError::NotP256),
                "OPENSSH PRIVATE KEY" => {
                    return Err(VapidKeyError::Pem(
                        "OpenSSH private keys are not supported; convert to PKCS#8",
                    ));
                }
                _ => continue,
            };
            if block.encrypted {
                return Err(VapidKeyError::Encrypted);
            }
            if key.is_some() {
                return Err(VapidKeyError::Pem("more than one private key block"));
            }
            key = Some((format, block.decode()?));
        }
        match key {
            Some((KeyFormat::Pkcs8, der)) => Self::from_pkcs8_der(&der),
            Some((KeyFormat::Sec1, der)) => Self::from_sec1_der(&der),
            None => Err(VapidKeyError::Pem("no PRIVATE KEY or EC PRIVATE KEY block")),
        }
    }

    /// Parses DER, PKCS#8 (`PrivateKeyInfo`) or SEC1 (`ECPrivateKey`),
    /// detected from the structure.
    ///
    /// # Errors
    /// [`VapidKeyError::TooLarge`]; [`VapidKeyError::Encrypted`] for an
    /// `EncryptedPrivateKeyInfo`; [`VapidKeyError::NotP256`] for a PKCS#1
    /// RSA key; [`VapidKeyError::Der`] when it is neither form; any error of
    /// [`from_pkcs8_der`](Self::from_pkcs8_der) or
    /// [`from_sec1_der`](Self::from_sec1_der).
    pub fn from_der(der: &[u8]) -> Result<Self, VapidKeyError> {
        check_len(der.len())?;
        match sniff_der(der).map_err(|_| VapidKeyError::Der("malformed or truncated DER"))? {
            DerKind::Pkcs8 => Self::from_pkcs8_der(der),
            DerKind::Sec1 => Self::from_sec1_der(der),
            DerKind::Encrypted => Err(VapidKeyError::Encrypted),
            DerKind::Pkcs1 => Err(VapidKeyError::NotP256),
            DerKind::Unknown => Err(VapidKeyError::Der(
                "neither a PKCS#8 nor a SEC1 private key",
            )),
        }
    }

    /// Parses a PKCS#8 `PrivateKeyInfo` (v1 or v2) holding an `id-ecPublicKey`
    /// key on `prime256v1`.
    ///
    /// # Errors
    /// [`VapidKeyError::TooLarge`]; [`VapidKeyError::Der`] for malformed DER;
    /// [`VapidKeyError::NotP256`] for another algorithm or curve;
    /// [`VapidKeyError::ExplicitCurveParameters`]; [`VapidKeyError::ScalarLength`];
    /// [`VapidKeyError::InvalidScalar`]; [`VapidKeyError::PublicKeyMismatch`].
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, VapidKeyError> {
        check_len(der.len())?;
        let info = PrivateKeyInfoRef::from_der(der)
            .map_err(|_| VapidKeyError::Der("not a valid PKCS#8 PrivateKeyInfo"))?;
        if info.algorithm.oid != ID_EC_PUBLIC_KEY {
            return Err(VapidKeyError::NotP256);
        }
        let outer_curve = info.algorithm.parameters.map(curve_of).transpose()?;
        let inner = EcPrivateKey::from_der(info.private_key.as_bytes())
            .map_err(|_| VapidKeyError::Der("PKCS#8 does not hold a valid SEC1 ECPrivateKey"))?;
        let inner_curve = inner.parameters.map(curve_of).transpose()?;
        match (outer_curve, inner_curve) {
            (Some(Curve::P256), None | Some(Curve::P256)) | (None, Some(Curve::P256)) => {}
            (Some(Curve::Other), _) | (_, Some(Curve::Other)) => {
                return Err(VapidKeyError::NotP256);
            }
            (None, None) => return Err(VapidKeyError::Der("no curve parameters")),
        }
        let key = Self::from_scalar_slice(inner.private_key)?;
        let outer_public = info
            .public_key
            .map(|bits| {
                bits.as_bytes()
                    .ok_or(VapidKeyError::Der("public key BIT STRING has unused bits"))
            })
            .transpose()?;
        for public in [inner.public_key, outer_public].into_iter().flatten() {
            key.check_embedded_public(public)?;
        }
        Ok(key)
    }

    /// Parses a SEC1 `ECPrivateKey` (RFC 5915), as `openssl ec -outform DER`
    /// writes it. If it names a curve, it must be `prime256v1`.
    ///
    /// # Errors
    /// [`VapidKeyError::TooLarge`]; [`VapidKeyError::Der`] for malformed DER;
    /// [`VapidKeyError::NotP256`] for another curve;
    /// [`VapidKeyError::ExplicitCurveParameters`]; [`VapidKeyError::ScalarLength`];
    /// [`VapidKeyError::InvalidScalar`]; [`VapidKeyError::PublicKeyMismatch`].
    pub fn from_sec1_der(der: &[u8]) -> Result<Self, VapidKeyError> {
        check_len(der.len())?;
        let sec1 = EcPrivateKey::from_der(der)
            .map_err(|_| VapidKeyError::Der("not a valid SEC1 ECPrivateKey"))?;
        if let Some(params) = sec1.parameters
            && curve_of(params)? != Curve::P256
        {
            return Err(VapidKeyError::NotP256);
        }
        let key = Self::from_scalar_slice(sec1.private_key)?;
        if let Some(public) = sec1.public_key {
            key.check_embedded_public(public)?;
        }
        Ok(key)
    }

    /// Parses the private scalar as base64 (URL-safe or standard, padded or
    /// not): 32 octets, or 31 when a tool dropped a leading zero octet.
    ///
    /// # Errors
    /// [`VapidKeyError::TooLarge`], [`VapidKeyError::Base64`],
    /// [`VapidKeyError::ScalarLength`] or [`VapidKeyError::InvalidScalar`].
    pub fn from_base64_scalar(s: &str) -> Result<Self, VapidKeyError> {
        check_len(s.len())?;
        let bytes = decode_scalar_b64(s.trim())?;
        Self::from_scalar(&bytes)
    }

    /// Parses a private JWK (RFC 7517/7518) as WebCrypto exports it:
    /// `{"kty":"EC","crv":"P-256","d":..,"x":..,"y":..}`. `x` and `y` are
    /// optional, but when given they must be the public key of `d`. Other
    /// members (`ext`, `key_ops`, `alg`, `use`, `kid`, ...) are ignored.
    ///
    /// # Errors
    /// [`VapidKeyError::TooLarge`]; [`VapidKeyError::Jwk`] for JSON that is
    /// not such a JWK (not JSON, wrong `kty` or `crv`, missing `d`, only one
    /// of `x`/`y`); [`VapidKeyError::Base64`]; [`VapidKeyError::ScalarLength`];
    /// [`VapidKeyError::InvalidScalar`]; [`VapidKeyError::JwkCoordinateLength`];
    /// [`VapidKeyError::JwkPublicMismatch`].
    pub fn from_jwk(json: &str) -> Result<Self, VapidKeyError> {
        check_len(json.len())?;
        let jwk: Jwk<'_> = serde_json::from_str(json).map_err(|_| {
            if serde_json::from_str::<serde::de::IgnoredAny>(json).is_ok() {
                VapidKeyError::Jwk("not an object of string members kty, crv, d, x, y")
            } else {
                VapidKeyError::Jwk("not JSON")
            }
        })?;
        match jwk.kty {
            Some("EC") => {}
            Some(_) => return Err(VapidKeyError::Jwk("kty is not EC")),
            None => return Err(VapidKeyError::Jwk("missing kty")),
        }
        match jwk.crv {
            Some("P-256") => {}
            Some(_) => return Err(VapidKeyError::Jwk("crv is not P-256")),
            None => return Err(VapidKeyError::Jwk("missing crv")),
        }
        let d = jwk
            .d
            .ok_or(VapidKeyError::Jwk("missing d (not a private key)"))?;
        let key = Self::from_scalar(&*decode_scalar_b64(d)?)?;
        match (jwk.x, jwk.y) {
            (None, None) => {}
            (Some(x), Some(y)) => {
                let x = decode_coordinate(x)?;
                let y = decode_coordinate(y)?;
                let (_, xy) = key.public.split_at(1);
                let (px, py) = xy.split_at(32);
                if px != x || py != y {
                    return Err(VapidKeyError::JwkPublicMismatch);
                }
            }
            _ => return Err(VapidKeyError::Jwk("only one of x and y is present")),
        }
        Ok(key)
    }

    /// The key as PKCS#8 PEM (`PRIVATE KEY`), LF line endings, with the
    /// public key embedded: the same bytes `openssl pkcs8 -topk8 -nocrypt`
    /// writes.
    #[must_use]
    pub fn to_pkcs8_pem(&self) -> Zeroizing<String> {
        use base64ct::{Base64, Encoding};

        // PrivateKeyInfo { 0, { id-ecPublicKey, prime256v1 },
        //   OCTET STRING { ECPrivateKey { 1, OCTET STRING d, [1] BIT STRING Q } } }
        const PREFIX: [u8; 36] = [
            0x30, 0x81, 0x87, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce,
            0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x04,
            0x6d, 0x30, 0x6b, 0x02, 0x01, 0x01, 0x04, 0x20,
        ];
        const MIDDLE: [u8; 5] = [0xa1, 0x44, 0x03, 0x42, 0x00];
        const DER_LEN: usize = PREFIX.len() + PRIVATE_KEY_LEN + MIDDLE.len() + PUBLIC_KEY_LEN;

        let mut der = Zeroizing::new([0u8; DER_LEN]);
        let scalar = Zeroizing::new(self.signing_key().to_bytes());
        let (prefix, rest) = der.split_at_mut(PREFIX.len());
        let (d, rest) = rest.split_at_mut(PRIVATE_KEY_LEN);
        let (middle, q) = rest.split_at_mut(MIDDLE.len());
        prefix.copy_from_slice(&PREFIX);
        d.copy_from_slice(&scalar);
        middle.copy_from_slice(&MIDDLE);
        q.copy_from_slice(&self.public);

        let b64 = Zeroizing::new(Base64::encode_string(&der[..]));
        let mut pem = Zeroizing::new(String::with_capacity(b64.len() + 64));
        pem.push_str("-----BEGIN PRIVATE KEY-----\n");
        for line in b64.as_bytes().chunks(64) {
            // Base64 output is ASCII, so every chunk is a whole `str`.
            pem.push_str(core::str::from_utf8(line).unwrap_or_default());
            pem.push('\n');
        }
        pem.push_str("-----END PRIVATE KEY-----\n");
        pem
    }

    /// The public key, an uncompressed SEC1 point (`0x04 || x || y`).
    #[must_use]
    pub const fn public_key_bytes(&self) -> &[u8; PUBLIC_KEY_LEN] {
        &self.public
    }

    /// The public key as base64url without padding: the browser's
    /// `applicationServerKey` and the `k` parameter of the VAPID
    /// `Authorization` header.
    #[must_use]
    pub fn public_key_base64(&self) -> String {
        b64::encode(&self.public)
    }

    /// The 32-octet private scalar as base64url without padding, inside a
    /// zeroizing string. Handle with care: it must not be logged.
    #[must_use]
    pub fn expose_private_base64(&self) -> Zeroizing<String> {
        let scalar = Zeroizing::new(self.signing_key().to_bytes());
        Zeroizing::new(b64::encode(&scalar))
    }

    /// The ECDSA signing key.
    pub(crate) const fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    fn from_signing(signing: SigningKey) -> Self {
        let public = p256::PublicKey::from(signing.verifying_key())
            .to_uncompressed_point()
            .into();
        Self { signing, public }
    }

    fn from_scalar(bytes: &[u8; PRIVATE_KEY_LEN]) -> Result<Self, VapidKeyError> {
        let signing = SigningKey::from_slice(bytes).map_err(|_| VapidKeyError::InvalidScalar)?;
        Ok(Self::from_signing(signing))
    }

    /// A scalar from DER: 32 octets, or 31 (leading zero dropped).
    fn from_scalar_slice(bytes: &[u8]) -> Result<Self, VapidKeyError> {
        Self::from_scalar(&*pad_scalar(bytes)?)
    }

    /// Checks a public key embedded in DER (uncompressed or compressed).
    fn check_embedded_public(&self, encoded: &[u8]) -> Result<(), VapidKeyError> {
        let embedded = p256::PublicKey::from_sec1_bytes(encoded)
            .map_err(|_| VapidKeyError::Der("embedded public key is not a P-256 point"))?;
        if embedded.to_uncompressed_point().as_slice() == self.public.as_slice() {
            Ok(())
        } else {
            Err(VapidKeyError::PublicKeyMismatch)
        }
    }
}

impl fmt::Debug for VapidKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VapidKey")
            .field("public", &self.public_key_base64())
            .finish_non_exhaustive()
    }
}

fn check_len(len: usize) -> Result<(), VapidKeyError> {
    if len > MAX_INPUT_LEN {
        return Err(VapidKeyError::TooLarge {
            len,
            max: MAX_INPUT_LEN,
        });
    }
    Ok(())
}

/// Left-pads a 31-octet scalar; refuses every length but 31 and 32.
fn pad_scalar(bytes: &[u8]) -> Result<Zeroizing<[u8; PRIVATE_KEY_LEN]>, VapidKeyError> {
    let mut out = Zeroizing::new([0u8; PRIVATE_KEY_LEN]);
    match bytes.len() {
        PRIVATE_KEY_LEN => out.copy_from_slice(bytes),
        31 => {
            if let Some(tail) = out.get_mut(1..) {
                tail.copy_from_slice(bytes);
            }
        }
        actual => return Err(VapidKeyError::ScalarLength { actual }),
    }
    Ok(out)
}

fn decode_scalar_b64(s: &str) -> Result<Zeroizing<[u8; PRIVATE_KEY_LEN]>, VapidKeyError> {
    match b64::decode_array::<PRIVATE_KEY_LEN>(s) {
        Ok(bytes) => Ok(Zeroizing::new(bytes)),
        Err(b64::B64Error::Length { actual: 31, .. }) => {
            let short =
                Zeroizing::new(b64::decode_array::<31>(s).map_err(VapidKeyError::from_b64_scalar)?);
            pad_scalar(&short[..])
        }
        Err(e) => Err(VapidKeyError::from_b64_scalar(e)),
    }
}

fn decode_coordinate(s: &str) -> Result<[u8; 32], VapidKeyError> {
    b64::decode_array::<32>(s).map_err(|e| match e {
        b64::B64Error::Invalid => VapidKeyError::Base64,
        b64::B64Error::Length { actual, .. } => VapidKeyError::JwkCoordinateLength { actual },
    })
}

/// The members of a JWK that matter here; the rest are ignored. Borrowed, so
/// `d` is never copied into an unzeroized `String`.
#[derive(serde::Deserialize)]
struct Jwk<'a> {
    #[serde(borrow, default)]
    kty: Option<&'a str>,
    #[serde(borrow, default)]
    crv: Option<&'a str>,
    #[serde(borrow, default)]
    d: Option<&'a str>,
    #[serde(borrow, default)]
    x: Option<&'a str>,
    #[serde(borrow, default)]
    y: Option<&'a str>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum KeyFormat {
    Pkcs8,
    Sec1,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Curve {
    P256,
    Other,
}

/// Reads `ECParameters` (RFC 5480): a named curve, or explicit parameters.
fn curve_of(params: AnyRef<'_>) -> Result<Curve, VapidKeyError> {
    match params.tag() {
        Tag::ObjectIdentifier => {
            let oid: ObjectIdentifier = params
                .decode_as()
                .map_err(|_| VapidKeyError::Der("invalid curve OID"))?;
            Ok(if oid == PRIME256V1 {
                Curve::P256
            } else {
                Curve::Other
            })
        }
        Tag::Sequence => Err(VapidKeyError::ExplicitCurveParameters),
        _ => Err(VapidKeyError::Der("curve parameters are not a named curve")),
    }
}

/// The DER of an `EC PARAMETERS` PEM block must name P-256.
fn check_ec_parameters(der: &[u8]) -> Result<(), VapidKeyError> {
    let params =
        AnyRef::from_der(der).map_err(|_| VapidKeyError::Der("invalid EC PARAMETERS block"))?;
    match curve_of(params)? {
        Curve::P256 => Ok(()),
        Curve::Other => Err(VapidKeyError::NotP256),
    }
}

/// `ECPrivateKey` (RFC 5915, SEC1 C.4), with the parameters left as `ANY`
/// so explicit parameters are told apart from other curves.
struct EcPrivateKey<'a> {
    private_key: &'a [u8],
    parameters: Option<AnyRef<'a>>,
    public_key: Option<&'a [u8]>,
}

impl<'a> DecodeValue<'a> for EcPrivateKey<'a> {
    type Error = der::Error;

    fn decode_value<R: Reader<'a>>(reader: &mut R, _header: Header) -> der::Result<Self> {
        if u8::decode(reader)? != 1 {
            return Err(reader.error(Tag::Integer.value_error()));
        }
        let private_key = <&OctetStringRef>::decode(reader)?.as_bytes();
        let parameters =
            ContextSpecific::<AnyRef<'a>>::decode_explicit(reader, TagNumber(0))?.map(|f| f.value);
        let public_key = reader
            .context_specific::<BitStringRef<'a>>(TagNumber(1), TagMode::Explicit)?
            .map(|bits| bits.as_bytes().ok_or_else(|| Tag::BitString.value_error()))
            .transpose()?;
        Ok(Self {
            private_key,
            parameters,
            public_key,
        })
    }
}

impl<'a> Sequence<'a> for EcPrivateKey<'a> {}

enum DerKind {
    Pkcs8,
    Sec1,
    Encrypted,
    Pkcs1,
    Unknown,
}

/// Tells the private key structures apart by their first two elements:
/// PKCS#8 `{ INTEGER, SEQUENCE, .. }`, SEC1 `{ INTEGER, OCTET STRING, .. }`,
/// `EncryptedPrivateKeyInfo` `{ SEQUENCE, OCTET STRING }`, PKCS#1
/// `{ INTEGER, INTEGER, .. }`.
fn sniff_der(der: &[u8]) -> der::Result<DerKind> {
    let outer = AnyRef::from_der(der)?;
    if outer.tag() != Tag::Sequence {
        return Ok(DerKind::Unknown);
    }
    let mut reader = SliceReader::new(outer.value())?;
    let first = AnyRef::decode(&mut reader)?;
    let second = if reader.is_finished() {
        None
    } else {
        Some(Tag::peek(&reader)?)
    };
    Ok(match (first.tag(), second) {
        (Tag::Integer, Some(Tag::Sequence)) => DerKind::Pkcs8,
        (Tag::Integer, Some(Tag::OctetString)) => DerKind::Sec1,
        (Tag::Integer, Some(Tag::Integer)) => DerKind::Pkcs1,
        (Tag::Sequence, Some(Tag::OctetString)) => DerKind::Encrypted,
        _ => DerKind::Unknown,
    })
}

/// One `-----BEGIN label-----` .. `-----END label-----` block.
struct PemBlock<'a> {
    label: &'a str,
    /// The base64 lines, trimmed.
    lines: Vec<&'a str>,
    /// RFC 1421 headers announced encryption (`Proc-Type: 4,ENCRYPTED`).
    encrypted: bool,
}

impl PemBlock<'_> {
    fn decode(&self) -> Result<Zeroizing<Vec<u8>>, VapidKeyError> {
        use base64ct::{Base64, Encoding};

        let mut text = Zeroizing::new(String::new());
        for line in &self.lines {
            text.push_str(line);
        }
        Base64::decode_vec(&text)
            .map(Zeroizing::new)
            .map_err(|_| VapidKeyError::Pem("invalid base64 inside a PEM block"))
    }
}

/// Splits text into PEM blocks; text outside blocks is ignored.
fn pem_blocks(text: &str) -> impl Iterator<Item = Result<PemBlock<'_>, VapidKeyError>> {
    let mut lines = text.lines().map(str::trim);
    core::iter::from_fn(move || {
        let label = lines
            .by_ref()
            .find_map(|line| boundary(line, "-----BEGIN "))?;
        let mut block = PemBlock {
            label,
            lines: Vec::new(),
            encrypted: false,
        };
        let mut in_headers = true;
        for line in lines.by_ref() {
            if let Some(end) = boundary(line, "-----END ") {
                return Some(if end == label {
                    Ok(block)
                } else {
                    Err(VapidKeyError::Pem("END label does not match BEGIN label"))
                });
            }
            if line.starts_with("-----") {
                return Some(Err(VapidKeyError::Pem("BEGIN line inside a block")));
            }
            if in_headers && line.contains(':') {
                if line.starts_with("Proc-Type:") && line.contains("ENCRYPTED") {
                    block.encrypted = true;
                }
                continue;
            }
            in_headers = false;
            if !line.is_empty() {
                block.lines.push(line);
            }
        }
        Some(Err(VapidKeyError::Pem("missing END line")))
    })
}

/// The label of a `-----BEGIN label-----` (or END) line.
fn boundary<'a>(line: &'a str, prefix: &str) -> Option<&'a str> {
    line.strip_prefix(prefix)?.strip_suffix("-----")
}

/// Entry points for the `fuzz/` targets (internal feature `__fuzz`).
#[cfg(feature = "__fuzz")]
#[doc(hidden)]
pub mod fuzz;

#[cfg(test)]
mod tests;
