//! Registry indexes held in memory while their jobs collect, so that a department's chunk
//! is joined the moment it arrives and only what the join found in it is written (see
//! `http::put_chunk`). Without an index a chunk's tokens are stored and joined at the end:
//! the index is an accelerator, never needed for a correct result, so it can be dropped at
//! any time — on restart, when the budget is short, when the job completes.
//!
//! Memory is bounded by a budget in registry row-groups (a registry row carries one token
//! group per department): an index that does not fit is not built, and the least recently
//! used ready ones give way to a new one. The join at the end waits for an index being
//! built ([`RegistryIndexes::built`]) rather than build a second one beside it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::watch;

use crate::matching::RegistryIndex;

/// Row-groups held in all: a 5-million-row registry against seven departments is 35 million.
pub const DEFAULT_BUDGET_ROW_GROUPS: u64 = 64_000_000;

enum Entry {
    /// Those waiting for it subscribe to `built`; it is dropped, and they hear nothing, if
    /// the build fails.
    Building {
        cost: u64,
        built: watch::Sender<Option<Arc<RegistryIndex>>>,
    },
    Ready {
        index: Arc<RegistryIndex>,
        cost: u64,
        used: Instant,
    },
}

impl Entry {
    fn cost(&self) -> u64 {
        match self {
            Entry::Building { cost, .. } | Entry::Ready { cost, .. } => *cost,
        }
    }
}

pub struct RegistryIndexes {
    entries: Mutex<HashMap<String, Entry>>,
    budget: u64,
}

impl Default for RegistryIndexes {
    fn default() -> RegistryIndexes {
        RegistryIndexes::with_budget(DEFAULT_BUDGET_ROW_GROUPS)
    }
}

impl RegistryIndexes {
    pub fn with_budget(budget_row_groups: u64) -> RegistryIndexes {
        RegistryIndexes { entries: Mutex::new(HashMap::new()), budget: budget_row_groups }
    }

    /// The job's index, if it is built.
    pub fn ready(&self, job: &str) -> Option<Arc<RegistryIndex>> {
        let mut entries = self.entries.lock().expect("index entries");
        match entries.get_mut(job) {
            Some(Entry::Ready { index, used, .. }) => {
                *used = Instant::now();
                Some(Arc::clone(index))
            }
            _ => None,
        }
    }

    /// The job's index once it is built: at once if it is ready, after the build if one is
    /// under way, `None` if there is none or its build failed (the caller builds its own).
    pub async fn built(&self, job: &str) -> Option<Arc<RegistryIndex>> {
        let mut building = match self.entries.lock().expect("index entries").get_mut(job) {
            Some(Entry::Ready { index, used, .. }) => {
                *used = Instant::now();
                return Some(Arc::clone(index));
            }
            Some(Entry::Building { built, .. }) => built.subscribe(),
            None => return None,
        };
        // An error: the sender was dropped, the build given up.
        building.wait_for(Option::is_some).await.ok().and_then(|index| index.clone())
    }

    /// Claims the building of a job's index of `cost` row-groups: false when it is held or
    /// being built already, or cannot fit even after the least recently used ready indexes
    /// give way. The caller then builds it and hands it to [`RegistryIndexes::fill`], or
    /// gives up with [`RegistryIndexes::forget`].
    pub fn claim(&self, job: &str, cost: u64) -> bool {
        let mut entries = self.entries.lock().expect("index entries");
        if entries.contains_key(job) || cost > self.budget {
            return false;
        }
        loop {
            if held(&entries) + cost <= self.budget {
                break;
            }
            let oldest = entries
                .iter()
                .filter_map(|(job, entry)| match entry {
                    Entry::Ready { used, .. } => Some((*used, job.clone())),
                    Entry::Building { .. } => None,
                })
                .min();
            match oldest {
                Some((_, job)) => {
                    entries.remove(&job);
                }
                // Only indexes being built hold the budget: wait for them rather than wait here.
                None => return false,
            }
        }
        entries.insert(job.to_owned(), Entry::Building { cost, built: watch::Sender::new(None) });
        true
    }

