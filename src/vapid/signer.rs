//! A cache of signed VAPID headers, one per push service origin.

use core::fmt;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::token::{self, Audience, DEFAULT_VALIDITY, MAX_VALIDITY, Subject, VapidError};
use super::{Clock, SystemClock, VapidKey};

/// How many origins the cache keeps by default. Real deployments talk to a
/// handful of push services; self-hosted ones add a few more.
pub const DEFAULT_MAX_ORIGINS: usize = 1024;

/// A signed VAPID header for one audience. Cheap to clone.
#[derive(Clone)]
pub struct VapidHeader {
    jwt: Arc<str>,
    authorization: Arc<str>,
    public_key: Arc<str>,
    expires_at: u64,
}

impl VapidHeader {
    /// The `Authorization` value: `vapid t=<jwt>, k=<public key>`.
    #[must_use]
    pub fn authorization(&self) -> &str {
        &self.authorization
    }

    /// The bare JWT.
    #[must_use]
    pub fn jwt(&self) -> &str {
        &self.jwt
    }

    /// The public key, base64url (the `k` parameter).
    #[must_use]
    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    /// The legacy pair for the `aesgcm` coding: (`Authorization` value
    /// `WebPush <jwt>`, `Crypto-Key` value `p256ecdsa=<key>`).
    #[must_use]
    pub fn legacy(&self) -> (String, String) {
        token::legacy_headers(&self.jwt, &self.public_key)
    }

    /// When the token expires, seconds since the Unix epoch.
    #[must_use]
    pub const fn expires_at(&self) -> u64 {
        self.expires_at
    }
}

impl fmt::Debug for VapidHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The token is a bearer credential for its lifetime: keep it out of logs.
        f.debug_struct("VapidHeader")
            .field("public_key", &self.public_key)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// One origin's cached header. Its own lock makes concurrent callers for the
/// same origin wait for one signature instead of each signing.
#[derive(Default)]
struct Slot {
    header: Mutex<Option<VapidHeader>>,
}

struct Inner {
    key: VapidKey,
    public_key: Arc<str>,
    subject: Subject,
    validity: Duration,
    refresh_margin: Duration,
    max_origins: usize,
    clock: Arc<dyn Clock>,
    slots: Mutex<HashMap<Audience, Arc<Slot>>>,
    signatures: AtomicU64,
}

/// Signs VAPID tokens and keeps one per audience origin, re-signing only when
/// the cached one has less than a quarter of its validity left (3 hours of
/// the default 12). `Send + Sync`, and cheap to clone: clones share the cache.
///
/// ```
/// use webpush::vapid::{Audience, Subject, VapidKey, VapidSigner};
///
/// let signer = VapidSigner::new(VapidKey::generate()?, Subject::parse("mailto:ops@example.com")?);
/// let aud = Audience::parse("https://fcm.googleapis.com")?;
/// let header = signer.header_for(&aud)?;
/// assert!(header.authorization().starts_with("vapid t="));
/// // The second call is a cache hit: no signing.
/// assert_eq!(signer.header_for(&aud)?.jwt(), header.jwt());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct VapidSigner {
    inner: Arc<Inner>,
}

impl fmt::Debug for VapidSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VapidSigner")
            .field("public_key", &self.inner.public_key)
            .field("subject", &self.inner.subject)
            .field("validity", &self.inner.validity)
            .finish_non_exhaustive()
    }
}

/// Settings for a [`VapidSigner`].
#[derive(Debug)]
#[must_use]
pub struct VapidSignerBuilder {
    key: VapidKey,
    subject: Subject,
    validity: Duration,
    max_origins: usize,
    clock: Arc<dyn Clock>,
}

impl VapidSignerBuilder {
    /// Token validity (default 12 hours; at most 24).
    pub const fn validity(mut self, validity: Duration) -> Self {
        self.validity = validity;
        self
    }

    /// How many origins to keep (default 1024). Past that, the entry closest
    /// to expiry is dropped.
    pub fn max_origins(mut self, n: usize) -> Self {
        self.max_origins = n.max(1);
        self
    }

