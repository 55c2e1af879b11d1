//! A line-oriented peer for interoperability tests against independent
//! implementations (see `tests/interop/`).
//!
//! It reads one JSON request per line on stdin and writes one JSON response
//! per line on stdout, flushing after each, so one long-lived process serves
//! many requests. Binary values are base64url without padding. It uses only
//! the crate's public API.
//!
//! | request | response |
//! |---|---|
//! | `{"op":"webpush_encrypt","p256dh":..,"auth":..,"plaintext":..,"padding":{"kind":"none"\|"block"\|"fixed","size":N}}` | `{"body":..}` |
//! | `{"op":"webpush_decrypt","ua_private":..,"auth":..,"body":..}` | `{"plaintext":..}` |
//! | `{"op":"ece_encrypt","ikm":..,"salt":..,"rs":N,"keyid":..,"plaintext":..,"padding":N}` | `{"body":..}` |
//! | `{"op":"ece_decrypt","ikm":..,"body":..}` | `{"plaintext":..}` |
//! | `{"op":"vapid_sign","key":..,"aud":..,"sub":..,"exp":N,"now":N}` | `{"authorization":..,"jwt":..,"k":..}` |
//! | `{"op":"vapid_signer","key":..,"aud":..,"sub":..}` | `{"authorization":..,"expires_at":N,"k":..}` |
//! | `{"op":"vapid_verify","authorization":..,"now":N}` | `{"aud":..,"exp":N,"sub":..,"k":..}` |
//! | `{"op":"vapid_key","key":..}` | `{"public":..,"pkcs8_pem":..}` |
//! | `{"op":"aesgcm_encrypt","p256dh":..,"auth":..,"plaintext":..,"padding":{..}}` | `{"body":..,"encryption":..,"crypto_key":..,"salt":..,"dh":..}` |
//! | `{"op":"aesgcm_encrypt_predictably","sender_private":..,"salt":..,"rs":N,"p256dh":..,"auth":..,"plaintext":..,"padding":{..}}` | as `aesgcm_encrypt` |
//! | `{"op":"aesgcm_decrypt","ua_private":..,"auth":..,"body":..,"encryption":..,"crypto_key":..}` | `{"plaintext":..}` |
//!
//! The `aesgcm_*` ops (legacy `aesgcm` coding, `webpush::aesgcm`) need the
//! peer built with `--features aesgcm`; without it they answer an error.
//! `encryption` and `crypto_key` are the `Encryption` and `Crypto-Key` header
//! values (plain strings); `rs` is optional (4096 by default).
//!
//! `padding` is optional in every encrypt request (none by default). A VAPID
//! `key` is text in any form `VapidKey::parse` takes (PEM, JWK, base64
//! scalar); `aud`, `sub` and `authorization` are plain strings; `exp`, `now`
//! and `expires_at` are seconds since the Unix epoch. `vapid_sign` and
//! `vapid_verify` use the given `now`; `vapid_signer` runs a `VapidSigner` on
//! the system clock. Any
//! failure, malformed requests included, is answered with
//! `{"error":"<message>"}`; the process exits with status 0 at end of input.
//!
//! ```text
//! $ cargo build --example interop_peer
//! $ echo '{"op":"ece_decrypt","ikm":"AA","body":""}' | target/debug/examples/interop_peer
//! {"error":"body of 0 octets is shorter than its header"}
//! ```

use std::error::Error;
use std::io::{self, BufRead, Write};
use std::num::NonZeroUsize;

use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::{Map, Value, json};
use webpush::ece::{self, Header, Ikm, RecordSize, Salt};
use webpush::message::{self, AuthSecret, Padding, UaKeyPair, UaPublicKey};
use webpush::vapid::{Audience, Subject, VapidKey, VapidSigner, token};

type Result<T> = std::result::Result<T, Box<dyn Error>>;
type Request = Map<String, Value>;

fn main() -> Result<()> {
    let mut stdin = io::stdin().lock();
    let mut stdout = io::stdout().lock();
    let mut line = Vec::new();
    loop {
        line.clear();
        if stdin.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let response = handle(&line).unwrap_or_else(|e| json!({ "error": e.to_string() }));
        serde_json::to_writer(&mut stdout, &response)?;
        stdout.write_all(b"\n")?;
        stdout.flush()?;
    }
}

fn handle(line: &[u8]) -> Result<Value> {
    let request: Value = serde_json::from_slice(line)?;
    let request = request.as_object().ok_or("request is not a JSON object")?;
    match str_field(request, "op")? {
        "webpush_encrypt" => webpush_encrypt(request),
        "webpush_decrypt" => webpush_decrypt(request),
        "ece_encrypt" => ece_encrypt(request),
        "ece_decrypt" => ece_decrypt(request),
        "vapid_sign" => vapid_sign(request),
        "vapid_signer" => vapid_signer(request),
        "vapid_verify" => vapid_verify(request),
        "vapid_key" => vapid_key(request),
        "aesgcm_encrypt" | "aesgcm_encrypt_predictably" | "aesgcm_decrypt" => {
            legacy::handle(request)
        }
        other => Err(format!("unknown op {other:?}").into()),
    }
}

