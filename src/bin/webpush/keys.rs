//! `generate-vapid-keys`, `encrypt`, `decrypt` and `vapid-header`.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use clap::Args;
use webpush::message::{self, AuthSecret, CryptoError, Padding, UaKeyPair, UaPublicKey};
use webpush::vapid::key::MAX_INPUT_LEN;
use webpush::vapid::{Audience, Subject, VapidKey, VapidSigner};
use zeroize::Zeroizing;

use crate::util::{
    EXIT_OK, Fail, print_stderr, println_stdout, read_file_capped, read_stdin_capped, write_stdout,
};

/// The most `encrypt` and `decrypt` read from stdin.
pub(crate) const MAX_STDIN: usize = 64 * 1024;

/// Arguments of `generate-vapid-keys`.
#[derive(Debug, Args)]
pub(crate) struct GenerateArgs {
    /// Write the private key (PKCS#8 PEM) to this file, created with mode
    /// 0600, instead of stdout. The public key then goes to stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Replace FILE if it exists.
    #[arg(long, requires = "out")]
    force: bool,
    /// Print {"public_key":..,"private_key_file":..} as JSON (needs --out).
    #[arg(long, requires = "out")]
    json: bool,
}

/// Arguments of `encrypt`. `Debug` hides `auth`.
#[derive(Args)]
pub(crate) struct EncryptArgs {
    /// The subscription's `keys.p256dh` (base64url P-256 public key).
    #[arg(long, value_name = "KEY", allow_hyphen_values = true)]
    p256dh: String,
    /// The subscription's `keys.auth` (base64url 16-octet secret).
    #[arg(long, value_name = "SECRET", allow_hyphen_values = true)]
    auth: String,
    /// Pad the plaintext up to a multiple of N octets (never past a
    /// 4096-octet body).
    #[arg(long, value_name = "N")]
    pad: Option<NonZeroUsize>,
}

/// Arguments of `decrypt`. `Debug` hides both secrets.
#[derive(Args)]
pub(crate) struct DecryptArgs {
    /// The receiver's private key: base64url 32-octet P-256 scalar. A
    /// command line is visible to other local users (ps,
    /// /proc/<pid>/cmdline): prefer --private-key-file.
    #[arg(
        long,
        value_name = "KEY",
        allow_hyphen_values = true,
        required_unless_present = "private_key_file",
        conflicts_with = "private_key_file"
    )]
    private_key: Option<String>,
    /// Read the receiver's private key (base64url scalar, surrounding
    /// whitespace ignored) from this file.
    #[arg(long, value_name = "FILE")]
    private_key_file: Option<std::path::PathBuf>,
    /// The receiver's auth secret (base64url 16 octets).
    #[arg(long, value_name = "SECRET", allow_hyphen_values = true)]
    auth: String,
}

impl std::fmt::Debug for EncryptArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptArgs")
            .field("p256dh", &self.p256dh)
            .field("pad", &self.pad)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for DecryptArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecryptArgs").finish_non_exhaustive()
    }
}

/// Arguments of `vapid-header`.
#[derive(Debug, Args)]
pub(crate) struct VapidHeaderArgs {
    /// VAPID private key file: PKCS#8 or SEC1 PEM, JWK, or base64url scalar.
    #[arg(long, value_name = "FILE")]
    vapid_key: PathBuf,
    /// The push service origin, e.g. https://fcm.googleapis.com
    #[arg(long, value_name = "ORIGIN", value_parser = parse_audience)]
    audience: Audience,
    /// Contact: mailto:you@example.com or an https: URL.
    #[arg(long, value_name = "SUB", value_parser = parse_subject)]
    subject: Subject,
}

pub(crate) fn parse_subject(s: &str) -> Result<Subject, String> {
    Subject::parse(s).map_err(|e| e.to_string())
}

fn parse_audience(s: &str) -> Result<Audience, String> {
    Audience::parse(s).map_err(|e| e.to_string())
}

/// Reads and parses a VAPID private key file. The text is zeroized after.
pub(crate) fn load_vapid_key(path: &Path) -> Result<VapidKey, Fail> {
    let bytes = Zeroizing::new(read_file_capped(path, "VAPID key file", MAX_INPUT_LEN)?);
    let shown = path.display();
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| Fail::input(format!("VAPID key file {shown} is not UTF-8 text")))?;
    VapidKey::parse(text).map_err(|e| Fail::input(format!("VAPID key file {shown}: {e}")))
}

/// `generate-vapid-keys`.
pub(crate) fn generate(args: &GenerateArgs) -> Result<u8, Fail> {
    let key =
        VapidKey::generate().map_err(|e| Fail::failed(format!("cannot generate a key: {e}")))?;
    let pem = key.to_pkcs8_pem();
    let public = key.public_key_base64();
    let Some(path) = &args.out else {
        write_stdout(pem.as_bytes())?;
        // stdout holds only the PEM, so that it can be redirected to a file.
        print_stderr(&format!("applicationServerKey: {public}"));
        return Ok(EXIT_OK);
    };
    write_private_file(path, pem.as_bytes(), args.force)?;
    if args.json {
        let json = serde_json::json!({
            "public_key": public,
            "private_key_file": path.display().to_string(),
        });
        println_stdout(&json.to_string())?;
    } else {
        println_stdout(&public)?;
    }
    Ok(EXIT_OK)
}

