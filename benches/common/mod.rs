//! What the benches share: the encryption floor (the ephemeral key
//! generation and ECDH that every message needs, done with the crypto crate
//! directly), CPU time from `/proc` (Linux), and the jobs of a batch.

use std::hint::black_box;
#[cfg(feature = "testing")]
use std::sync::Arc;
use std::time::Duration;

use p256::elliptic_curve::Generate;
use p256::elliptic_curve::group::Group;
use p256::elliptic_curve::point::{AffineCoordinates, BatchNormalize};
use p256::elliptic_curve::sec1::ToSec1Point;
use p256::{NonZeroScalar, ProjectivePoint};
use ring::agreement::{self, ECDH_P256, EphemeralPrivateKey, UnparsedPublicKey};
use ring::rand::SystemRandom;
#[cfg(feature = "testing")]
use webpush::{Subscription, batch::Job, request::PushOptions};

/// The backend `message::encrypt` uses in this build.
#[allow(dead_code)] // Each bench uses its own subset of this module.
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

/// Two runtimes of `cores` worker threads each: the push service's, so
/// that its CPU time (decryption, VAPID verification) is not counted as the
/// sender's, and the sender's, its threads named `client_threads`.
#[allow(dead_code)] // Each bench uses its own subset of this module.
pub(crate) fn runtimes(
    cores: usize,
    client_threads: &str,
) -> std::io::Result<(tokio::runtime::Runtime, tokio::runtime::Runtime)> {
    let service_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .thread_name("push-service")
        .enable_all()
        .build()?;
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .thread_name(client_threads)
        // Blocking threads that exit take their CPU counts with them.
        .thread_keep_alive(Duration::from_secs(3600))
        .enable_all()
        .build()?;
    Ok((service_rt, client_rt))
}

/// Clock ticks per second (`getconf CLK_TCK`, 100 on Linux).
#[allow(dead_code)] // Each bench uses its own subset of this module.
pub(crate) const TICKS_PER_SEC: f64 = 100.0;

/// utime + stime, in ticks, and the comm, from the text of a
/// `/proc/.../stat` file.
fn stat_ticks(stat: &str) -> Option<(String, u64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_owned();
    let fields: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    // Fields 14 and 15 of stat(5); the first after ")" is field 3.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((comm, utime + stime))
}

/// CPU ticks so far of this process's threads named `name` (their comm,
/// which the kernel cuts to 15 octets, is a prefix of it).
#[allow(dead_code)] // Each bench uses its own subset of this module.
pub(crate) fn thread_ticks(name: &str) -> u64 {
    let mut ticks = 0;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            if let Some((comm, t)) = std::fs::read_to_string(task.path().join("stat"))
                .ok()
                .and_then(|s| stat_ticks(&s))
                && name.starts_with(&comm)
            {
                ticks += t;
            }
        }
    }
    ticks
}

/// CPU ticks so far of a whole process.
#[allow(dead_code)] // Each bench uses its own subset of this module.
pub(crate) fn process_ticks(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| stat_ticks(&s))
        .map_or(0, |(_, t)| t)
}

/// Microseconds per item of `ticks` spent on `n` items.
#[allow(dead_code)] // Each bench uses its own subset of this module.
pub(crate) fn us_per(ticks: u64, n: usize) -> f64 {
    ticks as f64 / TICKS_PER_SEC * 1e6 / n as f64
}

/// `total` jobs with keys `0..total`, to the subscriptions in turn, each
/// with `payload` and default options.
#[cfg(feature = "testing")]
#[allow(dead_code)] // Each bench uses its own subset of this module.
pub(crate) fn jobs(
    subs: &[Arc<Subscription>],
    total: usize,
    payload: &'static [u8],
) -> Vec<Job<usize>> {
    (0..total)
        .map(|i| {
            Job::new(
                i,
                Arc::clone(&subs[i % subs.len()]),
                payload,
                PushOptions::new(),
            )
        })
        .collect()
}
