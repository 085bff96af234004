//! Expired-session cleanup: the `lanyard cleanup` command and the optional background job
//! `serve` runs when `cleanup.enabled` is set. Both call `Lanyard::cleanup_sessions`, which
//! takes the `cleanup` lease, so that among all nodes and commands sharing a database only one
//! run deletes at a time.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lanyard_service::{CleanupOptions, CleanupOutcome, Lanyard};
use tokio::task::JoinHandle;

use crate::config::CleanupConfig;

/// Progress lines are written after the first batch and then at most this often.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// One run for `lanyard cleanup`: progress (deleted so far, rate) and a summary on `err`.
/// Another run holding the lease is not an error: it is reported, and nothing is deleted.
pub async fn run_once(service: &Lanyard, options: CleanupOptions, err: &mut dyn Write) -> anyhow::Result<()> {
    let started = Instant::now();
    writeln!(
        err,
        "Deleting sessions that expired or were revoked more than {} ago, {} per batch{}.",
        humantime::format_duration(options.keep_last.unsigned_abs()),
        options.batch_size,
        options
            .max_batches
            .map(|max| format!(", at most {max} batch(es)"))
            .unwrap_or_default()
    )?;
    // A line after the first batch, then at most one per PROGRESS_EVERY.
    let mut last_line: Option<Instant> = None;
    let mut write_failed = None;
    let outcome = service
        .cleanup_sessions(options, |deleted| {
            let now = Instant::now();
            let due = last_line.is_none_or(|last| now.duration_since(last) >= PROGRESS_EVERY);
            if due && write_failed.is_none() {
                last_line = Some(now);
                if let Err(error) = writeln!(err, "{}", progress_line(deleted, started.elapsed())) {
                    write_failed = Some(error);
                }
            }
        })
        .await;
    if let Some(error) = write_failed {
        return Err(error.into());
    }
    let elapsed = started.elapsed();
    match outcome? {
        CleanupOutcome::Busy => writeln!(
            err,
            "Another cleanup is running (the {:?} lease is held by another process or node); \
             nothing was deleted. Try again later.",
            lanyard_service::CLEANUP_LEASE
        )?,
        CleanupOutcome::Ran(report) => {
            writeln!(
                err,
                "Deleted {} session(s) in {} batch(es) in {:.1} s ({}).",
                report.deleted,
                report.batches,
                elapsed.as_secs_f64(),
                rate(report.deleted, elapsed)
            )?;
            if !report.complete {
                writeln!(
                    err,
                    "Stopped before every due session was deleted (batch limit reached or lease lost); \
                     run it again to continue."
                )?;
            }
        }
    }
    Ok(())
}

fn progress_line(deleted: u64, elapsed: Duration) -> String {
    format!("  deleted {deleted} so far ({})", rate(deleted, elapsed))
}

fn rate(deleted: u64, elapsed: Duration) -> String {
    let seconds = elapsed.as_secs_f64();
    if seconds <= 0.0 {
        return "- sessions/s".into();
    }
    format!("{:.0} sessions/s", deleted as f64 / seconds)
}

/// The background job: one cleanup run every `config.interval`, the first one interval after
/// start. A round whose lease is held elsewhere is skipped; a failed round is logged and the
/// next one tried on schedule. The task ends when aborted (on shutdown); a run cut short there
/// leaves its lease to run out within `CLEANUP_LEASE_TTL`.
pub fn spawn_background_job(service: Arc<Lanyard>, config: &CleanupConfig) -> JoinHandle<()> {
    let interval = config.interval.0;
    let options = config.options();
    tracing::info!(
        interval = %humantime::format_duration(interval),
        keep_last = %humantime::format_duration(config.keep_last.0),
        batch_size = options.batch_size,
        "session cleanup runs in the background"
    );
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let started = Instant::now();
            match service.cleanup_sessions(options, |_| {}).await {
                Ok(CleanupOutcome::Busy) => {
                    tracing::debug!("another node is cleaning up sessions; skipping this round")
                }
                Ok(CleanupOutcome::Ran(report)) if report.deleted > 0 || !report.complete => tracing::info!(
                    deleted = report.deleted,
                    batches = report.batches,
                    complete = report.complete,
                    seconds = started.elapsed().as_secs_f64(),
                    "deleted expired and revoked sessions"
                ),
                Ok(CleanupOutcome::Ran(_)) => tracing::debug!("no sessions due for cleanup"),
                Err(error) => tracing::warn!(%error, "session cleanup failed; retrying next round"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_readable() {
        assert_eq!(rate(1000, Duration::from_millis(500)), "2000 sessions/s");
        assert_eq!(rate(0, Duration::ZERO), "- sessions/s");
        assert_eq!(
            progress_line(5, Duration::from_secs(1)),
            "  deleted 5 so far (5 sessions/s)"
        );
    }
}