/// Creates `path` (mode 0600 on unix) and writes `contents`. An existing
/// file is an error unless `force`, which removes it first (so that its mode
/// or a symlink there is not reused).
fn write_private_file(path: &Path, contents: &[u8], force: bool) -> Result<(), Fail> {
    let shown = path.display();
    if force {
        match fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(Fail::input(format!("cannot replace {shown}: {e}"))),
        }
    }
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == ErrorKind::AlreadyExists {
            Fail::input(format!(
                "{shown} already exists; use --force to overwrite it"
            ))
        } else {
            Fail::input(format!("cannot create {shown}: {e}"))
        }
    })?;
    if let Err(e) = file.write_all(contents).and_then(|()| file.sync_all()) {
        drop(file);
        let _ = fs::remove_file(path);
        return Err(Fail::failed(format!("cannot write {shown}: {e}")));
    }
    Ok(())
}

/// `encrypt`: plaintext on stdin, `aes128gcm` body on stdout.
pub(crate) fn encrypt(args: &EncryptArgs) -> Result<u8, Fail> {
    let p256dh = UaPublicKey::from_base64(args.p256dh.trim())
        .map_err(|e| Fail::input(format!("--p256dh: {e}")))?;
    let auth = AuthSecret::from_base64(args.auth.trim())
        .map_err(|e| Fail::input(format!("--auth: {e}")))?;
    let plaintext = read_stdin_capped(MAX_STDIN)?;
    let padding = args.pad.map_or(Padding::None, Padding::BlockSize);
    let body = message::encrypt(&p256dh, &auth, &plaintext, padding).map_err(|e| match e {
        CryptoError::PayloadTooLarge { .. } => Fail::input(format!("stdin: {e}")),
        e => Fail::failed(format!("cannot encrypt: {e}")),
    })?;
    write_stdout(&body)?;
    Ok(EXIT_OK)
}

/// The largest private key file read (a base64url scalar is 43 octets).
const MAX_PRIVATE_KEY_FILE: usize = 4096;

/// `decrypt`: `aes128gcm` body on stdin, plaintext on stdout.
pub(crate) fn decrypt(args: &DecryptArgs) -> Result<u8, Fail> {
    let (key, flag) = match (&args.private_key, &args.private_key_file) {
        (Some(key), _) => (zeroize::Zeroizing::new(key.clone()), "--private-key"),
        (None, Some(path)) => (
            zeroize::Zeroizing::new(crate::util::read_text_capped(
                path,
                "private key file",
                MAX_PRIVATE_KEY_FILE,
            )?),
            "--private-key-file",
        ),
        (None, None) => return Err(Fail::input("--private-key or --private-key-file is needed")),
    };
    let ua = UaKeyPair::from_private_base64(key.trim())
        .map_err(|e| Fail::input(format!("{flag}: {e}")))?;
    let auth = AuthSecret::from_base64(args.auth.trim())
        .map_err(|e| Fail::input(format!("--auth: {e}")))?;
    let body = read_stdin_capped(MAX_STDIN)?;
    let plaintext = message::decrypt(&ua, &auth, &body)
        .map_err(|e| Fail::input(format!("cannot decrypt stdin: {e}")))?;
    write_stdout(&plaintext)?;
    Ok(EXIT_OK)
}

/// `vapid-header`: prints the `Authorization` value for one origin.
pub(crate) fn vapid_header(args: &VapidHeaderArgs) -> Result<u8, Fail> {
    let key = load_vapid_key(&args.vapid_key)?;
    let signer = VapidSigner::new(key, args.subject.clone());
    let header = signer
        .header_for(&args.audience)
        .map_err(|e| Fail::failed(format!("cannot sign the VAPID token: {e}")))?;
    println_stdout(header.authorization())?;
    Ok(EXIT_OK)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{DecryptArgs, EncryptArgs};

    #[derive(Debug, Parser)]
    struct Encrypt {
        #[command(flatten)]
        args: EncryptArgs,
    }

    #[derive(Debug, Parser)]
    struct Decrypt {
        #[command(flatten)]
        args: DecryptArgs,
    }

    const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";
    const PRIVATE: &str = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94";

    #[test]
    fn debug_of_secret_arguments_shows_no_secret() {
        let e = Encrypt::parse_from(["x", "--p256dh", "BPUB", "--auth", AUTH]);
        let d = Decrypt::parse_from(["x", "--private-key", PRIVATE, "--auth", AUTH]);
        let text = format!("{e:?} {d:?} {e:#?} {d:#?}");
        assert!(text.contains("BPUB"), "{text}");
        assert!(!text.contains(AUTH) && !text.contains(PRIVATE), "{text}");
        let f = Decrypt::parse_from(["x", "--private-key-file", "k.txt", "--auth", AUTH]);
        assert!(!format!("{f:?}").contains(AUTH));
        // Exactly one of the two.
        assert!(Decrypt::try_parse_from(["x", "--auth", AUTH]).is_err());
        assert!(
            Decrypt::try_parse_from([
                "x",
                "--private-key",
                PRIVATE,
                "--private-key-file",
                "k",
                "--auth",
                AUTH
            ])
            .is_err()
        );
    }
}
