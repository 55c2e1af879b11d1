//! The encryption path allocates the output body and nothing else; a cached
//! VAPID header costs no signing. Counted with a global allocator that
//! records every allocation of the process.
//!
//! `harness = false` (Cargo.toml): the counter sees every thread, and under
//! libtest the harness's main thread allocates while the test runs (its
//! channel wait, when the scheduler runs it late), which once made this test
//! count 5 allocations instead of 1 on a loaded machine (issue 16). Here
//! `main` is the only thread, so the count is the encryption's alone.
#![allow(clippy::unwrap_used)]

use std::alloc::System;
use std::num::NonZeroUsize;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use webpush::message::{self, AuthSecret, Padding, UaKeyPair};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn main() {
    encryption_allocates_only_the_body();
    println!("test encryption_allocates_only_the_body ... ok");
}

fn encryption_allocates_only_the_body() {
    let ua = UaKeyPair::generate().unwrap();
    let auth = AuthSecret::generate().unwrap();
    let block = Padding::BlockSize(NonZeroUsize::new(256).unwrap());
    // Warm up lazily initialised state (CPU feature detection, the RNG).
    let _ = message::encrypt(ua.public_key(), &auth, b"warm up", Padding::None).unwrap();

    for (len, padding) in [
        (0, Padding::None),
        (32, Padding::None),
        (1024, Padding::None),
        (message::MAX_PLAINTEXT_LEN, Padding::None),
        (32, block),
        (32, Padding::MAX),
    ] {
        let plaintext = vec![0x42u8; len];
        let region = Region::new(GLOBAL);
        let body = message::encrypt(ua.public_key(), &auth, &plaintext, padding).unwrap();
        let stats = region.change();
        let padded = padding.padded_len(len).unwrap();
        assert_eq!(body.len(), message::HEADER_LEN + padded + 17);
        assert_eq!(
            (
                stats.allocations,
                stats.reallocations,
                stats.bytes_allocated
            ),
            (1, 0, body.len()),
            "{len} octets, {padding:?}: {stats:?}"
        );
        drop(body);
    }

    // Decryption (the user agent's side) allocates the plaintext buffer only.
    let body = message::encrypt(ua.public_key(), &auth, &[7; 100], Padding::None).unwrap();
    let region = Region::new(GLOBAL);
    let plaintext = message::decrypt(&ua, &auth, &body).unwrap();
    let stats = region.change();
    assert_eq!(plaintext, [7; 100]);
    assert_eq!(
        (stats.allocations, stats.reallocations),
        (1, 0),
        "{stats:?}"
    );
}
