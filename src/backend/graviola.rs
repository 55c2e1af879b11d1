//! The `graviola` backend (feature `graviola`): P-256 ECDH and AES-128-GCM
//! from `graviola`, pure Rust around formally verified assembly (`asm!`),
//! no C compiler and no build script.
//!
//! `graviola` needs CPU features that not every CPU has (x86_64: `aes`,
//! `pclmulqdq`, `avx`, `avx2`, `bmi1`, `adx`; aarch64: `aes`, `pmull`,
//! `sha2`, `neon`) and panics when called on a CPU without them. So every
//! entry point here asks [`graviola::util::is_cpu_supported`] first (a
//! cached CPUID test in the standard library, a few nanoseconds) and runs
//! the [`RustCrypto`] backend instead on such a CPU: slower, never a panic.
//!
//! `graviola` zeroizes its private scalars, shared secrets and AES key
//! schedules on drop; the copy of the secret this crate takes is zeroized.

// With `ring` also on, `ring` serves messages: this backend stays for the
// conformance tests.
#![cfg_attr(feature = "ring", allow(dead_code))]

use aes_gcm::Aes128Gcm;
use graviola::aead::AesGcm;
use graviola::key_agreement::p256::{PrivateKey, PublicKey};
use zeroize::Zeroizing;

use super::rust_crypto::RustCrypto;
use super::{
    Agreement, Backend, CEK_LEN, NONCE_LEN, OpenError, PUBLIC_KEY_LEN, RecordCipher, RngError,
    TAG_LEN,
};

/// `graviola` where the CPU allows it, [`RustCrypto`] where it does not.
#[derive(Debug)]
pub(crate) struct Graviola;

/// Whether this CPU runs `graviola` (tests can force the fallback).
pub(crate) fn cpu_supported() -> bool {
    #[cfg(test)]
    if tests::FORCE_FALLBACK.with(core::cell::Cell::get) {
        return false;
    }
    graviola::util::is_cpu_supported()
}

impl Backend for Graviola {
    type Cipher = GraviolaCipher;

    fn name() -> &'static str {
        if cpu_supported() {
            "graviola"
        } else {
            "RustCrypto (p256, aes-gcm): graviola's fallback on this CPU"
        }
    }

    fn agree_ephemeral(
        peer: &p256::PublicKey,
        peer_bytes: &[u8; PUBLIC_KEY_LEN],
    ) -> Result<Agreement, RngError> {
        if !cpu_supported() {
            return RustCrypto::agree_ephemeral(peer, peer_bytes);
        }
        // Fails only if the system RNG does.
        let key = PrivateKey::new_random().map_err(|_| RngError)?;
        let public = key.public_key_uncompressed();
        // `peer` was validated as a point on P-256 when it was parsed;
        // `graviola` checks it again and fails only for an invalid point.
        let peer = PublicKey::from_x962_uncompressed(peer_bytes).map_err(|_| RngError)?;
        let shared = key.diffie_hellman(&peer).map_err(|_| RngError)?;
        let mut secret = Zeroizing::new([0u8; 32]);
        secret.copy_from_slice(&shared.0);
        Ok(Agreement { public, secret })
    }
}

/// AES-128-GCM from `graviola`, or from `aes-gcm` on a CPU `graviola`
/// cannot run on.
pub(crate) enum GraviolaCipher {
    /// `graviola`'s AES-GCM (AES-NI / ARMv8 AES and carry-less multiply).
    Fast(AesGcm),
    /// `aes-gcm` (RustCrypto).
    Fallback(Aes128Gcm),
}

impl RecordCipher for GraviolaCipher {
    fn new(cek: &[u8; CEK_LEN]) -> Self {
        if cpu_supported() {
            // `AesGcm::new` panics only for a key that is not 16 or 32
            // octets; `cek` is 16.
            Self::Fast(AesGcm::new(cek))
        } else {
            Self::Fallback(<Aes128Gcm as RecordCipher>::new(cek))
        }
    }

    fn seal(&self, nonce: &[u8; NONCE_LEN], in_out: &mut [u8]) -> [u8; TAG_LEN] {
        match self {
            Self::Fast(cipher) => {
                let mut tag = [0u8; TAG_LEN];
                cipher.encrypt(nonce, b"", in_out, &mut tag);
                tag
            }
            Self::Fallback(cipher) => cipher.seal(nonce, in_out),
        }
    }

    fn open(
        &self,
        nonce: &[u8; NONCE_LEN],
        in_out: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), OpenError> {
        match self {
            Self::Fast(cipher) => cipher
                .decrypt(nonce, b"", in_out, tag)
                .map_err(|_| OpenError),
            Self::Fallback(cipher) => cipher.open(nonce, in_out, tag),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use core::cell::Cell;

    thread_local! {
        /// Set by a test to run this backend as on a CPU without the
        /// features `graviola` needs.
        pub(crate) static FORCE_FALLBACK: Cell<bool> = const { Cell::new(false) };
    }

    /// Runs `f` with the fallback forced on this thread.
    pub(crate) fn with_fallback<T>(f: impl FnOnce() -> T) -> T {
        FORCE_FALLBACK.with(|c| c.set(true));
        let out = f();
        FORCE_FALLBACK.with(|c| c.set(false));
        out
    }

    #[test]
    fn the_fallback_is_chosen_when_the_cpu_lacks_features() {
        let cipher =
            with_fallback(|| <super::GraviolaCipher as super::RecordCipher>::new(&[1; 16]));
        assert!(matches!(cipher, super::GraviolaCipher::Fallback(_)));
        assert!(!with_fallback(super::cpu_supported));
    }

    #[test]
    fn graviola_itself_runs_where_the_cpu_has_the_features() {
        let cipher = <super::GraviolaCipher as super::RecordCipher>::new(&[1; 16]);
        assert_eq!(
            matches!(cipher, super::GraviolaCipher::Fast(_)),
            graviola::util::is_cpu_supported()
        );
    }
}
