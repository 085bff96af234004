//! Password hashing on a fixed pool of dedicated threads: each argon2id hash takes ~19 MiB and tens
//! of milliseconds of CPU, so a burst of logins must queue rather than exhaust memory or starve the
//! async runtime.
//!
//! The pool has `concurrency` long-lived threads fed through a channel, and each thread reuses one
//! argon2 memory block (allocated at its first job) for every hash, so the pool's memory stays at
//! `concurrency` × 19 MiB. Tokio's blocking pool is not used on purpose: its threads come and go,
//! glibc gives each of them a malloc arena, and once the first freed 19 MiB block has raised glibc's
//! dynamic mmap threshold the arenas keep the freed blocks (+400 MiB RSS in the benchmark).

mod hashing;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

pub(crate) use hashing::check_importable_hash;
use hashing::{hash_new, verify_stored, Memory};

use crate::{ServiceError, ServiceResult};

#[derive(Clone)]
pub struct PasswordHasher {
    /// One permit per job queued or running, so that the queue (as large as the pool) is never
    /// full: a burst of callers waits here, asynchronously. A job holds its permit until a thread
    /// has finished it, even if its caller stopped waiting.
    permits: Arc<Semaphore>,
    /// Dropping the last clone closes the channel and lets the threads end.
    jobs: SyncSender<Task>,
}

struct Task {
    job: Job,
    _permit: OwnedSemaphorePermit,
}

enum Job {
    Hash {
        password: String,
        reply: oneshot::Sender<Result<String, String>>,
    },
    Verify {
        password: String,
        hash: String,
        reply: oneshot::Sender<bool>,
    },
}

impl PasswordHasher {
    /// Starts `concurrency` (at least one) password threads. They end once every clone of the
    /// hasher is dropped.
    pub fn new(concurrency: usize) -> Self {
        Self::start(concurrency).0
    }

    fn start(concurrency: usize) -> (Self, Vec<std::thread::JoinHandle<()>>) {
        let concurrency = concurrency.max(1);
        let (jobs, receiver) = mpsc::sync_channel(concurrency);
        let receiver = Arc::new(Mutex::new(receiver));
        let mut threads = Vec::with_capacity(concurrency);
        for index in 0..concurrency {
            let receiver = Arc::clone(&receiver);
            let spawned = std::thread::Builder::new()
                .name(format!("lanyard-password-{index}"))
                .spawn(move || work(&receiver));
            match spawned {
                Ok(thread) => threads.push(thread),
                // With no thread at all the receiver is dropped and every call fails as closed.
                Err(error) => tracing::error!(%error, "could not start a password hashing thread"),
            }
        }
        let hasher = PasswordHasher {
            permits: Arc::new(Semaphore::new(concurrency)),
            jobs,
        };
        (hasher, threads)
    }

    async fn run<T>(&self, job: impl FnOnce(oneshot::Sender<T>) -> Job) -> ServiceResult<T> {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| ServiceError::Internal("password pool closed".into()))?;
        let (reply, answer) = oneshot::channel();
        let task = Task {
            job: job(reply),
            _permit: permit,
        };
        self.jobs.try_send(task).map_err(|e| match e {
            TrySendError::Full(_) => ServiceError::Internal("password queue full".into()),
            TrySendError::Disconnected(_) => ServiceError::Internal("password pool closed".into()),
        })?;
        answer
            .await
            .map_err(|_| ServiceError::Internal("password task failed".into()))
    }

    pub async fn hash(&self, password: String) -> ServiceResult<String> {
        self.run(|reply| Job::Hash { password, reply })
            .await?
            .map_err(|e| ServiceError::Internal(format!("hashing failed: {e}")))
    }

    /// Verifies against an argon2 (PHC string, any variant and parameters) or bcrypt hash. A
    /// malformed stored hash, or one whose parameters exceed the pool's bounds, never verifies.
    pub async fn verify(&self, password: String, hash: String) -> ServiceResult<bool> {
        self.run(|reply| Job::Verify { password, hash, reply }).await
    }
}

