//! The kinds skiff serves, with the names kubectl accepts for each (plural,
//! singular, short names, `plural.group`), their API group and version, and
//! whether they live in a namespace.

/// A kind of object skiff keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Namespace,
    Node,
    Pod,
    Service,
    Endpoints,
    ConfigMap,
    Secret,
    PersistentVolumeClaim,
    Event,
    Deployment,
    ReplicaSet,
    Job,
    HorizontalPodAutoscaler,
    EndpointSlice,
}

/// What kubectl and the API know of a kind.
pub struct KindInfo {
    pub kind: Kind,
    /// The `kind` field's value.
    pub name: &'static str,
    /// The API group ("" for the core group).
    pub group: &'static str,
    pub version: &'static str,
    /// The resource's plural name (`pods`), as in URLs and `kubectl get`.
    pub plural: &'static str,
    pub short: &'static [&'static str],
    pub namespaced: bool,
    /// Made by skiff only (a user's manifest may not create one).
    pub read_only: bool,
}

const INFO: &[KindInfo] = &[
    info(
        Kind::Namespace,
        "Namespace",
        "",
        "v1",
        "namespaces",
        &["ns"],
        false,
        false,
    ),
    info(Kind::Node, "Node", "", "v1", "nodes", &["no"], false, true),
    info(Kind::Pod, "Pod", "", "v1", "pods", &["po"], true, false),
    info(
        Kind::Service,
        "Service",
        "",
        "v1",
        "services",
        &["svc"],
        true,
        false,
    ),
    info(
        Kind::Endpoints,
        "Endpoints",
        "",
        "v1",
        "endpoints",
        &["ep"],
        true,
        true,
    ),
    info(
        Kind::ConfigMap,
        "ConfigMap",
        "",
        "v1",
        "configmaps",
        &["cm"],
        true,
        false,
    ),
    info(
        Kind::Secret,
        "Secret",
        "",
        "v1",
        "secrets",
        &[],
        true,
        false,
    ),
    info(
        Kind::PersistentVolumeClaim,
        "PersistentVolumeClaim",
        "",
        "v1",
        "persistentvolumeclaims",
        &["pvc"],
        true,
        false,
    ),
    info(
        Kind::Event,
        "Event",
        "",
        "v1",
        "events",
        &["ev"],
        true,
        true,
    ),
    info(
        Kind::Deployment,
        "Deployment",
        "apps",
        "v1",
        "deployments",
        &["deploy"],
        true,
        false,
    ),
    info(
        Kind::ReplicaSet,
        "ReplicaSet",
        "apps",
        "v1",
        "replicasets",
        &["rs"],
        true,
        false,
    ),
    info(Kind::Job, "Job", "batch", "v1", "jobs", &[], true, false),
    info(
        Kind::HorizontalPodAutoscaler,
        "HorizontalPodAutoscaler",
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        &["hpa"],
        true,
        false,
    ),
    info(
        Kind::EndpointSlice,
        "EndpointSlice",
        "discovery.k8s.io",
        "v1",
        "endpointslices",
        &[],
        true,
        true,
    ),
];

#[allow(clippy::too_many_arguments)]
const fn info(
    kind: Kind,
    name: &'static str,
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    short: &'static [&'static str],
    namespaced: bool,
    read_only: bool,
) -> KindInfo {
    KindInfo {
        kind,
        name,
        group,
        version,
        plural,
        short,
        namespaced,
        read_only,
    }
}

/// Why a manifest's type was not found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeError {
    /// No such kind in any version skiff serves.
    NoKind,
    /// The kind exists, in another version (or group).
    NoVersion,
}

impl Kind {
    pub const ALL: [Kind; 14] = [
        Kind::Namespace,
        Kind::Node,
        Kind::Pod,
        Kind::Service,
        Kind::Endpoints,
        Kind::ConfigMap,
        Kind::Secret,
        Kind::PersistentVolumeClaim,
        Kind::Event,
        Kind::Deployment,
        Kind::ReplicaSet,
        Kind::Job,
        Kind::HorizontalPodAutoscaler,
        Kind::EndpointSlice,
    ];

