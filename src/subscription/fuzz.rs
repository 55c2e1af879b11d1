//! Fuzzing entry points for subscriptions and key decoding (internal feature
//! `__fuzz`; not part of the API). The targets in `fuzz/` call these.

use super::Subscription;
use crate::message::{AuthSecret, UaKeyPair, UaPublicKey};

/// Target `subscription`: untrusted text through
/// [`Subscription::from_json`] and serde's `Deserialize`. Nothing may
/// panic; `Deserialize` accepts nothing `from_json` refuses; an accepted subscription
/// serializes to JSON that parses back to the same subscription, and its
/// `Debug` does not show the auth secret.
///
/// # Panics
/// When a check fails.
pub fn json(data: &[u8]) {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    // serde's `Deserialize` (budgeted) never accepts what `from_json`
    // refuses, and agrees on what both accept.
    let direct = serde_json::from_str::<Subscription>(text);
    let Ok(sub) = Subscription::from_json(text) else {
        // (Only texts within the limit: whitespace costs nothing in the
        // budget.)
        if text.len() <= super::MAX_JSON_LEN {
            assert!(
                direct.is_err(),
                "Deserialize accepted what from_json refused"
            );
        }
        return;
    };
    if let Ok(direct) = direct {
        assert_eq!(direct, sub);
    }
    let again = Subscription::from_json(&sub.to_json()).expect("our own JSON parses");
    assert_eq!(again, sub);
    // The origin and `p256dh` are shown, and the input may have made either
    // contain the text of `auth` (fuzz finding: a host holding it); the
    // `auth` field itself must not show it.
    let debug = format!("{sub:?}")
        .replace(&sub.endpoint().origin(), "")
        .replace(&sub.p256dh().to_base64(), "");
    assert!(!debug.contains(sub.auth().expose_base64().as_str()));
}

/// Target `keys`: untrusted octets through every key decoder, as base64 text
/// (`p256dh`, `auth`, a private scalar) and as raw octets. Nothing may
/// panic; whatever is accepted encodes and decodes back to the same key.
///
/// # Panics
/// When a check fails.
pub fn keys(data: &[u8]) {
    if let Ok(text) = core::str::from_utf8(data) {
        if let Ok(key) = UaPublicKey::from_base64(text) {
            assert_eq!(
                UaPublicKey::from_base64(&key.to_base64()).as_ref(),
                Ok(&key)
            );
        }
        if let Ok(auth) = AuthSecret::from_base64(text) {
            assert_eq!(
                AuthSecret::from_base64(&auth.expose_base64()).as_ref(),
                Ok(&auth)
            );
        }
        if let Ok(pair) = UaKeyPair::from_private_base64(text) {
            let again = UaKeyPair::from_private_base64(&pair.expose_private_base64())
                .expect("our own encoding parses");
            assert_eq!(again.public_key(), pair.public_key());
        }
    }
    if let Ok(key) = UaPublicKey::from_bytes(data) {
        assert_eq!(key.as_bytes().as_slice(), data);
    }
    if let Ok(auth) = AuthSecret::from_slice(data) {
        assert_eq!(auth.expose_secret().as_slice(), data);
    }
    let _ = UaKeyPair::from_private_bytes(data);
}
