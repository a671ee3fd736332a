//! The controllers `skiff serve` runs: one loop that, on every change the
//! engine's notifier sees (an object written, a container exiting) or when
//! a timer the last pass asked for runs out, runs each controller's pass.
//! Passes are level-triggered: each compares what is with what should be,
//! so a serve started after another was killed simply carries on.

pub mod claims;
pub mod deployment;
pub mod events;
pub mod hpa;
pub mod job;
pub mod node;
pub mod replicaset;
pub mod services;

use crate::cluster::Cluster;
use crate::kinds::Kind;
use crate::kubelet::Kubelet;
use crate::object::Object;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use skiff_engine::notify::Cancel;
use skiff_engine::Engine;
use std::time::{Duration, Instant};

/// How long the loop sleeps at most without a change (a resync, as
/// controllers' informers resync).
const RESYNC: Duration = Duration::from_secs(30);

/// How the controllers run.
#[derive(Debug, Clone)]
pub struct Options {
    /// How often the HorizontalPodAutoscalers are evaluated (15 s).
    pub hpa_sync_period: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            hpa_sync_period: Duration::from_secs(15),
        }
    }
}

/// Run the controllers until `cancel` is set.
pub fn run(engine: &Engine, cancel: &Cancel, opts: &Options) {
    let c = Cluster::new(engine);
    let mut hpa = hpa::Hpa::new(opts.hpa_sync_period);
    let mut kubelet = Kubelet::new();
    let mut proxy = services::Proxy::default();
    while !cancel.is_cancelled() {
        // What the notifier has seen before this pass looks at anything.
        let generation = match engine.notifier() {
            Ok(n) => n.generation(),
            Err(e) => {
                eprintln!("skiff serve: controllers: {e}");
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
        };
        let seen = match engine.objects_revision() {
            Ok(r) => r,
            Err(e) => {
                eprintln!("skiff serve: controllers: {e}");
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
        };
        let mut next = Instant::now() + RESYNC;
        match kubelet.sync(&c) {
            Ok(Some(t)) => next = next.min(t),
            Ok(None) => {}
            Err(e) => eprintln!("skiff serve: kubelet: {e}"),
        }
        // The Node once Kubernetes is used at all (a serve for the Docker API
        // alone writes no object).
        if seen > 0 {
            if let Err(e) = node::sync(&c) {
                eprintln!("skiff serve: node: {e}");
            }
        }
        let mut pass = PassResult::default();
        // The pods as the kubelet left them, read once for the controllers
        // after it (a pod a ReplicaSet makes now is theirs on the next
        // pass, which its write wakes).
        let pods = match all_pods(&c) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("skiff serve: controllers: {e}");
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
        };
        if let Err(e) = workloads(&c, &pods, &mut pass) {
            eprintln!("skiff serve: controllers: {e}");
        }
        if let Err(e) = hpa.sync(&c, &pods, &mut pass) {
            eprintln!("skiff serve: autoscaler: {e}");
        }
        match services::sync(&c, &pods, &mut proxy) {
            Ok(()) => {}
            Err(e) => {
                eprintln!("skiff serve: services: {e}");
                next = next.min(Instant::now() + Duration::from_secs(2));
            }
        }
        if let Some(t) = pass.wake {
            next = next.min(t);
        }
        if let Err(e) = engine.objects_wait_since(seen, generation, Some(next), cancel) {
            eprintln!("skiff serve: controllers: {e}");
            std::thread::sleep(Duration::from_secs(1));
        }
    }
}

/// The workload controllers' pass: Deployments, then ReplicaSets.
fn workloads(c: &Cluster<'_>, pods: &[Pod], pass: &mut PassResult) -> crate::Result<()> {
    deployment::sync(c, pass)?;
    replicaset::sync(c, pods, pass)?;
    job::sync(c, pods, pass)?;
    c.finish_namespaces()?;
    claims::sync(c)?;
    Ok(())
}

pub(crate) fn all_pods(c: &Cluster<'_>) -> crate::Result<Vec<Pod>> {
    Ok(c.list(Kind::Pod, None)?
        .into_iter()
        .filter_map(|o| match o {
            Object::Pod(p) => Some(*p),
            _ => None,
        })
        .collect())
}

/// What a pass asks of the loop: to run again by a time.
#[derive(Default)]
pub struct PassResult {
    pub wake: Option<Instant>,
}

impl PassResult {
    pub fn wake_at(&mut self, t: Instant) {
        self.wake = Some(self.wake.map_or(t, |w| w.min(t)));
    }

    /// Run again at `secs` since the epoch.
    pub fn wake_at_epoch(&mut self, secs: i64) {
        let now = crate::cluster::now_timestamp().as_second();
        let wait = Duration::from_secs((secs - now).max(0) as u64) + Duration::from_millis(50);
        self.wake_at(Instant::now() + wait);
    }

    pub fn event_warning(&mut self, c: &Cluster<'_>, about: &Object, reason: &str, message: &str) {
        events::record(c, about, "Warning", reason, message);
    }
}

/// The uid of the object that controls `meta` (its controller owner).
pub(crate) fn controller_of(meta: &ObjectMeta) -> Option<&str> {
    meta.owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true))
        .map(|r| r.uid.as_str())
}

pub(crate) fn owner_ref(api_version: &str, kind: &str, name: &str, uid: &str) -> OwnerReference {
    OwnerReference {
        api_version: api_version.into(),
        kind: kind.into(),
        name: name.into(),
        uid: uid.into(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// Not terminating and not finished.
pub(crate) fn is_active(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_none()
        && !matches!(
            p.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Succeeded" | "Failed")
        )
}

fn ready_condition(p: &Pod) -> Option<&k8s_openapi::api::core::v1::PodCondition> {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready" && c.status == "True"))
}

pub(crate) fn is_ready(p: &Pod) -> bool {
    ready_condition(p).is_some()
}

/// When a ready pod counts as available (ready for `min_ready` seconds),
/// in seconds since the epoch; None when it is not ready.
pub(crate) fn available_since(p: &Pod, min_ready: i32) -> Option<i64> {
    let since = ready_condition(p)?
        .last_transition_time
        .as_ref()
        .map_or(0, |t| t.0.as_second());
    Some(since + min_ready.max(0) as i64)
}

/// Five characters from Kubernetes' name alphabet (no vowels, no
/// look-alikes), as generated names end.
pub(crate) fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let uid = crate::cluster::new_uid().replace('-', "");
    uid.as_bytes()
        .chunks(2)
        .take(5)
        .map(|b| {
            let n = u8::from_str_radix(std::str::from_utf8(b).unwrap_or("0"), 16).unwrap_or(0);
            ALPHABET[n as usize % ALPHABET.len()] as char
        })
        .collect()
}