fn webpush_encrypt(request: &Request) -> Result<Value> {
    let p256dh = UaPublicKey::from_base64(str_field(request, "p256dh")?)?;
    let auth = AuthSecret::from_base64(str_field(request, "auth")?)?;
    let plaintext = bytes_field(request, "plaintext")?;
    let padding = padding_field(request)?;
    let body = message::encrypt(&p256dh, &auth, &plaintext, padding)?;
    Ok(json!({ "body": Base64UrlUnpadded::encode_string(&body) }))
}

fn webpush_decrypt(request: &Request) -> Result<Value> {
    let ua = UaKeyPair::from_private_base64(str_field(request, "ua_private")?)?;
    let auth = AuthSecret::from_base64(str_field(request, "auth")?)?;
    let body = bytes_field(request, "body")?;
    let plaintext = message::decrypt(&ua, &auth, &body)?;
    Ok(json!({ "plaintext": Base64UrlUnpadded::encode_string(&plaintext) }))
}

fn ece_encrypt(request: &Request) -> Result<Value> {
    let ikm = bytes_field(request, "ikm")?;
    let salt = bytes_field(request, "salt")?;
    let salt = <[u8; 16]>::try_from(salt.as_slice())
        .map_err(|_| format!("salt is {} octets, expected 16", salt.len()))?;
    let rs = u32::try_from(u64_field(request, "rs")?).map_err(|_| "rs does not fit 32 bits")?;
    let keyid = match request.get("keyid") {
        None | Some(Value::Null) => Vec::new(),
        Some(_) => bytes_field(request, "keyid")?,
    };
    let plaintext = bytes_field(request, "plaintext")?;
    let padding = match request.get("padding") {
        None | Some(Value::Null) => 0,
        Some(_) => usize_field(request, "padding")?,
    };
    let header = Header::new(Salt::from_bytes(salt), RecordSize::new(rs)?, &keyid)?;
    let body = ece::encrypt(&Ikm::new(&ikm), &header, &plaintext, padding)?;
    Ok(json!({ "body": Base64UrlUnpadded::encode_string(&body) }))
}

fn ece_decrypt(request: &Request) -> Result<Value> {
    let ikm = bytes_field(request, "ikm")?;
    let body = bytes_field(request, "body")?;
    let plaintext = ece::decrypt(&Ikm::new(&ikm), &body)?;
    Ok(json!({ "plaintext": Base64UrlUnpadded::encode_string(&plaintext) }))
}

fn vapid_sign(request: &Request) -> Result<Value> {
    let key = VapidKey::parse(str_field(request, "key")?)?;
    let aud = Audience::parse(str_field(request, "aud")?)?;
    let sub = Subject::parse(str_field(request, "sub")?)?;
    let exp = u64_field(request, "exp")?;
    let now = u64_field(request, "now")?;
    let jwt = token::sign(&key, &aud, &sub, exp, now)?;
    let k = key.public_key_base64();
    Ok(json!({ "authorization": token::authorization(&jwt, &k), "jwt": jwt, "k": k }))
}

fn vapid_signer(request: &Request) -> Result<Value> {
    let key = VapidKey::parse(str_field(request, "key")?)?;
    let sub = Subject::parse(str_field(request, "sub")?)?;
    let aud = Audience::parse(str_field(request, "aud")?)?;
    let header = VapidSigner::new(key, sub).header_for(&aud)?;
    Ok(json!({
        "authorization": header.authorization(),
        "expires_at": header.expires_at(),
        "k": header.public_key(),
    }))
}

fn vapid_verify(request: &Request) -> Result<Value> {
    let verified = token::verify(
        str_field(request, "authorization")?,
        u64_field(request, "now")?,
    )?;
    Ok(json!({
        "aud": verified.claims.aud,
        "exp": verified.claims.exp,
        "sub": verified.claims.sub,
        "k": Base64UrlUnpadded::encode_string(&verified.public_key),
    }))
}

fn vapid_key(request: &Request) -> Result<Value> {
    let key = VapidKey::parse(str_field(request, "key")?)?;
    Ok(json!({
        "public": key.public_key_base64(),
        "pkcs8_pem": key.to_pkcs8_pem().as_str(),
    }))
}

