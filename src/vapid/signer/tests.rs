use super::*;
use std::sync::Barrier;
use std::sync::atomic::AtomicU64;

#[derive(Debug)]
struct ManualClock(AtomicU64);

impl Clock for ManualClock {
    fn unix_time(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

const T0: u64 = 1_700_000_000;
const HOUR: u64 = 3600;

fn signer(max_origins: usize) -> (VapidSigner, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock(AtomicU64::new(T0)));
    let signer = VapidSigner::builder(
        VapidKey::generate().unwrap(),
        Subject::parse("mailto:ops@example.com").unwrap(),
    )
    .clock(clock.clone())
    .max_origins(max_origins)
    .build()
    .unwrap();
    (signer, clock)
}

fn aud(n: usize) -> Audience {
    Audience::parse(&format!("https://push{n}.example.net")).unwrap()
}

#[test]
fn reuses_the_token_within_its_lifetime_and_refreshes_before_expiry() {
    let (signer, clock) = signer(16);
    let first = signer.header_for(&aud(0)).unwrap();
    assert_eq!(first.expires_at(), T0 + 12 * HOUR);
    assert_eq!(signer.signatures(), 1);
    // Still more than a quarter (3 h) of the 12 h left: cached.
    clock.0.store(T0 + 9 * HOUR - 1, Ordering::SeqCst);
    assert_eq!(signer.header_for(&aud(0)).unwrap().jwt(), first.jwt());
    assert_eq!(signer.signatures(), 1);
    // Three hours left: re-signed with a fresh expiry.
    clock.0.store(T0 + 9 * HOUR, Ordering::SeqCst);
    let second = signer.header_for(&aud(0)).unwrap();
    assert_ne!(second.jwt(), first.jwt());
    assert_eq!(second.expires_at(), T0 + 21 * HOUR);
    assert_eq!(signer.signatures(), 2);
    // The token the cache hands out always verifies at that time.
    token::verify(second.authorization(), T0 + 9 * HOUR).unwrap();
}

#[test]
fn one_token_per_origin() {
    let (signer, _) = signer(16);
    let a = signer.header_for(&aud(0)).unwrap();
    let b = signer.header_for(&aud(1)).unwrap();
    assert_ne!(a.jwt(), b.jwt());
    assert_eq!(signer.signatures(), 2);
    let claims = token::verify(b.authorization(), T0).unwrap().claims;
    assert_eq!(claims.aud, "https://push1.example.net");
}

#[test]
fn invalidate_forces_a_new_signature_for_that_origin_only() {
    let (signer, _) = signer(16);
    signer.header_for(&aud(0)).unwrap();
    signer.header_for(&aud(1)).unwrap();
    signer.invalidate(&aud(0));
    signer.header_for(&aud(0)).unwrap();
    signer.header_for(&aud(1)).unwrap();
    assert_eq!(signer.signatures(), 3);
}

#[test]
fn clones_share_the_cache() {
    let (signer, _) = signer(16);
    let clone = signer.clone();
    signer.header_for(&aud(0)).unwrap();
    clone.header_for(&aud(0)).unwrap();
    assert_eq!(signer.signatures(), 1);
}

#[test]
fn many_concurrent_callers_for_one_origin_cause_one_signature() {
    let (signer, _) = signer(16);
    let threads = 16;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (signer, barrier) = (signer.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                signer.header_for(&aud(7)).unwrap().jwt().to_owned()
            })
        })
        .collect();
    let jwts: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(jwts.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(signer.signatures(), 1);
}

#[test]
fn memory_is_bounded_by_max_origins() {
    let (signer, _) = signer(8);
    for n in 0..100 {
        signer.header_for(&aud(n)).unwrap();
        assert!(signer.cached_origins() <= 8);
    }
    assert_eq!(signer.cached_origins(), 8);
}

#[test]
fn validity_over_24_hours_is_an_error_not_a_clamp() {
    let build = |v| {
        VapidSigner::builder(
            VapidKey::generate().unwrap(),
            Subject::parse("mailto:ops@example.com").unwrap(),
        )
        .validity(v)
        .build()
    };
    assert!(build(Duration::from_secs(24 * HOUR)).is_ok());
    assert_eq!(
        build(Duration::from_secs(24 * HOUR + 1)).unwrap_err(),
        VapidError::Validity
    );
    assert_eq!(build(Duration::ZERO).unwrap_err(), VapidError::Validity);
}

#[test]
fn debug_shows_no_token() {
    let (signer, _) = signer(16);
    let header = signer.header_for(&aud(0)).unwrap();
    let dbg = format!("{header:?} {signer:?}");
    assert!(!dbg.contains(header.jwt()), "{dbg}");
}

#[test]
fn signer_is_send_sync() {
    const fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<VapidSigner>();
    assert_send_sync::<VapidHeader>();
}
