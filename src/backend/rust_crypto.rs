//! The pure-Rust backend: `p256` and `aes-gcm` from RustCrypto.

use aes_gcm::Aes128Gcm;
use aes_gcm::aead::{AeadInOut, KeyInit};
use p256::elliptic_curve::group::Group;
use p256::elliptic_curve::point::{AffineCoordinates, BatchNormalize};
use p256::elliptic_curve::sec1::ToSec1Point;
use p256::elliptic_curve::{Generate, zeroize::Zeroize};
use p256::{NonZeroScalar, ProjectivePoint};
use zeroize::Zeroizing;

use super::{
    Agreement, Backend, CEK_LEN, NONCE_LEN, OpenError, PUBLIC_KEY_LEN, RecordCipher, RngError,
    TAG_LEN,
};

/// `p256` + `aes-gcm`. With the `ring` feature only its cipher serves
/// messages (decryption with a stored key, `hazmat`); the type stays for
/// the conformance tests.
#[derive(Debug)]
#[cfg_attr(feature = "ring", allow(dead_code))]
pub(crate) struct RustCrypto;

impl Backend for RustCrypto {
    type Cipher = Aes128Gcm;

    fn name() -> &'static str {
        "RustCrypto (p256, aes-gcm)"
    }

    /// `k` random, `as_public = k·G`, `ecdh_secret = x(k·P)`. Both points
    /// are computed in projective form and converted to affine with one
    /// shared field inversion (`batch_normalize`) instead of two; the
    /// scalar multiplications are `p256`'s constant-time ones.
    fn agree_ephemeral(
        peer: &p256::PublicKey,
        _peer_bytes: &[u8; PUBLIC_KEY_LEN],
    ) -> Result<Agreement, RngError> {
        let k = Zeroizing::new(NonZeroScalar::try_generate().map_err(|_| RngError)?);
        let mut points = [
            ProjectivePoint::mul_by_generator(&**k),
            peer.to_projective() * **k,
        ];
        let mut affine: [p256::AffinePoint; 2] =
            <ProjectivePoint as BatchNormalize<[ProjectivePoint; 2]>>::batch_normalize(&points);
        let mut public = [0u8; PUBLIC_KEY_LEN];
        public.copy_from_slice(&affine[0].to_uncompressed_point());
        let mut secret = Zeroizing::new([0u8; 32]);
        secret.copy_from_slice(&affine[1].x());
        points[1].zeroize();
        affine[1].zeroize();
        Ok(Agreement { public, secret })
    }
}

impl RecordCipher for Aes128Gcm {
    fn new(cek: &[u8; CEK_LEN]) -> Self {
        <Self as KeyInit>::new(&(*cek).into())
    }

    fn seal(&self, nonce: &[u8; NONCE_LEN], in_out: &mut [u8]) -> [u8; TAG_LEN] {
        // AES-GCM fails only past 2^36 octets per message; a record is < 2^32.
        self.encrypt_inout_detached(&(*nonce).into(), b"", in_out.into())
            .expect("a record is far below the AES-GCM length limit")
            .into()
    }

    fn open(
        &self,
        nonce: &[u8; NONCE_LEN],
        in_out: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), OpenError> {
        self.decrypt_inout_detached(&(*nonce).into(), b"", in_out.into(), &(*tag).into())
            .map_err(|_| OpenError)
    }
}
