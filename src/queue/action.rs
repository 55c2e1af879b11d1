//! What a worker tells the broker after a job's report: the pure decision
//! from (outcome, delivery count, limits, randomness) to an [`Action`].
//! No I/O, no engine: the table of issue 12 in one function, tested as a
//! table.
//!
//! | outcome | action |
//! |---|---|
//! | 2xx | [`Action::Ack`] |
//! | 404, 410 | [`Action::AckAfterEvent`] (a `gone` event, then ack) |
//! | 429, 5xx, 408, 425, timeout, connection error | [`Action::Retry`]: nak with a delay ≥ `Retry-After`, else exponential backoff with jitter |
//! | 401, 403, VAPID signing failure | [`Action::Retry`] after [`ActionPolicy::vapid_delay`] ([`RetryReason::VapidRejected`]: counted and logged); never `gone` |
//! | not sent (shutdown) | [`Action::Retry`] with no delay ([`RetryReason::NotStarted`]) |
//! | 400, 413, other 4xx, 3xx, refused endpoint, bad job | [`Action::Terminate`] with a `failed` event |
//! | a retry at the last allowed delivery | [`Action::DeadLetter`] with the attempt count, then term |

use std::time::Duration;

use crate::outcome::{Delivered, SendError};

use super::event::{EventKind, FeedbackEvent};
use super::job::JobError;

/// The longest delay a nak asks for (7 days): a longer `Retry-After` is
/// capped to it.
pub const MAX_NAK_DELAY: Duration = Duration::from_secs(7 * 24 * 3600);

/// What the worker does with a job once its outcome is known.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Delivered: acknowledge.
    Ack,
    /// Gone: publish the event, await the broker's acknowledgement of it,
    /// then acknowledge the job.
    AckAfterEvent(FeedbackEvent),
    /// Not now: hand the job back to the broker, to be delivered again after
    /// `delay`.
    Retry {
        /// How long the broker holds the job first.
        delay: Duration,
        /// Why.
        reason: RetryReason,
    },
    /// Cannot succeed: publish the `failed` event, then tell the broker
    /// never to deliver the job again.
    Terminate(FeedbackEvent),
    /// Out of deliveries: publish the `dead` event, then terminate.
    DeadLetter(FeedbackEvent),
}

/// Why a job is handed back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryReason {
    /// Rate limiting, a server error, a timeout or a connection failure.
    Transient,
    /// 401 or 403 (or a VAPID token that could not be signed): the worker's
    /// VAPID configuration is wrong. Loud: counted and logged.
    VapidRejected,
    /// Pulled but not started before shutdown.
    NotStarted,
}

/// Limits of the decision.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ActionPolicy {
    /// Deliveries allowed per job (the consumer's `max_deliver`); a retry
    /// at this delivery becomes a dead letter.
    pub max_deliver: u32,
    /// The backoff after the first failed delivery, doubled per delivery.
    pub base_delay: Duration,
    /// The longest backoff.
    pub max_delay: Duration,
    /// The delay after a VAPID rejection.
    pub vapid_delay: Duration,
}

impl Default for ActionPolicy {
    /// `max_deliver` 5, backoff 1 s doubling to 5 min, VAPID delay 5 min.
    fn default() -> Self {
        Self {
            max_deliver: 5,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(300),
            vapid_delay: Duration::from_secs(300),
        }
    }
}

impl ActionPolicy {
    /// The backoff before delivery `delivered + 1`: between half and all of
    /// `min(max_delay, base_delay × 2^(delivered−1))`, `random` choosing.
    fn backoff(&self, delivered: u32, random: u64) -> Duration {
        let doublings = delivered.saturating_sub(1).min(31);
        let cap = self
            .base_delay
            .saturating_mul(1 << doublings)
            .min(self.max_delay);
        half_jitter(cap, random)
    }
}

