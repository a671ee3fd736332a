//! The API server's side of `skiff kube`: objects read from and written to
//! the engine's store with what the API server adds (uid,
//! creationTimestamp, generation, resourceVersion, defaults, validation,
//! allocated cluster IPs and node ports), `apply` as kubectl's three-way
//! merge over the last applied configuration, and deletion with its
//! cascade over ownerReferences. Every change of one command is one
//! transaction: all of it lands, or none.

use crate::error::{Error, Result};
use crate::kinds::Kind;
use crate::manifest::Manifest;
use crate::object::Object;
use crate::{allocate, defaults, merge, validate};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::Value;
use skiff_engine::store::{Expect, ObjectKey, ObjectWrite, StoreError, StoredObject};
use skiff_engine::Engine;
use std::collections::{BTreeMap, BTreeSet};

/// The namespaces every cluster has.
pub const DEFAULT_NAMESPACES: [&str; 4] =
    ["default", "kube-system", "kube-public", "kube-node-lease"];
/// Where kubectl keeps what it last applied.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// How often a command retries a batch another writer got in before.
const RETRIES: usize = 5;

/// What a write did, as kubectl reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Configured,
    Unchanged,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Outcome::Created => "created",
            Outcome::Configured => "configured",
            Outcome::Unchanged => "unchanged",
        })
    }
}

/// One object a command wrote.
#[derive(Debug, Clone)]
pub struct Applied {
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
    pub outcome: Outcome,
}

/// `apply` (create or three-way merge) or `create` (only new objects).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Apply,
    Create,
    /// A controller's create: also of the kinds users may not write
    /// (events, endpoints).
    Internal,
}

/// What happens to a deleted object's dependents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Cascade {
    /// Deleted with it (kubectl's default, `--cascade=background`).
    #[default]
    Background,
    /// Left, without the owner reference (`--cascade=orphan`).
    Orphan,
}

/// How to delete.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeleteOptions {
    pub cascade: Cascade,
    /// Seconds a pod gets to stop (None: its terminationGracePeriodSeconds;
    /// 0: removed at once, its containers killed after).
    pub grace_period: Option<i64>,
}

/// The objects of one store.
pub struct Cluster<'e> {
    engine: &'e Engine,
}

pub(crate) fn key(kind: Kind, namespace: &str, name: &str) -> ObjectKey {
    ObjectKey {
        kind: kind.store_kind(),
        namespace: if kind.namespaced() {
            namespace.to_string()
        } else {
            String::new()
        },
        name: name.to_string(),
    }
}

