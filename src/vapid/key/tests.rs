use proptest::prelude::*;

use super::*;

// One P-256 key (openssl ecparam -genkey -noout) in every form.
const SEC1_PEM: &str = include_str!("../../../tests/data/vapid/sec1.pem");
const SEC1_DER: &[u8] = include_bytes!("../../../tests/data/vapid/sec1.der");
const PKCS8_PEM: &str = include_str!("../../../tests/data/vapid/pkcs8.pem");
const PKCS8_DER: &[u8] = include_bytes!("../../../tests/data/vapid/pkcs8.der");
const SCALAR: &str = include_str!("../../../tests/data/vapid/sec1.scalar.b64url");
const PUBLIC: &str = include_str!("../../../tests/data/vapid/sec1.public.b64url");
const EXPLICIT_PEM: &str = include_str!("../../../tests/data/vapid/sec1_explicit_params.pem");
const PKCS8_ENCRYPTED_PEM: &str = include_str!("../../../tests/data/vapid/pkcs8_encrypted.pem");
const LEGACY_ENCRYPTED_PEM: &str =
    include_str!("../../../tests/data/vapid/sec1_encrypted_legacy.pem");

// A second key, with the EC PARAMETERS block.
const PARAMS_PEM: &str = include_str!("../../../tests/data/vapid/sec1_with_params.pem");
const PARAMS_SCALAR: &str =
    include_str!("../../../tests/data/vapid/sec1_with_params.scalar.b64url");
const PARAMS_PUBLIC: &str =
    include_str!("../../../tests/data/vapid/sec1_with_params.public.b64url");

// WebCrypto (Node) JWK export.
const JWK: &str = include_str!("../../../tests/data/vapid/webcrypto.jwk.json");
const JWK_PUBLIC: &str = include_str!("../../../tests/data/vapid/webcrypto.public.b64url");

// A key whose scalar has a leading zero octet, given as 31 octets.
const SHORT_SCALAR: &str = include_str!("../../../tests/data/vapid/short31.scalar.b64url");
const SHORT_PUBLIC: &str = include_str!("../../../tests/data/vapid/short31.public.b64url");

// Keys that are not P-256.
const P384_SEC1_PEM: &str = include_str!("../../../tests/data/vapid/secp384r1_sec1.pem");
const P384_PKCS8_PEM: &str = include_str!("../../../tests/data/vapid/secp384r1_pkcs8.pem");
const P384_PARAMS_PEM: &str = include_str!("../../../tests/data/vapid/secp384r1_params.pem");
const RSA_PKCS8_PEM: &str = include_str!("../../../tests/data/vapid/rsa2048_pkcs8.pem");

/// The P-256 group order n.
const ORDER_HEX: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The DER inside a PEM file, decoded independently of the code under test.
fn pem_body(pem: &str) -> Vec<u8> {
    use base64ct::{Base64, Encoding};
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    Base64::decode_vec(&body).unwrap()
}

fn assert_key(key: &VapidKey, scalar: &str, public: &str) {
    assert_eq!(key.public_key_base64(), public.trim());
    assert_eq!(key.expose_private_base64().as_str(), scalar.trim());
    assert_eq!(b64::encode(key.public_key_bytes()), public.trim());
}

#[test]
fn every_format_gives_the_same_key() {
    let keys = [
        ("parse sec1 pem", VapidKey::parse(SEC1_PEM)),
        ("from_pem sec1", VapidKey::from_pem(SEC1_PEM)),
        ("parse pkcs8 pem", VapidKey::parse(PKCS8_PEM)),
        ("from_pem pkcs8", VapidKey::from_pem(PKCS8_PEM)),
        ("from_der sec1", VapidKey::from_der(SEC1_DER)),
        ("from_sec1_der", VapidKey::from_sec1_der(SEC1_DER)),
        ("from_der pkcs8", VapidKey::from_der(PKCS8_DER)),
        ("from_pkcs8_der", VapidKey::from_pkcs8_der(PKCS8_DER)),
        ("parse scalar", VapidKey::parse(SCALAR)),
        ("from_base64_scalar", VapidKey::from_base64_scalar(SCALAR)),
        (
            "pem with blank lines",
            VapidKey::parse(&format!("\n\n{SEC1_PEM}\n")),
        ),
    ];
    for (name, key) in keys {
        let key = key.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_key(&key, SCALAR, PUBLIC);
    }
}

