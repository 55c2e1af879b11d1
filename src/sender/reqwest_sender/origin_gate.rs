//! One connection per origin on a cold start: the per-origin gate of
//! [`ReqwestSender`](super::ReqwestSender).
//!
//! reqwest (hyper-util's pool) dials one connection for every request that
//! finds no idle connection, before ALPN has said whether the connection will
//! be HTTP/2. So 64 pushes started at once on a fresh client open 64 TLS
//! connections to a service that would carry all of them on one. The gate
//! lets the first request to an origin go alone; the others wait until it
//! has an answer (or has failed, or was dropped), by which time the pool
//! holds the connection: an HTTP/2 one is shared by every later request,
//! and HTTP/1.1 opens at most one connection per request in flight, as
//! before. Once open, a gate costs a map lookup and an atomic load per
//! request, so steady-state traffic is never serialised.
//!
//! A gate closes again after the pool's idle timeout without traffic (the
//! pool has dropped the connection by then), so the next burst is gated too.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Origins remembered at most; past it the map starts afresh (the cost is
/// one ungated burst per forgotten origin).
const MAX_ORIGINS: usize = 1024;

/// The gates of one sender, by authority (`host:port`).
#[derive(Debug)]
pub(super) struct OriginGates {
    gates: Mutex<HashMap<Box<str>, Arc<Gate>>>,
    /// After this long without a request the pool has closed the
    /// connection: the origin is gated again.
    idle: Duration,
    epoch: Instant,
}

/// One origin's gate: a one-permit semaphore, closed once the origin has a
/// connection in the pool.
#[derive(Debug)]
struct Gate {
    first: Arc<Semaphore>,
    /// Milliseconds since [`OriginGates::epoch`] of the last request.
    last_used: AtomicU64,
}

/// What a request holds while it goes first; dropping it without
/// [`open`](Self::open) (an error, a timeout, cancellation) hands the turn to
/// the next waiting request, which dials again.
#[derive(Debug)]
pub(super) struct FirstRequest {
    gate: Arc<Gate>,
    _permit: OwnedSemaphorePermit,
}

impl FirstRequest {
    /// The first request got an answer: the pool has the connection, let
    /// everyone through.
    pub(super) fn open(self) {
        self.gate.first.close();
    }
}

impl OriginGates {
    pub(super) fn new(idle: Duration) -> Self {
        Self {
            gates: Mutex::new(HashMap::new()),
            idle,
            epoch: Instant::now(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Waits for the turn of a request to `authority`: `None` to go now
    /// (the origin has a connection), `Some` to go first and
    /// [`open`](FirstRequest::open) the gate on an answer.
    pub(super) async fn enter(&self, authority: &str) -> Option<FirstRequest> {
        let gate = self.gate(authority);
        if gate.first.is_closed() {
            return None;
        }
        // `Err` only once closed: the first request has its answer.
        let permit = Arc::clone(&gate.first).acquire_owned().await.ok()?;
        Some(FirstRequest {
            gate,
            _permit: permit,
        })
    }

    /// The gate of `authority`, a fresh one when it was idle for longer than
    /// the pool keeps connections.
    fn gate(&self, authority: &str) -> Arc<Gate> {
        let now = self.now_ms();
        let idle = u64::try_from(self.idle.as_millis()).unwrap_or(u64::MAX);
        let mut gates = self.gates.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(gate) = gates.get(authority) {
            let last = gate.last_used.swap(now, Ordering::Relaxed);
            if now.saturating_sub(last) <= idle || !gate.first.is_closed() {
                return Arc::clone(gate);
            }
        }
        if gates.len() >= MAX_ORIGINS {
            gates.clear();
        }
        let gate = Arc::new(Gate {
            first: Arc::new(Semaphore::new(1)),
            last_used: AtomicU64::new(now),
        });
        gates.insert(authority.into(), Arc::clone(&gate));
        gate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_one_goes_first_until_it_opens() {
        let gates = Arc::new(OriginGates::new(Duration::from_secs(90)));
        let first = gates.enter("a:443").await.expect("the first goes first");
        // Another origin is not held up.
        let other = gates.enter("b:443").await.expect("b's first");
        let waiter = tokio::spawn({
            let gates = Arc::clone(&gates);
            async move { gates.enter("a:443").await.is_none() }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "the second request must wait");
        first.open();
        assert!(waiter.await.expect("no panic"), "open lets it through");
        assert!(gates.enter("a:443").await.is_none());
        drop(other);
    }

    #[tokio::test]
    async fn a_failed_first_request_hands_the_turn_on() {
        let gates = Arc::new(OriginGates::new(Duration::from_secs(90)));
        let first = gates.enter("a:443").await.expect("first");
        let waiter = tokio::spawn({
            let gates = Arc::clone(&gates);
            async move { gates.enter("a:443").await.is_some() }
        });
        drop(first); // an error or a timeout: no answer
        assert!(waiter.await.expect("no panic"), "the next one goes first");
    }

    #[tokio::test]
    async fn an_idle_origin_is_gated_again() {
        let gates = OriginGates::new(Duration::ZERO);
        gates.enter("a:443").await.expect("first").open();
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(gates.enter("a:443").await.is_some(), "idle: gated again");
    }
}
