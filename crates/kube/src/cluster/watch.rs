//! Watching objects of a kind, as the API server's watch streams them
//! (`kube get -w`, and a Kubernetes API front end's `?watch=true`): each
//! change after a starting point is an event ADDED, MODIFIED or DELETED
//! with the object (a deleted one as it was last seen). The store's
//! revision tells that something changed; a fresh list, compared with the
//! last by resourceVersion, tells what.

use super::Cluster;
use crate::error::Result;
use crate::kinds::Kind;
use crate::object::Object;
use crate::selector::Selector;
use skiff_engine::notify::Cancel;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    /// As the API's watch events name it.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// What a watch looks at: a kind, in one namespace or all, by name or by
/// labels.
pub struct Watch<'a> {
    pub kind: Kind,
    pub namespace: Option<&'a str>,
    /// Only these names (empty: all).
    pub names: &'a [String],
    pub selector: Option<&'a Selector>,
}

type Seen = BTreeMap<(String, String), Object>;

impl Watch<'_> {
    fn wanted(&self, o: &Object) -> bool {
        let labels = o.meta().labels.clone().unwrap_or_default();
        (self.names.is_empty() || self.names.iter().any(|n| n == o.name()))
            && self.selector.is_none_or(|s| s.matches(&labels))
    }

    fn snapshot(&self, c: &Cluster<'_>) -> Result<Seen> {
        Ok(c.list(self.kind, self.namespace)?
            .into_iter()
            .filter(|o| self.wanted(o))
            .map(|o| ((o.namespace().to_string(), o.name().to_string()), o))
            .collect())
    }
}

fn version(o: &Object) -> Option<&str> {
    o.meta().resource_version.as_deref()
}

impl Cluster<'_> {
    /// The objects `w` selects now, and the revision they were read at:
    /// where a [`Cluster::watch`] starts.
    pub fn watch_start(&self, w: &Watch<'_>) -> Result<(Vec<Object>, i64)> {
        let rev = self.engine.objects_revision()?;
        Ok((w.snapshot(self)?.into_values().collect(), rev))
    }

    /// Call `on` with each change to what `w` selects after `from` (the
    /// objects and revision [`Cluster::watch_start`] gave), in the order
    /// seen, until `cancel` or until `on` says stop (returns false).
    pub fn watch(
        &self,
        w: &Watch<'_>,
        from: (Vec<Object>, i64),
        cancel: &Cancel,
        mut on: impl FnMut(EventType, &Object) -> bool,
    ) -> Result<()> {
        let (objects, mut rev) = from;
        let mut seen: Seen = objects
            .into_iter()
            .map(|o| ((o.namespace().to_string(), o.name().to_string()), o))
            .collect();
        loop {
            if cancel.is_cancelled() {
                return Ok(());
            }
            let next = self.engine.objects_wait(rev, None, cancel)?;
            if next == rev {
                continue;
            }
            rev = next;
            let now = w.snapshot(self)?;
            for (key, o) in &now {
                let ty = match seen.get(key) {
                    None => EventType::Added,
                    Some(old) if version(old) != version(o) => EventType::Modified,
                    Some(_) => continue,
                };
                if !on(ty, o) {
                    return Ok(());
                }
            }
            for (key, o) in &seen {
                if !now.contains_key(key) && !on(EventType::Deleted, o) {
                    return Ok(());
                }
            }
            seen = now;
        }
    }
}
