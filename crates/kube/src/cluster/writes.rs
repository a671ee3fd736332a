//! A controller's writes: an update of what was read (lost to another
//! writer, dropped), the kubelet's pod status, and `modify` for a command's
//! changes of one object.

use super::*;

impl Cluster<'_> {
    /// The kubelet's write: the pod bound to this node, with `status`.
    /// Nothing is written when neither changed; a pod changed meanwhile is
    /// left to the next pass.
    pub fn write_pod_status(
        &self,
        pod: &k8s_openapi::api::core::v1::Pod,
        status: k8s_openapi::api::core::v1::PodStatus,
    ) -> Result<()> {
        let node = crate::kubelet::node_name();
        let bound = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node.as_str());
        if bound && pod.status.as_ref() == Some(&status) {
            return Ok(());
        }
        let mut p = pod.clone();
        if let Some(spec) = p.spec.as_mut() {
            spec.node_name = Some(node);
        }
        p.status = Some(status);
        self.replace(Object::Pod(Box::new(p)))
    }

    /// Write `o` over the stored object it was read as (its
    /// resourceVersion): a controller's update. Lost to another writer, it
    /// is dropped (the next pass sees the new object).
    pub fn replace(&self, o: Object) -> Result<()> {
        let kind = o.kind();
        let meta = o.meta();
        let w = ObjectWrite::Put {
            key: key(kind, o.namespace(), o.name()),
            uid: meta.uid.clone().unwrap_or_default(),
            body: strip_revision(o.to_value()),
            expect: Expect::Revision(revision_of(meta)),
        };
        self.write_unless_changed(w)
    }

    /// One write of a controller's; lost to another writer, it is dropped.
    fn write_unless_changed(&self, w: ObjectWrite) -> Result<()> {
        match self.engine.objects_write(&[w]) {
            Ok(_) => Ok(()),
            Err(skiff_engine::Error::Store(
                StoreError::ObjectChanged(_) | StoreError::NoSuchObject(_),
            )) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// A terminated pod's object goes (its containers are gone).
    pub fn remove_terminated_pod(&self, pod: &k8s_openapi::api::core::v1::Pod) -> Result<()> {
        let o = Object::Pod(Box::new(pod.clone()));
        self.write_unless_changed(ObjectWrite::Delete {
            key: key(Kind::Pod, o.namespace(), o.name()),
            expect: Expect::Revision(revision_of(&pod.metadata)),
        })
    }
}

impl Cluster<'_> {
    /// Change a stored object with `f` (an update of what was read: a
    /// command's `scale`, `rollout undo`), validated, with its generation
    /// moved on when the spec changed; retried when another writer got in
    /// first. The object as written.
    pub fn modify(
        &self,
        kind: Kind,
        namespace: &str,
        name: &str,
        mut f: impl FnMut(&mut Object) -> Result<()>,
    ) -> Result<Object> {
        self.in_batch(|batch| {
            let k = key(kind, namespace, name);
            let Some((uid, body)) = self.read(batch, &k)? else {
                return Err(Error::NotFound {
                    context: String::new(),
                    resource: kind.plural_resource(),
                    name: name.into(),
                });
            };
            let old = Object::decode(kind, &body).map_err(|e| {
                Error::from(skiff_engine::Error::Internal(format!(
                    "stored {k} is invalid: {e:?}"
                )))
            })?;
            let mut o = old.clone();
            f(&mut o)?;
            defaults::apply(&mut o);
            let causes = [validate::causes(&o), validate::immutable(&old, &o)].concat();
            if !causes.is_empty() {
                return Err(Error::Invalid {
                    context: String::new(),
                    kind,
                    name: name.into(),
                    causes,
                });
            }
            if spec_of(&o) != spec_of(&old) {
                o.meta_mut().generation = Some(old.meta().generation.unwrap_or(1) + 1);
            }
            batch.put(k, uid, strip_revision(o.to_value()));
            Ok(o)
        })
    }
}
