//! Message encryption (RFC 8291) against the floor it cannot beat: the
//! ephemeral key generation and ECDH that every message needs.
//!
//! `cargo bench --bench encrypt`

use std::hint::black_box;
use std::num::NonZeroUsize;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use p256::ecdh::EphemeralSecret;
use p256::elliptic_curve::Generate;
use p256::elliptic_curve::sec1::ToSec1Point;
use webpush::message::{self, AuthSecret, Padding, UaKeyPair};

fn bench(c: &mut Criterion) {
    let ua = UaKeyPair::generate().expect("rng");
    let auth = AuthSecret::generate().expect("rng");
    let ua_point = p256::PublicKey::from_sec1_bytes(ua.public_key().as_bytes()).expect("point");

    let mut g = c.benchmark_group("encrypt");
    g.bench_function("floor: keygen + ecdh", |b| {
        b.iter(|| {
            let secret = EphemeralSecret::try_generate().expect("rng");
            let public = secret.public_key().to_uncompressed_point();
            let shared = secret.diffie_hellman(black_box(&ua_point));
            black_box((public, shared.raw_secret_bytes()[0]))
        });
    });
    for size in [32usize, 1024, 3993] {
        let plaintext = vec![0x42u8; size];
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_with_input(BenchmarkId::new("message", size), &plaintext, |b, p| {
            b.iter(|| message::encrypt(ua.public_key(), &auth, black_box(p), Padding::None))
        });
    }
    let padding = Padding::BlockSize(NonZeroUsize::new(256).expect("nonzero"));
    g.throughput(Throughput::Bytes(32));
    g.bench_function("message 32 padded to 256", |b| {
        b.iter(|| message::encrypt(ua.public_key(), &auth, black_box(&[0x42; 32]), padding))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
