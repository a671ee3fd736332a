//! Finding a pod's engine containers (for a pass, and for `kube logs` and
//! `kube exec`), and the network pods are on.

use super::spec::{CONTAINER_NAME, POD_NETWORK, POD_UID};
use super::{attempt, PodContainers};
use crate::cluster::Cluster;
use crate::kinds::Kind;
use crate::object::Object;
use skiff_engine::model::{Container, Status};
use std::collections::HashMap;

/// Engine containers grouped by the pod (uid) and container they belong
/// to, newest attempt first; containers of no pod are left out.
pub(crate) fn group_by_pod(containers: Vec<Container>) -> HashMap<String, PodContainers> {
    let mut by_pod: HashMap<String, PodContainers> = HashMap::new();
    for k in containers {
        let Some(uid) = k.config.labels.get(POD_UID).cloned() else {
            continue;
        };
        let name = k
            .config
            .labels
            .get(CONTAINER_NAME)
            .cloned()
            .unwrap_or_default();
        by_pod
            .entry(uid)
            .or_default()
            .by_name
            .entry(name)
            .or_default()
            .push(k);
    }
    for pod in by_pod.values_mut() {
        for v in pod.by_name.values_mut() {
            v.sort_by_key(|k| std::cmp::Reverse(attempt(k)));
        }
    }
    by_pod
}

/// The engine containers of the pod with `uid`.
pub(crate) fn pod_containers(c: &Cluster<'_>, uid: &str) -> crate::Result<PodContainers> {
    Ok(group_by_pod(c.engine().list()?)
        .remove(uid)
        .unwrap_or_default())
}

/// The network pods are on, made on first use.
pub(crate) fn ensure_pod_network(c: &Cluster<'_>) -> skiff_engine::Result<()> {
    let e = c.engine();
    if e.network_find(POD_NETWORK).is_ok() {
        return Ok(());
    }
    let labels = [("io.skiff.kube".to_string(), "pods".to_string())].into();
    match e.network_create(
        POD_NETWORK,
        &skiff_engine::network::CreateNetwork {
            labels,
            ..Default::default()
        },
    ) {
        Ok(_) => Ok(()),
        // Made by another meanwhile.
        Err(_) if e.network_find(POD_NETWORK).is_ok() => Ok(()),
        Err(err) => Err(err),
    }
}

/// Which engine container `kubectl logs`/`exec` mean: the pod's container
/// `container` (its first when None, as kubectl defaults), its current
/// attempt or, with `previous`, the one before. The ID, and the container's
/// name when it was defaulted among several (kubectl says so).
pub fn pod_container(
    c: &Cluster<'_>,
    namespace: &str,
    pod: &str,
    container: Option<&str>,
    previous: bool,
) -> crate::Result<(String, Option<String>)> {
    let Some(Object::Pod(p)) = c.get(Kind::Pod, namespace, pod)? else {
        return Err(crate::Error::NotFound {
            context: String::new(),
            resource: "pods".into(),
            name: pod.into(),
        });
    };
    let spec = p.spec.clone().unwrap_or_default();
    let names: Vec<String> = spec
        .init_containers
        .iter()
        .flatten()
        .chain(spec.containers.iter())
        .map(|k| k.name.clone())
        .collect();
    let (name, defaulted) = match container {
        Some(n) if names.iter().any(|x| x == n) => (n.to_string(), None),
        Some(n) => {
            return Err(crate::Error::Usage(format!(
                "container {n} is not valid for pod {pod}"
            )));
        }
        None => {
            let first = spec
                .containers
                .first()
                .map(|k| k.name.clone())
                .unwrap_or_default();
            let note = (spec.containers.len() > 1).then(|| {
                let all: Vec<_> = spec.containers.iter().map(|k| k.name.as_str()).collect();
                format!("Defaulted container \"{first}\" out of: {}", all.join(", "))
            });
            (first, note)
        }
    };
    let have = pod_containers(c, p.metadata.uid.as_deref().unwrap_or(""))?;
    let found = if previous {
        have.previous(&name)
    } else {
        have.latest(&name)
    };
    match found {
        Some(k) if k.state.status != Status::Created => Ok((k.id.clone(), defaulted)),
        _ if previous => Err(crate::Error::BadRequest(format!(
            "previous terminated container \"{name}\" in pod \"{pod}\" not found"
        ))),
        _ => {
            let reason = p
                .status
                .as_ref()
                .and_then(|s| s.container_statuses.as_ref())
                .and_then(|cs| cs.iter().find(|s| s.name == name))
                .and_then(|s| s.state.as_ref())
                .and_then(|s| s.waiting.as_ref())
                .and_then(|w| w.reason.clone())
                .unwrap_or_else(|| "ContainerCreating".into());
            Err(crate::Error::BadRequest(format!(
                "container \"{name}\" in pod \"{pod}\" is waiting to start: {reason}"
            )))
        }
    }
}
