use super::*;
use crate::message::hazmat::SenderKeyPair;
use crate::test_vectors::bytes;
use core::num::NonZeroUsize;
use hazmat::encrypt_predictably;
use proptest::prelude::*;
use serde::Deserialize;

/// tests/data/aesgcm-draft04.json: draft-ietf-webpush-encryption-04,
/// Section 5 and Appendix A.
#[derive(Debug, Deserialize)]
struct Draft04 {
    plaintext: String,
    as_public: String,
    as_private: String,
    ua_public: String,
    ua_private: String,
    salt: String,
    auth_secret: String,
    encryption_header: String,
    crypto_key_header: String,
    intermediate: Draft04Intermediate,
    body: String,
    body_len: usize,
}

#[derive(Debug, Deserialize)]
struct Draft04Intermediate {
    ecdh_secret: String,
    ikm: String,
    cek_info: String,
    cek: String,
    nonce_info: String,
    nonce: String,
    padded_plaintext: String,
}

fn draft04() -> Draft04 {
    serde_json::from_str(include_str!("../../tests/data/aesgcm-draft04.json"))
        .expect("tests/data/aesgcm-draft04.json parses")
}

mod draft04_example {
    use super::*;

    struct Fixture {
        v: Draft04,
        ua: UaKeyPair,
        sender: SenderKeyPair,
        auth: AuthSecret,
        salt: Salt,
    }

    fn fixture() -> Fixture {
        let v = draft04();
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
        assert_eq!(f.ua.public_key().to_base64(), f.v.ua_public);
        assert_eq!(f.sender.public_key().to_base64(), f.v.as_public);
    }

    #[test]
    fn every_intermediate() {
        let f = fixture();
        let i = &f.v.intermediate;
        let ua_public = f.ua.public_key();
        let as_public = f.sender.public_key();

        let shared = f.sender.diffie_hellman(ua_public);
        assert_eq!(shared[..], bytes("ecdh_secret", &i.ecdh_secret)[..], "ecdh");
        assert_eq!(f.ua.diffie_hellman(as_public)[..], shared[..], "ecdh (UA)");

        let ikm = derive_ikm(&shared, &f.auth);
        assert_eq!(ikm[..], bytes("ikm", &i.ikm)[..], "IKM");

        let context = [
            CONTEXT_LABEL,
            b"\0",
            &KEY_LEN_PREFIX,
            ua_public.as_bytes(),
            &KEY_LEN_PREFIX,
            as_public.as_bytes(),
        ]
        .concat();
        let cek_info = [CEK_INFO_PREFIX, &context].concat();
        assert_eq!(cek_info, bytes("cek_info", &i.cek_info), "cek_info");
        let nonce_info = [NONCE_INFO_PREFIX, &context].concat();
        assert_eq!(nonce_info, bytes("nonce_info", &i.nonce_info), "nonce_info");

        let (cek, nonce) = derive_cek_and_nonce(&ikm, &f.salt, ua_public, as_public);
        assert_eq!(cek[..], bytes("cek", &i.cek)[..], "CEK");
        assert_eq!(nonce[..], bytes("nonce", &i.nonce)[..], "nonce");

        // The padded plaintext: a zero padding length, then the data.
        let padded = [&0u16.to_be_bytes()[..], &bytes("plaintext", &f.v.plaintext)].concat();
        assert_eq!(padded, bytes("padded_plaintext", &i.padded_plaintext));
    }

    #[test]
    fn encrypts_to_the_draft_body_byte_for_byte() {
        let f = fixture();
        let message = encrypt_predictably(
            &f.sender,
            &f.salt,
            RecordSize::DEFAULT,
            f.ua.public_key(),
            &f.auth,
            &bytes("plaintext", &f.v.plaintext),
            Padding::None,
        )
        .unwrap();
        assert_eq!(message.body(), bytes("body", &f.v.body), "body");
        assert_eq!(message.body().len(), f.v.body_len);
        assert_eq!(message.params().salt(), &f.salt);
        assert_eq!(message.params().dh().to_base64(), f.v.as_public);
        // Our headers are the draft's without the optional quotes.
        assert_eq!(
            message.params().encryption_header(),
            f.v.encryption_header.replace('"', "")
        );
        assert_eq!(
            message.params().crypto_key_header(),
            f.v.crypto_key_header.replace('"', "")
        );
    }

