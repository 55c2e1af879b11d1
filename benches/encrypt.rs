//! Message encryption (RFC 8291) against the floor it cannot beat: the
//! ephemeral key generation and ECDH that every message needs, measured in
//! the same run for both crypto backends.
//!
//! `cargo bench --bench encrypt` measures `message::encrypt` on the default
//! (RustCrypto) backend; `cargo bench --bench encrypt --features ring` on
//! the `ring` backend, `--features graviola` on `graviola`. Every run
//! measures the p256 and ring floors (and graviola's, with that feature), so
//! each backend's ratio comes from one run. `BENCHMARKS.md` has the latest figures.

use std::hint::black_box;
use std::num::NonZeroUsize;

use common::BACKEND;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use p256::ecdh::EphemeralSecret;
use p256::elliptic_curve::Generate;
use p256::elliptic_curve::sec1::ToSec1Point;
use ring::rand::SystemRandom;
use webpush::ece::{self, Header, Ikm, RecordSize, Salt};
use webpush::message::{self, AuthSecret, Padding, UaKeyPair};

mod common;

fn floors(c: &mut Criterion, ua: &UaKeyPair) {
    let ua_point = p256::PublicKey::from_sec1_bytes(ua.public_key().as_bytes()).expect("point");
    let mut g = c.benchmark_group("floor");
    // p256's documented ECDH API: two scalar multiplications, two inversions.
    g.bench_function("p256 EphemeralSecret keygen + ecdh", |b| {
        b.iter(|| {
            let secret = EphemeralSecret::try_generate().expect("rng");
            let public = secret.public_key().to_uncompressed_point();
            let shared = secret.diffie_hellman(black_box(&ua_point));
            black_box((public, shared.raw_secret_bytes()[0]))
        });
    });
    // What the RustCrypto backend does: the same constant-time scalar
    // multiplications, one shared inversion for both affine conversions.
    g.bench_function("p256 keygen + ecdh, one inversion", |b| {
        b.iter(|| common::p256_floor(black_box(&ua_point)))
    });
    // Where the time goes in p256 0.14: key generation uses a precomputed
    // table of the generator, ECDH a variable base.
    g.bench_function("p256 keygen only", |b| {
        b.iter(|| {
            let secret = EphemeralSecret::try_generate().expect("rng");
            black_box(secret.public_key().to_uncompressed_point())
        });
    });
    let fixed = EphemeralSecret::try_generate().expect("rng");
    g.bench_function("p256 ecdh only", |b| {
        b.iter(|| {
            black_box(
                fixed
                    .diffie_hellman(black_box(&ua_point))
                    .raw_secret_bytes()[0],
            )
        })
    });
    let rng = SystemRandom::new();
    g.bench_function("ring keygen + ecdh", |b| {
        b.iter(|| common::ring_floor(&rng, ua.public_key().as_bytes()))
    });
    #[cfg(feature = "graviola")]
    g.bench_function("graviola keygen + ecdh", |b| {
        b.iter(|| common::graviola_floor(ua.public_key().as_bytes()))
    });
    g.finish();
}

fn messages(c: &mut Criterion, ua: &UaKeyPair) {
    let auth = AuthSecret::generate().expect("rng");
    let mut g = c.benchmark_group(format!("message {BACKEND}"));
    for size in [32usize, 1024, message::MAX_PLAINTEXT_LEN] {
        let plaintext = vec![0x42u8; size];
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_with_input(BenchmarkId::new("encrypt", size), &plaintext, |b, p| {
            b.iter(|| message::encrypt(ua.public_key(), &auth, black_box(p), Padding::None))
        });
    }
    let padding = Padding::BlockSize(NonZeroUsize::new(256).expect("nonzero"));
    g.throughput(Throughput::Bytes(32));
    g.bench_function("encrypt 32 padded to 256", |b| {
        b.iter(|| message::encrypt(ua.public_key(), &auth, black_box(&[0x42; 32]), padding))
    });
    g.finish();

    // Everything but the key agreement: HKDF and AES-128-GCM (RFC 8188) for
    // the largest body.
    let mut g = c.benchmark_group(format!("record layer {BACKEND}"));
    let ikm = Ikm::new(&[0x17; 32]);
    let keyid = [4u8; message::PUBLIC_KEY_LEN];
    let header = Header::new(Salt::from_bytes([9; 16]), RecordSize::DEFAULT, &keyid).expect("h");
    for size in [32usize, message::MAX_PLAINTEXT_LEN] {
        let plaintext = vec![0x42u8; size];
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_with_input(BenchmarkId::new("seal", size), &plaintext, |b, p| {
            b.iter(|| ece::encrypt(&ikm, &header, black_box(p), 0))
        });
    }
    g.finish();
}

fn bench(c: &mut Criterion) {
    let ua = UaKeyPair::generate().expect("rng");
    floors(c, &ua);
    messages(c, &ua);
}

criterion_group!(benches, bench);
criterion_main!(benches);
