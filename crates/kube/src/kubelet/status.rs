//! A pod's status as the kubelet reports it: phase, conditions, each
//! container's state, last state, restart count and readiness, from the
//! engine's containers and the probes' results.

use super::probe::Prober;
use super::spec::{termination_log, PodRef, Waiting, INFRA};
use super::{attempt, epoch, PodContainers};
use crate::cluster::Cluster;
use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting,
    ContainerStatus, Pod, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use skiff_engine::model::{Container, Status};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub struct Builder {
    pod: Pod,
    messages: PathBuf,
    uid: String,
    waiting: BTreeMap<String, (String, String)>,
    all_waiting: Option<Waiting>,
    pod_ip: Option<String>,
    initialized: bool,
    keep_phase: bool,
}

fn time(rfc3339: &str) -> Option<Time> {
    let secs = epoch(rfc3339)?;
    k8s_openapi::jiff::Timestamp::from_second(secs)
        .ok()
        .map(Time)
}

/// How a container ended; its message is what it wrote to its termination
/// message file (`messages`: the pod's directory of them), at most 4 KiB;
/// with `terminationMessagePolicy: FallbackToLogsOnError`, when it wrote
/// none and failed, the end of its log (`log_tail`).
fn terminated(
    k: &Container,
    messages: &Path,
    log_tail: Option<&dyn Fn(&str) -> String>,
) -> ContainerStateTerminated {
    let mut said = Vec::new();
    if let Ok(f) = std::fs::File::open(messages.join(&k.name)) {
        let _ = std::io::Read::read_to_end(&mut std::io::Read::take(f, 4096), &mut said);
    }
    let mut message = Some(String::from_utf8_lossy(&said).into_owned()).filter(|m| !m.is_empty());
    let code = k.state.exit_code;
    if let (None, true, Some(tail)) = (&message, code != 0, log_tail) {
        message = Some(tail(&k.id)).filter(|m| !m.is_empty());
    }
    let reason = if k.state.oom_killed {
        "OOMKilled"
    } else if code == 0 {
        "Completed"
    } else {
        "Error"
    };
    ContainerStateTerminated {
        exit_code: code,
        reason: Some(reason.into()),
        started_at: time(&k.state.started_at),
        finished_at: time(&k.state.finished_at),
        container_id: Some(format!("skiff://{}", k.id)),
        message,
        ..Default::default()
    }
}

/// The end of engine container `id`'s log, as the kubelet takes it for
/// FallbackToLogsOnError: its last 80 lines, at most their last 2048 bytes.
fn log_tail(c: &Cluster<'_>, id: &str) -> String {
    let mut out = String::new();
    let o = skiff_engine::logs::LogOptions {
        tail: Some(80),
        ..Default::default()
    };
    let _ = c
        .engine()
        .logs(id, &o, &skiff_engine::notify::Cancel::new(), &mut |r| {
            out.push_str(&r.data);
            true
        });
    let mut cut = out.len().saturating_sub(2048);
    while !out.is_char_boundary(cut) {
        cut += 1;
    }
    out.split_off(cut)
}

fn exited(k: &Container) -> bool {
    matches!(k.state.status, Status::Exited | Status::Dead)
}

impl Builder {
    pub fn new(p: &PodRef<'_>, c: &Cluster<'_>) -> Builder {
        Builder {
            pod: p.pod.clone(),
            messages: termination_log(c, p.uid, "-")
                .parent()
                .expect("a file in a directory")
                .to_path_buf(),
            uid: p.uid.to_string(),
            waiting: BTreeMap::new(),
            all_waiting: None,
            pod_ip: None,
            initialized: false,
            keep_phase: false,
        }
    }

    pub fn keep_phase(&mut self) {
        self.keep_phase = true;
    }

    pub fn all_waiting(&mut self, w: &Waiting) {
        self.all_waiting = Some(w.clone());
    }

    pub fn waiting(&mut self, name: &str, reason: &str, message: String) {
        self.waiting
            .insert(name.to_string(), (reason.to_string(), message));
    }

    pub fn sandbox(&mut self, ip: &str) {
        self.pod_ip = (!ip.is_empty()).then(|| ip.to_string());
    }

    pub fn initialized(&mut self, done: bool) {
        self.initialized = done;
    }

    fn container_status(
        &self,
        c: &Cluster<'_>,
        spec: &k8s_openapi::api::core::v1::Container,
        have: &PodContainers,
        probes: &Prober,
        init: bool,
    ) -> ContainerStatus {
        let (name, image) = (spec.name.as_str(), spec.image.as_deref().unwrap_or(""));
        let tail = |id: &str| log_tail(c, id);
        let log_tail = (spec.termination_message_policy.as_deref()
            == Some("FallbackToLogsOnError"))
        .then_some(&tail as &dyn Fn(&str) -> String);
        let latest = have.latest(name);
        let mut waiting = self.waiting.get(name).cloned();
        if let (None, Some(w)) = (&waiting, &self.all_waiting) {
            waiting = Some((w.reason.into(), w.message.clone()));
        }
        let crash_loop = waiting
            .as_ref()
            .is_some_and(|(r, _)| r == "CrashLoopBackOff");
        let state = match (&waiting, latest) {
            (Some((reason, message)), _) => ContainerState {
                waiting: Some(ContainerStateWaiting {
                    reason: Some(reason.clone()),
                    message: Some(message.clone()).filter(|m| !m.is_empty()),
                }),
                ..Default::default()
            },
            (None, Some(k))
                if k.state.status == Status::Running || k.state.status == Status::Paused =>
            {
                ContainerState {
                    running: Some(ContainerStateRunning {
                        started_at: time(&k.state.started_at),
                    }),
                    ..Default::default()
                }
            }
            (None, Some(k)) if exited(k) => ContainerState {
                terminated: Some(terminated(k, &self.messages, log_tail)),
                ..Default::default()
            },
            _ => ContainerState {
                waiting: Some(ContainerStateWaiting {
                    reason: Some(
                        if !init && !self.initialized {
                            "PodInitializing"
                        } else {
                            "ContainerCreating"
                        }
                        .into(),
                    ),
                    message: None,
                }),
                ..Default::default()
            },
        };
        let last = if crash_loop {
            latest
        } else {
            have.previous(name)
        };
        let last_state = last.filter(|k| exited(k)).map(|k| ContainerState {
            terminated: Some(terminated(k, &self.messages, log_tail)),
            ..Default::default()
        });
        let running = state.running.is_some();
        ContainerStatus {
            name: name.to_string(),
            image: image.to_string(),
            image_id: latest.map(|k| k.image_id.clone()).unwrap_or_default(),
            container_id: latest.map(|k| format!("skiff://{}", k.id)),
            ready: running && probes.ready(&self.uid, name),
            started: Some(running && probes.started(&self.uid, name)),
            restart_count: latest.map_or(0, attempt) as i32,
            state: Some(state),
            last_state: last_state.or(Some(ContainerState::default())),
            ..Default::default()
        }
    }