    #[test]
    fn decrypts_the_draft_request_from_its_headers() {
        let f = fixture();
        let params = Params::from_headers(&f.v.encryption_header, &f.v.crypto_key_header).unwrap();
        assert_eq!(params.record_size(), RecordSize::DEFAULT);
        let plaintext = decrypt(&f.ua, &f.auth, &params, &bytes("body", &f.v.body)).unwrap();
        assert_eq!(plaintext, b"I am the walrus");
    }
}

struct Peer {
    ua: UaKeyPair,
    auth: AuthSecret,
}

fn peer() -> Peer {
    Peer {
        ua: UaKeyPair::generate().unwrap(),
        auth: AuthSecret::generate().unwrap(),
    }
}

fn sender() -> SenderKeyPair {
    SenderKeyPair::from_private_bytes(&[0x42; 32]).unwrap()
}

fn seal_with(p: &Peer, rs: u32, plaintext: &[u8], padding: Padding) -> Encrypted {
    encrypt_predictably(
        &sender(),
        &Salt::from_bytes([9; 16]),
        RecordSize::new(rs).unwrap(),
        p.ua.public_key(),
        &p.auth,
        plaintext,
        padding,
    )
    .unwrap()
}

/// Seals raw record plaintexts (padding length included) under the keys of
/// `message`, for records no honest sender makes.
fn raw_records(p: &Peer, params: &Params, records: &[&[u8]]) -> Vec<u8> {
    let shared = p.ua.diffie_hellman(params.dh());
    let keys = ContentKeys::derive(
        &shared,
        &p.auth,
        p.ua.public_key(),
        params.dh(),
        params.salt(),
    );
    let mut out = Vec::new();
    for (seq, record) in (0u64..).zip(records) {
        let start = out.len();
        out.extend_from_slice(record);
        let tag = keys.cipher.seal(&keys.nonce(seq), &mut out[start..]);
        out.extend_from_slice(&tag);
    }
    out
}

#[test]
fn round_trips_with_fresh_keys() {
    let p = peer();
    let message = encrypt(p.ua.public_key(), &p.auth, b"hello", Padding::None).unwrap();
    assert_eq!(message.body().len(), 5 + RECORD_OVERHEAD);
    let params = Params::from_headers(
        &message.params().encryption_header(),
        &message.params().crypto_key_header(),
    )
    .unwrap();
    assert_eq!(&params, message.params());
    assert_eq!(
        decrypt(&p.ua, &p.auth, &params, message.body()).unwrap(),
        b"hello"
    );
    let again = encrypt(p.ua.public_key(), &p.auth, b"hello", Padding::None).unwrap();
    assert_ne!(again.params().salt(), message.params().salt());
    assert_ne!(again.params().dh(), message.params().dh());
}

#[test]
fn the_largest_message_fills_4096_octets_in_one_record() {
    assert_eq!(MAX_PLAINTEXT_LEN, 4078);
    assert_eq!(max_content(RecordSize::DEFAULT), MAX_PLAINTEXT_LEN);
    let p = peer();
    let max = encrypt(
        p.ua.public_key(),
        &p.auth,
        &[7; MAX_PLAINTEXT_LEN],
        Padding::None,
    )
    .unwrap();
    assert_eq!(max.body().len(), MAX_BODY_LEN);
    let got = decrypt(&p.ua, &p.auth, max.params(), max.body()).unwrap();
    assert_eq!(got, [7; MAX_PLAINTEXT_LEN]);
    assert_eq!(
        encrypt(
            p.ua.public_key(),
            &p.auth,
            &[7; MAX_PLAINTEXT_LEN + 1],
            Padding::None
        ),
        Err(CryptoError::PayloadTooLarge {
            len: MAX_PLAINTEXT_LEN + 1,
            max: MAX_PLAINTEXT_LEN
        })
    );
    let padded = encrypt(
        p.ua.public_key(),
        &p.auth,
        b"x",
        Padding::FixedSize(usize::MAX),
    )
    .unwrap();
    assert_eq!(padded.body().len(), MAX_BODY_LEN);
}

