//! A slot on a session view that the API layer fills with what it derives from that exact view.

use std::any::Any;
use std::fmt;
use std::sync::{Arc, OnceLock};

/// Filled at most once, by the API layer, with whatever it derives from this exact view (the
/// serialised whoami answer): cached views are shared between requests, so a token-cache hit
/// can skip that work. The service never reads it and does not know what it holds; a change to
/// the session or identity makes a new view with an empty slot.
#[derive(Clone, Default)]
pub struct ViewMemo(OnceLock<Arc<dyn Any + Send + Sync>>);

impl ViewMemo {
    /// What was stored, if it is a `T`.
    pub fn get<T: Any + Send + Sync>(&self) -> Option<&T> {
        self.0.get().and_then(|value| value.downcast_ref::<T>())
    }

    /// Stores `value` unless something is there already (two requests may race; both computed
    /// the same thing from the same view).
    pub fn set<T: Any + Send + Sync>(&self, value: T) {
        let _ = self.0.set(Arc::new(value));
    }
}

impl fmt::Debug for ViewMemo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "ViewMemo(filled)"
        } else {
            "ViewMemo(empty)"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_holds_one_value_of_the_type_asked_for() {
        let memo = ViewMemo::default();
        assert_eq!(memo.get::<u32>(), None);
        memo.set(7u32);
        memo.set(8u32);
        assert_eq!(memo.get::<u32>(), Some(&7));
        assert_eq!(memo.get::<String>(), None);
    }
}
