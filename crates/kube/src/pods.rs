//! What the API server and kubelet derive from a pod's spec.

use k8s_openapi::api::core::v1::PodSpec;

/// The pod's QoS class: Guaranteed when every container has CPU and memory
/// limits equal to its requests, BestEffort when none has any request or
/// limit, else Burstable.
pub fn qos_class(spec: Option<&PodSpec>) -> &'static str {
    let Some(spec) = spec else {
        return "BestEffort";
    };
    let all: Vec<_> = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .collect();
    let none = all.iter().all(|c| {
        c.resources.as_ref().is_none_or(|r| {
            r.requests.as_ref().is_none_or(|m| m.is_empty())
                && r.limits.as_ref().is_none_or(|m| m.is_empty())
        })
    });
    if none {
        return "BestEffort";
    }
    let guaranteed = all.iter().all(|c| {
        let Some(r) = c.resources.as_ref() else {
            return false;
        };
        ["cpu", "memory"].iter().all(|res| {
            let limit = r.limits.as_ref().and_then(|m| m.get(*res));
            let request = r.requests.as_ref().and_then(|m| m.get(*res)).or(limit);
            limit.is_some() && limit == request
        })
    });
    if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}