/// A fresh object uid (a random UUID, version 4).
pub fn new_uid() -> String {
    let mut b = [0u8; 16];
    // SAFETY: getrandom writes at most `b.len()` bytes into `b`.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    if n != b.len() as isize {
        // No entropy source: time and pid still make it unique here.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        b = (t ^ ((std::process::id() as u128) << 64)).to_le_bytes();
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// Now, to the second (as the API server stamps objects).
pub fn now() -> Time {
    Time(now_timestamp())
}

pub fn now_timestamp() -> k8s_openapi::jiff::Timestamp {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    k8s_openapi::jiff::Timestamp::from_second(secs).unwrap_or_default()
}

/// A batch being put together: the writes, and what each key holds after
/// them, so a later document of the same command sees an earlier one.
#[derive(Default)]
pub(crate) struct Batch {
    writes: Vec<ObjectWrite>,
    /// Key -> index in `writes`.
    at: BTreeMap<ObjectKey, usize>,
    /// Revisions read from the store, for the preconditions.
    read: BTreeMap<ObjectKey, Option<i64>>,
    /// What was read, so every read of a key in one attempt sees the same.
    seen: BTreeMap<ObjectKey, Option<(String, Value)>>,
    /// What each touched key holds now (None: deleted).
    now: BTreeMap<ObjectKey, Option<(String, Value)>>,
}

impl Batch {
    fn expect(&self, key: &ObjectKey) -> Expect {
        match self.read.get(key) {
            Some(Some(rev)) => Expect::Revision(*rev),
            Some(None) => Expect::Absent,
            None => Expect::Any,
        }
    }

    pub(crate) fn put(&mut self, key: ObjectKey, uid: String, body: Value) {
        self.now
            .insert(key.clone(), Some((uid.clone(), body.clone())));
        let w = ObjectWrite::Put {
            expect: self.expect(&key),
            key: key.clone(),
            uid,
            body,
        };
        self.push(key, w);
    }

    pub(crate) fn delete(&mut self, key: ObjectKey) {
        self.now.insert(key.clone(), None);
        let w = ObjectWrite::Delete {
            expect: self.expect(&key),
            key: key.clone(),
        };
        self.push(key, w);
    }

    /// What the batch holds of store kind `kind`: name -> the `service`
    /// field of its body (allocations' owners).
    pub(crate) fn written(&self, kind: &str) -> Vec<(String, String)> {
        self.now
            .iter()
            .filter(|(k, _)| k.kind == kind)
            .filter_map(|(k, v)| {
                let (_, body) = v.as_ref()?;
                let owner = body.get("service").and_then(Value::as_str).unwrap_or("");
                Some((k.name.clone(), owner.to_string()))
            })
            .collect()
    }

    fn push(&mut self, key: ObjectKey, w: ObjectWrite) {
        match self.at.get(&key) {
            Some(&i) => self.writes[i] = w,
            None => {
                self.at.insert(key, self.writes.len());
                self.writes.push(w);
            }
        }
    }
}

impl<'e> Cluster<'e> {
    pub fn new(engine: &'e Engine) -> Cluster<'e> {
        Cluster { engine }
    }

    pub fn engine(&self) -> &'e Engine {
        self.engine
    }

    /// The object, as the API returns it.
    pub fn get(&self, kind: Kind, namespace: &str, name: &str) -> Result<Option<Object>> {
        self.engine
            .object_get(&key(kind, namespace, name))?
            .map(|s| to_object(kind, s))
            .transpose()
    }

    /// The objects of `kind`, in `namespace` or in all of them.
    pub fn list(&self, kind: Kind, namespace: Option<&str>) -> Result<Vec<Object>> {
        let ns = namespace.filter(|_| kind.namespaced());
        self.engine
            .objects_list(&kind.store_kind(), ns)?
            .into_iter()
            .map(|s| to_object(kind, s))
            .collect()
    }

    /// Read `key` through `batch`: what an earlier write of the batch left,
    /// else the store's (remembering its revision for the precondition).
    pub(crate) fn read(
        &self,
        batch: &mut Batch,
        key: &ObjectKey,
    ) -> Result<Option<(String, Value)>> {
        if let Some(now) = batch.now.get(key).or_else(|| batch.seen.get(key)) {
            return Ok(now.clone());
        }
        let stored = self.engine.object_get(key)?;
        batch
            .read
            .insert(key.clone(), stored.as_ref().map(|s| s.revision));
        let value = stored.map(|s| (s.uid, with_revision(s.body, s.revision)));
        batch.seen.insert(key.clone(), value.clone());
        Ok(value)
    }

    /// Write `manifests` (objects of namespaced kinds go to their own
    /// namespace, else `namespace`, else `default`), all or none.
    pub fn apply(
        &self,
        manifests: &[Manifest],
        namespace: Option<&str>,
        mode: Mode,
    ) -> Result<Vec<Applied>> {
        self.in_batch(|batch| {
            manifests
                .iter()
                .map(|m| self.apply_one(batch, m, namespace, mode))
                .collect()
        })
    }

    /// Put a batch together with `f` and commit it; when another writer got
    /// in first (a precondition fails, an allocation was taken meanwhile),
    /// start over from fresh reads, a few times.
    pub(crate) fn in_batch<T>(&self, mut f: impl FnMut(&mut Batch) -> Result<T>) -> Result<T> {
        let mut last = None;
        for _ in 0..RETRIES {
            let mut batch = Batch::default();
            match f(&mut batch).and_then(|v| self.commit(&batch).map(|()| v)) {
                Ok(v) => return Ok(v),
                Err(e @ Error::Conflict { .. }) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.expect("a retried batch failed"))
    }

    /// Commit a batch; a lost race is a [`Error::Conflict`].
    pub(crate) fn commit(&self, batch: &Batch) -> Result<()> {
        match self.engine.objects_write(&batch.writes) {
            Ok(_) => Ok(()),
            Err(skiff_engine::Error::Store(
                StoreError::ObjectExists(k)
                | StoreError::ObjectChanged(k)
                | StoreError::NoSuchObject(k),
            )) => Err(Error::Conflict {
                resource: k.kind.clone(),
                name: k.name.clone(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    fn apply_one(
        &self,
        batch: &mut Batch,
        m: &Manifest,
        namespace: Option<&str>,
        mode: Mode,
    ) -> Result<Applied> {
        let kind = m.object.kind();
        let exists = {
            let (own, n) = (m.object.namespace(), m.object.name());
            let ns = if own.is_empty() {
                namespace.unwrap_or("default")
            } else {
                own
            };
            self.read(batch, &key(kind, ns, n))?.is_some()
        };
        let verb = if mode == Mode::Apply && exists {
            "patching"
        } else {
            "creating"
        };
        let context = format!("error when {verb} \"{}\": ", m.source);
        if kind.info().read_only && mode != Mode::Internal {
            return Err(Error::Invalid {
                context,
                kind,
                name: m.object.name().to_string(),
                causes: vec![format!(
                    "kind: Forbidden: {kind} objects are kept by skiff and cannot be written"
                )],
            });
        }
        let mut desired = m.object.clone();
        let ns = if kind.namespaced() {
            let own = desired.namespace().to_string();
            match (own.as_str(), namespace) {
                ("", n) => n.unwrap_or("default").to_string(),
                (o, Some(n)) if o != n => {
                    return Err(Error::Usage(format!(
                        "the namespace from the provided object \"{o}\" does not match the namespace \"{n}\". You must pass '--namespace={o}' to perform this operation."
                    )))
                }
                (o, _) => o.to_string(),
            }
        } else {
            String::new()
        };
        desired.meta_mut().namespace = (!ns.is_empty()).then(|| ns.clone());
        let mut applied_value = desired.to_value();
        if let Some(m) = applied_value.as_object_mut() {
            m.remove("status");
        }
        defaults::apply(&mut desired);
        let name = desired.name().to_string();
        let causes = validate::causes(&desired);
        if !causes.is_empty() {
            return Err(Error::Invalid {
                context,
                kind,
                name,
                causes,
            });
        }
        for d in DEFAULT_NAMESPACES {
            self.ensure_default_namespace(batch, d)?;
        }
        if kind.namespaced() {
            self.ensure_namespace(batch, &ns, &context)?;
        }
        let k = key(kind, &ns, &name);
        let live = self.read(batch, &k)?;
        let (uid, mut object, outcome) = match live {
            None => {
                let mut o = desired;
                if mode == Mode::Apply {
                    o.meta_mut()
                        .annotations
                        .get_or_insert_with(Default::default)
                        .insert(LAST_APPLIED.into(), format!("{applied_value}\n"));
                }
                let uid = new_uid();
                created(&mut o, &uid);
                (uid, o, Outcome::Created)
            }
            Some(_) if mode != Mode::Apply => {
                return Err(Error::AlreadyExists {
                    context,
                    resource: kind.plural_resource(),
                    name,
                })
            }
            Some((uid, live)) => {
                let last = live
                    .pointer("/metadata/annotations")
                    .and_then(|a| a.get(LAST_APPLIED))
                    .and_then(Value::as_str)
                    .and_then(|s| serde_json::from_str(s).ok())
                    .unwrap_or(Value::Object(Default::default()));
                let mut merged = merge::three_way(&live, &last, &applied_value);
                if let Some(a) = merged
                    .pointer_mut("/metadata/annotations")
                    .and_then(Value::as_object_mut)
                {
                    a.insert(
                        LAST_APPLIED.into(),
                        Value::String(format!("{applied_value}\n")),
                    );
                }
                let mut o = Object::decode(kind, &merged).map_err(|e| Error::Invalid {
                    context: context.clone(),
                    kind,
                    name: name.clone(),
                    causes: vec![format!("{e:?}")],
                })?;
                defaults::apply(&mut o);
                let old = Object::decode(kind, &live).map_err(|e| Error::Invalid {
                    context: context.clone(),
                    kind,
                    name: name.clone(),
                    causes: vec![format!("the stored object is invalid: {e:?}")],
                })?;
                let causes = [validate::causes(&o), validate::immutable(&old, &o)].concat();
                if !causes.is_empty() {
                    return Err(Error::Invalid {
                        context,
                        kind,
                        name,
                        causes,
                    });
                }
                let same = strip_revision(o.to_value()) == strip_revision(old.to_value());
                if !same && spec_of(&o) != spec_of(&old) {
                    let g = old.meta().generation.unwrap_or(1);
                    o.meta_mut().generation = Some(g + 1);
                }
                (
                    uid,
                    o,
                    if same {
                        Outcome::Unchanged
                    } else {
                        Outcome::Configured
                    },
                )
            }
        };
        if outcome != Outcome::Unchanged {
            allocate::service(self, batch, &mut object, &context)?;
            batch.put(k, uid, strip_revision(object.to_value()));
        }
        Ok(Applied {
            kind,
            namespace: ns,
            name,
            outcome,
        })
    }

    /// A namespaced object's namespace must exist (the default ones are made
    /// on first use).
    fn ensure_namespace(&self, batch: &mut Batch, ns: &str, context: &str) -> Result<()> {
        let k = key(Kind::Namespace, "", ns);
        match self.read(batch, &k)? {
            Some((_, v)) if v.pointer("/metadata/deletionTimestamp").is_some() => Err(
                Error::Usage(format!("{context}namespaces \"{ns}\" is being terminated")),
            ),
            Some(_) => Ok(()),
            None => Err(Error::NotFound {
                context: context.into(),
                resource: "namespaces".into(),
                name: ns.into(),
            }),
        }
    }

    /// Make a namespace every cluster has, unless it exists.
    fn ensure_default_namespace(&self, batch: &mut Batch, ns: &str) -> Result<()> {
        let k = key(Kind::Namespace, "", ns);
        match self.read(batch, &k)? {
            Some(_) => Ok(()),
            None => {
                let mut o = Object::Namespace(Box::new(k8s_openapi::api::core::v1::Namespace {
                    metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                        name: Some(ns.into()),
                        ..Default::default()
                    },
                    ..Default::default()
                }));
                let uid = new_uid();
                created(&mut o, &uid);
                batch.put(k, uid, strip_revision(o.to_value()));
                Ok(())
            }
        }
    }
}

/// What the API server sets on a new object.
fn created(o: &mut Object, uid: &str) {
    let kind = o.kind();
    let meta = o.meta_mut();
    meta.uid = Some(uid.to_string());
    meta.creation_timestamp = Some(now());
    if matches!(
        kind,
        Kind::Deployment | Kind::ReplicaSet | Kind::Job | Kind::HorizontalPodAutoscaler | Kind::Pod
    ) {
        meta.generation = Some(1);
    }
    match o {
        Object::Pod(p) => {
            let qos = crate::pods::qos_class(p.spec.as_ref());
            p.status = Some(k8s_openapi::api::core::v1::PodStatus {
                phase: Some("Pending".into()),
                qos_class: Some(qos.into()),
                ..Default::default()
            });
        }
        Object::Namespace(n) => {
            n.status = Some(k8s_openapi::api::core::v1::NamespaceStatus {
                phase: Some("Active".into()),
                ..Default::default()
            });
        }
        Object::PersistentVolumeClaim(c) => {
            c.status = Some(k8s_openapi::api::core::v1::PersistentVolumeClaimStatus {
                phase: Some("Pending".into()),
                ..Default::default()
            });
        }
        Object::Job(j) => job_selector(j, uid),
        _ => {}
    }
    defaults::apply(o);
}

/// A Job's pods carry its uid and name, and (unless `manualSelector`) its
/// selector is that uid.
fn job_selector(j: &mut k8s_openapi::api::batch::v1::Job, uid: &str) {
    let name = j.metadata.name.clone().unwrap_or_default();
    let Some(spec) = j.spec.as_mut() else { return };
    if spec.manual_selector == Some(true) {
        return;
    }
    let labels = spec
        .template
        .metadata
        .get_or_insert_with(Default::default)
        .labels
        .get_or_insert_with(Default::default);
    for (k, v) in [
        ("batch.kubernetes.io/controller-uid", uid),
        ("batch.kubernetes.io/job-name", &name),
        ("controller-uid", uid),
        ("job-name", &name),
    ] {
        labels.insert(k.into(), v.into());
    }
    spec.selector = Some(
        k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
            match_labels: Some(
                [(
                    "batch.kubernetes.io/controller-uid".to_string(),
                    uid.to_string(),
                )]
                .into(),
            ),
            ..Default::default()
        },
    );
}

fn spec_of(o: &Object) -> Value {
    o.to_value().get("spec").cloned().unwrap_or(Value::Null)
}

/// The store revision an object was read at (its resourceVersion).
fn revision_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> i64 {
    meta.resource_version
        .as_deref()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

/// A stored object: its body with the store's revision as resourceVersion.
fn to_object(kind: Kind, s: StoredObject) -> Result<Object> {
    let body = with_revision(s.body, s.revision);
    Object::decode(kind, &body).map_err(|e| {
        Error::from(skiff_engine::Error::Internal(format!(
            "stored {} is invalid: {e:?}",
            s.key
        )))
    })
}

fn with_revision(mut body: Value, revision: i64) -> Value {
    if let Some(m) = body.get_mut("metadata").and_then(Value::as_object_mut) {
        m.insert(
            "resourceVersion".into(),
            Value::String(revision.to_string()),
        );
    }
    body
}

pub(crate) fn strip_revision(mut body: Value) -> Value {
    if let Some(m) = body.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("resourceVersion");
    }
    body
}

mod delete;
mod watch;
mod writes;
pub use watch::{EventType, Watch};
