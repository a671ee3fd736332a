//! PersistentVolumeClaims on one node: each claim is bound at once to a
//! skiff volume of its own (`pvc-<claim uid>`, as Kubernetes names dynamic
//! volumes), which outlives the pods that mount it and goes when the claim
//! is deleted and no container uses it any more.

use crate::cluster::Cluster;
use crate::kinds::Kind;
use crate::kubelet::volumes::claim_volume;
use crate::object::Object;
use k8s_openapi::api::core::v1::PersistentVolumeClaimStatus;

/// The label that ties a skiff volume to its claim.
pub const CLAIM_LABEL: &str = "io.skiff.kube.claim-uid";

pub fn sync(c: &Cluster<'_>) -> crate::Result<()> {
    let e = c.engine();
    let mut live = std::collections::HashSet::new();
    for o in c.list(Kind::PersistentVolumeClaim, None)? {
        let Object::PersistentVolumeClaim(pvc) = o else {
            continue;
        };
        let uid = pvc.metadata.uid.clone().unwrap_or_default();
        live.insert(uid.clone());
        if pvc.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound") {
            continue;
        }
        let name = claim_volume(&uid);
        if e.volume_get(&name)?.is_none() {
            let labels = [(CLAIM_LABEL.to_string(), uid.clone())].into();
            e.volume_create(Some(&name), labels, false)?;
        }
        let mut bound = pvc.clone();
        let spec = bound.spec.get_or_insert_with(Default::default);
        spec.volume_name = Some(name);
        let requested = spec
            .resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
            .and_then(|r| r.get("storage"))
            .cloned();
        bound.status = Some(PersistentVolumeClaimStatus {
            phase: Some("Bound".into()),
            access_modes: spec.access_modes.clone(),
            capacity: requested.map(|q| [("storage".to_string(), q)].into()),
            ..Default::default()
        });
        c.replace(Object::PersistentVolumeClaim(bound))?;
    }
    // Volumes of claims that are gone, once nothing uses them.
    for v in e.volume_list()? {
        if let Some(uid) = v.labels.get(CLAIM_LABEL) {
            if !live.contains(uid) && e.volume_users(&v.name)?.is_empty() {
                let _ = e.volume_remove(&v.name, false);
            }
        }
    }
    Ok(())
}