#[test]
fn padding_hides_the_length() {
    let p = peer();
    let block = NonZeroUsize::new(32).unwrap();
    for (padding, len, body_len) in [
        (Padding::None, 10, 10 + 18),
        (Padding::BlockSize(block), 10, 32 + 18),
        (Padding::BlockSize(block), 33, 64 + 18),
        (Padding::FixedSize(100), 10, 100 + 18),
        (Padding::FixedSize(100), 100, 100 + 18),
        (Padding::MAX, 0, crate::message::MAX_PLAINTEXT_LEN + 18),
    ] {
        let plaintext = vec![1; len];
        let m = encrypt(p.ua.public_key(), &p.auth, &plaintext, padding).unwrap();
        assert_eq!(m.body().len(), body_len, "{padding:?} {len}");
        assert_eq!(
            decrypt(&p.ua, &p.auth, m.params(), m.body()).unwrap(),
            plaintext
        );
    }
    assert_eq!(
        encrypt(
            p.ua.public_key(),
            &p.auth,
            &[1; 101],
            Padding::FixedSize(100)
        ),
        Err(CryptoError::PayloadTooLarge { len: 101, max: 100 })
    );
}

#[test]
fn content_that_fills_its_records_gets_an_empty_final_record() {
    let p = peer();
    // rs 10 carries 8 octets per record: 16 octets make two full records
    // and an empty third one, as http_ece does.
    let m = seal_with(&p, 10, &[5; 16], Padding::None);
    assert_eq!(m.body().len(), 2 * 26 + 18);
    assert_eq!(
        decrypt(&p.ua, &p.auth, m.params(), m.body()).unwrap(),
        [5; 16]
    );
    // An empty plaintext is one empty record.
    let empty = seal_with(&p, 10, b"", Padding::None);
    assert_eq!(empty.body().len(), 18);
    assert_eq!(
        decrypt(&p.ua, &p.auth, empty.params(), empty.body()).unwrap(),
        b""
    );
}

#[test]
fn padding_spreads_over_records_before_the_data() {
    let p = peer();
    let m = seal_with(&p, 10, b"abc", Padding::FixedSize(20));
    // 20 octets of content: records of 8, 8 and 4.
    assert_eq!(m.body().len(), 20 + 3 * 18);
    assert_eq!(
        decrypt(&p.ua, &p.auth, m.params(), m.body()).unwrap(),
        b"abc"
    );
}

#[test]
fn small_record_sizes_are_bounded_by_the_body_limit() {
    let p = peer();
    // rs 3: one octet per record, 19 octets on the wire each.
    let max = max_content(RecordSize::new(3).unwrap());
    assert_eq!(max, 214);
    let m = seal_with(&p, 3, &[1; 214], Padding::None);
    assert!(m.body().len() <= MAX_BODY_LEN);
    assert_eq!(
        decrypt(&p.ua, &p.auth, m.params(), m.body()).unwrap(),
        [1; 214]
    );
    assert!(matches!(
        encrypt_predictably(
            &sender(),
            &Salt::from_bytes([1; 16]),
            RecordSize::new(3).unwrap(),
            p.ua.public_key(),
            &p.auth,
            &[1; 215],
            Padding::None,
        ),
        Err(CryptoError::PayloadTooLarge { len: 215, max: 214 })
    ));
}

#[test]
fn record_size_below_3_is_refused() {
    assert_eq!(RecordSize::new(2), Err(AesgcmError::RecordSizeTooSmall(2)));
    assert_eq!(RecordSize::new(0), Err(AesgcmError::RecordSizeTooSmall(0)));
    assert_eq!(RecordSize::new(3).unwrap().get(), 3);
}

#[test]
fn decrypt_empty_body_is_truncated() {
    let p = peer();
    let m = seal_with(&p, 4096, b"x", Padding::None);
    assert_eq!(
        decrypt(&p.ua, &p.auth, m.params(), b""),
        Err(AesgcmError::Truncated)
    );
}

