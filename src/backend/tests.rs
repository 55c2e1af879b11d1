//! One conformance suite, run once per backend: each backend must agree with
//! the other byte for byte where the inputs are fixed, and must open what the
//! other seals.

use p256::elliptic_curve::sec1::ToSec1Point;

use super::rust_crypto::RustCrypto;
use super::{Backend, RecordCipher};
use crate::ece::{self, Header, Ikm, RecordSize, Salt};
use crate::message::{self, AuthSecret, Padding, UaKeyPair};

/// Everything a backend must do; `Other` is the backend it is checked against.
fn conformance<B: Backend, Other: Backend>() {
    // AES-128-GCM is deterministic: same key, nonce and data give the same
    // ciphertext and tag in every backend, and each opens the other's.
    let cek = [0x5au8; 16];
    let nonce = [0xa5u8; 12];
    let ours = B::Cipher::new(&cek);
    let theirs = Other::Cipher::new(&cek);
    for len in [0usize, 1, 15, 16, 17, 255, 4079] {
        let data: Vec<u8> = (0..len)
            .map(|i| u8::try_from(i * 7 % 251).unwrap())
            .collect();
        let mut a = data.clone();
        let mut b = data.clone();
        let tag_a = ours.seal(&nonce, &mut a);
        let tag_b = theirs.seal(&nonce, &mut b);
        assert_eq!((&a, tag_a), (&b, tag_b), "len {len}");
        theirs
            .open(&nonce, &mut a, &tag_a)
            .expect("other backend opens");
        assert_eq!(a, data, "len {len}");
        let mut tampered_tag = tag_b;
        tampered_tag[0] ^= 1;
        assert!(
            ours.open(&nonce, &mut b, &tampered_tag).is_err(),
            "len {len}"
        );
    }

    // Ephemeral ECDH: the user agent, holding its private key, derives the
    // same secret from the sender's public key.
    let ua = UaKeyPair::generate().expect("rng");
    let point = p256::PublicKey::from_sec1_bytes(ua.public_key().as_bytes()).expect("point");
    let one = B::agree_ephemeral(&point, ua.public_key().as_bytes()).expect("rng");
    let two = B::agree_ephemeral(&point, ua.public_key().as_bytes()).expect("rng");
    assert_ne!(one.public, two.public, "a fresh key every time");
    let point = p256::PublicKey::from_sec1_bytes(&one.public).expect("sender key on the curve");
    assert_eq!(&point.to_uncompressed_point()[..], &one.public[..]);
    let sender = message::UaPublicKey::from_bytes(&one.public).expect("sender key");
    let ua_side = ua.diffie_hellman(&sender);
    assert_eq!(&ua_side[..], &one.secret[..]);

    // Record layer: RFC 8188 Section 3.2's two-record body, sealed by one
    // backend and opened by the other.
    let ikm = Ikm::new(&[0x11; 16]);
    let header = Header::new(
        Salt::from_bytes([0x22; 16]),
        RecordSize::new(25).expect("rs"),
        b"a1",
    )
    .expect("header");
    let body = ece::encrypt_with::<B::Cipher>(&ikm, &header, b"I am the walrus", 3).expect("seal");
    let same =
        ece::encrypt_with::<Other::Cipher>(&ikm, &header, b"I am the walrus", 3).expect("seal");
    assert_eq!(body, same);
    let (parsed, records) = Header::parse(&body).expect("header");
    let opened = ece::decrypt_records_with::<Other::Cipher>(&ikm, &parsed, records).expect("open");
    assert_eq!(opened, b"I am the walrus");

    // Whole messages, both directions, every size class.
    let auth = AuthSecret::generate().expect("rng");
    for len in [0usize, 1, 32, 1024, message::MAX_PLAINTEXT_LEN] {
        let plaintext = vec![0x42u8; len];
        let body = message::encrypt_with::<B>(ua.public_key(), &auth, &plaintext, Padding::None)
            .expect("encrypt");
        assert_eq!(body.len(), message::HEADER_LEN + len + ece::RECORD_OVERHEAD);
        let opened = message::decrypt_with::<Other::Cipher>(&ua, &auth, &body).expect("decrypt");
        assert_eq!(opened, plaintext, "len {len}");
        let back = message::encrypt_with::<Other>(ua.public_key(), &auth, &plaintext, Padding::MAX)
            .expect("encrypt");
        assert_eq!(back.len(), message::MAX_BODY_LEN);
        let opened = message::decrypt_with::<B::Cipher>(&ua, &auth, &back).expect("decrypt");
        assert_eq!(opened, plaintext, "len {len}");
    }
}

#[test]
fn rust_crypto_conforms() {
    conformance::<RustCrypto, RustCrypto>();
}

#[cfg(feature = "ring")]
#[test]
fn ring_conforms_and_interoperates_with_rust_crypto() {
    conformance::<super::ring::Ring, RustCrypto>();
    conformance::<RustCrypto, super::ring::Ring>();
}

#[cfg(feature = "graviola")]
#[test]
fn graviola_conforms_and_interoperates_with_rust_crypto() {
    use super::graviola::{Graviola, tests::with_fallback};
    conformance::<Graviola, RustCrypto>();
    conformance::<RustCrypto, Graviola>();
    // As on a CPU without the features graviola needs.
    with_fallback(|| {
        conformance::<Graviola, RustCrypto>();
        conformance::<RustCrypto, Graviola>();
    });
}

#[test]
fn active_backend_matches_the_build() {
    #[cfg(feature = "ring")]
    let expected = core::any::type_name::<super::ring::Ring>();
    #[cfg(all(feature = "graviola", not(feature = "ring")))]
    let expected = core::any::type_name::<super::graviola::Graviola>();
    #[cfg(not(any(feature = "ring", feature = "graviola")))]
    let expected = core::any::type_name::<RustCrypto>();
    assert_eq!(core::any::type_name::<super::Active>(), expected);
}
