//! What `kubectl rollout` and `kubectl scale` do to a Deployment (and
//! `scale` to a ReplicaSet): the rollout's state in kubectl's words, its
//! history from the ReplicaSets' revisions, undo to a revision, restart,
//! pause and resume.

use crate::cluster::{now, Cluster};
use crate::controllers::deployment::{HASH_LABEL, REVISION};
use crate::error::{Error, Result};
use crate::kinds::Kind;
use crate::object::Object;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};

/// Where a rollout is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Still going: kubectl's message for it.
    Waiting(String),
    Done(String),
    /// The progress deadline passed.
    Failed(String),
}

fn deployment(c: &Cluster<'_>, ns: &str, name: &str) -> Result<Deployment> {
    match c.get(Kind::Deployment, ns, name)? {
        Some(Object::Deployment(d)) => Ok(*d),
        _ => Err(Error::NotFound {
            context: String::new(),
            resource: Kind::Deployment.plural_resource(),
            name: name.into(),
        }),
    }
}

/// The rollout's state, as `kubectl rollout status` words it.
pub fn status(c: &Cluster<'_>, ns: &str, name: &str) -> Result<State> {
    let d = deployment(c, ns, name)?;
    let st = d.status.clone().unwrap_or_default();
    if d.metadata.generation > st.observed_generation {
        return Ok(State::Waiting(
            "Waiting for deployment spec update to be observed...".into(),
        ));
    }
    let progressing = st
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "Progressing");
    if progressing.and_then(|c| c.reason.as_deref()) == Some("ProgressDeadlineExceeded") {
        return Ok(State::Failed(format!(
            "deployment \"{name}\" exceeded its progress deadline"
        )));
    }
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let updated = st.updated_replicas.unwrap_or(0);
    let total = st.replicas.unwrap_or(0);
    let available = st.available_replicas.unwrap_or(0);
    let w = |m: String| {
        Ok(State::Waiting(format!(
            "Waiting for deployment \"{name}\" rollout to finish: {m}"
        )))
    };
    if updated < want {
        return w(format!(
            "{updated} out of {want} new replicas have been updated..."
        ));
    }
    if total > updated {
        return w(format!(
            "{} old replicas are pending termination...",
            total - updated
        ));
    }
    if available < updated {
        return w(format!(
            "{available} of {updated} updated replicas are available..."
        ));
    }
    Ok(State::Done(format!(
        "deployment \"{name}\" successfully rolled out"
    )))
}

fn owned(c: &Cluster<'_>, d: &Deployment) -> Result<Vec<ReplicaSet>> {
    let uid = d.metadata.uid.clone().unwrap_or_default();
    let ns = d.metadata.namespace.clone().unwrap_or_default();
    let mut out: Vec<ReplicaSet> = c
        .list(Kind::ReplicaSet, Some(&ns))?
        .into_iter()
        .filter_map(|o| match o {
            Object::ReplicaSet(r)
                if crate::controllers::controller_of(&r.metadata) == Some(&uid) =>
            {
                Some(*r)
            }
            _ => None,
        })
        .collect();
    out.sort_by_key(revision);
    Ok(out)
}

fn revision(r: &ReplicaSet) -> i64 {
    r.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(REVISION))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The revisions, oldest first, with their change causes.
pub fn history(c: &Cluster<'_>, ns: &str, name: &str) -> Result<Vec<(i64, Option<String>)>> {
    let d = deployment(c, ns, name)?;
    Ok(owned(c, &d)?
        .iter()
        .map(|r| {
            let cause = r
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("kubernetes.io/change-cause"))
                .cloned();
            (revision(r), cause)
        })
        .collect())
}

/// Back to revision `to` (0: the one before the current).
pub fn undo(c: &Cluster<'_>, ns: &str, name: &str, to: i64) -> Result<()> {
    let d = deployment(c, ns, name)?;
    let rs = owned(c, &d)?;
    let current = rs.iter().map(revision).max().unwrap_or(0);
    let target = if to == 0 {
        rs.iter()
            .filter(|r| revision(r) < current)
            .max_by_key(|r| revision(r))
            .ok_or_else(|| {
                Error::Usage(format!(
                    "no rollout history found for deployment \"{name}\""
                ))
            })?
    } else {
        rs.iter().find(|r| revision(r) == to).ok_or_else(|| {
            Error::Usage(format!("unable to find specified revision {to} in history"))
        })?
    };
    let mut template = target
        .spec
        .as_ref()
        .and_then(|s| s.template.clone())
        .unwrap_or_default();
    if let Some(l) = template.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        l.remove(HASH_LABEL);
    }
    c.modify(Kind::Deployment, ns, name, |o| {
        if let Object::Deployment(d) = o {
            if let Some(s) = d.spec.as_mut() {
                s.template = template.clone();
            }
        }
        Ok(())
    })?;
    Ok(())
}

/// A new rollout of the same template (`kubectl.kubernetes.io/restartedAt`).
pub fn restart(c: &Cluster<'_>, ns: &str, name: &str) -> Result<()> {
    let at = serde_json::to_value(now())
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default();
    c.modify(Kind::Deployment, ns, name, |o| {
        if let Object::Deployment(d) = o {
            if let Some(s) = d.spec.as_mut() {
                s.template
                    .metadata
                    .get_or_insert_with(Default::default)
                    .annotations
                    .get_or_insert_with(Default::default)
                    .insert("kubectl.kubernetes.io/restartedAt".into(), at.clone());
            }
        }
        Ok(())
    })?;
    Ok(())
}

/// Pause (or resume) the rollout; an error when it already is.
pub fn set_paused(c: &Cluster<'_>, ns: &str, name: &str, paused: bool) -> Result<()> {
    c.modify(Kind::Deployment, ns, name, |o| {
        if let Object::Deployment(d) = o {
            let s = d.spec.get_or_insert_with(Default::default);
            let now = s.paused.unwrap_or(false);
            if now == paused {
                return Err(Error::Usage(format!(
                    "deployments.apps \"{name}\" is {}",
                    if paused {
                        "already paused"
                    } else {
                        "not paused"
                    }
                )));
            }
            s.paused = Some(paused);
        }
        Ok(())
    })?;
    Ok(())
}

/// Set the replicas of a Deployment or ReplicaSet.
pub fn scale(c: &Cluster<'_>, kind: Kind, ns: &str, name: &str, replicas: i32) -> Result<()> {
    if replicas < 0 {
        return Err(Error::Usage(
            "The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0"
                .into(),
        ));
    }
    c.modify(kind, ns, name, |o| {
        match o {
            Object::Deployment(d) => {
                d.spec.get_or_insert_with(Default::default).replicas = Some(replicas)
            }
            Object::ReplicaSet(r) => {
                r.spec.get_or_insert_with(Default::default).replicas = Some(replicas)
            }
            _ => {
                return Err(Error::Usage(format!(
                    "cannot scale {}: only deployments and replicasets scale",
                    kind.plural_resource()
                )))
            }
        }
        Ok(())
    })?;
    Ok(())
}
