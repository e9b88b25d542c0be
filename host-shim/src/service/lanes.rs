//! One engine slot per subject at a time: a subject's calls wait in their own
//! lane before they wait for a slot, so one account (a set imported with
//! costly parameters, a burst of guesses) holds at most one of the
//! `max_concurrent` slots and cannot starve the others.
//!
//! A lane exists only while a call of its subject holds or waits for it: the
//! table never grows with the number of subjects seen, only with the calls in
//! flight. Lanes are per process; across instances each process's slots are
//! its own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{Mutex as Lane, OwnedMutexGuard};

/// A subject: its tenant and its id.
type SubjectKey = (String, String);

/// The lanes of the subjects with calls in flight.
#[derive(Debug, Default)]
pub(super) struct SubjectLanes {
    lanes: Mutex<HashMap<SubjectKey, Arc<Lane<()>>>>,
}

/// A subject's turn: the lane is released (and forgotten when nobody else
/// waits for it) on drop. It is moved into the engine call it admits, so a
/// caller that goes away does not free the lane before the call ends.
pub(super) struct Turn {
    key: SubjectKey,
    owner: Arc<SubjectLanes>,
    guard: Option<OwnedMutexGuard<()>>,
}

impl SubjectLanes {
    /// Wait for `subject`'s turn (the caller bounds the wait).
    pub(super) async fn turn(self: &Arc<Self>, tenant: &str, subject: &str) -> Turn {
        let key = (tenant.to_owned(), subject.to_owned());
        let lane = {
            let mut lanes = self.lanes.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(lanes.entry(key.clone()).or_default())
        };
        // The entry cannot be forgotten while `lane` is held here: `release`
        // removes it only when the table's reference is the last one.
        let guard = lane.lock_owned().await;
        Turn {
            key,
            owner: Arc::clone(self),
            guard: Some(guard),
        }
    }

    /// Lanes in the table (calls in flight or waiting, by subject).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lanes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    fn release(&self, key: &SubjectKey, guard: OwnedMutexGuard<()>) {
        let mut lanes = self.lanes.lock().unwrap_or_else(PoisonError::into_inner);
        drop(guard);
        // The table's reference plus none other: nobody holds or waits.
        if lanes
            .get(key)
            .is_some_and(|lane| Arc::strong_count(lane) == 1)
        {
            lanes.remove(key);
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        if let Some(guard) = self.guard.take() {
            self.owner.release(&self.key, guard);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_subject_waits_for_its_own_turn_only() {
        let lanes = Arc::new(SubjectLanes::default());
        let alice = lanes.turn("t", "alice").await;
        // Another subject is not held up.
        let bob = tokio::time::timeout(Duration::from_millis(50), lanes.turn("t", "bob")).await;
        assert!(bob.is_ok());
        // The same subject waits while the first turn lasts.
        let again = tokio::time::timeout(Duration::from_millis(50), lanes.turn("t", "alice")).await;
        assert!(again.is_err());
        drop(alice);
        let again = tokio::time::timeout(Duration::from_millis(50), lanes.turn("t", "alice")).await;
        assert!(again.is_ok());
    }

    #[tokio::test]
    async fn lanes_are_forgotten_when_nobody_holds_or_waits() {
        let lanes = Arc::new(SubjectLanes::default());
        for i in 0..1000 {
            let turn = lanes.turn("t", &format!("subject-{i}")).await;
            drop(turn);
        }
        assert_eq!(lanes.len(), 0);
        let held = lanes.turn("t", "a").await;
        assert_eq!(lanes.len(), 1);
        drop(held);
        assert_eq!(lanes.len(), 0);
    }

    #[tokio::test]
    async fn a_waiter_that_gives_up_leaves_nothing_behind() {
        let lanes = Arc::new(SubjectLanes::default());
        let held = lanes.turn("t", "a").await;
        let gave_up = tokio::time::timeout(Duration::from_millis(20), lanes.turn("t", "a")).await;
        assert!(gave_up.is_err());
        drop(held);
        assert_eq!(lanes.len(), 0);
    }
}
