use super::*;
use crate::test_vectors::{bytes, load};

fn salt_of(field: &str, v: &str) -> Salt {
    Salt::from_bytes(bytes(field, v).try_into().expect("16-octet salt"))
}

mod rfc8188_3_1 {
    use super::*;

    #[test]
    fn intermediates() {
        let v = load().rfc8188_3_1;
        let ikm = bytes("ikm", &v.ikm);
        let salt = salt_of("salt", &v.salt);
        let (prk, _) = Hkdf::<Sha256>::extract(Some(salt.as_bytes()), &ikm);
        assert_eq!(prk[..], bytes("prk", &v.intermediate.prk)[..], "PRK");
        let (cek, nonce) = derive_cek_and_nonce(&Ikm::new(&ikm), &salt);
        assert_eq!(cek[..], bytes("cek", &v.intermediate.cek)[..], "CEK");
        assert_eq!(
            nonce[..],
            bytes("nonce", &v.intermediate.nonce)[..],
            "NONCE"
        );
    }

    #[test]
    fn decrypts() {
        let v = load().rfc8188_3_1;
        let body = bytes("body", &v.body);
        assert_eq!(body.len(), v.body_len);
        let got = decrypt(&Ikm::new(&bytes("ikm", &v.ikm)), &body).unwrap();
        assert_eq!(got, v.plaintext_utf8.as_bytes());
        let record = bytes("record_plaintext", &v.intermediate.record_plaintext);
        assert_eq!(record.last(), Some(&LAST_DELIMITER));
    }

    #[test]
    fn encrypts_byte_for_byte() {
        let v = load().rfc8188_3_1;
        let header = Header::new(
            salt_of("salt", &v.salt),
            RecordSize::new(v.rs).unwrap(),
            b"",
        )
        .unwrap();
        let ikm = bytes("ikm", &v.ikm);
        let body = encrypt(&Ikm::new(&ikm), &header, v.plaintext_utf8.as_bytes(), 0).unwrap();
        assert_eq!(body, bytes("body", &v.body));
    }
}

mod rfc8188_3_2 {
    use super::*;

    #[test]
    fn decrypts_two_records() {
        let v = load().rfc8188_3_2;
        let body = bytes("body", &v.body);
        assert_eq!(body.len(), v.body_len);
        let (header, _) = Header::parse(&body).unwrap();
        assert_eq!(header.keyid(), v.keyid_utf8.as_bytes());
        assert_eq!(header.record_size().get(), v.rs);
        let got = decrypt(&Ikm::new(&bytes("ikm", &v.ikm)), &body).unwrap();
        assert_eq!(got, v.plaintext_utf8.as_bytes());
    }

    #[test]
    fn encrypts_byte_for_byte_with_the_rfc_record_layout() {
        let v = load().rfc8188_3_2;
        let ikm = bytes("ikm", &v.ikm);
        let header = Header::new(
            salt_of("salt", &v.salt),
            RecordSize::new(v.rs).unwrap(),
            v.keyid_utf8.as_bytes(),
        )
        .unwrap();
        let mut enc = Encryptor::new(&Ikm::new(&ikm), &header, v.body_len);
        let (last, first) = v.records.split_last().unwrap();
        for r in first {
            assert_eq!(r.delimiter, DELIMITER);
            enc.push_record(r.data_utf8.as_bytes(), r.padding).unwrap();
        }
        assert_eq!(last.delimiter, LAST_DELIMITER);
        let body = enc.finish(last.data_utf8.as_bytes(), last.padding).unwrap();
        assert_eq!(body, bytes("body", &v.body));
    }
}

const IKM: &[u8] = b"an input keying material";

fn header(rs: u32) -> Header<'static> {
    Header::new(
        Salt::from_bytes([9; 16]),
        RecordSize::new(rs).unwrap(),
        b"id",
    )
    .unwrap()
}

/// Builds a body from explicit records `(data, padding, delimiter)`, so that
/// tests can produce what a conforming encryptor never would.
fn body_with_records(rs: u32, records: &[(&[u8], usize, u8)]) -> Vec<u8> {
    let h = header(rs);
    let mut enc = Encryptor::new(&Ikm::new(IKM), &h, 0);
    for (data, padding, delimiter) in records {
        enc.0.seal(data, *padding, *delimiter);
    }
    core::mem::take(&mut enc.0.out)
}

