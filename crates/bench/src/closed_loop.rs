//! In-process closed-loop load: each worker sends a request, waits for its answer and sends the
//! next, until the step's time is up; the latencies of all workers make one [`Measurement`].
//! The load generators that run inside the bench (the direct store lookup, the quick mode's
//! load loop, the ZITADEL transports step) differ only in what one call is.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::wrk::Measurement;

/// How one call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Answered as expected.
    Answered,
    /// Answered, but not as expected (an error status, a row that should exist): timed, and
    /// counted as an error answer.
    Wrong,
    /// Sent, but the answer could not be read whole: timed, counted as a socket error.
    Broken,
    /// Not sent (no connection): not timed, counted as a socket error.
    Unsent,
}

/// One simulated client with its own connection (or store handle).
pub trait Worker: Send + 'static {
    fn call(&mut self) -> impl Future<Output = anyhow::Result<Outcome>> + Send;
}

/// Runs every worker in a task of its own for `duration`.
pub async fn run<W: Worker>(workers: Vec<W>, duration: Duration) -> anyhow::Result<Measurement> {
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = workers
        .into_iter()
        .map(|mut worker| {
            tokio::spawn(async move {
                let mut tally = Tally::default();
                while Instant::now() < deadline {
                    let began = Instant::now();
                    let outcome = worker.call().await?;
                    tally.count(outcome, began.elapsed());
                }
                anyhow::Ok(tally)
            })
        })
        .collect();
    let mut all = Tally::default();
    for task in tasks {
        all.merge(task.await??);
    }
    let seconds = started.elapsed().as_secs_f64();
    let mut measurement = Measurement::from_latencies(all.micros.len() as u64, seconds, all.micros, all.wrong);
    measurement.socket_errors = all.socket;
    Ok(measurement)
}

#[derive(Default)]
struct Tally {
    micros: Vec<u32>,
    wrong: u64,
    socket: u64,
}

impl Tally {
    fn count(&mut self, outcome: Outcome, took: Duration) {
        if outcome != Outcome::Unsent {
            self.micros.push(took.as_micros().min(u128::from(u32::MAX)) as u32);
        }
        match outcome {
            Outcome::Answered => {}
            Outcome::Wrong => self.wrong += 1,
            Outcome::Broken | Outcome::Unsent => self.socket += 1,
        }
    }

    fn merge(&mut self, other: Tally) {
        self.micros.extend(other.micros);
        self.wrong += other.wrong;
        self.socket += other.socket;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ends every call the same way, after a millisecond.
    struct Always(Outcome);

    impl Worker for Always {
        async fn call(&mut self) -> anyhow::Result<Outcome> {
            tokio::time::sleep(Duration::from_millis(1)).await;
            Ok(self.0)
        }
    }

    async fn measure(outcome: Outcome) -> Measurement {
        let workers = vec![Always(outcome), Always(outcome)];
        run(workers, Duration::from_millis(50)).await.unwrap_or_default()
    }

    #[tokio::test]
    async fn outcomes_are_timed_and_counted_by_kind() {
        let answered = measure(Outcome::Answered).await;
        assert!(answered.requests > 0 && answered.status_errors == 0 && answered.socket_errors == 0);
        let wrong = measure(Outcome::Wrong).await;
        assert!(wrong.requests > 0 && wrong.status_errors == wrong.requests && wrong.socket_errors == 0);
        let broken = measure(Outcome::Broken).await;
        assert!(broken.requests > 0 && broken.socket_errors == broken.requests && broken.status_errors == 0);
        let unsent = measure(Outcome::Unsent).await;
        assert!(unsent.requests == 0 && unsent.socket_errors > 0, "{unsent:?}");
    }
}
