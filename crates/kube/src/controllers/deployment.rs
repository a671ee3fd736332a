//! The Deployment controller: one ReplicaSet per pod template (named
//! `<deployment>-<pod-template-hash>`, the hash also in its labels and
//! selector), the revision in an annotation; a RollingUpdate scales the new
//! one up within `replicas + maxSurge` and the old ones down keeping
//! `replicas - maxUnavailable` available (unavailable old pods first, then
//! the oldest ReplicaSet first); Recreate scales the old ones to zero and
//! waits for their pods to go before scaling the new one up. Old
//! ReplicaSets beyond `revisionHistoryLimit` go. The status counts the
//! replicas, and the Available and Progressing conditions say whether it
//! has its minimum and whether the rollout moves (ProgressDeadlineExceeded
//! after `progressDeadlineSeconds` without progress).

use super::{controller_of, events, is_active, owner_ref, PassResult};
use crate::cluster::{now, Cluster, Mode};
use crate::kinds::Kind;
use crate::manifest::Manifest;
use crate::object::Object;
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet, ReplicaSetSpec,
};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

pub const HASH_LABEL: &str = "pod-template-hash";
pub const REVISION: &str = "deployment.kubernetes.io/revision";
const DESIRED: &str = "deployment.kubernetes.io/desired-replicas";
const MAX: &str = "deployment.kubernetes.io/max-replicas";

/// The pod template's hash: FNV-1a (32 bits) of its JSON with sorted keys
/// and the collision count, its decimal digits mapped to Kubernetes' name
/// alphabet as `rand.SafeEncodeString` maps them.
pub fn template_hash(t: &PodTemplateSpec, collisions: Option<i32>) -> String {
    fn sorted(v: &serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(m) => {
                let mut keys: Vec<_> = m.keys().collect();
                keys.sort();
                serde_json::Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), sorted(&m[k])))
                        .collect(),
                )
            }
            serde_json::Value::Array(a) => serde_json::Value::Array(a.iter().map(sorted).collect()),
            o => o.clone(),
        }
    }
    let mut t = t.clone();
    // The hash label itself is not part of what is hashed.
    if let Some(l) = t.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        l.remove(HASH_LABEL);
    }
    let text = sorted(&serde_json::to_value(&t).expect("a template serializes")).to_string();
    let mut h: u32 = 0x811c9dc5;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            h ^= *b as u32;
            h = h.wrapping_mul(0x01000193);
        }
    };
    feed(text.as_bytes());
    if let Some(n) = collisions {
        feed(&n.to_le_bytes());
    }
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    h.to_string()
        .bytes()
        .map(|b| ALPHABET[b as usize % ALPHABET.len()] as char)
        .collect()
}

/// An int-or-percent of `total` (percentages rounded up or down).
pub fn resolve(v: Option<&IntOrString>, total: i32, round_up: bool) -> i32 {
    match v {
        Some(IntOrString::Int(n)) => *n,
        Some(IntOrString::String(s)) => {
            let pct: f64 = s.trim_end_matches('%').parse().unwrap_or(0.0);
            let x = pct * total as f64 / 100.0;
            (if round_up { x.ceil() } else { x.floor() }) as i32
        }
        None => 0,
    }
}

fn revision(rs: &ReplicaSet) -> i64 {
    rs.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(REVISION))
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

fn replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0)
}

pub fn sync(c: &Cluster<'_>, out: &mut PassResult) -> crate::Result<()> {
    let all_rs: Vec<ReplicaSet> = c
        .list(Kind::ReplicaSet, None)?
        .into_iter()
        .filter_map(|o| match o {
            Object::ReplicaSet(r) => Some(*r),
            _ => None,
        })
        .collect();
    let pods = super::all_pods(c)?;
    for o in c.list(Kind::Deployment, None)? {
        let Object::Deployment(d) = o else { continue };
        if d.metadata.deletion_timestamp.is_some() {
            continue;
        }
        sync_one(c, &d, &all_rs, &pods, out)?;
    }
    Ok(())
}

