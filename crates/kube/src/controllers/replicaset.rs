//! The ReplicaSet controller: as many active pods as `replicas`, made from
//! the template (named `<rs>-<5 random>`, owned by the ReplicaSet), the
//! surplus deleted in the order Kubernetes picks (unscheduled before
//! scheduled, pending before running, not ready before ready, more
//! restarts first, newest first); orphaned pods that match the selector
//! are adopted. Its status counts replicas, ready and available ones.

use super::{
    available_since, controller_of, is_active, is_ready, owner_ref, random_suffix, PassResult,
};
use crate::cluster::{Cluster, DeleteOptions};
use crate::kinds::Kind;
use crate::manifest::Manifest;
use crate::object::Object;
use crate::selector;
use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetStatus};
use k8s_openapi::api::core::v1::Pod;

pub fn sync(c: &Cluster<'_>, pods: &[Pod], out: &mut PassResult) -> crate::Result<()> {
    for o in c.list(Kind::ReplicaSet, None)? {
        let Object::ReplicaSet(rs) = o else { continue };
        if rs.metadata.deletion_timestamp.is_some() {
            continue;
        }
        sync_one(c, &rs, pods, out)?;
    }
    Ok(())
}

fn sync_one(
    c: &Cluster<'_>,
    rs: &ReplicaSet,
    pods: &[Pod],
    out: &mut PassResult,
) -> crate::Result<()> {
    let ns = rs.metadata.namespace.as_deref().unwrap_or("default");
    let uid = rs.metadata.uid.as_deref().unwrap_or("");
    let name = rs.metadata.name.as_deref().unwrap_or("");
    let Some(spec) = rs.spec.as_ref() else {
        return Ok(());
    };
    let want = spec.replicas.unwrap_or(1).max(0) as usize;
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    let mut mine: Vec<&Pod> = Vec::new();
    for p in pods
        .iter()
        .filter(|p| p.metadata.namespace.as_deref() == Some(ns))
    {
        let labels = p.metadata.labels.clone().unwrap_or_default();
        match controller_of(&p.metadata) {
            Some(owner) if owner == uid => mine.push(p),
            None if selector::matches(&spec.selector, &labels)
                && p.metadata.deletion_timestamp.is_none() =>
            {
                // An orphan the selector picks: adopted.
                let mut adopted = p.clone();
                adopted
                    .metadata
                    .owner_references
                    .get_or_insert_with(Vec::new)
                    .push(owner_ref("apps/v1", "ReplicaSet", name, uid));
                c.replace(Object::Pod(Box::new(adopted)))?;
                mine.push(p);
            }
            _ => {}
        }
    }
    let active: Vec<&Pod> = mine.iter().copied().filter(|p| is_active(p)).collect();
    if active.len() < want {
        let Some(template) = spec.template.clone() else {
            return Ok(());
        };
        let mut meta = template.metadata.clone().unwrap_or_default();
        for _ in active.len()..want {
            meta.name = Some(format!("{name}-{}", random_suffix()));
            meta.generate_name = Some(format!("{name}-"));
            meta.namespace = Some(ns.to_string());
            meta.owner_references = Some(vec![owner_ref("apps/v1", "ReplicaSet", name, uid)]);
            let pod = Pod {
                metadata: meta.clone(),
                spec: template.spec.clone(),
                status: None,
            };
            let m = Manifest {
                source: String::new(),
                object: Object::Pod(Box::new(pod)),
            };
            if let Err(e) = c.apply(&[m], Some(ns), crate::cluster::Mode::Create) {
                out.event_warning(
                    c,
                    &Object::ReplicaSet(Box::new(rs.clone())),
                    "FailedCreate",
                    &format!("Error creating: {e}"),
                );
                break;
            }
        }
    } else if active.len() > want {
        let mut doomed = active.clone();
        doomed.sort_by_key(|p| deletion_rank(p));
        let targets: Vec<(Kind, String, String)> = doomed[..active.len() - want]
            .iter()
            .map(|p| {
                (
                    Kind::Pod,
                    ns.to_string(),
                    p.metadata.name.clone().unwrap_or_default(),
                )
            })
            .collect();
        c.delete(&targets, &DeleteOptions::default())?;
    }
    // Status, from the pods as they are now.
    let now = crate::cluster::now_timestamp().as_second();
    let mut available = 0;
    for p in &active {
        match available_since(p, min_ready) {
            Some(t) if t <= now => available += 1,
            Some(t) => out.wake_at_epoch(t),
            None => {}
        }
    }
    let status = ReplicaSetStatus {
        replicas: active.len() as i32,
        fully_labeled_replicas: Some(active.len() as i32),
        ready_replicas: Some(active.iter().filter(|p| is_ready(p)).count() as i32),
        available_replicas: Some(available),
        terminating_replicas: Some(
            mine.iter()
                .filter(|p| p.metadata.deletion_timestamp.is_some())
                .count() as i32,
        ),
        observed_generation: rs.metadata.generation,
        conditions: None,
    };
    if rs.status.as_ref() != Some(&status) {
        let mut updated = rs.clone();
        updated.status = Some(status);
        c.replace(Object::ReplicaSet(Box::new(updated)))?;
    }
    Ok(())
}

/// The order in which surplus pods go (smallest first).
fn deletion_rank(
    p: &Pod,
) -> (
    bool,
    u8,
    bool,
    std::cmp::Reverse<i32>,
    std::cmp::Reverse<i64>,
) {
    let scheduled = p.spec.as_ref().is_some_and(|s| s.node_name.is_some());
    let phase = match p.status.as_ref().and_then(|s| s.phase.as_deref()) {
        Some("Pending") => 0,
        Some("Unknown") => 1,
        _ => 2,
    };
    let restarts: i32 = p
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .map_or(0, |cs| cs.iter().map(|c| c.restart_count).sum());
    let created = p
        .metadata
        .creation_timestamp
        .as_ref()
        .map_or(0, |t| t.0.as_second());
    (
        scheduled,
        phase,
        is_ready(p),
        std::cmp::Reverse(restarts),
        std::cmp::Reverse(created),
    )
}