/// A pool thread: runs jobs until the channel closes.
fn work(receiver: &Mutex<Receiver<Task>>) {
    let mut memory = Memory::default();
    loop {
        // The lock is held only while waiting for the next job, not while running it.
        let next = receiver.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(Task { job, _permit }) = next else {
            return;
        };
        // A panic drops the job's reply sender, so its caller gets an error; the thread lives on.
        let _ = catch_unwind(AssertUnwindSafe(|| match job {
            Job::Hash { password, reply } => {
                let _ = reply.send(hash_new(password.as_bytes(), &mut memory));
            }
            Job::Verify { password, hash, reply } => {
                let _ = reply.send(verify_stored(password.as_bytes(), &hash, &mut memory));
            }
        }));
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
    use argon2::{Algorithm, Argon2, Params, Version};
    use rand::rngs::OsRng;

    use super::hashing::*;
    use super::*;

    /// A PHC string made by the argon2 crate's own API.
    fn reference_hash(algorithm: Algorithm, m_cost: u32, t_cost: u32, p_cost: u32, password: &str) -> String {
        let params = Params::new(m_cost, t_cost, p_cost, None).unwrap();
        let salt = SaltString::generate(&mut OsRng);
        Argon2::new(algorithm, Version::V0x13, params)
            .hash_password(password.as_bytes(), &salt)
            .unwrap()
            .to_string()
    }

    #[tokio::test]
    async fn hashes_verify_and_wrong_passwords_do_not() {
        let hasher = PasswordHasher::new(1);
        let hash = hasher.hash("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(hasher.verify("correct horse".into(), hash.clone()).await.unwrap());
        assert!(!hasher.verify("wrong".into(), hash.clone()).await.unwrap());
        // The argon2 crate itself accepts it.
        let parsed = PasswordHash::new(&hash).unwrap();
        assert!(Argon2::default().verify_password(b"correct horse", &parsed).is_ok());
        // Salts are random.
        assert_ne!(hasher.hash("correct horse".into()).await.unwrap(), hash);
    }

    #[test]
    fn new_hashes_are_byte_for_byte_the_argon2_crate_ones() {
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let ours = hash_new_with_salt(b"pw", &salt, &mut Memory::default()).unwrap();
        let params = Params::new(19 * 1024, 2, 1, None).unwrap();
        let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"pw", &salt)
            .unwrap()
            .to_string();
        assert_eq!(ours, theirs);
    }

    #[tokio::test]
    async fn hashes_with_other_argon2_parameters_verify() {
        // One thread, so the same reused memory serves hashes of every size, in both orders.
        let hasher = PasswordHasher::new(1);
        let hashes = [
            reference_hash(Algorithm::Argon2id, 8 * 1024, 3, 1, "pw"),
            reference_hash(Algorithm::Argon2i, 8 * 1024, 3, 1, "pw"),
            reference_hash(Algorithm::Argon2d, 4 * 1024, 1, 2, "pw"),
            // More memory than the reused block: allocated for the call.
            reference_hash(Algorithm::Argon2id, 24 * 1024, 1, 4, "pw"),
            reference_hash(Algorithm::Argon2i, 64, 2, 1, "pw"),
        ];
        for hash in hashes {
            assert!(check_importable_hash(&hash).is_ok(), "{hash}");
            assert!(hasher.verify("pw".into(), hash.clone()).await.unwrap(), "{hash}");
            assert!(!hasher.verify("pW".into(), hash.clone()).await.unwrap(), "{hash}");
        }
        // Still right for the default parameters after the larger and smaller ones.
        let hash = hasher.hash("pw".into()).await.unwrap();
        assert!(hasher.verify("pw".into(), hash).await.unwrap());
    }

    #[tokio::test]
    async fn imported_bcrypt_hashes_verify() {
        let hash = bcrypt::hash("secret", 4).unwrap();
        assert!(check_importable_hash(&hash).is_ok());
        let hasher = PasswordHasher::new(1);
        assert!(hasher.verify("secret".into(), hash.clone()).await.unwrap());
        assert!(!hasher.verify("Secret".into(), hash).await.unwrap());
    }

    #[tokio::test]
    async fn absurd_costs_are_refused_without_hashing() {
        let output = "aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
        let absurd = [
            // 4 GiB.
            format!("$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ${output}"),
            // Just over 256 MiB.
            format!("$argon2i$v=19$m=262152,t=1,p=1$c2FsdHNhbHQ${output}"),
            // libsodium's "sensitive" level: 1 GiB.
            format!("$argon2d$v=19$m=1048576,t=4,p=1$c2FsdHNhbHQ${output}"),
            // Little memory, absurd time.
            format!("$argon2id$v=19$m=19456,t=4000000000,p=1$c2FsdHNhbHQ${output}"),
            // bcrypt at cost 31 (2^31 rounds).
            bcrypt::hash("pw", 4).unwrap().replacen("$04$", "$31$", 1),
        ];
        let hasher = PasswordHasher::new(1);
        for hash in absurd {
            // Refused for its cost, not as malformed.
            let refusal = check_importable_hash(&hash).unwrap_err();
            assert!(refusal.ends_with("allowed"), "{hash}: {refusal}");
            let started = Instant::now();
            assert!(!hasher.verify("pw".into(), hash.clone()).await.unwrap(), "{hash}");
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "{hash} took {:?}",
                started.elapsed()
            );
        }
    }

    #[tokio::test]
    async fn malformed_hashes_never_verify() {
        let hasher = PasswordHasher::new(1);
        for hash in [
            "",
            "$2b$",
            "$argon2id$",
            "$argon2id$v=19$m=19456,t=2,p=1",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ",
            "$argon2id$v=7$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
            "$argon2id$v=19$m=1,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
            "$argon2id$v=19$m=19456,t=0,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
            "$argon2x$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
        ] {
            assert!(!hasher.verify("pw".into(), hash.into()).await.unwrap(), "{hash}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn many_concurrent_verifications_all_complete() {
        let hasher = PasswordHasher::new(2);
        let small = reference_hash(Algorithm::Argon2id, 256, 1, 1, "pw");
        let default = hasher.hash("pw".into()).await.unwrap();
        let tasks: Vec<_> = (0..64)
            .map(|i| {
                let hasher = hasher.clone();
                let (password, hash) = match i % 4 {
                    0 => ("pw", default.clone()),
                    1 => ("nope", default.clone()),
                    2 => ("pw", small.clone()),
                    _ => ("nope", small.clone()),
                };
                tokio::spawn(async move { hasher.verify(password.into(), hash).await })
            })
            .collect();
        for (i, task) in tasks.into_iter().enumerate() {
            assert_eq!(task.await.unwrap().unwrap(), i % 2 == 0, "task {i}");
        }
    }

    #[tokio::test]
    async fn abandoned_calls_do_not_wedge_the_pool() {
        let hasher = PasswordHasher::new(1);
        let hash = reference_hash(Algorithm::Argon2id, 256, 1, 1, "pw");
        for _ in 0..8 {
            // Queued, then its caller gives up at once.
            let _ = tokio::time::timeout(Duration::ZERO, hasher.verify("pw".into(), hash.clone())).await;
        }
        assert!(hasher.verify("pw".into(), hash).await.unwrap());
    }

    #[tokio::test]
    async fn dropping_the_hasher_ends_its_threads() {
        let (hasher, threads) = PasswordHasher::start(2);
        assert_eq!(threads.len(), 2);
        let clone = hasher.clone();
        assert!(clone.verify("pw".into(), "$2b$".into()).await.is_ok());
        drop(hasher);
        drop(clone);
        let (ended, joined) = mpsc::channel();
        std::thread::spawn(move || {
            for thread in threads {
                let _ = thread.join();
            }
            let _ = ended.send(());
        });
        assert!(joined.recv_timeout(Duration::from_secs(10)).is_ok());
    }

    #[test]
    fn unknown_hash_formats_are_refused() {
        assert!(check_importable_hash("plaintext").is_err());
        assert!(check_importable_hash("$pbkdf2-sha256$i=1000$c2FsdA$aGFzaA").is_err());
    }
}
