use lanyard_domain::Aal;

/// What `whoami` and `GET /sessions` demand of a session's assurance level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequiredAal {
    /// The highest level the identity's credentials allow (Kratos default).
    HighestAvailable,
    Aal1,
}

/// Use-case rules that operators configure.
#[derive(Debug, Clone)]
pub struct Settings {
    pub session_lifespan: time::Duration,
    /// An extend only moves `expires_at` once the session is this close to expiring.
    pub earliest_possible_extend: time::Duration,
    pub whoami_required_aal: RequiredAal,
    /// Concurrent password hashes (each takes ~19 MiB).
    pub password_hash_concurrency: usize,
    /// Most identity ids in one `ids` filter.
    pub max_ids_per_filter: usize,
    /// Failed (or running) credential checks allowed per identity, per window, counted in the
    /// store: shared by every node and kept across restarts. 0: no limit.
    pub failed_checks_per_identity: u32,
    /// Failed (or running) credential checks allowed per end-user IP, per window, on each node.
    pub failed_checks_per_ip: u32,
    pub failed_checks_window: time::Duration,
    /// ZITADEL's lockout: after this many consecutive failed password checks, password checks
    /// of the identity are refused until an administrator unlocks it. 0: off (the default).
    pub max_password_attempts: u32,
    /// How far in the future a client-reported past instant (`completed_at`) may lie, for
    /// clocks that differ a little.
    pub max_clock_skew: time::Duration,
    /// Sessions created per identity, per window, on each node; 0: no limit.
    pub sessions_per_identity: u32,
    /// Sessions created per end-user IP (the device's, else the caller's), per window, on each
    /// node; 0: no limit.
    pub sessions_per_ip: u32,
    pub sessions_window: time::Duration,
    /// Lists and searches one principal (an API key, or the identity behind a session token)
    /// may have running at once on each node; 0: no limit.
    pub list_concurrency_per_principal: u32,
    /// Lists and searches running at once on each node, all principals together; 0: no limit.
    pub list_concurrency: u32,
    /// How long a list or search waits for a free slot before it is refused with 429; zero
    /// refuses at once.
    pub list_queue_timeout: time::Duration,
    /// Validated tokens kept in memory per node; 0 turns the cache off.
    pub token_cache_capacity: u64,
    /// The longest a cached token is trusted without asking the store: the worst-case
    /// staleness when a cross-node invalidation is lost.
    pub token_cache_ttl: time::Duration,
}

impl Default for Settings {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get() as u32);
        Settings {
            session_lifespan: time::Duration::hours(24),
            earliest_possible_extend: time::Duration::hours(24),
            whoami_required_aal: RequiredAal::HighestAvailable,
            password_hash_concurrency: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
            max_ids_per_filter: 500,
            failed_checks_per_identity: 10,
            failed_checks_per_ip: 100,
            failed_checks_window: time::Duration::minutes(5),
            max_password_attempts: 0,
            max_clock_skew: time::Duration::minutes(1),
            sessions_per_identity: 100,
            sessions_per_ip: 1000,
            sessions_window: time::Duration::minutes(1),
            // Half the cores per caller, all of them in total; the server's configuration
            // refines the total by the store's connections (`Config::list_concurrency`).
            list_concurrency_per_principal: (cores / 2).max(1),
            list_concurrency: cores,
            list_queue_timeout: time::Duration::seconds(1),
            token_cache_capacity: 100_000,
            token_cache_ttl: time::Duration::seconds(5),
        }
    }
}

impl Settings {
    pub fn required_aal_for(&self, highest_available: Aal) -> Aal {
        match self.whoami_required_aal {
            RequiredAal::HighestAvailable => highest_available,
            RequiredAal::Aal1 => Aal::Aal1,
        }
    }
}
