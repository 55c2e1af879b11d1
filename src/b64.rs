//! Lenient base64 for keys that come from browsers and stored data:
//! the URL-safe or the standard alphabet, padded or not.
//!
//! What we emit is always base64url without padding (RFC 8291 and RFC 8292
//! use that form).

use base64ct::{Base64Unpadded, Base64UrlUnpadded, Encoding};

/// Why a base64 string was refused. Never carries the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum B64Error {
    /// Not base64 in either alphabet (bad character, mixed alphabets,
    /// misplaced padding, non-canonical trailing bits).
    Invalid,
    /// Decodes, but not to the expected number of bytes.
    Length { expected: usize, actual: usize },
}

/// Encodes as base64url without padding.
pub(crate) fn encode(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// Decodes into exactly `N` bytes.
pub(crate) fn decode_array<const N: usize>(s: &str) -> Result<[u8; N], B64Error> {
    let (trimmed, standard) = classify(s)?;
    let actual = decoded_len(trimmed)?;
    if actual != N {
        return Err(B64Error::Length {
            expected: N,
            actual,
        });
    }
    let mut out = [0u8; N];
    decode_with(trimmed, standard, &mut out)?;
    Ok(out)
}

/// Decodes a string of any length into a new vector. Callers bound the
/// input's length first.
pub(crate) fn decode_vec(s: &str) -> Result<Vec<u8>, B64Error> {
    let (trimmed, standard) = classify(s)?;
    let mut out = vec![0u8; decoded_len(trimmed)?];
    decode_with(trimmed, standard, &mut out)?;
    Ok(out)
}

/// Strips padding and tells which alphabet the string uses (`true`: standard).
fn classify(s: &str) -> Result<(&str, bool), B64Error> {
    let trimmed = strip_padding(s)?;
    let url = trimmed.bytes().any(|b| b == b'-' || b == b'_');
    let standard = trimmed.bytes().any(|b| b == b'+' || b == b'/');
    let foreign = !trimmed
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'+' | b'/'));
    if foreign || (url && standard) {
        return Err(B64Error::Invalid);
    }
    Ok((trimmed, standard))
}

fn decoded_len(unpadded: &str) -> Result<usize, B64Error> {
    match unpadded.len() % 4 {
        1 => Err(B64Error::Invalid),
        r => Ok(unpadded.len() / 4 * 3 + r.saturating_sub(1)),
    }
}

fn decode_with(unpadded: &str, standard: bool, out: &mut [u8]) -> Result<(), B64Error> {
    let want = out.len();
    let decoded = if standard {
        Base64Unpadded::decode(unpadded, out)
    } else {
        Base64UrlUnpadded::decode(unpadded, out)
    };
    match decoded {
        Ok(d) if d.len() == want => Ok(()),
        _ => Err(B64Error::Invalid),
    }
}

/// Removes `=` padding, which must then make the length a multiple of 4.
fn strip_padding(s: &str) -> Result<&str, B64Error> {
    let trimmed = s.trim_end_matches('=');
    let pad = s.len() - trimmed.len();
    if pad == 0 {
        return Ok(trimmed);
    }
    if pad > 2 || !s.len().is_multiple_of(4) {
        return Err(B64Error::Invalid);
    }
    Ok(trimmed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_both_alphabets_padded_or_not() {
        // 0xfb 0xff encodes to "+/8=" (standard) and "-_8" (url).
        for s in ["-_8", "-_8=", "+/8", "+/8="] {
            assert_eq!(decode_array::<2>(s), Ok([0xfb, 0xff]), "{s}");
        }
    }

    #[test]
    fn table_of_refusals() {
        let cases: &[(&str, B64Error)] = &[
            ("-/8", B64Error::Invalid),    // mixed alphabets
            ("-_8==", B64Error::Invalid),  // too much padding
            ("-_8===", B64Error::Invalid), // far too much padding
            ("-_=8", B64Error::Invalid),   // padding inside
            ("-_ 8", B64Error::Invalid),   // whitespace
            ("-_9", B64Error::Invalid),    // non-canonical trailing bits
            ("A", B64Error::Invalid),      // impossible length
            (
                "AAAA",
                B64Error::Length {
                    expected: 2,
                    actual: 3,
                },
            ),
            (
                "",
                B64Error::Length {
                    expected: 2,
                    actual: 0,
                },
            ),
        ];
        for (s, want) in cases {
            assert_eq!(decode_array::<2>(s), Err(*want), "{s:?}");
        }
    }

    #[test]
    fn huge_input_is_a_length_error_not_a_panic() {
        let s = "A".repeat(100_000);
        assert!(matches!(
            decode_array::<16>(&s),
            Err(B64Error::Length { .. })
        ));
    }
}
