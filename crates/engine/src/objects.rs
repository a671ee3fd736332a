//! The documents a layer above the engine keeps in its store (the
//! Kubernetes objects): read, listed, written in atomic batches, and waited
//! on. See `store::objects` for what the store keeps of each.

use crate::notify::Cancel;
use crate::store::{ObjectKey, ObjectWrite, StoredObject};
use crate::{Engine, Result};
use std::time::Instant;

impl Engine {
    /// Apply `writes` in one transaction; each one's new revision. An unmet
    /// precondition fails the whole batch: `ObjectExists`/`ObjectChanged`
    /// (a conflict) or `NoSuchObject` (not found).
    pub fn objects_write(&self, writes: &[ObjectWrite]) -> Result<Vec<i64>> {
        Ok(self.store.objects_write(writes)?)
    }

    pub fn object_get(&self, key: &ObjectKey) -> Result<Option<StoredObject>> {
        Ok(self.store.object_get(key)?)
    }

    /// The documents of `kind`, in `namespace` or in all.
    pub fn objects_list(&self, kind: &str, namespace: Option<&str>) -> Result<Vec<StoredObject>> {
        Ok(self.store.objects_list(kind, namespace)?)
    }

    /// The revision of the last object write.
    pub fn objects_revision(&self) -> Result<i64> {
        Ok(self.store.objects_revision()?)
    }

    /// Wait until the object revision passes `after`, or anything else the
    /// engine's notifier sees changes (an exit, a health status), or
    /// `deadline`; the revision then. A controller calls it between passes
    /// instead of polling.
    pub fn objects_wait(
        &self,
        after: i64,
        deadline: Option<Instant>,
        cancel: &Cancel,
    ) -> Result<i64> {
        let generation = self.notifier()?.generation();
        self.objects_wait_since(after, generation, deadline, cancel)
    }

    /// [`Engine::objects_wait`] for changes since the notifier's
    /// `generation` (read before the caller looked at anything: a change
    /// while it looked, an exit say, then wakes it at once instead of being
    /// missed).
    pub fn objects_wait_since(
        &self,
        after: i64,
        generation: u64,
        deadline: Option<Instant>,
        cancel: &Cancel,
    ) -> Result<i64> {
        let n = self.notifier()?;
        let now = self.objects_revision()?;
        if now != after {
            return Ok(now);
        }
        n.wait(generation, deadline, cancel);
        self.objects_revision()
    }
}