fn sync_one(
    c: &Cluster<'_>,
    d: &Deployment,
    all_rs: &[ReplicaSet],
    pods: &[k8s_openapi::api::core::v1::Pod],
    out: &mut PassResult,
) -> crate::Result<()> {
    let ns = d
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    let name = d.metadata.name.clone().unwrap_or_default();
    let uid = d.metadata.uid.clone().unwrap_or_default();
    let Some(spec) = d.spec.clone() else {
        return Ok(());
    };
    let want = spec.replicas.unwrap_or(1).max(0);
    let hash = template_hash(
        &spec.template,
        d.status.as_ref().and_then(|s| s.collision_count),
    );
    let mut owned: Vec<ReplicaSet> = all_rs
        .iter()
        .filter(|r| {
            r.metadata.namespace.as_deref() == Some(&ns) && controller_of(&r.metadata) == Some(&uid)
        })
        .cloned()
        .collect();
    owned.sort_by_key(|r| {
        (
            revision(r),
            r.metadata
                .creation_timestamp
                .as_ref()
                .map_or(0, |t| t.0.as_second()),
        )
    });
    let max_revision = owned.iter().map(revision).max().unwrap_or(0);
    let find_new = |owned: &[ReplicaSet]| {
        owned
            .iter()
            .position(|r| r.metadata.labels.as_ref().and_then(|l| l.get(HASH_LABEL)) == Some(&hash))
    };
    let strategy = spec.strategy.clone().unwrap_or_default();
    let recreate = strategy.type_.as_deref() == Some("Recreate");
    let ru = strategy.rolling_update.clone().unwrap_or_default();
    let mut surge = resolve(ru.max_surge.as_ref(), want, true);
    let mut unavailable = resolve(ru.max_unavailable.as_ref(), want, false);
    if recreate {
        surge = 0;
        unavailable = want;
    } else if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    let mut progressed = false;
    let paused = spec.paused == Some(true);
    if !paused {
        let new_idx = match find_new(&owned) {
            Some(i) => {
                // An old template again (a rollback): it becomes the newest revision.
                if revision(&owned[i]) < max_revision {
                    let mut r = owned[i].clone();
                    r.metadata
                        .annotations
                        .get_or_insert_with(Default::default)
                        .insert(REVISION.into(), (max_revision + 1).to_string());
                    c.replace(Object::ReplicaSet(Box::new(r)))?;
                    progressed = true;
                }
                Some(i)
            }
            None => None,
        };
        let old_total: i32 = owned
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != new_idx)
            .map(|(_, r)| replicas(r))
            .sum();
        let old_active = owned
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != new_idx)
            .any(|(_, r)| {
                let ruid = r.metadata.uid.as_deref();
                pods.iter()
                    .any(|p| controller_of(&p.metadata) == ruid && is_active(p))
            });
        let total: i32 = owned.iter().map(replicas).sum();
        let new_current = new_idx.map_or(0, |i| replicas(&owned[i]));
        let new_target = if recreate {
            if old_total > 0 || old_active {
                new_current.min(0)
            } else {
                want
            }
        } else if new_current >= want {
            want
        } else {
            (new_current + (want + surge - total).max(0)).min(want)
        };
        match new_idx {
            None => {
                let rs = new_replicaset(
                    d,
                    &spec.template,
                    &hash,
                    new_target,
                    max_revision + 1,
                    want + surge,
                );
                let m = Manifest {
                    source: String::new(),
                    object: Object::ReplicaSet(Box::new(rs)),
                };
                match c.apply(&[m], Some(&ns), Mode::Create) {
                    Ok(_) => {
                        progressed = true;
                        let msg =
                            format!("Scaled up replica set {name}-{hash} from 0 to {new_target}");
                        events::record(
                            c,
                            &Object::Deployment(Box::new(d.clone())),
                            "Normal",
                            "ScalingReplicaSet",
                            &msg,
                        );
                    }
                    Err(crate::Error::AlreadyExists { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            Some(i) if new_target != new_current => {
                scale(c, d, &owned[i], new_target, want + surge)?;
                progressed = true;
            }
            Some(_) => {}
        }
        // Old ReplicaSets down.
        if old_total > 0 {
            let olds: Vec<&ReplicaSet> = owned
                .iter()
                .enumerate()
                .filter(|(i, _)| Some(*i) != new_idx)
                .map(|(_, r)| r)
                .collect();
            if recreate {
                for r in olds.iter().filter(|r| replicas(r) > 0) {
                    scale(c, d, r, 0, want)?;
                    progressed = true;
                }
            } else {
                let avail = |r: &ReplicaSet| {
                    r.status
                        .as_ref()
                        .and_then(|s| s.available_replicas)
                        .unwrap_or(0)
                };
                let min_available = want - unavailable;
                let new_unavailable =
                    new_idx.map_or(0, |i| (replicas(&owned[i]) - avail(&owned[i])).max(0));
                let mut budget = total - min_available - new_unavailable;
                // Unavailable old pods first, then available ones while the
                // minimum holds.
                let mut targets: BTreeMap<String, i32> = BTreeMap::new();
                for r in &olds {
                    if budget <= 0 {
                        break;
                    }
                    let unhealthy = (replicas(r) - avail(r)).max(0).min(budget);
                    if unhealthy > 0 {
                        targets.insert(
                            r.metadata.name.clone().unwrap_or_default(),
                            replicas(r) - unhealthy,
                        );
                        budget -= unhealthy;
                    }
                }
                let available_all: i32 = owned.iter().map(avail).sum();
                let mut more = (available_all - min_available).max(0).min(budget.max(0));
                for r in &olds {
                    if more <= 0 {
                        break;
                    }
                    let n = r.metadata.name.clone().unwrap_or_default();
                    let cur = *targets.get(&n).unwrap_or(&replicas(r));
                    let down = cur.min(more);
                    if down > 0 {
                        targets.insert(n, cur - down);
                        more -= down;
                    }
                }
                for r in &olds {
                    if let Some(&t) = targets.get(r.metadata.name.as_deref().unwrap_or("")) {
                        if t != replicas(r) {
                            scale(c, d, r, t, want)?;
                            progressed = true;
                        }
                    }
                }
            }
        }
        // History beyond the limit goes.
        let limit = spec.revision_history_limit.unwrap_or(10).max(0) as usize;
        let idle: Vec<&ReplicaSet> = owned
            .iter()
            .enumerate()
            .filter(|(i, r)| {
                Some(*i) != new_idx
                    && replicas(r) == 0
                    && r.status.as_ref().is_none_or(|s| s.replicas == 0)
            })
            .map(|(_, r)| r)
            .collect();
        if idle.len() > limit {
            let doomed: Vec<_> = idle[..idle.len() - limit]
                .iter()
                .map(|r| {
                    (
                        Kind::ReplicaSet,
                        ns.clone(),
                        r.metadata.name.clone().unwrap_or_default(),
                    )
                })
                .collect();
            c.delete(&doomed, &Default::default())?;
        }
    }
    write_status(c, d, &hash, want, unavailable, progressed, out)
}

fn new_replicaset(
    d: &Deployment,
    t: &PodTemplateSpec,
    hash: &str,
    n: i32,
    rev: i64,
    max: i32,
) -> ReplicaSet {
    let name = d.metadata.name.clone().unwrap_or_default();
    let spec = d.spec.clone().unwrap_or_default();
    let mut template = t.clone();
    let tm = template.metadata.get_or_insert_with(Default::default);
    tm.labels
        .get_or_insert_with(Default::default)
        .insert(HASH_LABEL.into(), hash.into());
    let mut selector = spec.selector.clone();
    selector
        .match_labels
        .get_or_insert_with(Default::default)
        .insert(HASH_LABEL.into(), hash.into());
    let labels = tm.labels.clone();
    ReplicaSet {
        metadata: ObjectMeta {
            name: Some(format!("{name}-{hash}")),
            namespace: d.metadata.namespace.clone(),
            labels,
            annotations: Some(
                [
                    (REVISION.to_string(), rev.to_string()),
                    (DESIRED.to_string(), spec.replicas.unwrap_or(1).to_string()),
                    (MAX.to_string(), max.to_string()),
                ]
                .into(),
            ),
            owner_references: Some(vec![owner_ref(
                "apps/v1",
                "Deployment",
                &name,
                d.metadata.uid.as_deref().unwrap_or(""),
            )]),
            ..Default::default()
        },
        spec: Some(ReplicaSetSpec {
            replicas: Some(n),
            min_ready_seconds: spec.min_ready_seconds,
            selector,
            template: Some(template),
        }),
        status: None,
    }
}

fn scale(c: &Cluster<'_>, d: &Deployment, r: &ReplicaSet, to: i32, max: i32) -> crate::Result<()> {
    let from = replicas(r);
    let mut r = r.clone();
    if let Some(s) = r.spec.as_mut() {
        s.replicas = Some(to);
    }
    let a = r.metadata.annotations.get_or_insert_with(Default::default);
    a.insert(
        DESIRED.into(),
        d.spec
            .as_ref()
            .and_then(|s| s.replicas)
            .unwrap_or(1)
            .to_string(),
    );
    a.insert(MAX.into(), max.to_string());
    let rs_name = r.metadata.name.clone().unwrap_or_default();
    c.replace(Object::ReplicaSet(Box::new(r)))?;
    let verb = if to > from { "up" } else { "down" };
    let msg = format!("Scaled {verb} replica set {rs_name} from {from} to {to}");
    events::record(
        c,
        &Object::Deployment(Box::new(d.clone())),
        "Normal",
        "ScalingReplicaSet",
        &msg,
    );
    Ok(())
}

fn write_status(
    c: &Cluster<'_>,
    d: &Deployment,
    hash: &str,
    want: i32,
    max_unavailable: i32,
    progressed: bool,
    out: &mut PassResult,
) -> crate::Result<()> {
    // The ReplicaSets as they are after this pass.
    let uid = d.metadata.uid.clone().unwrap_or_default();
    let ns = d.metadata.namespace.clone().unwrap_or_default();
    let owned: Vec<ReplicaSet> = c
        .list(Kind::ReplicaSet, Some(&ns))?
        .into_iter()
        .filter_map(|o| match o {
            Object::ReplicaSet(r) if controller_of(&r.metadata) == Some(&uid) => Some(*r),
            _ => None,
        })
        .collect();
    let st = |r: &ReplicaSet| r.status.clone().unwrap_or_default();
    let new_rs = owned.iter().find(|r| {
        r.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(HASH_LABEL))
            .map(String::as_str)
            == Some(hash)
    });
    let total: i32 = owned.iter().map(|r| st(r).replicas).sum();
    let updated = new_rs.map_or(0, |r| st(r).replicas);
    let ready: i32 = owned
        .iter()
        .map(|r| st(r).ready_replicas.unwrap_or(0))
        .sum();
    let available: i32 = owned
        .iter()
        .map(|r| st(r).available_replicas.unwrap_or(0))
        .sum();
    let terminating: i32 = owned
        .iter()
        .map(|r| st(r).terminating_replicas.unwrap_or(0))
        .sum();
    let old = d.status.clone().unwrap_or_default();
    let t = now();
    let rs_name = format!("{}-{hash}", d.metadata.name.as_deref().unwrap_or(""));
    let prev = |ty: &str| {
        old.conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == ty)
            .cloned()
    };
    let cond = |ty: &str, ok: bool, reason: &str, message: String, update: bool| {
        let status = if ok { "True" } else { "False" };
        let p = prev(ty);
        let same_status = p.as_ref().is_some_and(|p| p.status == status);
        let same = same_status
            && p.as_ref()
                .is_some_and(|p| p.reason.as_deref() == Some(reason));
        DeploymentCondition {
            type_: ty.into(),
            status: status.into(),
            reason: Some(reason.into()),
            message: Some(message),
            last_transition_time: if same_status {
                p.as_ref().and_then(|p| p.last_transition_time.clone())
            } else {
                Some(t.clone())
            },
            last_update_time: if same && !update {
                p.and_then(|p| p.last_update_time)
            } else {
                Some(t.clone())
            },
        }
    };
    let available_ok = available >= want - max_unavailable;
    let available_cond = if available_ok {
        cond(
            "Available",
            true,
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.".into(),
            false,
        )
    } else {
        cond(
            "Available",
            false,
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.".into(),
            false,
        )
    };
    let complete = updated == want
        && total == want
        && available == want
        && owned
            .iter()
            .filter(|r| Some(*r) != new_rs)
            .all(|r| st(r).replicas == 0);
    let counts_moved = old.updated_replicas != Some(updated)
        || old.available_replicas != Some(available)
        || old.replicas != Some(total);
    let deadline = d
        .spec
        .as_ref()
        .and_then(|s| s.progress_deadline_seconds)
        .unwrap_or(600) as i64;
    let paused = d.spec.as_ref().and_then(|s| s.paused) == Some(true);
    let progressing = if paused {
        cond(
            "Progressing",
            false,
            "DeploymentPaused",
            "Deployment is paused".into(),
            false,
        )
    } else if complete {
        cond(
            "Progressing",
            true,
            "NewReplicaSetAvailable",
            format!("ReplicaSet \"{rs_name}\" has successfully progressed."),
            false,
        )
    } else if progressed || counts_moved || prev("Progressing").is_none() {
        cond(
            "Progressing",
            true,
            "ReplicaSetUpdated",
            format!("ReplicaSet \"{rs_name}\" is progressing."),
            true,
        )
    } else {
        let p = prev("Progressing").expect("checked above");
        let since = p.last_update_time.as_ref().map_or(0, |t| t.0.as_second());
        if p.reason.as_deref() == Some("ProgressDeadlineExceeded") {
            p
        } else if crate::cluster::now_timestamp().as_second() >= since + deadline {
            cond(
                "Progressing",
                false,
                "ProgressDeadlineExceeded",
                format!("ReplicaSet \"{rs_name}\" has timed out progressing."),
                true,
            )
        } else {
            out.wake_at_epoch(since + deadline);
            p
        }
    };
    let status = DeploymentStatus {
        observed_generation: d.metadata.generation,
        replicas: Some(total),
        updated_replicas: Some(updated),
        ready_replicas: Some(ready),
        available_replicas: Some(available),
        unavailable_replicas: Some((want - available).max(0)),
        terminating_replicas: Some(terminating),
        conditions: Some(vec![available_cond, progressing]),
        collision_count: old.collision_count,
    };
    if d.status.as_ref() != Some(&status) {
        let mut d = d.clone();
        d.status = Some(status);
        c.replace(Object::Deployment(Box::new(d)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_round_as_kubernetes_rounds() {
        let p = IntOrString::String("25%".into());
        assert_eq!(resolve(Some(&p), 3, true), 1);
        assert_eq!(resolve(Some(&p), 3, false), 0);
        assert_eq!(resolve(Some(&p), 10, true), 3);
        assert_eq!(resolve(Some(&IntOrString::Int(2)), 10, false), 2);
    }

    #[test]
    fn hashes_use_the_name_alphabet_and_follow_the_template() {
        let a = PodTemplateSpec::default();
        let mut b = a.clone();
        b.metadata = Some(ObjectMeta {
            labels: Some([("x".to_string(), "y".to_string())].into()),
            ..Default::default()
        });
        let (ha, hb) = (template_hash(&a, None), template_hash(&b, None));
        assert_ne!(ha, hb);
        assert!(
            ha.chars()
                .all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)),
            "{ha}"
        );
        assert_eq!(ha, template_hash(&a, None));
    }
}
