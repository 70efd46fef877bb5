//! Scheduling decisions, as pure functions of time: when a source is next
//! due (its cron expression plus a small stable per-source jitter), and how
//! long a failing source waits (exponential backoff with jitter, capped at a
//! day, never giving up). The daemon owns the timers; this module owns the
//! arithmetic, so it is tested without waiting.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::CronSchedule;

/// The longest a failing source is left alone.
pub const MAX_BACKOFF: Duration = Duration::from_secs(24 * 60 * 60);

/// The most a source's start is shifted from its cron tick, so that sources
/// sharing a schedule do not all fire in the same second.
const MAX_JITTER: Duration = Duration::from_secs(30);

/// A number in [0, 1) that is stable for a source id and a salt.
fn unit_hash(source_id: &str, salt: u64) -> f64 {
    let mut h = blake3::Hasher::new();
    h.update(source_id.as_bytes());
    h.update(&salt.to_le_bytes());
    let bytes = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&bytes.as_bytes()[..8]);
    (u64::from_le_bytes(first) >> 11) as f64 / (1u64 << 53) as f64
}

/// The interval between two consecutive ticks after `at` (the schedule's
/// period there), or a day for a schedule that never fires again.
pub fn period(schedule: &CronSchedule, at: DateTime<Utc>) -> Duration {
    let mut ticks = schedule.schedule.after(&at);
    match (ticks.next(), ticks.next()) {
        (Some(a), Some(b)) => (b - a).to_std().unwrap_or(MAX_BACKOFF),
        _ => MAX_BACKOFF,
    }
}

/// The source's stable jitter: at most a tenth of its period, at most 30 s.
pub fn jitter(source_id: &str, period: Duration) -> Duration {
    let max = (period / 10).min(MAX_JITTER);
    max.mul_f64(unit_hash(source_id, 0))
}

/// The next instant the source is due strictly after `after`: the next cron
/// tick plus the source's jitter, but never before `not_before`
/// (Retry-After or backoff).
pub fn next_due(
    schedule: &CronSchedule,
    source_id: &str,
    after: DateTime<Utc>,
    not_before: Option<DateTime<Utc>>,
) -> Option<DateTime<Utc>> {
    let jitter = jitter(source_id, period(schedule, after));
    let jitter = chrono::Duration::from_std(jitter).unwrap_or_default();
    // Ticks are searched from `after - jitter` so that a jittered tick still
    // ahead of us is not skipped.
    let tick = schedule.schedule.after(&(after - jitter)).map(|t| t + jitter).find(|t| *t > after)?;
    Some(match not_before {
        Some(nb) if nb > tick => nb,
        _ => tick,
    })
}

/// Failures in a row that are retried on the schedule alone: one or two
/// misses are usually a partner's passing hiccup, not worth slowing down for.
pub const FREE_FAILURES: u32 = 2;

/// How long to leave a source alone after `failures` consecutive failures:
/// nothing extra for the first [`FREE_FAILURES`] (the schedule already
/// spaces attempts), then the schedule's period doubled per further failure
/// (2, 4, 8, ... periods), with ±20 % jitter so that sources broken together
/// do not retry together, capped at [`MAX_BACKOFF`]. It never gives up: a
/// source is retried at least once a day for as long as it is configured.
///
/// Being based on the period keeps it proportionate: a half-hourly source
/// waits hours after a handful of failures, an every-second one (tests)
/// seconds.
pub fn backoff(failures: u32, period: Duration, source_id: &str) -> Duration {
    if failures <= FREE_FAILURES {
        return Duration::ZERO;
    }
    // 2^20 periods of at least a second exceed the cap: no need to go further.
    let exponent = (failures - FREE_FAILURES).min(20);
    let base = period.max(Duration::from_secs(1)).saturating_mul(1 << exponent).min(MAX_BACKOFF);
    let factor = 0.8 + 0.4 * unit_hash(source_id, u64::from(failures));
    base.mul_f64(factor).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn cron(expr: &str) -> CronSchedule {
        CronSchedule { expr: expr.into(), schedule: cron::Schedule::from_str(expr).unwrap() }
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn next_due_follows_the_cron_with_a_bounded_stable_jitter() {
        let every_half_hour = cron("0 */30 * * * *");
        let now = at("2026-11-23T10:05:00Z");
        let a = next_due(&every_half_hour, "ilo", now, None).unwrap();
        assert!(a >= at("2026-11-23T10:30:00Z") && a <= at("2026-11-23T10:30:30Z"), "{a}");
        assert_eq!(next_due(&every_half_hour, "ilo", now, None), Some(a), "stable");
        // Sources sharing a schedule are spread out.
        let starts: std::collections::HashSet<_> = ["ilo", "untfsse", "ripess", "ica", "euricse"]
            .iter()
            .map(|id| next_due(&every_half_hour, id, now, None))
            .collect();
        assert!(starts.len() >= 4);
    }

    #[test]
    fn next_due_is_strictly_after_and_respects_not_before() {
        let every_2s = cron("*/2 * * * * *");
        let now = at("2026-11-23T10:00:00Z");
        let next = next_due(&every_2s, "a", now, None).unwrap();
        assert!(next > now && next <= now + chrono::Duration::seconds(3));
        let later = at("2026-11-23T11:00:00Z");
        assert_eq!(next_due(&every_2s, "a", now, Some(later)), Some(later));
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let period = Duration::from_secs(60);
        for free in 0..=FREE_FAILURES {
            assert_eq!(backoff(free, period, "s"), Duration::ZERO);
        }
        let b3 = backoff(3, period, "s");
        assert!(b3 >= Duration::from_secs(96) && b3 <= Duration::from_secs(144), "{b3:?}");
        let b5 = backoff(5, period, "s");
        assert!(b5 >= Duration::from_secs(384) && b5 <= Duration::from_secs(576), "{b5:?}");
        // Each failure roughly doubles the wait (the jitter never undoes a doubling).
        let waits: Vec<Duration> = (3..12).map(|n| backoff(n, period, "ilo")).collect();
        assert!(waits.windows(2).all(|w| w[1] > w[0]), "{waits:?}");
        let capped = backoff(40, period, "s");
        assert!(capped <= MAX_BACKOFF && capped >= MAX_BACKOFF.mul_f64(0.8), "{capped:?}");
        assert!(backoff(u32::MAX, Duration::from_secs(86_400 * 365), "s") <= MAX_BACKOFF);
        // An every-second schedule backs off by seconds, not minutes.
        let fast = backoff(5, Duration::from_secs(1), "s");
        assert!(fast >= Duration::from_millis(6400) && fast <= Duration::from_millis(9600), "{fast:?}");
    }

    #[test]
    fn backoff_jitter_differs_between_sources() {
        let period = Duration::from_secs(1800);
        let waits: std::collections::HashSet<Duration> =
            ["ilo", "untfsse", "ripess", "ica", "euricse"].iter().map(|id| backoff(4, period, id)).collect();
        assert!(waits.len() >= 4, "{waits:?}");
    }

    #[test]
    fn period_of_common_schedules() {
        assert_eq!(period(&cron("0 */30 * * * *"), at("2026-11-23T10:05:00Z")), Duration::from_secs(1800));
        assert_eq!(period(&cron("*/5 * * * * *"), at("2026-11-23T10:05:00Z")), Duration::from_secs(5));
    }
}
