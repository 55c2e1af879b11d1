//! p256 0.13 against 0.14 (and ring) on what every Web Push message costs:
//! an ephemeral key pair and one ECDH. Also the field multiplication and
//! point doubling that explain the difference: 0.14 does the same ladder,
//! but its field multiplication goes through crypto-bigint's generic
//! widening multiply.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};

fn p256_013(c: &mut Criterion) {
    use p256_013::ecdh::EphemeralSecret;
    use p256_013::elliptic_curve::group::Group;
    use p256_013::elliptic_curve::sec1::ToEncodedPoint;
    use p256_013::elliptic_curve::{Field, rand_core::OsRng};
    use p256_013::{FieldElement, NonZeroScalar, ProjectivePoint, PublicKey};

    let peer = PublicKey::from_secret_scalar(&NonZeroScalar::random(&mut OsRng));
    let fixed = EphemeralSecret::random(&mut OsRng);
    let mut g = c.benchmark_group("p256 0.13.2");
    g.bench_function("keygen", |b| {
        b.iter(|| {
            let s = EphemeralSecret::random(&mut OsRng);
            black_box(s.public_key().to_encoded_point(false))
        })
    });
    g.bench_function("ecdh", |b| {
        b.iter(|| black_box(fixed.diffie_hellman(black_box(&peer)).raw_secret_bytes()[0]))
    });
    g.bench_function("keygen + ecdh", |b| {
        b.iter(|| {
            let s = EphemeralSecret::random(&mut OsRng);
            let p = s.public_key().to_encoded_point(false);
            black_box((p, s.diffie_hellman(black_box(&peer)).raw_secret_bytes()[0]))
        })
    });
    let z = FieldElement::random(&mut OsRng);
    g.bench_function("field mul", |b| b.iter(|| *black_box(&z) * black_box(&z)));
    let q = ProjectivePoint::GENERATOR * *NonZeroScalar::random(&mut OsRng);
    g.bench_function("point double", |b| b.iter(|| black_box(&q).double()));
    g.finish();
}

fn p256_014(c: &mut Criterion) {
    use p256_014::ecdh::EphemeralSecret;
    use p256_014::elliptic_curve::group::Group;
    use p256_014::elliptic_curve::point::{AffineCoordinates, BatchNormalize};
    use p256_014::elliptic_curve::sec1::ToSec1Point;
    use p256_014::elliptic_curve::Generate;
    use p256_014::elliptic_curve::hazmat::FieldArithmetic;
    use p256_014::{NistP256, NonZeroScalar, ProjectivePoint, PublicKey};
    type FieldElement = <NistP256 as FieldArithmetic>::FieldElement;

    let peer = PublicKey::from_secret_scalar(&NonZeroScalar::generate());
    let fixed = EphemeralSecret::generate();
    let mut g = c.benchmark_group("p256 0.14.0");
    g.bench_function("keygen", |b| {
        b.iter(|| {
            let s = EphemeralSecret::generate();
            black_box(s.public_key().to_uncompressed_point())
        })
    });
    g.bench_function("ecdh", |b| {
        b.iter(|| black_box(fixed.diffie_hellman(black_box(&peer)).raw_secret_bytes()[0]))
    });
    g.bench_function("keygen + ecdh", |b| {
        b.iter(|| {
            let s = EphemeralSecret::generate();
            let p = s.public_key().to_uncompressed_point();
            black_box((p, s.diffie_hellman(black_box(&peer)).raw_secret_bytes()[0]))
        })
    });
    g.bench_function("keygen + ecdh, one inversion", |b| {
        b.iter(|| {
            let k = NonZeroScalar::generate();
            let points = [
                ProjectivePoint::mul_by_generator(&*k),
                peer.to_projective() * *k,
            ];
            let affine =
                <ProjectivePoint as BatchNormalize<[ProjectivePoint; 2]>>::batch_normalize(&points);
            black_box((affine[0].to_uncompressed_point(), affine[1].x()))
        })
    });
    let z = FieldElement::generate();
    g.bench_function("field mul", |b| b.iter(|| *black_box(&z) * black_box(&z)));
    let q = ProjectivePoint::mul_by_generator(&*NonZeroScalar::generate());
    g.bench_function("point double", |b| b.iter(|| black_box(&q).double()));
    g.finish();
}

fn ring_017(c: &mut Criterion) {
    use ring::agreement::{self, ECDH_P256, EphemeralPrivateKey, UnparsedPublicKey};
    use ring::rand::SystemRandom;

    let rng = SystemRandom::new();
    let peer_key = EphemeralPrivateKey::generate(&ECDH_P256, &rng).expect("rng");
    let peer = peer_key.compute_public_key().expect("public");
    let mut g = c.benchmark_group("ring 0.17");
    g.bench_function("keygen", |b| {
        b.iter(|| {
            let k = EphemeralPrivateKey::generate(&ECDH_P256, &rng).expect("rng");
            black_box(k.compute_public_key().expect("public").as_ref()[1])
        })
    });
    g.bench_function("keygen + ecdh", |b| {
        b.iter(|| {
            let k = EphemeralPrivateKey::generate(&ECDH_P256, &rng).expect("rng");
            let p = k.compute_public_key().expect("public");
            let theirs = UnparsedPublicKey::new(&ECDH_P256, black_box(peer.as_ref()));
            let s = agreement::agree_ephemeral(k, &theirs, |s| s[0]).expect("agree");
            black_box((p.as_ref()[1], s))
        })
    });
    g.finish();
}

criterion_group!(benches, p256_013, p256_014, ring_017);
criterion_main!(benches);