    /// The status, with the conditions' transition times kept where they
    /// did not change.
    pub fn finish(self, c: &Cluster<'_>, probes: &Prober, have: &PodContainers) -> PodStatus {
        let old = self.pod.status.clone().unwrap_or_default();
        let spec = self.pod.spec.clone().unwrap_or_default();
        let inits: Vec<ContainerStatus> = spec
            .init_containers
            .iter()
            .flatten()
            .map(|k| self.container_status(c, k, have, probes, true))
            .collect();
        let mains: Vec<ContainerStatus> = spec
            .containers
            .iter()
            .map(|k| self.container_status(c, k, have, probes, false))
            .collect();
        let policy = spec.restart_policy.as_deref().unwrap_or("Always");
        let term = |s: &ContainerStatus| s.state.as_ref().and_then(|st| st.terminated.clone());
        let all_done = !mains.is_empty() && mains.iter().all(|s| term(s).is_some());
        let all_ok = all_done
            && mains
                .iter()
                .all(|s| term(s).is_some_and(|t| t.exit_code == 0));
        let ever_ran = mains.iter().any(|s| {
            s.restart_count > 0
                || s.state
                    .as_ref()
                    .is_some_and(|st| st.running.is_some() || st.terminated.is_some())
        });
        let init_failed = policy == "Never"
            && inits
                .iter()
                .any(|s| term(s).is_some_and(|t| t.exit_code != 0));
        let phase = if self.keep_phase {
            old.phase.clone().unwrap_or_else(|| "Pending".into())
        } else if init_failed {
            "Failed".into()
        } else if self.pod_ip.is_none() || !self.initialized {
            "Pending".into()
        } else if all_done && policy != "Always" && (all_ok || policy == "Never") {
            if all_ok { "Succeeded" } else { "Failed" }.into()
        } else if mains
            .iter()
            .any(|s| s.state.as_ref().is_some_and(|st| st.running.is_some()))
            || (ever_ran && policy != "Never")
        {
            "Running".into()
        } else {
            "Pending".into()
        };
        let sandbox = self.pod_ip.is_some()
            && have
                .latest(INFRA)
                .is_some_and(|k| k.state.status == Status::Running);
        let containers_ready = !mains.is_empty() && mains.iter().all(|s| s.ready);
        let initialized = self.initialized || self.keep_phase;
        let mut conds = vec![
            ("PodReadyToStartContainers", sandbox, None),
            (
                "Initialized",
                initialized,
                (!initialized).then_some("ContainersNotInitialized"),
            ),
            (
                "Ready",
                containers_ready,
                (!containers_ready).then_some("ContainersNotReady"),
            ),
            (
                "ContainersReady",
                containers_ready,
                (!containers_ready).then_some("ContainersNotReady"),
            ),
            ("PodScheduled", true, None),
        ];
        if phase == "Succeeded" || phase == "Failed" {
            for c in conds
                .iter_mut()
                .filter(|c| c.0 == "Ready" || c.0 == "ContainersReady")
            {
                c.1 = false;
                c.2 = Some("PodCompleted");
            }
        }
        let now = crate::cluster::now();
        let conditions = conds
            .into_iter()
            .map(|(t, ok, reason)| {
                let status = if ok { "True" } else { "False" };
                let prev = old
                    .conditions
                    .iter()
                    .flatten()
                    .find(|c| c.type_ == t && c.status == status);
                PodCondition {
                    type_: t.into(),
                    status: status.into(),
                    reason: reason.map(String::from),
                    last_transition_time: prev
                        .and_then(|c| c.last_transition_time.clone())
                        .or(Some(now.clone())),
                    ..Default::default()
                }
            })
            .collect();
        PodStatus {
            phase: Some(phase),
            conditions: Some(conditions),
            host_ip: old.host_ip.clone(),
            pod_ip: self.pod_ip.clone().or(if self.keep_phase {
                old.pod_ip.clone()
            } else {
                None
            }),
            pod_ips: self
                .pod_ip
                .clone()
                .or(if self.keep_phase {
                    old.pod_ip.clone()
                } else {
                    None
                })
                .map(|ip| vec![PodIP { ip }]),
            start_time: old.start_time.clone().or(Some(now)),
            qos_class: old.qos_class.clone(),
            init_container_statuses: (!inits.is_empty()).then_some(inits),
            container_statuses: Some(mains),
            ..Default::default()
        }
    }
}