    /// Hands over the index a [`RegistryIndexes::claim`] was for.
    pub fn fill(&self, job: &str, index: RegistryIndex) {
        let mut entries = self.entries.lock().expect("index entries");
        if let Some(entry) = entries.get_mut(job) {
            let index = Arc::new(index);
            if let Entry::Building { built, .. } = entry {
                built.send_replace(Some(Arc::clone(&index)));
            }
            let cost = entry.cost();
            *entry = Entry::Ready { index, cost, used: Instant::now() };
        }
    }

    /// Drops the job's index (or its claim): the job completed, or its index failed to build.
    pub fn forget(&self, job: &str) {
        self.entries.lock().expect("index entries").remove(job);
    }

    /// Row-groups held or claimed.
    pub fn held(&self) -> u64 {
        held(&self.entries.lock().expect("index entries"))
    }
}

fn held(entries: &HashMap<String, Entry>) -> u64 {
    entries.values().map(Entry::cost).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_is_claimed_once_and_the_least_recently_used_gives_way_to_a_new_one() {
        let indexes = RegistryIndexes::with_budget(10);
        assert!(indexes.claim("a", 4));
        assert!(!indexes.claim("a", 4), "a second claim of a job being built");
        assert!(indexes.ready("a").is_none(), "not ready before it is filled");
        indexes.fill("a", RegistryIndex::new(1));
        assert!(indexes.claim("b", 4));
        indexes.fill("b", RegistryIndex::new(1));
        assert!(indexes.ready("a").is_some(), "a is now the most recently used");
        assert!(!indexes.claim("huge", 11), "more than the whole budget");
        assert!(indexes.claim("c", 4), "b gives way");
        assert!(indexes.ready("b").is_none() && indexes.ready("a").is_some());
        assert_eq!(indexes.held(), 8);
        assert!(indexes.claim("d", 4), "a gives way");
        assert!(indexes.ready("a").is_none());
        assert!(!indexes.claim("e", 4), "c and d are being built and nothing ready is left to give way");
    }

    #[test]
    fn a_claim_being_built_never_gives_way() {
        let indexes = RegistryIndexes::with_budget(10);
        assert!(indexes.claim("a", 6));
        assert!(!indexes.claim("b", 6), "a is being built: b waits for another chance");
        indexes.forget("a");
        assert!(indexes.claim("b", 6));
        indexes.fill("a", RegistryIndex::new(1));
        assert!(indexes.ready("a").is_none(), "a fill without a claim keeps nothing");
    }

    /// The join at the end used to build a second index beside the one the registry's seal
    /// had started: the same time again, and twice the memory.
    #[tokio::test]
    async fn a_join_while_the_index_is_being_built_waits_for_it_instead_of_building_another() {
        let indexes = Arc::new(RegistryIndexes::with_budget(10));
        assert!(indexes.built("a").await.is_none(), "no index and no build: the caller builds its own");
        assert!(indexes.claim("a", 4));
        let waiting = tokio::spawn({
            let indexes = Arc::clone(&indexes);
            async move { indexes.built("a").await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "waits while the index is built");
        indexes.fill("a", RegistryIndex::new(7));
        let index = waiting.await.unwrap().expect("the index the build filled");
        assert!(Arc::ptr_eq(&index, &indexes.ready("a").unwrap()), "the same index, not another");
        assert_eq!(indexes.held(), 4);

        // A build that fails gives its waiters nothing: they build their own.
        assert!(indexes.claim("b", 4));
        let waiting = tokio::spawn({
            let indexes = Arc::clone(&indexes);
            async move { indexes.built("b").await }
        });
        tokio::task::yield_now().await;
        indexes.forget("b");
        assert!(waiting.await.unwrap().is_none());
    }
}