#[test]
fn decrypt_cut_at_a_record_boundary_is_truncated() {
    let p = peer();
    let m = seal_with(&p, 10, &[5; 20], Padding::None); // records of 8, 8, 4
    assert_eq!(m.body().len(), 26 * 2 + 4 + 18);
    for cut in [26, 52] {
        assert_eq!(
            decrypt(&p.ua, &p.auth, m.params(), &m.body()[..cut]),
            Err(AesgcmError::Truncated),
            "cut at {cut}"
        );
    }
}

#[test]
fn decrypt_final_record_dropped_after_an_empty_final_record_is_truncated() {
    let p = peer();
    let m = seal_with(&p, 10, &[5; 16], Padding::None); // 8, 8, empty
    assert_eq!(
        decrypt(&p.ua, &p.auth, m.params(), &m.body()[..52]),
        Err(AesgcmError::Truncated)
    );
}

#[test]
fn decrypt_record_too_short() {
    let p = peer();
    let m = seal_with(&p, 10, &[5; 10], Padding::None); // 8, 2
    for (len, short) in [(26 + 17, 17), (26 + 1, 1), (17, 17)] {
        assert_eq!(
            decrypt(&p.ua, &p.auth, m.params(), &m.body()[..len]),
            Err(AesgcmError::RecordTooShort {
                index: u64::from(len > 26),
                len: short
            }),
            "{len}"
        );
    }
}

#[test]
fn decrypt_flipped_bits_fail_authentication() {
    let p = peer();
    let m = seal_with(&p, 10, &[5; 20], Padding::None);
    for i in [0, 7, 25, 26, 40, m.body().len() - 1] {
        let mut bad = m.body().to_vec();
        bad[i] ^= 0x10;
        assert_eq!(
            decrypt(&p.ua, &p.auth, m.params(), &bad),
            Err(AesgcmError::Decrypt),
            "bit flipped at {i}"
        );
    }
}

#[test]
fn decrypt_with_the_wrong_salt_key_auth_or_record_size_fails() {
    let p = peer();
    let m = seal_with(&p, 10, &[5; 20], Padding::None);
    let params = m.params();
    let wrong_salt = Params::new(
        Salt::from_bytes([8; 16]),
        params.record_size(),
        params.dh().clone(),
    );
    let wrong_dh = Params::new(
        *params.salt(),
        params.record_size(),
        UaKeyPair::generate().unwrap().public_key().clone(),
    );
    let wrong_rs = Params::new(
        *params.salt(),
        RecordSize::new(11).unwrap(),
        params.dh().clone(),
    );
    for bad in [wrong_salt, wrong_dh, wrong_rs] {
        assert_eq!(
            decrypt(&p.ua, &p.auth, &bad, m.body()),
            Err(AesgcmError::Decrypt)
        );
    }
    let other = peer();
    assert_eq!(
        decrypt(&p.ua, &other.auth, params, m.body()),
        Err(AesgcmError::Decrypt)
    );
    assert_eq!(
        decrypt(&other.ua, &p.auth, params, m.body()),
        Err(AesgcmError::Decrypt)
    );
}

#[test]
fn decrypt_nonzero_padding_is_refused() {
    let p = peer();
    let params = seal_with(&p, 4096, b"", Padding::None).params().clone();
    let body = raw_records(&p, &params, &[&[0, 2, 0, 1, b'h', b'i']]);
    assert_eq!(
        decrypt(&p.ua, &p.auth, &params, &body),
        Err(AesgcmError::InvalidPadding { index: 0 })
    );
}

