//! The encryption floor shared by the benches: the ephemeral key generation
//! and ECDH that every message needs, done with the crypto crate directly.

use std::hint::black_box;

use p256::elliptic_curve::Generate;
use p256::elliptic_curve::group::Group;
use p256::elliptic_curve::point::{AffineCoordinates, BatchNormalize};
use p256::elliptic_curve::sec1::ToSec1Point;
use p256::{NonZeroScalar, ProjectivePoint};
use ring::agreement::{self, ECDH_P256, EphemeralPrivateKey, UnparsedPublicKey};
use ring::rand::SystemRandom;

/// The backend `message::encrypt` uses in this build.
pub(crate) const BACKEND: &str = if cfg!(feature = "ring") {
    "ring"
} else if cfg!(feature = "graviola") {
    "graviola"
} else {
    "rustcrypto"
};

/// One ephemeral P-256 key and one ECDH with `p256`, the two affine
/// conversions sharing one field inversion (what the RustCrypto backend does).
pub(crate) fn p256_floor(peer: &p256::PublicKey) {
    let k = NonZeroScalar::try_generate().expect("rng");
    let points = [
        ProjectivePoint::mul_by_generator(&*k),
        peer.to_projective() * *k,
    ];
    let affine = <ProjectivePoint as BatchNormalize<[ProjectivePoint; 2]>>::batch_normalize(
        black_box(&points),
    );
    black_box((affine[0].to_uncompressed_point(), affine[1].x()));
}

/// One ephemeral P-256 key and one ECDH with `ring`.
pub(crate) fn ring_floor(rng: &SystemRandom, peer: &[u8; 65]) {
    let key = EphemeralPrivateKey::generate(&ECDH_P256, rng).expect("rng");
    let public = key.compute_public_key().expect("public key");
    let peer = UnparsedPublicKey::new(&ECDH_P256, black_box(peer));
    let first = agreement::agree_ephemeral(key, &peer, |s| s[0]).expect("valid peer key");
    black_box((public.as_ref()[1], first));
}

/// One ephemeral P-256 key and one ECDH with `graviola` (feature
/// `graviola`), on a CPU that has the features it needs.
#[cfg(feature = "graviola")]
#[allow(dead_code)] // Each bench uses its own subset of this module.
pub(crate) fn graviola_floor(peer: &[u8; 65]) {
    use graviola::key_agreement::p256::{PrivateKey, PublicKey};
    let key = PrivateKey::new_random().expect("rng");
    let public = key.public_key_uncompressed();
    let peer = PublicKey::from_x962_uncompressed(black_box(peer)).expect("valid peer key");
    let shared = key.diffie_hellman(&peer).expect("valid peer key");
    black_box((public[1], shared.0[0]));
}

/// The floor of the backend this build uses.
#[allow(dead_code)] // Each bench uses its own subset of this module.
pub(crate) fn active_floor(rng: &SystemRandom, peer: &p256::PublicKey, peer_bytes: &[u8; 65]) {
    #[cfg(all(feature = "graviola", not(feature = "ring")))]
    if graviola::util::is_cpu_supported() {
        return graviola_floor(peer_bytes);
    }
    if cfg!(feature = "ring") {
        ring_floor(rng, peer_bytes);
    } else {
        p256_floor(peer);
    }
}
