//! Fuzzing entry points for the legacy `aesgcm` coding (internal feature
//! `__fuzz`; not part of the API). The targets in `fuzz/` call these.

use std::sync::OnceLock;

use super::{Params, crypto_key_p256ecdsa, decrypt};
use crate::message::{AuthSecret, UaKeyPair};

/// The receiver of draft-ietf-webpush-encryption-04, Section 5.
fn receiver() -> &'static (UaKeyPair, AuthSecret) {
    static KEYS: OnceLock<(UaKeyPair, AuthSecret)> = OnceLock::new();
    KEYS.get_or_init(|| {
        (
            UaKeyPair::from_private_base64("9FWl15_QUQAWDaD3k3l50ZBZQJ4au27F1V4F0uLSD_M")
                .expect("draft-04 ua_private"),
            AuthSecret::from_base64("R29vIGdvbyBnJyBqb29iIQ").expect("draft-04 auth_secret"),
        )
    })
}

/// Target `aesgcm_decrypt`: an untrusted request as a push service or user
/// agent sees it, `Encryption` value, newline, `Crypto-Key` value, newline,
/// body. The headers are parsed ([`Params::from_headers`],
/// [`crypto_key_p256ecdsa`]) and the body decrypted with the draft example's
/// receiver keys. Nothing may panic, and a plaintext is shorter than its body.
pub fn decrypt_request(data: &[u8]) {
    let mut parts = data.splitn(3, |&b| b == b'\n');
    let (Some(encryption), Some(crypto_key), Some(body)) =
        (parts.next(), parts.next(), parts.next())
    else {
        return;
    };
    let (Ok(encryption), Ok(crypto_key)) = (str::from_utf8(encryption), str::from_utf8(crypto_key))
    else {
        return;
    };
    let _ = crypto_key_p256ecdsa(crypto_key);
    let Ok(params) = Params::from_headers(encryption, crypto_key) else {
        return;
    };
    let (ua, auth) = receiver();
    if let Ok(plain) = decrypt(ua, auth, &params, body) {
        assert!(plain.len() < body.len());
    }
}
