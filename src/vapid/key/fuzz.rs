//! Fuzzing entry point for VAPID key import (internal feature `__fuzz`; not
//! part of the API). The target in `fuzz/` calls it.

use super::VapidKey;

/// Target `vapid_key`: untrusted octets through [`VapidKey::from_der`] and,
/// when they are text, [`VapidKey::parse`] (PEM, JWK, base64 scalar) and
/// each text parser directly. Nothing may panic; an accepted key survives a
/// PKCS#8 PEM and a base64 scalar round trip, and its `Debug` does not show
/// the private scalar.
///
/// # Panics
/// When a check fails.
pub fn import(data: &[u8]) {
    check(VapidKey::from_der(data));
    if let Ok(text) = core::str::from_utf8(data) {
        check(VapidKey::parse(text));
        check(VapidKey::from_pem(text));
        check(VapidKey::from_jwk(text));
        check(VapidKey::from_base64_scalar(text));
    }
}

fn check(key: Result<VapidKey, super::VapidKeyError>) {
    let Ok(key) = key else { return };
    let pem = key.to_pkcs8_pem();
    let again = VapidKey::parse(&pem).expect("our own PEM parses");
    assert_eq!(again.public_key_bytes(), key.public_key_bytes());
    let scalar = key.expose_private_base64();
    let again = VapidKey::from_base64_scalar(&scalar).expect("our own scalar parses");
    assert_eq!(again.public_key_bytes(), key.public_key_bytes());
    assert!(!format!("{key:?}").contains(scalar.as_str()));
}
