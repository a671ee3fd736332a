//! Deleting: cascades over ownerReferences and namespaces, pods that
//! terminate before they go, and waiting until what was named is gone.

use super::*;

impl Cluster<'_> {
    /// Delete objects (and, unless orphaned, what they own, transitively;
    /// a namespace with everything in it), in one transaction; for each,
    /// whether it was there (one deleted by an earlier one's cascade in the
    /// same call counts as there).
    pub fn delete(
        &self,
        targets: &[(Kind, String, String)],
        opts: &DeleteOptions,
    ) -> Result<Vec<bool>> {
        self.in_batch(|batch| {
            let mut found = Vec::new();
            for (kind, ns, name) in targets {
                if batch.now.get(&key(*kind, ns, name)) == Some(&None) {
                    found.push(true);
                    continue;
                }
                match self.delete_in(batch, *kind, ns, name, opts) {
                    Ok(()) => found.push(true),
                    Err(Error::NotFound { .. }) => found.push(false),
                    Err(e) => return Err(e),
                }
            }
            Ok(found)
        })
    }

    pub(crate) fn delete_in(
        &self,
        batch: &mut Batch,
        kind: Kind,
        namespace: &str,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<()> {
        let k = key(kind, namespace, name);
        let Some((uid, mut body)) = self.read(batch, &k)? else {
            return Err(Error::NotFound {
                context: String::new(),
                resource: kind.plural_resource(),
                name: name.into(),
            });
        };
        // A pod the kubelet runs is terminated first (its containers get
        // their grace period), and removed by the kubelet.
        let bound = body.pointer("/spec/nodeName").is_some_and(Value::is_string);
        if kind == Kind::Pod && bound {
            let grace = opts
                .grace_period
                .filter(|g| *g >= 0)
                .or_else(|| {
                    body.pointer("/spec/terminationGracePeriodSeconds")
                        .and_then(Value::as_i64)
                })
                .unwrap_or(30);
            let meta = body
                .get_mut("metadata")
                .and_then(Value::as_object_mut)
                .expect("a stored object has metadata");
            let shorter = meta
                .get("deletionGracePeriodSeconds")
                .and_then(Value::as_i64)
                .is_none_or(|g| grace < g);
            if shorter {
                let at = now_timestamp().as_second() + grace;
                let at = k8s_openapi::jiff::Timestamp::from_second(at).unwrap_or_default();
                meta.insert(
                    "deletionTimestamp".into(),
                    serde_json::to_value(Time(at)).expect("a time"),
                );
                meta.insert("deletionGracePeriodSeconds".into(), grace.into());
                batch.put(k, uid, strip_revision(body));
            }
            return Ok(());
        }
        if kind == Kind::Namespace {
            // Its content goes; while pods are still stopping it stays,
            // Terminating, and the namespace controller removes it once
            // it is empty.
            let background = DeleteOptions {
                cascade: Cascade::Background,
                ..*opts
            };
            let mut left = false;
            for other in Kind::ALL.into_iter().filter(|k| k.namespaced()) {
                for s in self.engine.objects_list(&other.store_kind(), Some(name))? {
                    if batch.now.get(&s.key) == Some(&None) {
                        continue;
                    }
                    self.delete_in(batch, other, name, &s.key.name, &background)?;
                    left |= batch.now.get(&s.key).is_some_and(Option::is_some);
                }
            }
            if left {
                if body.pointer("/metadata/deletionTimestamp").is_none() {
                    body["metadata"]["deletionTimestamp"] =
                        serde_json::to_value(now()).expect("a time");
                    body["status"] = serde_json::json!({"phase": "Terminating"});
                    batch.put(k, uid, strip_revision(body));
                }
            } else {
                batch.delete(k);
            }
            return Ok(());
        }
        batch.delete(k);
        allocate::release(self, batch, kind, &body)?;
        // Dependents: objects in the same namespace that name it as owner.
        let mut seen = BTreeSet::new();
        for other in Kind::ALL
            .into_iter()
            .filter(|k| k.namespaced() && kind.namespaced())
        {
            for s in self
                .engine
                .objects_list(&other.store_kind(), Some(namespace))?
            {
                if batch.now.get(&s.key) == Some(&None) || !seen.insert(s.key.clone()) {
                    continue;
                }
                let owned = s
                    .body
                    .pointer("/metadata/ownerReferences")
                    .and_then(Value::as_array)
                    .is_some_and(|refs| {
                        refs.iter()
                            .any(|r| r.get("uid").and_then(Value::as_str) == Some(&uid))
                    });
                if !owned {
                    continue;
                }
                match opts.cascade {
                    Cascade::Background => {
                        self.delete_in(batch, other, namespace, &s.key.name, opts)?
                    }
                    Cascade::Orphan => {
                        let (dep_uid, mut body) =
                            self.read(batch, &s.key)?.expect("listed just now");
                        if let Some(refs) = body
                            .pointer_mut("/metadata/ownerReferences")
                            .and_then(Value::as_array_mut)
                        {
                            refs.retain(|r| r.get("uid").and_then(Value::as_str) != Some(&uid));
                        }
                        batch.put(s.key.clone(), dep_uid, strip_revision(body));
                    }
                }
            }
        }
        Ok(())
    }
}

impl Cluster<'_> {
    /// Wait until none of `targets` is terminating any more (a pod's
    /// containers stopped and its object removed), as `kubectl delete`
    /// waits by default.
    pub fn wait_deleted(
        &self,
        targets: &[(Kind, String, String)],
        cancel: &skiff_engine::notify::Cancel,
    ) -> Result<()> {
        loop {
            let seen = self.engine.objects_revision()?;
            let mut terminating = false;
            for (kind, ns, name) in targets {
                if let Some(o) = self.get(*kind, ns, name)? {
                    terminating |= o.meta().deletion_timestamp.is_some();
                }
            }
            if !terminating || cancel.is_cancelled() {
                return Ok(());
            }
            self.engine.objects_wait(seen, None, cancel)?;
        }
    }
}

impl Cluster<'_> {
    /// The namespace controller's pass: a Terminating namespace goes once
    /// nothing is left in it.
    pub fn finish_namespaces(&self) -> Result<()> {
        for o in self.list(Kind::Namespace, None)? {
            if o.meta().deletion_timestamp.is_none() {
                continue;
            }
            let ns = o.name().to_string();
            let mut empty = true;
            for k in Kind::ALL
                .into_iter()
                .filter(|k| k.namespaced() && *k != Kind::Event)
            {
                if !self
                    .engine
                    .objects_list(&k.store_kind(), Some(&ns))?
                    .is_empty()
                {
                    empty = false;
                    break;
                }
            }
            if empty {
                self.in_batch(|batch| {
                    for e in self
                        .engine
                        .objects_list(&Kind::Event.store_kind(), Some(&ns))?
                    {
                        batch.delete(e.key);
                    }
                    let k = key(Kind::Namespace, "", &ns);
                    if self.read(batch, &k)?.is_some() {
                        batch.delete(k);
                    }
                    Ok(())
                })?;
            }
        }
        Ok(())
    }
}