    pub fn info(self) -> &'static KindInfo {
        INFO.iter()
            .find(|i| i.kind == self)
            .expect("every kind has its info")
    }

    pub fn name(self) -> &'static str {
        self.info().name
    }

    pub fn namespaced(self) -> bool {
        self.info().namespaced
    }

    /// The `apiVersion` field's value (`apps/v1`, `v1`).
    pub fn api_version(self) -> String {
        let i = self.info();
        if i.group.is_empty() {
            i.version.to_string()
        } else {
            format!("{}/{}", i.group, i.version)
        }
    }

    /// How kubectl names the resource in its messages: `deployment.apps`,
    /// `pod`.
    pub fn resource(self) -> String {
        let i = self.info();
        let lower = i.name.to_ascii_lowercase();
        if i.group.is_empty() {
            lower
        } else {
            format!("{lower}.{}", i.group)
        }
    }

    /// The plural with its group (`deployments.apps`), as in `Error from
    /// server (NotFound): deployments.apps "web" not found`.
    pub fn plural_resource(self) -> String {
        let i = self.info();
        if i.group.is_empty() {
            i.plural.to_string()
        } else {
            format!("{}.{}", i.plural, i.group)
        }
    }

    /// The key the engine's store files this kind under.
    pub fn store_kind(self) -> String {
        let i = self.info();
        if i.group.is_empty() {
            i.name.to_string()
        } else {
            format!("{}.{}", i.name, i.group)
        }
    }

    /// The kind a manifest's `apiVersion` and `kind` name.
    pub fn from_type(api_version: &str, kind: &str) -> Result<Kind, TypeError> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let mut named = INFO.iter().filter(|i| i.name == kind).peekable();
        if named.peek().is_none() {
            return Err(TypeError::NoKind);
        }
        named
            .find(|i| i.group == group && i.version == version)
            .map(|i| i.kind)
            .ok_or(TypeError::NoVersion)
    }

    /// The kind a command-line word names: plural, singular, short name or
    /// kind, any case, optionally followed by `.group` (and `.version.group`).
    pub fn resolve(word: &str) -> Option<Kind> {
        let word = word.to_ascii_lowercase();
        let (name, group) = match word.split_once('.') {
            Some((n, g)) => (n.to_string(), Some(g.to_string())),
            None => (word.clone(), None),
        };
        INFO.iter()
            .find(|i| {
                let named = i.plural == name
                    || i.name.to_ascii_lowercase() == name
                    || i.short.contains(&name.as_str());
                let grouped = match &group {
                    None => true,
                    Some(g) => {
                        *g == i.group
                            || *g == format!("{}.{}", i.version, i.group).trim_end_matches('.')
                    }
                };
                named && grouped
            })
            .map(|i| i.kind)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_as_kubectl_takes_them() {
        for w in [
            "deploy",
            "deployments",
            "Deployment",
            "deployment.apps",
            "deployments.v1.apps",
        ] {
            assert_eq!(Kind::resolve(w), Some(Kind::Deployment), "{w}");
        }
        assert_eq!(Kind::resolve("po"), Some(Kind::Pod));
        assert_eq!(Kind::resolve("svc"), Some(Kind::Service));
        assert_eq!(Kind::resolve("hpa"), Some(Kind::HorizontalPodAutoscaler));
        assert_eq!(Kind::resolve("pods.apps"), None);
        assert_eq!(Kind::resolve("widgets"), None);
    }

    #[test]
    fn types_by_group_and_version() {
        assert_eq!(
            Kind::from_type("apps/v1", "Deployment"),
            Ok(Kind::Deployment)
        );
        assert_eq!(
            Kind::from_type("v1", "Deployment"),
            Err(TypeError::NoVersion)
        );
        assert_eq!(Kind::from_type("v1", "Widget"), Err(TypeError::NoKind));
        assert_eq!(Kind::Deployment.resource(), "deployment.apps");
        assert_eq!(Kind::Pod.store_kind(), "Pod");
        assert_eq!(Kind::ALL.len(), INFO.len());
    }
}
