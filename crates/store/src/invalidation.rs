//! Messages that tell every node's token cache what changed.

use std::fmt;

use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalidation {
    Session(Uuid),
    /// Everything cached for this identity (deactivated, deleted, changed credentials).
    Identity(Uuid),
    All,
}

/// What a node hears from the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidationEvent {
    Invalidate(Invalidation),
    /// The listener lost its connection and is back: anything may have been missed.
    Reconnected,
}

impl fmt::Display for Invalidation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Invalidation::Session(id) => write!(f, "s:{id}"),
            Invalidation::Identity(id) => write!(f, "i:{id}"),
            Invalidation::All => f.write_str("*"),
        }
    }
}

impl Invalidation {
    /// Parses the wire form; anything unreadable means "flush everything", the safe answer.
    pub fn parse(text: &str) -> Invalidation {
        let parsed = match text.split_once(':') {
            Some(("s", id)) => Uuid::parse_str(id).ok().map(Invalidation::Session),
            Some(("i", id)) => Uuid::parse_str(id).ok().map(Invalidation::Identity),
            _ => None,
        };
        parsed.unwrap_or(Invalidation::All)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_garbage_flushes_all() {
        let id = Uuid::now_v7();
        for inv in [Invalidation::Session(id), Invalidation::Identity(id), Invalidation::All] {
            assert_eq!(Invalidation::parse(&inv.to_string()), inv);
        }
        assert_eq!(Invalidation::parse("s:nope"), Invalidation::All);
    }
}