#[test]
fn decrypt_padding_length_past_the_record_is_refused() {
    let p = peer();
    let params = seal_with(&p, 4096, b"", Padding::None).params().clone();
    for record in [&[0u8, 3, 0, 0][..], &[0, 1], &[0xff, 0xff, 0], &[0]] {
        let body = raw_records(&p, &params, &[record]);
        let want = if record.len() < 2 {
            AesgcmError::RecordTooShort {
                index: 0,
                len: record.len() + 16,
            }
        } else {
            AesgcmError::InvalidPadding { index: 0 }
        };
        assert_eq!(
            decrypt(&p.ua, &p.auth, &params, &body),
            Err(want),
            "{record:?}"
        );
    }
    // Exactly as much padding as the record holds is fine.
    let body = raw_records(&p, &params, &[&[0, 2, 0, 0]]);
    assert_eq!(decrypt(&p.ua, &p.auth, &params, &body).unwrap(), b"");
}

#[test]
fn decrypt_keeps_data_from_every_record_with_its_own_padding() {
    let p = peer();
    let params = seal_with(&p, 6, b"", Padding::None).params().clone();
    // rs 6: full records are 6 octets of plaintext.
    let body = raw_records(
        &p,
        &params,
        &[
            &[0, 0, b'a', b'b', b'c', b'd'],
            &[0, 3, 0, 0, 0, b'e'],
            &[0, 1, 0, b'f'],
        ],
    );
    assert_eq!(decrypt(&p.ua, &p.auth, &params, &body).unwrap(), b"abcdef");
}

#[test]
fn header_parsing_table() {
    let dh = UaKeyPair::generate().unwrap().public_key().to_base64();
    let salt = b64::encode(&[3; 16]);
    let ok = |enc: &str, ck: &str| Params::from_headers(enc, ck);
    let enc_err = |what| {
        Err(AesgcmError::Header {
            header: "Encryption",
            what,
        })
    };
    let ck_err = |what| {
        Err(AesgcmError::Header {
            header: "Crypto-Key",
            what,
        })
    };
    // Accepted forms.
    for (enc, ck, rs) in [
        (format!("salt={salt}"), format!("dh={dh}"), 4096),
        (format!("salt=\"{salt}\""), format!("dh=\"{dh}\""), 4096),
        (
            format!("keyid=p256dh; salt={salt}; rs=100"),
            format!("keyid=p256dh; dh={dh}"),
            100,
        ),
        (
            format!("SALT={salt};RS=3"),
            format!("dh={dh};p256ecdsa={dh}"),
            3,
        ),
        (
            format!(" salt={salt} ;"),
            format!("p256ecdsa={dh}, dh={dh}"),
            4096,
        ),
    ] {
        let params = ok(&enc, &ck).unwrap_or_else(|e| panic!("{enc} / {ck}: {e}"));
        assert_eq!(params.record_size().get(), rs, "{enc}");
        assert_eq!(params.salt().as_bytes(), &[3; 16]);
        assert_eq!(params.dh().to_base64(), dh);
    }
    let good_ck = format!("dh={dh}");
    let good_enc = format!("salt={salt}");
    // Refused forms, one per line.
    for (enc, ck, want) in [
        (String::new(), good_ck.clone(), enc_err("empty")),
        (
            format!("salt={salt}, salt={salt}"),
            good_ck.clone(),
            enc_err("more than one entry"),
        ),
        (
            format!("salt={salt};salt={salt}"),
            good_ck.clone(),
            enc_err("parameter given twice"),
        ),
        ("rs=4096".to_owned(), good_ck.clone(), enc_err("no salt")),
        (
            "salt=AAAA".to_owned(),
            good_ck.clone(),
            enc_err("salt is not 16 octets of base64url"),
        ),
        (
            "salt=!!".to_owned(),
            good_ck.clone(),
            enc_err("salt is not 16 octets of base64url"),
        ),
        (
            format!("salt={salt};rs=-1"),
            good_ck.clone(),
            enc_err("rs is not a decimal number"),
        ),
        (
            format!("salt={salt};rs="),
            good_ck.clone(),
            enc_err("rs is not a decimal number"),
        ),
        (
            format!("salt={salt};rs=4294967296"),
            good_ck.clone(),
            enc_err("rs does not fit 32 bits"),
        ),
        (
            format!("salt={salt};rs=2"),
            good_ck.clone(),
            Err(AesgcmError::RecordSizeTooSmall(2)),
        ),
        (
            format!("salt=\"{salt}"),
            good_ck.clone(),
            enc_err("unbalanced quote"),
        ),
        (
            format!("salt={salt};junk"),
            good_ck.clone(),
            enc_err("parameter without ="),
        ),
        (
            format!("salt={salt};=x"),
            good_ck.clone(),
            enc_err("invalid parameter name"),
        ),
        (
            "x".repeat(MAX_HEADER_LEN + 1),
            good_ck.clone(),
            enc_err("value over 4096 octets"),
        ),
        (good_enc.clone(), String::new(), ck_err("no dh")),
        (good_enc.clone(), format!("p256ecdsa={dh}"), ck_err("no dh")),
        (
            good_enc.clone(),
            format!("dh={dh}, dh={dh}"),
            ck_err("parameter given twice"),
        ),
        (
            good_enc.clone(),
            "dh=AAAA".to_owned(),
            Err(AesgcmError::SenderKey(KeyError::Length {
                expected: 65,
                actual: 3,
            })),
        ),
    ] {
        assert_eq!(ok(&enc, &ck), want, "{enc:.60} / {ck:.60}");
    }
}