#[test]
fn record_size_below_18_is_refused() {
    assert_eq!(
        RecordSize::new(17),
        Err(RecordError::RecordSizeTooSmall(17))
    );
    let mut body = encrypt(&Ikm::new(IKM), &header(18), b"x", 0).unwrap();
    body[16..20].copy_from_slice(&17u32.to_be_bytes());
    assert_eq!(
        decrypt(&Ikm::new(IKM), &body),
        Err(RecordError::RecordSizeTooSmall(17))
    );
}

#[test]
fn key_id_over_255_octets_is_refused() {
    let long = [0u8; 256];
    let err = Header::new(Salt::from_bytes([0; 16]), RecordSize::DEFAULT, &long).unwrap_err();
    assert_eq!(err, RecordError::KeyIdTooLong(256));
}

#[test]
fn short_headers_are_refused_at_every_length() {
    let body = encrypt(&Ikm::new(IKM), &header(4096), b"hello", 0).unwrap();
    for len in 0..header(4096).encoded_len() {
        assert_eq!(
            decrypt(&Ikm::new(IKM), &body[..len]),
            Err(RecordError::HeaderTruncated(len)),
            "len {len}"
        );
    }
}

#[test]
fn test_decrypt_empty_body_after_header_is_truncated() {
    let body = encrypt(&Ikm::new(IKM), &header(4096), b"hello", 0).unwrap();
    let cut = header(4096).encoded_len();
    assert_eq!(
        decrypt(&Ikm::new(IKM), &body[..cut]),
        Err(RecordError::Truncated)
    );
}

#[test]
fn test_decrypt_cut_at_record_boundary_is_truncated() {
    // rs 20: 3 octets of content per record; 10 octets make 4 records.
    let body = encrypt(&Ikm::new(IKM), &header(20), b"0123456789", 0).unwrap();
    let h = header(20).encoded_len();
    assert_eq!(body.len(), h + 3 * 20 + 18);
    for records in 1..=3 {
        assert_eq!(
            decrypt(&Ikm::new(IKM), &body[..h + records * 20]),
            Err(RecordError::Truncated),
            "cut after {records} records"
        );
    }
    assert_eq!(decrypt(&Ikm::new(IKM), &body).unwrap(), b"0123456789");
}

#[test]
fn test_decrypt_cut_inside_a_record_fails() {
    let body = encrypt(&Ikm::new(IKM), &header(20), b"0123456789", 0).unwrap();
    let h = header(20).encoded_len();
    for cut in h + 1..body.len() {
        if (cut - h).is_multiple_of(20) {
            continue;
        }
        assert!(
            decrypt(&Ikm::new(IKM), &body[..cut]).is_err(),
            "cut at {cut}"
        );
    }
}

#[test]
fn test_decrypt_record_shorter_than_tag_plus_delimiter() {
    let body = encrypt(&Ikm::new(IKM), &header(20), b"0123456789", 0).unwrap();
    let h = header(20).encoded_len();
    let cut = h + 20 + 16;
    assert_eq!(
        decrypt(&Ikm::new(IKM), &body[..cut]),
        Err(RecordError::RecordTooShort { index: 1, len: 16 })
    );
}

#[test]
fn test_decrypt_early_final_record() {
    let body = body_with_records(
        20,
        &[(b"abc", 0, LAST_DELIMITER), (b"d", 0, LAST_DELIMITER)],
    );
    assert_eq!(
        decrypt(&Ikm::new(IKM), &body),
        Err(RecordError::DataAfterFinalRecord { index: 0 })
    );
}

#[test]
fn test_decrypt_last_record_not_marked_final() {
    let body = body_with_records(20, &[(b"abc", 0, DELIMITER), (b"d", 0, DELIMITER)]);
    assert_eq!(decrypt(&Ikm::new(IKM), &body), Err(RecordError::Truncated));
}

#[test]
fn test_decrypt_invalid_delimiter() {
    for value in [0x03u8, 0x80, 0xff] {
        let body = body_with_records(20, &[(b"ab", 0, value)]);
        assert_eq!(
            decrypt(&Ikm::new(IKM), &body),
            Err(RecordError::InvalidDelimiter { index: 0, value })
        );
    }
}

#[test]
fn test_decrypt_all_zero_record_has_no_delimiter() {
    let body = body_with_records(20, &[(b"", 2, 0)]);
    assert_eq!(
        decrypt(&Ikm::new(IKM), &body),
        Err(RecordError::MissingDelimiter { index: 0 })
    );
}

