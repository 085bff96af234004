//! Password hashing on a bounded pool: each argon2id hash takes ~19 MiB and tens of
//! milliseconds of CPU, so a burst of logins must queue rather than exhaust memory or starve
//! the async runtime.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::rngs::OsRng;
use tokio::sync::Semaphore;

use crate::{ServiceError, ServiceResult};

/// OWASP's first recommended argon2id configuration: m=19 MiB, t=2, p=1.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("constant argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
}

/// Why an imported hash is refused.
pub(crate) fn check_importable_hash(hash: &str) -> Result<(), String> {
    if hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$") {
        return hash
            .parse::<bcrypt::HashParts>()
            .map(|_| ())
            .map_err(|e| format!("invalid bcrypt hash: {e}"));
    }
    let parsed = PasswordHash::new(hash).map_err(|e| format!("invalid password hash: {e}"))?;
    match parsed.algorithm.as_str() {
        "argon2id" | "argon2i" | "argon2d" => Ok(()),
        other => Err(format!(
            "unsupported password hash algorithm {other:?}; use argon2 or bcrypt"
        )),
    }
}

impl PasswordHasher {
    pub fn new(concurrency: usize) -> Self {
        PasswordHasher {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
        }
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> ServiceResult<T> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| ServiceError::Internal("password pool closed".into()))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| ServiceError::Internal(format!("password task failed: {e}")))
    }

    pub async fn hash(&self, password: String) -> ServiceResult<String> {
        self.run(move || {
            let salt = SaltString::generate(&mut OsRng);
            argon2()
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
        })
        .await?
        .map_err(|e| ServiceError::Internal(format!("hashing failed: {e}")))
    }

    /// Verifies against an argon2 (PHC string) or bcrypt hash. A malformed stored hash never
    /// verifies.
    pub async fn verify(&self, password: String, hash: String) -> ServiceResult<bool> {
        self.run(move || {
            if hash.starts_with("$2") {
                return bcrypt::verify(password.as_bytes(), &hash).unwrap_or(false);
            }
            match PasswordHash::new(&hash) {
                Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
                Err(_) => false,
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_wrong_passwords_do_not() {
        let hasher = PasswordHasher::new(1);
        let hash = hasher.hash("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(hasher.verify("correct horse".into(), hash.clone()).await.unwrap());
        assert!(!hasher.verify("wrong".into(), hash).await.unwrap());
    }

    #[tokio::test]
    async fn imported_bcrypt_hashes_verify() {
        let hash = bcrypt::hash("secret", 4).unwrap();
        assert!(check_importable_hash(&hash).is_ok());
        assert!(PasswordHasher::new(1).verify("secret".into(), hash).await.unwrap());
    }

    #[test]
    fn unknown_hash_formats_are_refused() {
        assert!(check_importable_hash("plaintext").is_err());
        assert!(check_importable_hash("$pbkdf2-sha256$i=1000$c2FsdA$aGFzaA").is_err());
    }
}