#[test]
fn sec1_with_ec_parameters_block() {
    assert_key(
        &VapidKey::parse(PARAMS_PEM).unwrap(),
        PARAMS_SCALAR,
        PARAMS_PUBLIC,
    );
    assert_key(
        &VapidKey::from_pem(PARAMS_PEM).unwrap(),
        PARAMS_SCALAR,
        PARAMS_PUBLIC,
    );
}

#[test]
fn webcrypto_jwk() {
    let key = VapidKey::from_jwk(JWK).unwrap();
    assert_eq!(key.public_key_base64(), JWK_PUBLIC.trim());
    let parsed = VapidKey::parse(JWK).unwrap();
    assert_eq!(parsed.public_key_base64(), JWK_PUBLIC.trim());
    // The scalar round-trips to the JWK's d.
    let jwk: serde_json::Value = serde_json::from_str(JWK).unwrap();
    assert_eq!(
        key.expose_private_base64().as_str(),
        jwk["d"].as_str().unwrap()
    );
}

#[test]
fn jwk_without_coordinates_and_with_extra_members() {
    let json = format!(
        r#"{{"alg":"ES256","use":"sig","kid":"k1","crv":"P-256","kty":"EC","d":"{}"}}"#,
        SCALAR.trim()
    );
    assert_key(&VapidKey::from_jwk(&json).unwrap(), SCALAR, PUBLIC);
}

#[test]
fn short_scalar_is_left_padded() {
    let short = SHORT_SCALAR.trim();
    assert_eq!(b64::decode_array::<31>(short).unwrap().len(), 31);
    let key = VapidKey::from_base64_scalar(short).unwrap();
    assert_eq!(key.public_key_base64(), SHORT_PUBLIC.trim());
    let full = b64::decode_array::<32>(&key.expose_private_base64()).unwrap();
    assert_eq!(full[0], 0);
    assert_eq!(&full[1..], &b64::decode_array::<31>(short).unwrap()[..]);
    assert_eq!(
        VapidKey::parse(short).unwrap().public_key_base64(),
        SHORT_PUBLIC.trim()
    );
}

#[test]
fn scalar_in_standard_alphabet_with_padding() {
    use base64ct::{Base64, Encoding};
    let raw = b64::decode_array::<32>(SCALAR.trim()).unwrap();
    let standard = Base64::encode_string(&raw);
    assert_key(&VapidKey::parse(&standard).unwrap(), SCALAR, PUBLIC);
}

#[test]
fn pkcs8_export_matches_openssl_and_round_trips() {
    let key = VapidKey::parse(SEC1_PEM).unwrap();
    // Byte-for-byte what `openssl pkcs8 -topk8 -nocrypt` wrote.
    assert_eq!(key.to_pkcs8_pem().as_str(), PKCS8_PEM);
    assert_eq!(pem_body(&key.to_pkcs8_pem()), PKCS8_DER);

    for _ in 0..8 {
        let key = VapidKey::generate().unwrap();
        let pem = key.to_pkcs8_pem();
        assert!(!pem.contains('\r'));
        let again = VapidKey::parse(&pem).unwrap();
        assert_eq!(again.public_key_bytes(), key.public_key_bytes());
        assert_eq!(*again.expose_private_base64(), *key.expose_private_base64());
        let from_der = VapidKey::from_der(&pem_body(&pem)).unwrap();
        assert_eq!(from_der.public_key_bytes(), key.public_key_bytes());
    }
}