#[test]
fn p256ecdsa_is_found_in_any_entry() {
    assert_eq!(
        crypto_key_p256ecdsa("dh=abc;p256ecdsa=KEY"),
        Ok(Some("KEY"))
    );
    assert_eq!(
        crypto_key_p256ecdsa("dh=abc, p256ecdsa=\"KEY\""),
        Ok(Some("KEY"))
    );
    assert_eq!(crypto_key_p256ecdsa("dh=abc"), Ok(None));
    assert!(crypto_key_p256ecdsa("p256ecdsa=a;p256ecdsa=b").is_err());
}

#[test]
fn debug_shows_no_body() {
    let p = peer();
    let m = seal_with(&p, 4096, b"secret words", Padding::None);
    let debug = format!("{m:?}");
    assert!(debug.contains("body_len: 30"), "{debug}");
    assert!(!debug.contains("secret"), "{debug}");
}

#[test]
fn errors_are_send_sync_and_small() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<AesgcmError>();
    assert_send_sync::<Encrypted>();
    assert!(core::mem::size_of::<AesgcmError>() <= 40);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn decrypt_inverts_encrypt(
        plaintext in proptest::collection::vec(any::<u8>(), 0..300),
        rs in 3u32..64,
        pad in 0usize..100,
        salt in any::<[u8; 16]>(),
    ) {
        let p = peer();
        let max = max_content(RecordSize::new(rs).unwrap());
        prop_assume!(plaintext.len() + pad <= max);
        let m = encrypt_predictably(
            &sender(),
            &Salt::from_bytes(salt),
            RecordSize::new(rs).unwrap(),
            p.ua.public_key(),
            &p.auth,
            &plaintext,
            Padding::FixedSize(plaintext.len() + pad),
        )
        .unwrap();
        let records = (plaintext.len() + pad) / (rs as usize - 2) + 1;
        prop_assert_eq!(m.body().len(), plaintext.len() + pad + records * RECORD_OVERHEAD);
        let params = Params::from_headers(
            &m.params().encryption_header(),
            &m.params().crypto_key_header(),
        )
        .unwrap();
        prop_assert_eq!(decrypt(&p.ua, &p.auth, &params, m.body()).unwrap(), plaintext);
    }

    #[test]
    fn decrypt_of_arbitrary_bodies_never_panics(
        body in proptest::collection::vec(any::<u8>(), 0..200),
        rs in 3u32..40,
    ) {
        let p = peer();
        let params = Params::new(
            Salt::from_bytes([0; 16]),
            RecordSize::new(rs).unwrap(),
            p.ua.public_key().clone(),
        );
        prop_assert!(decrypt(&p.ua, &p.auth, &params, &body).is_err());
    }

    #[test]
    fn header_parsing_never_panics(enc in "[ -~]{0,80}", ck in "[ -~]{0,80}") {
        let _ = Params::from_headers(&enc, &ck);
        let _ = crypto_key_p256ecdsa(&ck);
    }
}