    /// The clock (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Builds the signer.
    ///
    /// # Errors
    /// [`VapidError::Validity`] for a validity of zero or over 24 hours.
    pub fn build(self) -> Result<VapidSigner, VapidError> {
        if self.validity.as_secs() == 0 || self.validity > MAX_VALIDITY {
            return Err(VapidError::Validity);
        }
        Ok(VapidSigner {
            inner: Arc::new(Inner {
                public_key: self.key.public_key_base64().into(),
                key: self.key,
                subject: self.subject,
                refresh_margin: self.validity / 4,
                validity: self.validity,
                max_origins: self.max_origins,
                clock: self.clock,
                slots: Mutex::new(HashMap::new()),
                signatures: AtomicU64::new(0),
            }),
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while holding these locks; if something did, the data
    // (a map of cached headers) is still consistent.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl VapidSigner {
    /// A signer with the default settings.
    pub fn new(key: VapidKey, subject: Subject) -> Self {
        Self::builder(key, subject)
            .build()
            .unwrap_or_else(|_| unreachable!("the default validity is valid"))
    }

    /// Starts a builder.
    pub fn builder(key: VapidKey, subject: Subject) -> VapidSignerBuilder {
        VapidSignerBuilder {
            key,
            subject,
            validity: DEFAULT_VALIDITY,
            max_origins: DEFAULT_MAX_ORIGINS,
            clock: Arc::new(SystemClock),
        }
    }

    /// The signing key's public half, base64url: the `applicationServerKey`.
    #[must_use]
    pub fn public_key(&self) -> &str {
        &self.inner.public_key
    }

    /// The header for `aud`: cached while it has more than a quarter of its
    /// validity left, signed otherwise. Concurrent callers for one origin
    /// share one signature.
    ///
    /// # Errors
    /// [`VapidError`] from signing (a clock that makes `exp` invalid).
    pub fn header_for(&self, aud: &Audience) -> Result<VapidHeader, VapidError> {
        let inner = &*self.inner;
        let slot = self.slot(aud);
        let mut cached = lock(&slot.header);
        let now = inner.clock.unix_time();
        if let Some(h) = cached
            .as_ref()
            .filter(|h| now.saturating_add(inner.refresh_margin.as_secs()) < h.expires_at)
        {
            return Ok(h.clone());
        }
        let exp = now.saturating_add(inner.validity.as_secs());
        let jwt = token::sign(&inner.key, aud, &inner.subject, exp, now)?;
        inner.signatures.fetch_add(1, Ordering::Relaxed);
        let header = VapidHeader {
            authorization: token::authorization(&jwt, &inner.public_key).into(),
            jwt: jwt.into(),
            public_key: Arc::clone(&inner.public_key),
            expires_at: exp,
        };
        *cached = Some(header.clone());
        Ok(header)
    }

    /// Drops the cached header for `aud`, so the next call signs a new one.
    /// Call it when the push service answers 401 or 403.
    pub fn invalidate(&self, aud: &Audience) {
        lock(&self.inner.slots).remove(aud);
    }

    /// How many tokens this signer (and its clones) has signed.
    #[must_use]
    pub fn signatures(&self) -> u64 {
        self.inner.signatures.load(Ordering::Relaxed)
    }

    /// How many origins are cached now.
    #[must_use]
    pub fn cached_origins(&self) -> usize {
        lock(&self.inner.slots).len()
    }

    fn slot(&self, aud: &Audience) -> Arc<Slot> {
        let mut slots = lock(&self.inner.slots);
        if let Some(slot) = slots.get(aud) {
            return Arc::clone(slot);
        }
        if slots.len() >= self.inner.max_origins {
            evict_one(&mut slots);
        }
        let slot = Arc::new(Slot::default());
        slots.insert(aud.clone(), Arc::clone(&slot));
        slot
    }
}

/// Drops the entry closest to expiry (empty ones first). Slots being signed
/// right now are locked and skipped.
fn evict_one(slots: &mut HashMap<Audience, Arc<Slot>>) {
    let victim = slots
        .iter()
        .filter_map(|(aud, slot)| {
            let header = slot.header.try_lock().ok()?;
            Some((header.as_ref().map_or(0, |h| h.expires_at), aud))
        })
        .min_by_key(|(exp, _)| *exp)
        .map(|(_, aud)| aud.clone());
    if let Some(aud) = victim {
        slots.remove(&aud);
    }
}

#[cfg(test)]
mod tests;