#[test]
fn generated_key_signs_for_its_public_key() {
    use p256::ecdsa::signature::{Signer, Verifier};
    let key = VapidKey::generate().unwrap();
    let sig: p256::ecdsa::Signature = key.signing_key().sign(b"msg");
    let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(key.public_key_bytes()).unwrap();
    assert!(vk.verify(b"msg", &sig).is_ok());
    assert_eq!(key.public_key_bytes()[0], 0x04);
    assert_eq!(key.public_key_base64().len(), 87);
}

#[test]
fn pem_tolerates_crlf_whitespace_and_surrounding_text() {
    let crlf = PARAMS_PEM.replace('\n', "\r\n");
    assert_key(
        &VapidKey::parse(&crlf).unwrap(),
        PARAMS_SCALAR,
        PARAMS_PUBLIC,
    );
    let spaced = PKCS8_PEM
        .lines()
        .map(|l| format!("  {l} \t"))
        .collect::<Vec<_>>()
        .join("\n");
    assert_key(&VapidKey::parse(&spaced).unwrap(), SCALAR, PUBLIC);
    let bundle = format!(
        "Key for push:\n-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n{SEC1_PEM}trailing text\n"
    );
    assert_key(&VapidKey::parse(&bundle).unwrap(), SCALAR, PUBLIC);
}

/// Replaces the trailing 65-octet public key of `der` with another one.
fn with_public(der: &[u8], public: &[u8; 65]) -> Vec<u8> {
    let mut out = der.to_vec();
    let at = out.len() - 65;
    out[at..].copy_from_slice(public);
    out
}

#[test]
fn embedded_public_key_must_match() {
    let other = *VapidKey::parse(PARAMS_PEM).unwrap().public_key_bytes();
    assert_eq!(
        VapidKey::from_der(&with_public(SEC1_DER, &other)).unwrap_err(),
        VapidKeyError::PublicKeyMismatch
    );
    assert_eq!(
        VapidKey::from_der(&with_public(PKCS8_DER, &other)).unwrap_err(),
        VapidKeyError::PublicKeyMismatch
    );
    // Not a point at all.
    let mut bad = other;
    bad[64] ^= 1;
    assert_eq!(
        VapidKey::from_sec1_der(&with_public(SEC1_DER, &bad)).unwrap_err(),
        VapidKeyError::Der("embedded public key is not a P-256 point")
    );
}

/// PKCS#8 v2 (RFC 5958 `OneAsymmetricKey`) with the public key outside too.
fn pkcs8_v2(public: &[u8; 65]) -> Vec<u8> {
    let mut body = PKCS8_DER[3..].to_vec();
    body[2] = 1; // version v2
    body.extend_from_slice(&[0x81, 0x42, 0x00]);
    body.extend_from_slice(public);
    let mut der = vec![0x30, 0x81, u8::try_from(body.len()).unwrap()];
    der.extend_from_slice(&body);
    der
}

#[test]
fn pkcs8_v2_outer_public_key_is_checked() {
    let own = *VapidKey::parse(SCALAR).unwrap().public_key_bytes();
    assert_key(
        &VapidKey::from_der(&pkcs8_v2(&own)).unwrap(),
        SCALAR,
        PUBLIC,
    );
    let other = *VapidKey::parse(PARAMS_PEM).unwrap().public_key_bytes();
    assert_eq!(
        VapidKey::from_der(&pkcs8_v2(&other)).unwrap_err(),
        VapidKeyError::PublicKeyMismatch
    );
}

fn jwk_with(members: &str) -> String {
    format!("{{{members}}}")
}

