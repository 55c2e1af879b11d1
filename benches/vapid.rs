//! VAPID: signing a token (one ECDSA P-256 signature) against a cached
//! header lookup from `VapidSigner`, in the same run.
//!
//! `cargo bench --bench vapid`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use webpush::vapid::{Audience, Subject, VapidKey, VapidSigner, token};

fn bench(c: &mut Criterion) {
    let key = VapidKey::generate().expect("rng");
    let sub = Subject::parse("mailto:bench@example.com").expect("subject");
    let aud = Audience::parse("https://fcm.googleapis.com").expect("audience");
    let signer = VapidSigner::new(key.clone(), sub.clone());
    signer.header_for(&aud).expect("sign");
    let now = 1_700_000_000;

    let mut g = c.benchmark_group("vapid");
    g.bench_function("sign token", |b| {
        b.iter(|| token::sign(&key, black_box(&aud), &sub, now + 43_200, now))
    });
    g.bench_function("cached header", |b| {
        b.iter(|| signer.header_for(black_box(&aud)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
