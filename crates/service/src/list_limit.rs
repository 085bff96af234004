//! Bounds on list and search work, per principal and in total, on each node.
//!
//! A list or search is the one request a single caller can make expensive (a thousand rows,
//! a count, their JSON), and whoami shares the same cores and store connections with it. So
//! each principal gets `per_principal` slots, and all principals together `total`; a request
//! that finds no free slot waits, first for one of its principal's, then for one of the
//! total's (FIFO, so principals take turns), until its caller gives up, and is then refused
//! with a retry hint.
//!
//! Why wait at all instead of refusing at once: a client that pages with a few parallel
//! requests, or a backend that fronts many users with one API key, should see a slightly
//! slower answer, not a 429. Waiting costs no CPU and no store connection (only a parked task
//! on a connection the client already holds), so it does not weaken the bound; the wait is
//! capped so that a flood still turns into prompt 429s. Per principal first: a principal
//! never has more than `per_principal` requests in the shared FIFO, so a flood from one
//! caller cannot push everybody else's requests back.
//!
//! The limiter knows no clock: the caller passes the future that says "stop waiting".

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

/// Whose work a slot counts against. An identity with many session tokens is one principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitKey {
    ApiKey(Uuid),
    Identity(Uuid),
}

/// Which bound refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The principal already has `per_principal` lists or searches running.
    Principal,
    /// The node is already running `total` lists or searches.
    Total,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListLimits {
    /// Lists/searches one principal may have running at once; 0: unbounded.
    pub per_principal: u32,
    /// Lists/searches running at once across all principals; 0: unbounded.
    pub total: u32,
}

struct Inner {
    per_principal: u32,
    principals: Mutex<HashMap<LimitKey, Arc<Semaphore>>>,
}

impl Inner {
    fn principal_slots(&self, key: LimitKey) -> Arc<Semaphore> {
        let mut principals = self.principals.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        principals
            .entry(key)
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_principal as usize)))
            .clone()
    }

    /// Forgets a principal once nobody holds or waits for its slots, so the map holds only
    /// principals with work in progress. Callers drop their own handle first; handles are only
    /// cloned under the lock, so a count of one (the map's) cannot grow behind our back.
    fn forget_if_idle(&self, key: LimitKey) {
        let mut principals = self.principals.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if principals.get(&key).is_some_and(|slots| Arc::strong_count(slots) == 1) {
            principals.remove(&key);
        }
    }
}

/// The per-node limiter; see the module documentation.
pub struct ListLimiter {
    inner: Arc<Inner>,
    /// `None` when unbounded.
    total: Option<Arc<Semaphore>>,
}

/// A running list or search. Dropping it frees its slots; hold it until the answer is
/// rendered, since rendering a thousand rows is part of the work.
pub struct ListPermit {
    principal: Option<(OwnedSemaphorePermit, LimitKey, Arc<Inner>)>,
    _total: Option<OwnedSemaphorePermit>,
}

impl Drop for ListPermit {
    fn drop(&mut self) {
        if let Some((permit, key, inner)) = self.principal.take() {
            drop(permit);
            inner.forget_if_idle(key);
        }
    }
}

/// A list or search result that holds its caller's slot until dropped. Keep it until the
/// answer is rendered: turning a thousand rows into JSON is part of the work being bounded.
pub struct Limited<T> {
    value: T,
    _permit: ListPermit,
}

impl<T> Limited<T> {
    pub(crate) fn new(value: T, permit: ListPermit) -> Self {
        Limited { value, _permit: permit }
    }
}

impl<T> std::ops::Deref for Limited<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl ListLimiter {
    pub fn new(limits: ListLimits) -> Self {
        ListLimiter {
            inner: Arc::new(Inner {
                per_principal: limits.per_principal,
                principals: Mutex::new(HashMap::new()),
            }),
            total: (limits.total > 0).then(|| Arc::new(Semaphore::new(limits.total as usize))),
        }
    }

    /// Takes a slot for `key`, waiting until `give_up` completes at the latest. A free slot
    /// is always taken, even when `give_up` is already complete.
    pub async fn acquire(&self, key: LimitKey, give_up: impl Future<Output = ()>) -> Result<ListPermit, Refusal> {
        let mut give_up = std::pin::pin!(give_up);
        let principal = if self.inner.per_principal == 0 {
            None
        } else {
            let slots = self.inner.principal_slots(key);
            let acquired = wait_for(slots.clone(), give_up.as_mut()).await;
            drop(slots);
            match acquired {
                Some(permit) => Some((permit, key, self.inner.clone())),
                None => {
                    self.inner.forget_if_idle(key);
                    return Err(Refusal::Principal);
                }
            }
        };
        // From here on, dropping `permit` (also on refusal) frees the principal's slot.
        let mut permit = ListPermit {
            principal,
            _total: None,
        };
        if let Some(total) = &self.total {
            match wait_for(total.clone(), give_up.as_mut()).await {
                Some(slot) => permit._total = Some(slot),
                None => return Err(Refusal::Total),
            }
        }
        Ok(permit)
    }

    /// Principals with a list or search running or waiting.
    #[cfg(test)]
    fn busy_principals(&self) -> usize {
        self.inner
            .principals
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len()
    }
}

/// A permit of `slots`, or `None` once `give_up` completes first.
async fn wait_for(
    slots: Arc<Semaphore>,
    give_up: std::pin::Pin<&mut impl Future<Output = ()>>,
) -> Option<OwnedSemaphorePermit> {
    tokio::select! {
        // A free slot wins over an elapsed wait, so a zero wait still admits while slots last.
        biased;
        permit = slots.acquire_owned() => permit.ok(),
        () = give_up => None,
    }
}

