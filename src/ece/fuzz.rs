//! Fuzzing entry points for the record layer (internal feature `__fuzz`; not
//! part of the API). The targets in `fuzz/` call these.

use arbitrary::Arbitrary;

use super::{
    ActiveCipher, ContentKeys, Header, Ikm, MIN_RECORD_SIZE, RecordCipher, RecordError, RecordSize,
    Salt, TAG_LEN, decrypt, encrypt,
};

/// The IKMs of RFC 8188, Sections 3.1 and 3.2: the first octet of a
/// [`decrypt_body`] input picks one, so that the published bodies decrypt.
const IKMS: [[u8; 16]; 2] = [
    // yqdlZ-tYemfogSmv7Ws5PQ
    [
        0xca, 0xa7, 0x65, 0x67, 0xeb, 0x58, 0x7a, 0x67, 0xe8, 0x81, 0x29, 0xaf, 0xed, 0x6b, 0x39,
        0x3d,
    ],
    // BO3ZVPxUlnLORbVGMpbT1Q
    [
        0x04, 0xed, 0xd9, 0x54, 0xfc, 0x54, 0x96, 0x72, 0xce, 0x45, 0xb5, 0x46, 0x32, 0x96, 0xd3,
        0xd5,
    ],
];

/// Target `ece_decrypt`: an untrusted body (after one octet choosing the IKM)
/// through [`Header::parse`] and [`decrypt`]. Nothing may panic, and the
/// output is never longer than the records it came from.
pub fn decrypt_body(data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let ikm = &IKMS[usize::from(pick) % IKMS.len()];
    if let Ok((header, records)) = Header::parse(body) {
        assert_eq!(header.encoded_len() + records.len(), body.len());
        if let Ok(plain) = decrypt(&Ikm::new(ikm), body) {
            assert!(plain.len() < records.len());
        }
    }
}

/// A body built record by record from plaintexts the fuzzer chooses
/// (delimiters and padding included, valid or not), sealed with the real
/// keys, so that the checks after authentication are reached.
#[derive(Debug, Arbitrary)]
pub struct Records {
    ikm: Vec<u8>,
    salt: [u8; 16],
    /// `rs = 18 + rs`: small records, many of them.
    rs: u8,
    keyid: Vec<u8>,
    /// Each record's plaintext (data, delimiter, padding). Every record but
    /// the last is cut or zero-filled to exactly `rs - 16` octets; at most
    /// [`MAX_RECORDS`] are used.
    records: Vec<Vec<u8>>,
    /// Zero octets of padding for the [`encrypt`] round trip, modulo 1024
    /// (enough to fill several small records).
    padding: u16,
}

/// Records per body in [`records`]: enough for every position (first,
/// middle, last), few enough to keep executions fast.
const MAX_RECORDS: usize = 16;

/// Target `ece_records`: [`decrypt`] must give what a direct reading of RFC
/// 8188 gives for the same records (`expected`), and [`encrypt`] then
/// [`decrypt`] must give back the data.
///
/// # Panics
/// When either check fails.
pub fn records(input: &Records) {
    let Ok(rs) = RecordSize::new(MIN_RECORD_SIZE + u32::from(input.rs)) else {
        return;
    };
    let keyid = input.keyid.get(..255).unwrap_or(&input.keyid);
    let Ok(header) = Header::new(Salt::from_bytes(input.salt), rs, keyid) else {
        return;
    };
    let ikm = Ikm::new(&input.ikm);
    let keys = ContentKeys::<ActiveCipher>::derive(&ikm, header.salt());
    let full = rs.len() - TAG_LEN;

    let mut body = Vec::new();
    header.write(&mut body);
    let count = input.records.len().min(MAX_RECORDS);
    let mut plaintexts = Vec::with_capacity(count);
    for (seq, record) in (0u64..).zip(&input.records[..count]) {
        let mut p = record.clone();
        if plaintexts.len() + 1 < count {
            p.resize(full, 0);
        } else {
            p.truncate(full);
        }
        let start = body.len();
        body.extend_from_slice(&p);
        let tag = keys.cipher.seal(&keys.nonce(seq), &mut body[start..]);
        body.extend_from_slice(&tag);
        plaintexts.push(p);
    }
    assert_eq!(decrypt(&ikm, &body), expected(&plaintexts));

    let data: Vec<u8> = plaintexts.concat();
    let padding = usize::from(input.padding % 1024);
    let sealed = encrypt(&ikm, &header, &data, padding).expect("small inputs encrypt");
    assert_eq!(
        Ok(sealed.len()),
        super::body_len(&header, data.len() + padding)
    );
    assert_eq!(decrypt(&ikm, &sealed), Ok(data));
}

/// RFC 8188, Section 2, read directly: each record's plaintext ends in a
/// delimiter (0x02 on the last record, 0x01 on the others) followed only by
/// zeros; a body without records, or whose last record says more follow,
/// is truncated.
fn expected(plaintexts: &[Vec<u8>]) -> Result<Vec<u8>, RecordError> {
    if plaintexts.is_empty() {
        return Err(RecordError::Truncated);
    }
    let mut out = Vec::new();
    for (index, p) in (0u64..).zip(plaintexts) {
        let last = index + 1 == plaintexts.len() as u64;
        if p.is_empty() {
            return Err(RecordError::RecordTooShort {
                index,
                len: TAG_LEN,
            });
        }
        let Some(at) = p.iter().rposition(|&b| b != 0) else {
            return Err(RecordError::MissingDelimiter { index });
        };
        match (p[at], last) {
            (1, false) | (2, true) => out.extend_from_slice(&p[..at]),
            (1, true) => return Err(RecordError::Truncated),
            (2, false) => return Err(RecordError::DataAfterFinalRecord { index }),
            (value, _) => return Err(RecordError::InvalidDelimiter { index, value }),
        }
    }
    Ok(out)
}
