//! The kubelet of the one node: each pass brings the engine's containers in
//! line with the Pod objects (level-triggered, so a restarted `skiff serve`
//! picks up where the last one was), and writes each pod's status.
//!
//! A pod is an infra container holding the network namespace (on the
//! `skiff-kube` network, where the pod's IP lives) and its containers
//! joined to it. Init containers run one after another, each to success;
//! then the containers start. An exited container is restarted as the
//! pod's restartPolicy says, after the kubelet's back-off (none for the
//! first restart, then 10 s doubling to 300 s, forgotten after 10 minutes
//! of running), as a new engine container (attempt N+1) with the previous
//! attempt kept for `logs --previous`. A deleted pod's containers get
//! SIGTERM, SIGKILL after the grace period, and are removed; then the pod
//! object goes.

mod containers;
mod env;
pub mod grpc;
mod hooks;
mod lookup;
pub mod probe;
pub mod spec;
mod status;
mod stop;
pub mod volumes;

pub use lookup::pod_container;
pub(crate) use lookup::{ensure_pod_network, group_by_pod, pod_containers};

use crate::cluster::Cluster;
use crate::kinds::Kind;
use crate::object::Object;
use k8s_openapi::api::core::v1::Pod;
use skiff_engine::model::{Container, Status};
use spec::{PodRef, Waiting, ATTEMPT, INFRA};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// The node's name (the one machine).
pub fn node_name() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "skiff".into())
        .to_ascii_lowercase()
}

const BACKOFF_START: Duration = Duration::from_secs(10);
const BACKOFF_MAX: Duration = Duration::from_secs(300);
/// A container that ran this long has its back-off forgotten.
const BACKOFF_RESET_SECS: i64 = 600;

/// A container's restart back-off: when it last restarted, and how long
/// the next restart waits after that.
#[derive(Debug, Clone, Copy)]
struct Backoff {
    last: Instant,
    delay: Duration,
}

/// What the kubelet remembers between passes (all of it can be lost: a new
/// serve starts with no back-off and probes from scratch).
#[derive(Default)]
pub struct Kubelet {
    backoff: HashMap<(String, String), Backoff>,
    /// Why a container's last start failed (shown during its back-off).
    start_errors: HashMap<(String, String), Waiting>,
    /// (pod uid, container, attempt) whose back-off was reported.
    reported: std::collections::HashSet<(String, String, u32)>,
    /// Containers being stopped: when SIGTERM was sent.
    stopping: HashMap<String, Instant>,
    /// This pod's pass made, started, removed or killed an engine
    /// container: its status is written from a fresh read of them (else
    /// from what the pass began with: reading every container again for
    /// each pod would make a pass quadratic in pods).
    dirty: bool,
    /// postStart hooks under way, by engine container.
    post_start: HashMap<String, hooks::Hook>,
    /// preStop hooks, by engine container: when each began (the grace
    /// period counts from then), and the hook while it runs.
    pre_stop: HashMap<String, (Instant, Option<hooks::Hook>)>,
    pub probes: probe::Prober,
}

/// The engine containers of one pod, by container name, newest attempt
/// first.
#[derive(Default)]
pub(crate) struct PodContainers {
    by_name: BTreeMap<String, Vec<Container>>,
}

impl PodContainers {
    pub(crate) fn latest(&self, name: &str) -> Option<&Container> {
        self.by_name.get(name).and_then(|v| v.first())
    }

    pub(crate) fn previous(&self, name: &str) -> Option<&Container> {
        self.by_name.get(name).and_then(|v| v.get(1))
    }

    fn all(&self) -> impl Iterator<Item = &Container> {
        self.by_name.values().flatten()
    }
}

pub(crate) fn attempt(c: &Container) -> u32 {
    c.config
        .labels
        .get(ATTEMPT)
        .and_then(|a| a.parse().ok())
        .unwrap_or(0)
}

fn running(c: &Container) -> bool {
    matches!(
        c.state.status,
        Status::Running | Status::Paused | Status::Restarting
    )
}

/// Seconds since the epoch of an RFC 3339 time the engine recorded.
pub(crate) fn epoch(t: &str) -> Option<i64> {
    skiff_engine::time::parse_timestamp(t).map(|n| n / 1_000_000_000)
}

impl Kubelet {
    pub fn new() -> Kubelet {
        Kubelet::default()
    }

