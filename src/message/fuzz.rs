//! Fuzzing entry points for RFC 8291 message encryption (internal feature
//! `__fuzz`; not part of the API). The targets in `fuzz/` call these.

use std::sync::OnceLock;

use arbitrary::Arbitrary;

use super::hazmat::{SenderKeyPair, encrypt_predictably};
use super::{
    AuthSecret, CryptoError, HEADER_LEN, MAX_BODY_LEN, MAX_PLAINTEXT_LEN, Padding, UaKeyPair,
    decrypt,
};
use crate::ece::{RECORD_OVERHEAD, Salt};

/// The keys of RFC 8291, Section 5 / Appendix A.
struct Keys {
    ua: UaKeyPair,
    auth: AuthSecret,
    sender: SenderKeyPair,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let sender = crate::b64::decode_array::<32>("yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw")
            .expect("RFC 8291 as_private");
        Keys {
            ua: UaKeyPair::from_private_base64("q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94")
                .expect("RFC 8291 ua_private"),
            auth: AuthSecret::from_base64("BTBZMqHH6r4Tts7J_aSIgg").expect("RFC 8291 auth"),
            sender: SenderKeyPair::from_private_bytes(&sender).expect("RFC 8291 as_private"),
        }
    })
}

/// Target `message_decrypt`: an untrusted body through [`decrypt`] with the
/// RFC 8291 example's receiver keys. Nothing may panic, and a plaintext is
/// never longer than the body minus header and record overhead.
pub fn decrypt_body(body: &[u8]) {
    let k = keys();
    if let Ok(plain) = decrypt(&k.ua, &k.auth, body) {
        assert!(plain.len() + HEADER_LEN + RECORD_OVERHEAD <= body.len());
    }
}

/// The [`Padding`] to ask for.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum PaddingChoice {
    /// [`Padding::None`].
    None,
    /// [`Padding::BlockSize`] (0 becomes 1).
    Block(u16),
    /// [`Padding::FixedSize`].
    Fixed(u16),
}

/// A message to encrypt with fixed keys.
#[derive(Debug, Arbitrary)]
pub struct RoundTrip {
    plaintext: Vec<u8>,
    padding: PaddingChoice,
    salt: [u8; 16],
}

/// Target `roundtrip`: [`encrypt_predictably`] with the RFC 8291 example's
/// keys, then [`decrypt`], must give back the plaintext; the body has the
/// length the padding promises, at most [`MAX_BODY_LEN`]; the same inputs
/// give the same body; and a plaintext that does not fit is refused with
/// [`CryptoError::PayloadTooLarge`], never cut.
///
/// # Panics
/// When any of these fails.
pub fn roundtrip(input: &RoundTrip) {
    let k = keys();
    let padding = match input.padding {
        PaddingChoice::None => Padding::None,
        PaddingChoice::Block(n) => Padding::BlockSize(
            core::num::NonZeroUsize::new(usize::from(n)).unwrap_or(core::num::NonZeroUsize::MIN),
        ),
        PaddingChoice::Fixed(n) => Padding::FixedSize(usize::from(n)),
    };
    let salt = Salt::from_bytes(input.salt);
    let plain = &input.plaintext;
    let sealed = encrypt_predictably(&k.sender, &salt, k.ua.public_key(), &k.auth, plain, padding);
    let padded = match padding.padded_len(plain.len()) {
        Ok(padded) => padded,
        Err(e) => {
            assert!(matches!(e, CryptoError::PayloadTooLarge { .. }));
            assert_eq!(sealed, Err(e));
            return;
        }
    };
    let body = sealed.expect("a plaintext that fits encrypts");
    assert!(padded >= plain.len() && padded <= MAX_PLAINTEXT_LEN);
    if let Padding::FixedSize(n) = padding {
        assert_eq!(padded, n.min(MAX_PLAINTEXT_LEN));
    }
    assert_eq!(body.len(), HEADER_LEN + padded + RECORD_OVERHEAD);
    assert!(body.len() <= MAX_BODY_LEN);
    assert_eq!(decrypt(&k.ua, &k.auth, &body).as_ref(), Ok(plain));
    let again = encrypt_predictably(&k.sender, &salt, k.ua.public_key(), &k.auth, plain, padding);
    assert_eq!(again.as_ref(), Ok(&body));
}
