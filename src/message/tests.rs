use super::*;
use crate::ece::SALT_LEN;
use crate::test_vectors::{bytes, load};
use hazmat::{SenderKeyPair, encrypt_predictably};

mod rfc8291_appendix_a {
    use super::*;

    struct Fixture {
        v: crate::test_vectors::Rfc8291,
        ua: UaKeyPair,
        sender: SenderKeyPair,
        auth: AuthSecret,
        salt: Salt,
    }

    fn fixture() -> Fixture {
        let v = load().rfc8291_appendix_a;
        let ua = UaKeyPair::from_private_bytes(&bytes("ua_private", &v.ua_private)).unwrap();
        let sender =
            SenderKeyPair::from_private_bytes(&bytes("as_private", &v.as_private)).unwrap();
        let auth = AuthSecret::from_slice(&bytes("auth_secret", &v.auth_secret)).unwrap();
        let salt = Salt::from_bytes(bytes("salt", &v.salt).try_into().unwrap());
        Fixture {
            v,
            ua,
            sender,
            auth,
            salt,
        }
    }

    #[test]
    fn key_pairs_match_their_public_keys() {
        let f = fixture();
        assert_eq!(
            f.ua.public_key().as_bytes()[..],
            bytes("ua_public", &f.v.ua_public)[..]
        );
        assert_eq!(
            f.sender.public_bytes()[..],
            bytes("as_public", &f.v.as_public)[..]
        );
        assert_eq!(f.ua.public_key().to_base64(), f.v.ua_public);
    }

    #[test]
    fn every_intermediate() {
        let f = fixture();
        let i = &f.v.intermediate;
        let ua_public = f.ua.public_key();
        let shared = f.sender.secret.diffie_hellman(&ua_public.key);
        assert_eq!(
            shared.raw_secret_bytes()[..],
            bytes("ecdh_secret", &i.ecdh_secret)[..]
        );
        // The receiver computes the same secret from the other side.
        let as_key = UaPublicKey::from_bytes(f.sender.public_bytes()).unwrap();
        let shared_ua = f.ua.secret.diffie_hellman(&as_key.key);
        assert_eq!(shared_ua.raw_secret_bytes(), shared.raw_secret_bytes());

        let (prk_key, _) =
            Hkdf::<Sha256>::extract(Some(f.auth.expose_secret()), shared.raw_secret_bytes());
        assert_eq!(prk_key[..], bytes("prk_key", &i.prk_key)[..], "PRK_key");
        let key_info = [
            KEY_INFO_PREFIX,
            ua_public.as_bytes(),
            f.sender.public_bytes(),
        ]
        .concat();
        assert_eq!(key_info, bytes("key_info", &i.key_info), "key_info");

        let ikm = derive_ikm(
            shared.raw_secret_bytes(),
            &f.auth,
            ua_public.as_bytes(),
            f.sender.public_bytes(),
        );
        assert_eq!(ikm[..], bytes("ikm", &i.ikm)[..], "IKM");

        let (prk, _) = Hkdf::<Sha256>::extract(Some(f.salt.as_bytes()), &ikm[..]);
        assert_eq!(prk[..], bytes("prk", &i.prk)[..], "PRK");
        assert_eq!(ece::CEK_INFO, bytes("cek_info", &i.cek_info), "cek_info");
        assert_eq!(
            ece::NONCE_INFO,
            bytes("nonce_info", &i.nonce_info),
            "nonce_info"
        );
        let (cek, nonce) = ece::derive_cek_and_nonce(&Ikm::new(&ikm[..]), &f.salt);
        assert_eq!(cek[..], bytes("cek", &i.cek)[..], "CEK");
        assert_eq!(nonce[..], bytes("nonce", &i.nonce)[..], "NONCE");
    }

    #[test]
    fn encrypts_byte_for_byte() {
        let f = fixture();
        let plaintext = bytes("plaintext", &f.v.plaintext);
        let body = encrypt_predictably(
            &f.sender,
            &f.salt,
            f.ua.public_key(),
            &f.auth,
            &plaintext,
            Padding::None,
        )
        .unwrap();
        assert_eq!(body.len(), f.v.body_len);
        let header = bytes("header", &f.v.header);
        assert_eq!(body[..HEADER_LEN], header[..], "header");
        assert_eq!(
            body[HEADER_LEN..],
            bytes("ciphertext", &f.v.ciphertext)[..],
            "ciphertext"
        );
        assert_eq!(body, bytes("body", &f.v.body));
    }

    #[test]
    fn decrypts() {
        let f = fixture();
        let got = decrypt(&f.ua, &f.auth, &bytes("body", &f.v.body)).unwrap();
        assert_eq!(got, bytes("plaintext", &f.v.plaintext));
    }
}