    /// One pass over every pod; when the next pass is due at the latest
    /// (a back-off ending, a probe, a grace period running out).
    pub fn sync(&mut self, c: &Cluster<'_>) -> crate::Result<Option<Instant>> {
        let mut wake: Option<Instant> = None;
        let mut due = |t: Instant| wake = Some(wake.map_or(t, |w: Instant| w.min(t)));
        let pods: Vec<Pod> = c
            .list(Kind::Pod, None)?
            .into_iter()
            .filter_map(|o| match o {
                Object::Pod(p) => Some(*p),
                _ => None,
            })
            .collect();
        let by_pod = group_by_pod(c.engine().list()?);
        // Containers of pods that are gone: stopped, then removed.
        let live: std::collections::HashSet<&str> = pods
            .iter()
            .filter_map(|p| p.metadata.uid.as_deref())
            .collect();
        for (uid, containers) in &by_pod {
            if !live.contains(uid.as_str()) {
                if let Some(t) =
                    self.terminate(c, containers.all(), true, None, &Default::default())
                {
                    due(t);
                } else {
                    volumes::cleanup(c, uid);
                    self.forget(uid);
                }
            }
        }
        let empty = PodContainers::default();
        // The scheduler's view: what the pods already placed request.
        let bound = |p: &Pod| p.spec.as_ref().is_some_and(|s| s.node_name.is_some());
        let finished = |p: &Pod| {
            matches!(
                p.status.as_ref().and_then(|s| s.phase.as_deref()),
                Some("Succeeded" | "Failed")
            )
        };
        let mut placed: Vec<&Pod> = pods.iter().filter(|p| bound(p) && !finished(p)).collect();
        let mut order: Vec<&Pod> = pods.iter().collect();
        order.sort_by_key(|p| {
            (
                p.metadata
                    .creation_timestamp
                    .as_ref()
                    .map_or(0, |t| t.0.as_second()),
                p.metadata.name.clone(),
            )
        });
        for pod in order {
            let uid = pod.metadata.uid.clone().unwrap_or_default();
            let containers = by_pod.get(&uid).unwrap_or(&empty);
            if pod.metadata.deletion_timestamp.is_some() {
                let grace = pod.metadata.deletion_grace_period_seconds;
                let hold = self.run_pre_stop(c, pod, containers);
                if !hold.is_empty() {
                    due(Instant::now() + hooks::POLL);
                }
                match self.terminate(c, containers.all(), true, grace, &hold) {
                    Some(t) => due(t),
                    None => {
                        volumes::cleanup(c, &uid);
                        self.forget(&uid);
                        c.remove_terminated_pod(pod)?;
                    }
                }
                continue;
            }
            if !bound(pod) {
                match crate::controllers::node::unschedulable(pod, &placed) {
                    Some(why) => {
                        self.unschedulable(c, pod, &why)?;
                        continue;
                    }
                    None => {
                        placed.push(pod);
                        let msg = format!(
                            "Successfully assigned {}/{} to {}",
                            pod.metadata.namespace.as_deref().unwrap_or("default"),
                            pod.metadata.name.as_deref().unwrap_or(""),
                            node_name()
                        );
                        let o = Object::Pod(Box::new(pod.clone()));
                        crate::controllers::events::record_from(
                            c,
                            &o,
                            "Normal",
                            "Scheduled",
                            &msg,
                            "default-scheduler",
                        );
                    }
                }
            }
            if let Some(t) = self.sync_pod(c, pod, containers)? {
                due(t);
            }
        }
        Ok(wake)
    }

    /// A pod that does not fit stays Pending, with the scheduler's
    /// condition and (once per reason) its FailedScheduling event.
    fn unschedulable(&mut self, c: &Cluster<'_>, pod: &Pod, why: &str) -> crate::Result<()> {
        let old = pod.status.clone().unwrap_or_default();
        let same = old
            .conditions
            .iter()
            .flatten()
            .any(|c| c.type_ == "PodScheduled" && c.message.as_deref() == Some(why));
        if same {
            return Ok(());
        }
        let status = k8s_openapi::api::core::v1::PodStatus {
            phase: Some("Pending".into()),
            qos_class: old.qos_class.clone(),
            conditions: Some(vec![k8s_openapi::api::core::v1::PodCondition {
                type_: "PodScheduled".into(),
                status: "False".into(),
                reason: Some("Unschedulable".into()),
                message: Some(why.to_string()),
                last_transition_time: Some(crate::cluster::now()),
                ..Default::default()
            }]),
            ..Default::default()
        };
        let mut p = pod.clone();
        p.status = Some(status);
        c.replace(Object::Pod(Box::new(p)))?;
        crate::controllers::events::record(
            c,
            &Object::Pod(Box::new(pod.clone())),
            "Warning",
            "FailedScheduling",
            why,
        );
        Ok(())
    }

    /// Start (or lengthen) the back-off of `key`: none was running, 10 s;
    /// else twice the last, at most 300 s. When it ends.
    fn back_off(&mut self, key: &(String, String)) -> Instant {
        let delay = self
            .backoff
            .get(key)
            .map_or(BACKOFF_START, |b| (b.delay * 2).min(BACKOFF_MAX));
        let now = Instant::now();
        self.backoff
            .insert(key.clone(), Backoff { last: now, delay });
        now + delay
    }

    fn forget(&mut self, uid: &str) {
        self.backoff.retain(|(u, _), _| u != uid);
        self.reported.retain(|(u, _, _)| u != uid);
        self.start_errors.retain(|(u, _), _| u != uid);
        self.probes.forget(uid);
    }

