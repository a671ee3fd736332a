//! Events: what happened to an object (`Scheduled`, `Pulled`, `Started`,
//! `BackOff`, `ScalingReplicaSet`, ...), as core/v1 Event objects in the
//! object's namespace. A repeat of the same reason and message for the same
//! object counts up instead of adding one; the oldest go past a bound.

use crate::cluster::{now, Cluster, Mode};
use crate::kinds::Kind;
use crate::manifest::Manifest;
use crate::object::Object;
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};

/// How many events are kept (the oldest beyond go).
const KEEP: usize = 1000;

/// Record an event about `about`; failures are not the caller's concern.
pub fn record(c: &Cluster<'_>, about: &Object, type_: &str, reason: &str, message: &str) {
    let _ = try_record(c, about, type_, reason, message, source(about.kind()));
}

/// [`record`], from a named component (`default-scheduler`).
pub fn record_from(
    c: &Cluster<'_>,
    about: &Object,
    type_: &str,
    reason: &str,
    message: &str,
    from: &str,
) {
    let _ = try_record(c, about, type_, reason, message, from);
}

fn try_record(
    c: &Cluster<'_>,
    about: &Object,
    type_: &str,
    reason: &str,
    message: &str,
    from: &str,
) -> crate::Result<()> {
    let ns = if about.namespace().is_empty() {
        "default"
    } else {
        about.namespace()
    };
    let uid = about.meta().uid.clone().unwrap_or_default();
    let existing = c.list(Kind::Event, Some(ns))?;
    for o in &existing {
        let Object::Event(e) = o else { continue };
        if e.involved_object.uid.as_deref() == Some(&uid)
            && e.reason.as_deref() == Some(reason)
            && e.message.as_deref() == Some(message)
        {
            let mut e = e.clone();
            e.count = Some(e.count.unwrap_or(1) + 1);
            e.last_timestamp = Some(now());
            return c.replace(Object::Event(e));
        }
    }
    if existing.len() >= KEEP {
        let mut oldest: Vec<&Event> = existing
            .iter()
            .filter_map(|o| match o {
                Object::Event(e) => Some(&**e),
                _ => None,
            })
            .collect();
        oldest.sort_by_key(|e| e.last_timestamp.as_ref().map_or(0, |t| t.0.as_second()));
        let drop: Vec<_> = oldest[..existing.len() + 1 - KEEP]
            .iter()
            .map(|e| {
                (
                    Kind::Event,
                    ns.to_string(),
                    e.metadata.name.clone().unwrap_or_default(),
                )
            })
            .collect();
        c.delete(&drop, &Default::default())?;
    }
    let kind = about.kind();
    let name = format!(
        "{}.{}",
        about.name(),
        &crate::cluster::new_uid().replace('-', "")[..16]
    );
    let t = now();
    let e = Event {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: Some(name),
            namespace: Some(ns.to_string()),
            ..Default::default()
        },
        involved_object: ObjectReference {
            api_version: Some(kind.api_version()),
            kind: Some(kind.name().to_string()),
            name: Some(about.name().to_string()),
            namespace: Some(about.namespace().to_string()).filter(|n| !n.is_empty()),
            uid: Some(uid),
            resource_version: about.meta().resource_version.clone(),
            ..Default::default()
        },
        reason: Some(reason.into()),
        message: Some(message.into()),
        type_: Some(type_.into()),
        count: Some(1),
        first_timestamp: Some(t.clone()),
        last_timestamp: Some(t),
        source: Some(EventSource {
            component: Some(from.into()),
            host: None,
        }),
        reporting_component: Some(from.into()),
        ..Default::default()
    };
    c.apply(
        &[Manifest {
            source: String::new(),
            object: Object::Event(Box::new(e)),
        }],
        Some(ns),
        Mode::Internal,
    )?;
    Ok(())
}

fn source(kind: Kind) -> &'static str {
    match kind {
        Kind::Pod => "kubelet",
        Kind::Deployment => "deployment-controller",
        Kind::ReplicaSet => "replicaset-controller",
        Kind::Job => "job-controller",
        Kind::HorizontalPodAutoscaler => "horizontal-pod-autoscaler",
        _ => "skiff",
    }
}