fn ua() -> (UaKeyPair, AuthSecret) {
    (
        UaKeyPair::generate().unwrap(),
        AuthSecret::generate().unwrap(),
    )
}

#[test]
fn largest_plaintext_fills_exactly_4096_octets() {
    assert_eq!(MAX_PLAINTEXT_LEN, 3993);
    let (ua, auth) = ua();
    let body = encrypt(ua.public_key(), &auth, &[7; 3993], Padding::None).unwrap();
    assert_eq!(body.len(), MAX_BODY_LEN);
    assert_eq!(decrypt(&ua, &auth, &body).unwrap(), [7; 3993]);
}

#[test]
fn one_octet_over_the_limit_is_a_typed_error_stating_it() {
    let (ua, auth) = ua();
    let err = encrypt(ua.public_key(), &auth, &[7; 3994], Padding::None).unwrap_err();
    assert_eq!(
        err,
        CryptoError::PayloadTooLarge {
            len: 3994,
            max: 3993
        }
    );
    assert_eq!(
        err.to_string(),
        "payload of 3994 octets exceeds the limit of 3993 octets"
    );
}

#[test]
fn every_message_has_a_fresh_key_and_salt() {
    let (ua, auth) = ua();
    let a = encrypt(ua.public_key(), &auth, b"same", Padding::None).unwrap();
    let b = encrypt(ua.public_key(), &auth, b"same", Padding::None).unwrap();
    assert_ne!(a[..SALT_LEN], b[..SALT_LEN], "salt");
    assert_ne!(a[21..HEADER_LEN], b[21..HEADER_LEN], "sender key");
}

#[test]
fn padding_table() {
    let n = |x| NonZeroUsize::new(x).unwrap();
    let cases: &[(Padding, usize, Result<usize, CryptoError>)] = &[
        (Padding::None, 0, Ok(0)),
        (Padding::None, 3993, Ok(3993)),
        (Padding::BlockSize(n(32)), 0, Ok(0)),
        (Padding::BlockSize(n(32)), 1, Ok(32)),
        (Padding::BlockSize(n(32)), 32, Ok(32)),
        (Padding::BlockSize(n(32)), 33, Ok(64)),
        (Padding::BlockSize(n(1000)), 3500, Ok(3993)), // capped
        (Padding::BlockSize(n(usize::MAX)), 5, Ok(3993)),
        (Padding::FixedSize(100), 0, Ok(100)),
        (Padding::FixedSize(100), 100, Ok(100)),
        (
            Padding::FixedSize(100),
            101,
            Err(CryptoError::PayloadTooLarge { len: 101, max: 100 }),
        ),
        (Padding::FixedSize(10_000), 5, Ok(3993)), // capped
        (Padding::MAX, 3993, Ok(3993)),
        (
            Padding::MAX,
            3994,
            Err(CryptoError::PayloadTooLarge {
                len: 3994,
                max: 3993,
            }),
        ),
    ];
    for (padding, len, want) in cases {
        assert_eq!(padding.padded_len(*len), *want, "{padding:?} {len}");
    }
}

#[test]
fn decrypt_refuses_bad_key_ids() {
    let (ua, auth) = ua();
    let body = encrypt(ua.public_key(), &auth, b"hi", Padding::None).unwrap();
    // idlen 64: drop the key id's last octet.
    let mut short = body.clone();
    short[20] = 64;
    short.remove(HEADER_LEN - 1);
    assert_eq!(
        decrypt(&ua, &auth, &short),
        Err(CryptoError::KeyIdLength(64))
    );
    // A 65-octet key id that is not on the curve.
    let mut off = body.clone();
    off[HEADER_LEN - 1] ^= 1;
    assert_eq!(
        decrypt(&ua, &auth, &off),
        Err(CryptoError::SenderKey(KeyError::NotOnCurve))
    );
    let mut compressed = body;
    compressed[21] = 0x02;
    assert_eq!(
        decrypt(&ua, &auth, &compressed),
        Err(CryptoError::SenderKey(KeyError::NotUncompressed))
    );
}

#[test]
fn decrypt_with_the_wrong_auth_secret_fails() {
    let (ua, auth) = ua();
    let body = encrypt(ua.public_key(), &auth, b"hi", Padding::None).unwrap();
    let other = AuthSecret::generate().unwrap();
    assert_eq!(
        decrypt(&ua, &other, &body),
        Err(CryptoError::Record(RecordError::Decrypt))
    );
}