    /// Bring one pod's containers in line with its spec, and write its
    /// status; when to look again.
    fn sync_pod(
        &mut self,
        c: &Cluster<'_>,
        pod: &Pod,
        have: &PodContainers,
    ) -> crate::Result<Option<Instant>> {
        let p = PodRef::new(pod);
        self.dirty = false;
        let mut st = status::Builder::new(&p, c);
        let phase_done = matches!(
            pod.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Succeeded" | "Failed")
        );
        let mut wake = None;
        if phase_done {
            // A finished pod's sandbox goes; its containers stay for logs.
            if let Some(t) = self.terminate(
                c,
                have.latest(INFRA).into_iter(),
                false,
                Some(0),
                &Default::default(),
            ) {
                wake = Some(t);
            }
            st.keep_phase();
            c.write_pod_status(pod, st.finish(c, &self.probes, have))?;
            return Ok(wake);
        }
        if let Err(w) = volumes::prepare(&p, c) {
            st.all_waiting(&w);
            c.write_pod_status(pod, st.finish(c, &self.probes, have))?;
            return Ok(Some(Instant::now() + Duration::from_secs(2)));
        }
        let infra = match self.ensure_infra(c, &p, have) {
            Ok(i) => i,
            Err(w) => {
                st.all_waiting(&w);
                c.write_pod_status(pod, st.finish(c, &self.probes, have))?;
                return Ok(Some(Instant::now() + Duration::from_secs(2)));
            }
        };
        let pod_ip = c
            .engine()
            .endpoints(&infra.id)?
            .iter()
            .find_map(|e| e.ip)
            .map(|ip| ip.to_string())
            .unwrap_or_default();
        st.sandbox(&pod_ip);
        let sb = Sandbox {
            infra: &infra.id,
            ip: &pod_ip,
        };
        let spec = p.spec();
        let policy = spec
            .restart_policy
            .clone()
            .unwrap_or_else(|| "Always".into());
        // Init containers, in order, each to success.
        let mut initialized = true;
        for k in spec.init_containers.iter().flatten() {
            match self.sync_container(c, &p, k, have, sb, &policy, true, &mut st) {
                Step::Done => continue,
                Step::Wait(t) => {
                    wake = earliest(wake, t);
                    initialized = false;
                    break;
                }
            }
        }
        st.initialized(initialized);
        if initialized {
            for k in &spec.containers {
                if let Step::Wait(t) =
                    self.sync_container(c, &p, k, have, sb, &policy, false, &mut st)
                {
                    wake = earliest(wake, t);
                }
            }
        }
        if let Some(t) = self.probes.due(p.uid) {
            wake = earliest(wake, Some(t));
        }
        // What this pass did changed the engine's containers: read them
        // again for the status.
        if self.dirty {
            let now_have = pod_containers(c, p.uid)?;
            c.write_pod_status(pod, st.finish(c, &self.probes, &now_have))?;
        } else {
            c.write_pod_status(pod, st.finish(c, &self.probes, have))?;
        }
        Ok(wake)
    }

    /// The running infra container (made, or made again with its pod's
    /// containers when it died).
    fn ensure_infra(
        &mut self,
        c: &Cluster<'_>,
        p: &PodRef<'_>,
        have: &PodContainers,
    ) -> Result<Container, Waiting> {
        let e = c.engine();
        let waiting = |reason: &'static str| {
            move |err: skiff_engine::Error| Waiting {
                reason,
                message: err.to_string(),
            }
        };
        if let Some(k) = have.latest(INFRA) {
            if running(k) {
                return Ok(k.clone());
            }
        }
        // A new sandbox: whatever ran in the old one goes with it.
        self.dirty = true;
        let next = have.latest(INFRA).map_or(0, |k| attempt(k) + 1);
        for k in have.all() {
            let _ = e.remove(&k.id, true, false);
        }
        ensure_pod_network(c).map_err(waiting("ContainerCreating"))?;
        e.pause_image().map_err(waiting("ContainerCreating"))?;
        let image = skiff_engine::sandbox::PAUSE_IMAGE;
        let made = e
            .create(&p.infra(image, next))
            .map_err(waiting("ContainerCreating"))?;
        if let Err(err) = e.start(&made.id, None) {
            let _ = e.remove(&made.id, true, false);
            return Err(waiting("ContainerCreating")(err));
        }
        e.find(&made.id).map_err(waiting("ContainerCreating"))
    }
}

/// A pod's running infra container and its IP.
#[derive(Clone, Copy)]
struct Sandbox<'a> {
    infra: &'a str,
    ip: &'a str,
}

enum Step {
    /// Nothing more to do for it now.
    Done,
    /// Still under way (an init container running, a back-off): look again
    /// by then, if given.
    Wait(Option<Instant>),
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// `name_namespace(uid)`, as the kubelet names a pod in its messages.
fn pod_key(p: &PodRef<'_>) -> String {
    format!("{}_{}({})", p.name, p.namespace, p.uid)
}

/// The pod's IP as its status has it.
fn pod_ip(pod: &Pod) -> String {
    pod.status
        .as_ref()
        .and_then(|s| s.pod_ip.clone())
        .unwrap_or_default()
}

/// An event about the pod, from the kubelet.
fn record(c: &Cluster<'_>, p: &PodRef<'_>, ty: &str, reason: &str, msg: &str) {
    crate::controllers::events::record(c, &Object::Pod(Box::new(p.pod.clone())), ty, reason, msg);
}