#[cfg(test)]
mod tests {
    use std::future::{pending, ready};

    use tokio::sync::oneshot;

    use super::*;

    const ALICE: LimitKey = LimitKey::Identity(Uuid::from_u128(1));
    const BOB: LimitKey = LimitKey::ApiKey(Uuid::from_u128(2));
    const CAROL: LimitKey = LimitKey::Identity(Uuid::from_u128(3));

    fn limiter(per_principal: u32, total: u32) -> ListLimiter {
        ListLimiter::new(ListLimits { per_principal, total })
    }

    #[tokio::test]
    async fn a_principal_beyond_its_slots_is_refused_while_others_are_not() {
        let limiter = limiter(2, 10);
        let first = limiter.acquire(ALICE, ready(())).await.expect("first slot");
        let _second = limiter.acquire(ALICE, ready(())).await.expect("second slot");
        assert_eq!(limiter.acquire(ALICE, ready(())).await.err(), Some(Refusal::Principal));
        assert!(limiter.acquire(BOB, ready(())).await.is_ok(), "another principal");
        drop(first);
        assert!(limiter.acquire(ALICE, ready(())).await.is_ok(), "a slot was freed");
    }

    #[tokio::test]
    async fn the_total_bounds_all_principals_together() {
        let limiter = limiter(2, 2);
        let _alice = limiter.acquire(ALICE, ready(())).await.expect("slot");
        let bob = limiter.acquire(BOB, ready(())).await.expect("slot");
        assert_eq!(limiter.acquire(CAROL, ready(())).await.err(), Some(Refusal::Total));
        drop(bob);
        assert!(limiter.acquire(CAROL, ready(())).await.is_ok());
    }

    #[tokio::test]
    async fn a_refusal_by_the_total_frees_the_principal_slot_it_held() {
        let limiter = limiter(1, 1);
        let _alice = limiter.acquire(ALICE, ready(())).await.expect("slot");
        assert_eq!(limiter.acquire(BOB, ready(())).await.err(), Some(Refusal::Total));
        assert_eq!(limiter.busy_principals(), 1, "only Alice is left");
    }

    #[tokio::test]
    async fn a_waiter_gets_the_slot_when_one_frees() {
        let limiter = Arc::new(limiter(1, 0));
        let held = limiter.acquire(ALICE, ready(())).await.expect("slot");
        let waiter = tokio::spawn({
            let limiter = limiter.clone();
            async move { limiter.acquire(ALICE, pending()).await.is_ok() }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "waits while the slot is held");
        drop(held);
        assert!(waiter.await.expect("task"), "admitted once the slot is free");
    }

    #[tokio::test]
    async fn a_waiter_is_refused_when_its_caller_gives_up() {
        let limiter = Arc::new(limiter(1, 0));
        let held = limiter.acquire(ALICE, ready(())).await.expect("slot");
        let (stop, stopped) = oneshot::channel::<()>();
        let waiter = tokio::spawn({
            let limiter = limiter.clone();
            async move {
                limiter
                    .acquire(ALICE, async move {
                        let _ = stopped.await;
                    })
                    .await
                    .err()
            }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        let _ = stop.send(());
        assert_eq!(waiter.await.expect("task"), Some(Refusal::Principal));
        drop(held);
        assert_eq!(limiter.busy_principals(), 0, "nothing left behind by the waiter");
    }

    #[tokio::test]
    async fn waiting_for_the_total_is_first_come_first_served() {
        let limiter = Arc::new(limiter(1, 1));
        let held = limiter.acquire(ALICE, ready(())).await.expect("slot");
        let (order_tx, mut order) = tokio::sync::mpsc::unbounded_channel();
        let mut waiters = Vec::new();
        for key in [BOB, CAROL] {
            let (limiter, order_tx) = (limiter.clone(), order_tx.clone());
            waiters.push(tokio::spawn(async move {
                let permit = limiter.acquire(key, pending()).await.expect("admitted");
                let _ = order_tx.send(key);
                drop(permit);
            }));
            // Let each waiter queue before the next one arrives.
            tokio::task::yield_now().await;
        }
        drop(held);
        for waiter in waiters {
            waiter.await.expect("task");
        }
        assert_eq!(order.recv().await, Some(BOB));
        assert_eq!(order.recv().await, Some(CAROL));
    }

    #[tokio::test]
    async fn idle_principals_are_forgotten() {
        let limiter = limiter(1, 0);
        let alice = limiter.acquire(ALICE, ready(())).await.expect("slot");
        assert!(limiter.acquire(ALICE, ready(())).await.is_err());
        assert_eq!(limiter.busy_principals(), 1);
        drop(alice);
        assert_eq!(limiter.busy_principals(), 0);
    }

    #[tokio::test]
    async fn zero_means_unbounded() {
        let limiter = limiter(0, 0);
        let permits = take_many(&limiter, 100).await;
        assert_eq!(permits.len(), 100);
        assert_eq!(limiter.busy_principals(), 0, "nothing is tracked when unbounded");
    }

    async fn take_many(limiter: &ListLimiter, n: usize) -> Vec<ListPermit> {
        let mut permits = Vec::new();
        for _ in 0..n {
            permits.push(limiter.acquire(ALICE, ready(())).await.expect("unbounded"));
        }
        permits
    }
}