#[test]
fn key_table() {
    let mut off_curve = *UaKeyPair::generate().unwrap().public_key().as_bytes();
    off_curve[64] ^= 1;
    let cases: &[(String, KeyError)] = &[
        ("not base64!".into(), KeyError::Base64),
        (
            "BBBB".into(),
            KeyError::Length {
                expected: 65,
                actual: 3,
            },
        ),
        (
            crate::b64::encode(&[4; 64]),
            KeyError::Length {
                expected: 65,
                actual: 64,
            },
        ),
        (
            crate::b64::encode(&[4; 66]),
            KeyError::Length {
                expected: 65,
                actual: 66,
            },
        ),
        // 65 octets, but 0x05 is no SEC1 prefix.
        (crate::b64::encode(&[5; 65]), KeyError::NotUncompressed),
        (crate::b64::encode(&off_curve), KeyError::NotOnCurve),
        (crate::b64::encode(&[4; 65]), KeyError::NotOnCurve),
    ];
    for (s, want) in cases {
        assert_eq!(UaPublicKey::from_base64(s).unwrap_err(), *want, "{s:?}");
    }
    assert_eq!(
        AuthSecret::from_base64("AAAAAAAAAAAAAAAAAAAA").unwrap_err(),
        KeyError::Length {
            expected: 16,
            actual: 15
        }
    );
    assert_eq!(
        UaKeyPair::from_private_bytes(&[0; 32]).unwrap_err(),
        KeyError::InvalidScalar
    );
    assert_eq!(
        UaKeyPair::from_private_bytes(&[0xff; 32]).unwrap_err(),
        KeyError::InvalidScalar
    );
}

#[test]
fn debug_shows_no_secret() {
    let (ua, auth) = ua();
    let secret_hex: String = auth
        .expose_secret()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let dbg = format!("{auth:?} {ua:?}");
    assert!(!dbg.contains(&*auth.expose_base64()), "{dbg}");
    assert!(!dbg.contains(&*ua.expose_private_base64()), "{dbg}");
    assert!(!dbg.contains(&secret_hex), "{dbg}");
    assert!(
        !dbg.contains(&format!("{:?}", auth.expose_secret())),
        "{dbg}"
    );
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    fn padding() -> impl Strategy<Value = Padding> {
        prop_oneof![
            Just(Padding::None),
            (1usize..5000).prop_map(|n| Padding::BlockSize(NonZeroUsize::new(n).unwrap())),
            (0usize..5000).prop_map(Padding::FixedSize),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn round_trip_any_size_and_padding(
            len in 0usize..=MAX_PLAINTEXT_LEN,
            byte in any::<u8>(),
            padding in padding(),
        ) {
            let (ua, auth) = ua();
            let plaintext = vec![byte; len];
            match encrypt(ua.public_key(), &auth, &plaintext, padding) {
                Ok(body) => {
                    let padded = padding.padded_len(len).unwrap();
                prop_assert_eq!(body.len(), HEADER_LEN + padded + 17);
                prop_assert!(body.len() <= MAX_BODY_LEN);
                prop_assert_eq!(decrypt(&ua, &auth, &body).unwrap(), plaintext);
                }
                Err(CryptoError::PayloadTooLarge { len: l, max }) => {
                prop_assert_eq!(l, len);
                prop_assert!(matches!(padding, Padding::FixedSize(n) if n.min(MAX_PLAINTEXT_LEN) == max && len > max));
                }
                Err(e) => prop_assert!(false, "unexpected {}", e),
            }
        }

        #[test]
        fn a_flipped_bit_is_an_error_unless_it_is_in_rs(
            len in 0usize..200,
            bit in any::<usize>(),
        ) {
            let (ua, auth) = ua();
            let plaintext = vec![0x5a; len];
            let mut body = encrypt(ua.public_key(), &auth, &plaintext, Padding::None).unwrap();
            let bit = bit % (body.len() * 8);
            body[bit / 8] ^= 1 << (bit % 8);
            // The key id is the sender key here, so only `rs` (which
            // RFC 8188 does not authenticate) can change without harm.
            if let Ok(p) = decrypt(&ua, &auth, &body) {
                prop_assert!((SALT_LEN * 8..(SALT_LEN + 4) * 8).contains(&bit));
                prop_assert_eq!(p, plaintext);
            }
        }

        #[test]
        fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let (ua, auth) = ua();
            let _ = decrypt(&ua, &auth, &body);
        }

        #[test]
        fn arbitrary_bodies_with_a_valid_key_id_never_panic(
            tail in proptest::collection::vec(any::<u8>(), 0..300),
            rs in any::<u32>(),
        ) {
            let (ua, auth) = ua();
            let mut body = vec![0u8; SALT_LEN];
            body.extend_from_slice(&rs.to_be_bytes());
            body.push(65);
            body.extend_from_slice(UaKeyPair::generate().unwrap().public_key().as_bytes());
            body.extend_from_slice(&tail);
            prop_assert!(decrypt(&ua, &auth, &body).is_err());
        }
    }
}