fn padding_field(request: &Request) -> Result<Padding> {
    Ok(match request.get("padding") {
        None | Some(Value::Null) => Padding::None,
        Some(Value::Object(padding)) => {
            let kind = str_field(padding, "kind")?;
            match kind {
                "none" => Padding::None,
                "block" => Padding::BlockSize(
                    NonZeroUsize::new(usize_field(padding, "size")?)
                        .ok_or("block padding size must be at least 1")?,
                ),
                "fixed" => Padding::FixedSize(usize_field(padding, "size")?),
                other => return Err(format!("unknown padding kind {other:?}").into()),
            }
        }
        Some(_) => return Err("field \"padding\" is not an object".into()),
    })
}

/// The legacy `aesgcm` ops.
#[cfg(feature = "aesgcm")]
mod legacy {
    use super::*;
    use webpush::aesgcm::{self, Encrypted, Params, RecordSize, hazmat};
    use webpush::message::hazmat::SenderKeyPair;

    pub(super) fn handle(request: &Request) -> Result<Value> {
        match str_field(request, "op")? {
            "aesgcm_encrypt" => encrypt(request),
            "aesgcm_encrypt_predictably" => encrypt_predictably(request),
            _ => decrypt(request),
        }
    }

    fn encrypt(request: &Request) -> Result<Value> {
        let p256dh = UaPublicKey::from_base64(str_field(request, "p256dh")?)?;
        let auth = AuthSecret::from_base64(str_field(request, "auth")?)?;
        let plaintext = bytes_field(request, "plaintext")?;
        let message = aesgcm::encrypt(&p256dh, &auth, &plaintext, padding_field(request)?)?;
        Ok(reply(&message))
    }

    fn encrypt_predictably(request: &Request) -> Result<Value> {
        let sender = SenderKeyPair::from_private_bytes(&bytes_field(request, "sender_private")?)?;
        let salt = bytes_field(request, "salt")?;
        let salt = <[u8; 16]>::try_from(salt.as_slice())
            .map_err(|_| format!("salt is {} octets, expected 16", salt.len()))?;
        let rs = match request.get("rs") {
            None | Some(Value::Null) => RecordSize::DEFAULT,
            Some(_) => RecordSize::new(
                u32::try_from(u64_field(request, "rs")?).map_err(|_| "rs does not fit 32 bits")?,
            )?,
        };
        let p256dh = UaPublicKey::from_base64(str_field(request, "p256dh")?)?;
        let auth = AuthSecret::from_base64(str_field(request, "auth")?)?;
        let plaintext = bytes_field(request, "plaintext")?;
        let message = hazmat::encrypt_predictably(
            &sender,
            &Salt::from_bytes(salt),
            rs,
            &p256dh,
            &auth,
            &plaintext,
            padding_field(request)?,
        )?;
        Ok(reply(&message))
    }

    fn decrypt(request: &Request) -> Result<Value> {
        let ua = UaKeyPair::from_private_base64(str_field(request, "ua_private")?)?;
        let auth = AuthSecret::from_base64(str_field(request, "auth")?)?;
        let body = bytes_field(request, "body")?;
        let params = Params::from_headers(
            str_field(request, "encryption")?,
            str_field(request, "crypto_key")?,
        )?;
        let plaintext = aesgcm::decrypt(&ua, &auth, &params, &body)?;
        Ok(json!({ "plaintext": Base64UrlUnpadded::encode_string(&plaintext) }))
    }

    fn reply(message: &Encrypted) -> Value {
        json!({
            "body": Base64UrlUnpadded::encode_string(message.body()),
            "encryption": message.params().encryption_header(),
            "crypto_key": message.params().crypto_key_header(),
            "salt": Base64UrlUnpadded::encode_string(message.params().salt().as_bytes()),
            "dh": message.params().dh().to_base64(),
        })
    }
}

#[cfg(not(feature = "aesgcm"))]
mod legacy {
    use super::{Request, Result, Value};

    pub(super) fn handle(_: &Request) -> Result<Value> {
        Err("this interop_peer was built without feature aesgcm (cargo build --example interop_peer --features aesgcm)".into())
    }
}

fn str_field<'a>(request: &'a Request, name: &str) -> Result<&'a str> {
    request
        .get(name)
        .ok_or_else(|| format!("missing field {name:?}"))?
        .as_str()
        .ok_or_else(|| format!("field {name:?} is not a string").into())
}

fn bytes_field(request: &Request, name: &str) -> Result<Vec<u8>> {
    Base64UrlUnpadded::decode_vec(str_field(request, name)?)
        .map_err(|e| format!("field {name:?} is not unpadded base64url: {e}").into())
}

fn u64_field(request: &Request, name: &str) -> Result<u64> {
    request
        .get(name)
        .ok_or_else(|| format!("missing field {name:?}"))?
        .as_u64()
        .ok_or_else(|| format!("field {name:?} is not a non-negative integer").into())
}

fn usize_field(request: &Request, name: &str) -> Result<usize> {
    usize::try_from(u64_field(request, name)?)
        .map_err(|_| format!("field {name:?} does not fit usize").into())
}