/// Every bad input, with the error it must give.
fn bad_keys() -> Vec<(&'static str, Result<VapidKey, VapidKeyError>, VapidKeyError)> {
    let zero = b64::encode(&[0u8; 32]);
    let order = b64::encode(&unhex(ORDER_HEX));
    let all_ff = b64::encode(&[0xff; 32]);
    let long = b64::encode(&[1u8; 33]);
    let d = SCALAR.trim();
    let jwk: serde_json::Value = serde_json::from_str(JWK).unwrap();
    let (jx, jy, jd) = (
        jwk["x"].as_str().unwrap(),
        jwk["y"].as_str().unwrap(),
        jwk["d"].as_str().unwrap(),
    );
    let huge = "A".repeat(MAX_INPUT_LEN + 1);
    let truncated_pkcs8 = &PKCS8_DER[..100];
    let truncated_sec1 = &SEC1_DER[..50];
    let encrypted_der = pem_body(PKCS8_ENCRYPTED_PEM);
    let p384_pkcs8_der = pem_body(P384_PKCS8_PEM);
    let rsa_der = pem_body(RSA_PKCS8_PEM);
    let p384_params_with_p256_key = format!("{P384_PARAMS_PEM}{SEC1_PEM}");

    vec![
        (
            "zero scalar",
            VapidKey::parse(&zero),
            VapidKeyError::InvalidScalar,
        ),
        (
            "scalar = n",
            VapidKey::parse(&order),
            VapidKeyError::InvalidScalar,
        ),
        (
            "scalar > n",
            VapidKey::from_base64_scalar(&all_ff),
            VapidKeyError::InvalidScalar,
        ),
        (
            "33 octets",
            VapidKey::parse(&long),
            VapidKeyError::ScalarLength { actual: 33 },
        ),
        (
            "30 octets",
            VapidKey::from_base64_scalar(&b64::encode(&[1u8; 30])),
            VapidKeyError::ScalarLength { actual: 30 },
        ),
        (
            "not base64",
            VapidKey::from_base64_scalar("not base64!"),
            VapidKeyError::Base64,
        ),
        (
            "not any format",
            VapidKey::parse("not a key!"),
            VapidKeyError::UnrecognizedFormat,
        ),
        (
            "jwk wrong kty",
            VapidKey::from_jwk(&jwk_with(&format!(
                r#""kty":"RSA","crv":"P-256","d":"{d}""#
            ))),
            VapidKeyError::Jwk("kty is not EC"),
        ),
        (
            "jwk missing kty",
            VapidKey::from_jwk(&jwk_with(&format!(r#""crv":"P-256","d":"{d}""#))),
            VapidKeyError::Jwk("missing kty"),
        ),
        (
            "jwk wrong crv",
            VapidKey::parse(&jwk_with(&format!(r#""kty":"EC","crv":"P-384","d":"{d}""#))),
            VapidKeyError::Jwk("crv is not P-256"),
        ),
        (
            "jwk missing d",
            VapidKey::from_jwk(&jwk_with(&format!(
                r#""kty":"EC","crv":"P-256","x":"{jx}","y":"{jy}""#
            ))),
            VapidKeyError::Jwk("missing d (not a private key)"),
        ),
        (
            "jwk x/y of another key",
            VapidKey::from_jwk(&jwk_with(&format!(
                r#""kty":"EC","crv":"P-256","d":"{d}","x":"{jx}","y":"{jy}""#
            ))),
            VapidKeyError::JwkPublicMismatch,
        ),
        (
            "jwk x and y swapped",
            VapidKey::from_jwk(&jwk_with(&format!(
                r#""kty":"EC","crv":"P-256","d":"{jd}","x":"{jy}","y":"{jx}""#
            ))),
            VapidKeyError::JwkPublicMismatch,
        ),
        (
            "jwk only x",
            VapidKey::from_jwk(&jwk_with(&format!(
                r#""kty":"EC","crv":"P-256","d":"{jd}","x":"{jx}""#
            ))),
            VapidKeyError::Jwk("only one of x and y is present"),
        ),
        (
            "jwk short x",
            VapidKey::from_jwk(&jwk_with(&format!(
                r#""kty":"EC","crv":"P-256","d":"{jd}","x":"{}","y":"{jy}""#,
                b64::encode(&[1u8; 31])
            ))),
            VapidKeyError::JwkCoordinateLength { actual: 31 },
        ),
        (
            "jwk d not base64",
            VapidKey::from_jwk(r#"{"kty":"EC","crv":"P-256","d":"!!"}"#),
            VapidKeyError::Base64,
        ),
        (
            "jwk d as number",
            VapidKey::from_jwk(r#"{"kty":"EC","crv":"P-256","d":5}"#),
            VapidKeyError::Jwk("not an object of string members kty, crv, d, x, y"),
        ),
        (
            "jwk not json",
            VapidKey::parse("{not json"),
            VapidKeyError::Jwk("not JSON"),
        ),
        (
            "secp384r1 sec1",
            VapidKey::parse(P384_SEC1_PEM),
            VapidKeyError::NotP256,
        ),
        (
            "secp384r1 pkcs8",
            VapidKey::parse(P384_PKCS8_PEM),
            VapidKeyError::NotP256,
        ),
        (
            "secp384r1 pkcs8 der",
            VapidKey::from_der(&p384_pkcs8_der),
            VapidKeyError::NotP256,
        ),
        (
            "secp384r1 EC PARAMETERS",
            VapidKey::parse(&p384_params_with_p256_key),
            VapidKeyError::NotP256,
        ),
        (
            "rsa pkcs8",
            VapidKey::parse(RSA_PKCS8_PEM),
            VapidKeyError::NotP256,
        ),
        (
            "rsa pkcs8 der",
            VapidKey::from_der(&rsa_der),
            VapidKeyError::NotP256,
        ),
        (
            "explicit curve parameters",
            VapidKey::parse(EXPLICIT_PEM),
            VapidKeyError::ExplicitCurveParameters,
        ),
        (
            "encrypted pkcs8 pem",
            VapidKey::parse(PKCS8_ENCRYPTED_PEM),
            VapidKeyError::Encrypted,
        ),
        (
            "encrypted pkcs8 der",
            VapidKey::from_der(&encrypted_der),
            VapidKeyError::Encrypted,
        ),
        (
            "legacy encrypted sec1 pem",
            VapidKey::parse(LEGACY_ENCRYPTED_PEM),
            VapidKeyError::Encrypted,
        ),
        (
            "garbage pem",
            VapidKey::parse("-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n"),
            VapidKeyError::Pem("invalid base64 inside a PEM block"),
        ),
        (
            "pem without end",
            VapidKey::parse("-----BEGIN PRIVATE KEY-----\nAAAA\n"),
            VapidKeyError::Pem("missing END line"),
        ),
        (
            "pem end label mismatch",
            VapidKey::parse("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----"),
            VapidKeyError::Pem("END label does not match BEGIN label"),
        ),
        (
            "pem public key only",
            VapidKey::parse("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"),
            VapidKeyError::Pem("no PRIVATE KEY or EC PRIVATE KEY block"),
        ),
        (
            "two private keys",
            VapidKey::parse(&format!("{SEC1_PEM}{PKCS8_PEM}")),
            VapidKeyError::Pem("more than one private key block"),
        ),
        (
            "pem holding garbage der",
            VapidKey::parse("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"),
            VapidKeyError::Der("not a valid PKCS#8 PrivateKeyInfo"),
        ),
        (
            "truncated pkcs8 der",
            VapidKey::from_der(truncated_pkcs8),
            VapidKeyError::Der("malformed or truncated DER"),
        ),
        (
            "truncated pkcs8 der, explicit",
            VapidKey::from_pkcs8_der(truncated_pkcs8),
            VapidKeyError::Der("not a valid PKCS#8 PrivateKeyInfo"),
        ),
        (
            "truncated sec1 der",
            VapidKey::from_sec1_der(truncated_sec1),
            VapidKeyError::Der("not a valid SEC1 ECPrivateKey"),
        ),
        (
            "sec1 given to the pkcs8 parser",
            VapidKey::from_pkcs8_der(SEC1_DER),
            VapidKeyError::Der("not a valid PKCS#8 PrivateKeyInfo"),
        ),
        (
            "empty der",
            VapidKey::from_der(&[]),
            VapidKeyError::Der("malformed or truncated DER"),
        ),
        (
            "der of an integer",
            VapidKey::from_der(&[0x02, 0x01, 0x00]),
            VapidKeyError::Der("neither a PKCS#8 nor a SEC1 private key"),
        ),
        (
            "huge input",
            VapidKey::parse(&huge),
            VapidKeyError::TooLarge {
                len: MAX_INPUT_LEN + 1,
                max: MAX_INPUT_LEN,
            },
        ),
        (
            "huge der",
            VapidKey::from_der(&vec![0x30; MAX_INPUT_LEN + 1]),
            VapidKeyError::TooLarge {
                len: MAX_INPUT_LEN + 1,
                max: MAX_INPUT_LEN,
            },
        ),
        ("empty string", VapidKey::parse(""), VapidKeyError::Empty),
        (
            "whitespace",
            VapidKey::parse(" \r\n\t"),
            VapidKeyError::Empty,
        ),
    ]
}

#[test]
fn table_of_bad_keys() {
    for (name, got, want) in bad_keys() {
        assert_eq!(got.unwrap_err(), want, "{name}");
    }
}

#[test]
fn nothing_shows_the_private_scalar() {
    let key = VapidKey::parse(SEC1_PEM).unwrap();
    let raw = b64::decode_array::<32>(SCALAR.trim()).unwrap();
    let secrets = [
        SCALAR.trim().to_owned(),
        hex(&raw),
        hex(&raw).to_uppercase(),
        format!("{raw:?}"),
    ];
    let mut shown = vec![format!("{key:?}"), format!("{key:#?}")];
    for (_, got, want) in bad_keys() {
        shown.push(format!("{want:?}"));
        shown.push(want.to_string());
        if let Err(e) = got {
            shown.push(format!("{e:?}"));
            shown.push(e.to_string());
        }
    }
    for text in &shown {
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "{text}");
        }
    }
    let debug = format!("{key:?}");
    assert!(debug.contains(PUBLIC.trim()), "{debug}");
}

proptest! {
    #[test]
    fn parse_never_panics(s in ".{0,300}") {
        let _ = VapidKey::parse(&s);
        let _ = VapidKey::from_jwk(&s);
        let _ = VapidKey::from_base64_scalar(&s);
    }

    #[test]
    fn pem_like_text_never_panics(
        label in prop::sample::select(vec!["PRIVATE KEY", "EC PRIVATE KEY", "EC PARAMETERS", "X"]),
        body in "[A-Za-z0-9+/=:\r\n -]{0,200}",
    ) {
        let _ = VapidKey::parse(&format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----\n"));
    }

    #[test]
    fn der_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = VapidKey::from_der(&bytes);
        let _ = VapidKey::from_pkcs8_der(&bytes);
        let _ = VapidKey::from_sec1_der(&bytes);
    }

    #[test]
    fn mutated_der_never_panics(
        which in any::<bool>(),
        at in any::<prop::sample::Index>(),
        value in any::<u8>(),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut der = if which { PKCS8_DER.to_vec() } else { SEC1_DER.to_vec() };
        let i = at.index(der.len());
        der[i] = value;
        der.truncate(cut.index(der.len() + 1).max(i));
        let _ = VapidKey::from_der(&der);
        let _ = VapidKey::from_pkcs8_der(&der);
        let _ = VapidKey::from_sec1_der(&der);
    }

    #[test]
    fn mutated_pem_never_panics(at in any::<prop::sample::Index>(), c in any::<char>()) {
        let mut chars: Vec<char> = PARAMS_PEM.chars().collect();
        let i = at.index(chars.len());
        chars[i] = c;
        let text: String = chars.into_iter().collect();
        let _ = VapidKey::parse(&text);
    }
}
