//! The `ring` backend (feature `ring`): `ring`'s P-256 ECDH and AES-128-GCM,
//! the same crypto that rustls runs in this crate's HTTP client.
//!
//! `ring` keeps the ephemeral private key and the shared secret inside its
//! own types and does not promise to zeroize them; the copy of the secret
//! this crate takes is zeroized.

use ring::aead::{AES_128_GCM, Aad, LessSafeKey, Nonce, Tag, UnboundKey};
use ring::agreement::{self, ECDH_P256, EphemeralPrivateKey, UnparsedPublicKey};
use ring::rand::SystemRandom;
use zeroize::Zeroizing;

use super::{
    Agreement, Backend, CEK_LEN, NONCE_LEN, OpenError, PUBLIC_KEY_LEN, RecordCipher, RngError,
    TAG_LEN,
};

/// `ring`'s P-256 and AES-GCM.
#[derive(Debug)]
pub(crate) struct Ring;

impl Backend for Ring {
    type Cipher = RingCipher;

    fn name() -> &'static str {
        "ring"
    }

    fn agree_ephemeral(
        _peer: &p256::PublicKey,
        peer_bytes: &[u8; PUBLIC_KEY_LEN],
    ) -> Result<Agreement, RngError> {
        let rng = SystemRandom::new();
        let key = EphemeralPrivateKey::generate(&ECDH_P256, &rng).map_err(|_| RngError)?;
        let mut public = [0u8; PUBLIC_KEY_LEN];
        // `ring` computes the public key of a key it just generated; this
        // fails only if its own invariants break.
        let computed = key.compute_public_key().map_err(|_| RngError)?;
        public.copy_from_slice(computed.as_ref());
        let mut secret = Zeroizing::new([0u8; 32]);
        // `peer` was validated as a point on P-256 when it was parsed, and
        // `ring` validates it again; it fails only for an invalid point.
        agreement::agree_ephemeral(
            key,
            &UnparsedPublicKey::new(&ECDH_P256, peer_bytes),
            |shared| secret.copy_from_slice(shared),
        )
        .map_err(|_| RngError)?;
        Ok(Agreement { public, secret })
    }
}

/// AES-128-GCM from `ring`.
pub(crate) struct RingCipher(LessSafeKey);

impl RecordCipher for RingCipher {
    fn new(cek: &[u8; CEK_LEN]) -> Self {
        // AES-128-GCM takes exactly 16 octets, which is what `cek` is.
        let key = UnboundKey::new(&AES_128_GCM, cek).expect("a 16-octet key is valid for AES-128");
        Self(LessSafeKey::new(key))
    }

    fn seal(&self, nonce: &[u8; NONCE_LEN], in_out: &mut [u8]) -> [u8; TAG_LEN] {
        let tag = self
            .0
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(*nonce), Aad::empty(), in_out)
            // `ring` refuses only inputs past AES-GCM's 2^36-octet limit.
            .expect("a record is far below the AES-GCM length limit");
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(tag.as_ref());
        out
    }

    fn open(
        &self,
        nonce: &[u8; NONCE_LEN],
        in_out: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), OpenError> {
        self.0
            .open_in_place_separate_tag(
                Nonce::assume_unique_for_key(*nonce),
                Aad::empty(),
                Tag::from(*tag),
                in_out,
                0..,
            )
            .map(|_| ())
            .map_err(|_| OpenError)
    }
}