/// Between `cap / 2` and `cap`.
fn half_jitter(cap: Duration, random: u64) -> Duration {
    let half = cap / 2;
    let span = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
    let extra = match span.checked_add(1) {
        Some(n) => random % n,
        None => random,
    };
    half.saturating_add(Duration::from_nanos(extra))
}

/// The action for a job whose report is `result`, at delivery `delivered`
/// (1 for the first), to endpoint `endpoint`. `random` picks the jitter.
///
/// ```
/// use std::time::Duration;
/// use webpush::outcome::SendError;
/// use webpush::queue::{decide, Action, ActionPolicy, RetryReason};
///
/// let policy = ActionPolicy::default();
/// let result = Err(SendError::Cancelled);
/// let action = decide("job-1", "https://push.example.net/p/x", &result, 1, &policy, 7);
/// assert_eq!(action, Action::Retry { delay: Duration::ZERO, reason: RetryReason::NotStarted });
/// ```
#[must_use]
pub fn decide(
    job_id: &str,
    endpoint: &str,
    result: &Result<Delivered, SendError>,
    delivered: u32,
    policy: &ActionPolicy,
    random: u64,
) -> Action {
    let error = match result {
        Ok(_) => return Action::Ack,
        Err(e) => e,
    };
    let status = error.status().map(|s| s.as_u16());
    let event = |kind, reason: &str| {
        FeedbackEvent::new(
            kind,
            job_id,
            Some(endpoint.to_owned()),
            status,
            reason,
            delivered,
        )
    };
    let last = delivered >= policy.max_deliver;
    let retry = |delay: Duration, reason| {
        if last {
            let why = format!(
                "still failing after {delivered} deliveries (max_deliver {}): {error}",
                policy.max_deliver
            );
            Action::DeadLetter(event(EventKind::Dead, &why))
        } else {
            Action::Retry {
                delay: delay.min(MAX_NAK_DELAY),
                reason,
            }
        }
    };
    match error {
        SendError::Gone { .. } => Action::AckAfterEvent(event(EventKind::Gone, &error.to_string())),
        SendError::Cancelled => {
            if last {
                // The broker will not deliver it again: a dead letter says so
                // rather than leaving it stranded.
                Action::DeadLetter(event(
                    EventKind::Dead,
                    "not attempted: shutdown during its last allowed delivery",
                ))
            } else {
                Action::Retry {
                    delay: Duration::ZERO,
                    reason: RetryReason::NotStarted,
                }
            }
        }
        SendError::VapidRejected { .. } | SendError::Vapid(_) => retry(
            half_jitter(policy.vapid_delay, random).max(policy.vapid_delay / 2),
            RetryReason::VapidRejected,
        ),
        // A panic inside the batch is the worker's trouble, not the job's.
        SendError::InvalidMessage(what) if what.starts_with("internal error") => {
            retry(policy.backoff(delivered, random), RetryReason::Transient)
        }
        e if e.is_retryable() => {
            let backoff = policy.backoff(delivered, random);
            let delay = match e.retry_after() {
                // At least what the service asked, plus jitter so that jobs
                // told the same delay do not all return at once.
                Some(wait) => wait.saturating_add(backoff / 4),
                None => backoff,
            };
            retry(delay, RetryReason::Transient)
        }
        // Retrying cannot help and deleting would lose a user: the app asks
        // the browser to subscribe again with the current key.
        e @ SendError::KeyMismatch { .. } => {
            Action::Terminate(event(EventKind::Resubscribe, &e.to_string()))
        }
        e => Action::Terminate(event(EventKind::Failed, &e.to_string())),
    }
}

/// The action for a message that is not a valid job: terminate with a
/// `failed` event naming what was wrong. `job_id` is the id the broker
/// knows the message by.
#[must_use]
pub fn bad_job(job_id: &str, error: &JobError, delivered: u32) -> Action {
    Action::Terminate(FeedbackEvent::new(
        EventKind::Failed,
        job_id,
        None,
        None,
        &error.to_string(),
        delivered,
    ))
}

#[cfg(test)]
mod tests;
