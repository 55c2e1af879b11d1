//! The published vectors in `tests/data/webpush-vectors.json`, for unit tests.

use serde::Deserialize;

pub(crate) const JSON: &str = include_str!("../tests/data/webpush-vectors.json");

#[derive(Debug, Deserialize)]
pub(crate) struct Vectors {
    pub(crate) rfc8291_appendix_a: Rfc8291,
    pub(crate) rfc8188_3_1: Rfc8188Single,
    pub(crate) rfc8188_3_2: Rfc8188Multi,
    pub(crate) rfc8292_2_4: Rfc8292,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Rfc8292 {
    pub(crate) authorization: String,
    pub(crate) jwt: String,
    pub(crate) k: String,
    pub(crate) claims: crate::vapid::Claims,
    pub(crate) verify_with_now: u64,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Rfc8291 {
    pub(crate) plaintext: String,
    pub(crate) as_public: String,
    pub(crate) as_private: String,
    pub(crate) ua_public: String,
    pub(crate) ua_private: String,
    pub(crate) salt: String,
    pub(crate) auth_secret: String,
    pub(crate) intermediate: Rfc8291Intermediate,
    pub(crate) header: String,
    pub(crate) ciphertext: String,
    pub(crate) body: String,
    pub(crate) body_len: usize,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Rfc8291Intermediate {
    pub(crate) ecdh_secret: String,
    pub(crate) prk_key: String,
    pub(crate) key_info: String,
    pub(crate) ikm: String,
    pub(crate) prk: String,
    pub(crate) cek_info: String,
    pub(crate) cek: String,
    pub(crate) nonce_info: String,
    pub(crate) nonce: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Rfc8188Single {
    pub(crate) plaintext_utf8: String,
    pub(crate) ikm: String,
    pub(crate) salt: String,
    pub(crate) rs: u32,
    pub(crate) intermediate: Rfc8188Intermediate,
    pub(crate) body: String,
    pub(crate) body_len: usize,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Rfc8188Intermediate {
    pub(crate) prk: String,
    pub(crate) cek: String,
    pub(crate) nonce: String,
    pub(crate) record_plaintext: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Rfc8188Multi {
    pub(crate) plaintext_utf8: String,
    pub(crate) ikm: String,
    pub(crate) salt: String,
    pub(crate) rs: u32,
    pub(crate) keyid_utf8: String,
    pub(crate) records: Vec<Rfc8188Record>,
    pub(crate) body: String,
    pub(crate) body_len: usize,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Rfc8188Record {
    pub(crate) data_utf8: String,
    pub(crate) delimiter: u8,
    pub(crate) padding: usize,
}

pub(crate) fn load() -> Vectors {
    serde_json::from_str(JSON).expect("tests/data/webpush-vectors.json parses")
}

/// Decodes a base64url vector field, naming it on failure.
pub(crate) fn bytes(field: &str, value: &str) -> Vec<u8> {
    use base64ct::{Base64UrlUnpadded, Encoding};
    Base64UrlUnpadded::decode_vec(value).unwrap_or_else(|e| panic!("vector field {field}: {e}"))
}