#[test]
fn test_decrypt_nonzero_after_delimiter_is_data_not_padding() {
    // "ab" 0x02 0x00 0x07: the last non-zero octet (0x07) is taken as the
    // delimiter, which is invalid: padding after a delimiter must be zeros.
    let body = body_with_records(30, &[(b"ab\x02\x00", 0, 0x07)]);
    assert_eq!(
        decrypt(&Ikm::new(IKM), &body),
        Err(RecordError::InvalidDelimiter { index: 0, value: 7 })
    );
}

#[test]
fn test_decrypt_wrong_key_is_one_opaque_error() {
    let body = encrypt(&Ikm::new(IKM), &header(4096), b"hello", 0).unwrap();
    assert_eq!(
        decrypt(&Ikm::new(b"other"), &body),
        Err(RecordError::Decrypt)
    );
}

#[test]
fn records_are_reordering_proof() {
    let body = encrypt(&Ikm::new(IKM), &header(20), b"abcdef", 0).unwrap();
    let h = header(20).encoded_len();
    let mut swapped = body[..h].to_vec();
    swapped.extend_from_slice(&body[h + 20..h + 40]);
    swapped.extend_from_slice(&body[h..h + 20]);
    swapped.extend_from_slice(&body[h + 40..]);
    assert_eq!(decrypt(&Ikm::new(IKM), &swapped), Err(RecordError::Decrypt));
}

#[test]
fn push_record_requires_a_full_record_and_finish_at_most_one() {
    let h = header(20);
    let mut enc = Encryptor::new(&Ikm::new(IKM), &h, 0);
    assert!(matches!(
        enc.push_record(b"ab", 0),
        Err(RecordError::RecordContentLength { actual: 2, .. })
    ));
    enc.push_record(b"ab", 1).unwrap();
    assert!(matches!(
        enc.finish(b"abcd", 0),
        Err(RecordError::RecordContentLength { actual: 4, .. })
    ));
}

#[test]
fn padding_fills_records_after_the_data() {
    // 5 data + 7 padding at 3 per record: 4 records.
    let body = encrypt(&Ikm::new(IKM), &header(20), b"hello", 7).unwrap();
    assert_eq!(body.len(), header(20).encoded_len() + 4 * 20);
    assert_eq!(decrypt(&Ikm::new(IKM), &body).unwrap(), b"hello");
}

#[test]
fn body_len_matches_encrypt() {
    for rs in [18u32, 19, 25, 100, 4096] {
        for content in [0usize, 1, 2, 7, 83, 99, 100, 4000] {
            let h = header(rs);
            let pad = content / 3;
            let data = vec![1u8; content - pad];
            let body = encrypt(&Ikm::new(IKM), &h, &data, pad).unwrap();
            assert_eq!(
                body.len(),
                body_len(&h, content).unwrap(),
                "rs {rs} content {content}"
            );
        }
    }
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn round_trip(
            data in proptest::collection::vec(any::<u8>(), 0..600),
            pad in 0usize..300,
            rs in 18u32..300,
            salt in any::<[u8; 16]>(),
        ) {
            let h = Header::new(Salt::from_bytes(salt), RecordSize::new(rs).unwrap(), b"k").unwrap();
            let body = encrypt(&Ikm::new(IKM), &h, &data, pad).unwrap();
            prop_assert_eq!(body.len(), body_len(&h, data.len() + pad).unwrap());
            prop_assert_eq!(decrypt(&Ikm::new(IKM), &body).unwrap(), data);
        }

        #[test]
        fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = decrypt(&Ikm::new(IKM), &body);
        }

        #[test]
        fn a_flipped_bit_never_yields_a_wrong_plaintext(
            data in proptest::collection::vec(any::<u8>(), 0..100),
            rs in 18u32..60,
            bit in any::<usize>(),
        ) {
            let h = header(rs);
            let mut body = encrypt(&Ikm::new(IKM), &h, &data, 3).unwrap();
            let bit = bit % (body.len() * 8);
            body[bit / 8] ^= 1 << (bit % 8);
            let in_rs = (SALT_LEN * 8..(SALT_LEN + 4) * 8).contains(&bit);
            let in_keyid = (HEADER_FIXED_LEN * 8..h.encoded_len() * 8).contains(&bit);
            // RFC 8188 authenticates neither `rs` nor the key id: a new
            // `rs` that keeps every record boundary reads the same
            // records, and the key id only names the key (Web Push
            // derives the key from it, see `message`). Nothing else may
            // decrypt at all, and nothing may decrypt differently.
            if let Ok(plaintext) = decrypt(&Ikm::new(IKM), &body) {
                prop_assert!(in_rs || in_keyid, "bit {} decrypted", bit);
                prop_assert_eq!(plaintext, data);
            }
        }
    }
}
