//! Container lifecycle hooks: `postStart` runs right after the container
//! starts (the container counts as created, not running, until it passes;
//! a failure kills the container, which then restarts as the pod's
//! restartPolicy says), `preStop` runs before the container gets SIGTERM
//! when its pod is deleted (within the pod's grace period). A hook is an
//! `exec` in the container, an `httpGet` to the pod's IP or a `sleep`.
//!
//! Hooks never hold up the kubelet's pass: each is started, then looked at
//! on later passes until it ends.

use super::probe::{http_get, Exec};
use super::spec::PodRef;
use super::{pod_ip, pod_key, record, running, Kubelet, PodContainers};
use crate::cluster::Cluster;
use k8s_openapi::api::core::v1::{Container as PodContainer, LifecycleHandler, Pod};
use skiff_engine::model::Container;
use skiff_engine::Engine;
use std::sync::mpsc::{channel, Receiver, TryRecvError};
use std::time::{Duration, Instant};

/// How often a running hook is looked at.
pub(super) const POLL: Duration = Duration::from_millis(100);

/// A hook under way.
pub(super) enum Hook {
    Exec(Exec),
    Http(Receiver<Result<(), String>>),
    Sleep(Instant),
}

impl Hook {
    /// Start `h` for container `k` (engine container `c`) of a pod at
    /// `pod_ip`.
    pub(super) fn start(
        e: &Engine,
        h: &LifecycleHandler,
        k: &PodContainer,
        c: &Container,
        pod_ip: &str,
    ) -> Result<Hook, String> {
        if let Some(x) = &h.exec {
            return Exec::start(e, c, x.command.clone().unwrap_or_default()).map(Hook::Exec);
        }
        if let Some(g) = &h.http_get {
            let (tx, rx) = channel();
            let (g, k, ip) = (g.clone(), k.clone(), pod_ip.to_string());
            std::thread::spawn(move || {
                let _ = tx.send(http_get(&g, &k, &ip, Duration::from_secs(30)));
            });
            return Ok(Hook::Http(rx));
        }
        if let Some(s) = &h.sleep {
            return Ok(Hook::Sleep(
                Instant::now() + Duration::from_secs(s.seconds.max(0) as u64),
            ));
        }
        Err("a lifecycle hook needs exec, httpGet or sleep".into())
    }

    /// Its verdict once it ended; None while it runs.
    pub(super) fn poll(&mut self, e: &Engine) -> Option<Result<(), String>> {
        match self {
            Hook::Exec(x) => {
                if !x.wait_for(Duration::ZERO) {
                    return None;
                }
                let Hook::Exec(x) = std::mem::replace(self, Hook::Sleep(Instant::now())) else {
                    unreachable!("matched above")
                };
                Some(x.finish(e, true))
            }
            Hook::Http(rx) => match rx.try_recv() {
                Ok(r) => Some(r),
                Err(TryRecvError::Empty) => None,
                Err(TryRecvError::Disconnected) => Some(Err("the hook's request ended".into())),
            },
            Hook::Sleep(until) => (Instant::now() >= *until).then_some(Ok(())),
        }
    }

    /// Stop waiting for it (an exec is killed).
    pub(super) fn abandon(self, e: &Engine) {
        if let Hook::Exec(x) = self {
            let _ = x.finish(e, false);
        }
    }
}

/// The kubelet's words for a failed hook.
pub(super) fn failure(h: &LifecycleHandler, k: &str, pod: &str, why: &str) -> String {
    let what = if let Some(x) = &h.exec {
        format!(
            "Exec lifecycle hook ([{}])",
            x.command.clone().unwrap_or_default().join(" ")
        )
    } else if let Some(g) = &h.http_get {
        format!("HTTP lifecycle hook ({})", g.path.as_deref().unwrap_or("/"))
    } else {
        "Lifecycle hook".to_string()
    };
    format!("{what} for Container \"{k}\" in Pod \"{pod}\" failed - error: {why}")
}

impl Kubelet {
    /// Start the container's postStart hook, if it has one (the engine
    /// container `id` has just started).
    pub(super) fn start_post_start(
        &mut self,
        c: &Cluster<'_>,
        p: &PodRef<'_>,
        k: &PodContainer,
        id: &str,
        pod_ip: &str,
    ) {
        let Some(h) = k.lifecycle.as_ref().and_then(|l| l.post_start.as_ref()) else {
            return;
        };
        let e = c.engine();
        let started = match e.find(id) {
            Ok(x) => x,
            Err(err) => return record(c, p, "Warning", "FailedPostStartHook", &err.to_string()),
        };
        match Hook::start(e, h, k, &started, pod_ip) {
            Ok(hook) => {
                self.post_start.insert(started.id.clone(), hook);
            }
            Err(why) => {
                let msg = failure(h, &k.name, &pod_key(p), &why);
                record(c, p, "Warning", "FailedPostStartHook", &msg);
                let _ = e.kill(&started.id, libc::SIGKILL);
            }
        }
    }

    /// Whether the running container `x`'s postStart hook still runs; one
    /// that failed kills the container (FailedPostStartHook).
    pub(super) fn post_start_running(
        &mut self,
        c: &Cluster<'_>,
        p: &PodRef<'_>,
        k: &PodContainer,
        x: &Container,
    ) -> bool {
        let Some(hook) = self.post_start.get_mut(&x.id) else {
            return false;
        };
        match hook.poll(c.engine()) {
            None => true,
            Some(Ok(())) => {
                self.post_start.remove(&x.id);
                false
            }
            Some(Err(why)) => {
                self.post_start.remove(&x.id);
                let h = k.lifecycle.as_ref().and_then(|l| l.post_start.as_ref());
                let msg = h.map_or(why.clone(), |h| failure(h, &k.name, &pod_key(p), &why));
                record(c, p, "Warning", "FailedPostStartHook", &msg);
                let _ = c.engine().kill(&x.id, libc::SIGKILL);
                self.dirty = true;
                true
            }
        }
    }

    /// The preStop hooks of a deleted pod's running containers: started
    /// once each, looked at until they end. The containers whose hook still
    /// runs (they get no SIGTERM yet).
    pub(super) fn run_pre_stop(
        &mut self,
        c: &Cluster<'_>,
        pod: &Pod,
        have: &PodContainers,
    ) -> std::collections::HashSet<String> {
        let e = c.engine();
        let p = PodRef::new(pod);
        let mut hold = std::collections::HashSet::new();
        for k in &p.spec().containers {
            let Some(h) = k.lifecycle.as_ref().and_then(|l| l.pre_stop.as_ref()) else {
                continue;
            };
            let Some(x) = have.latest(&k.name).filter(|x| running(x)) else {
                continue;
            };
            if self.stopping.contains_key(&x.id) && !self.pre_stop.contains_key(&x.id) {
                continue;
            }
            let entry = self.pre_stop.entry(x.id.clone()).or_insert_with(|| {
                let hook = Hook::start(e, h, k, x, &pod_ip(pod));
                match hook {
                    Ok(hook) => (Instant::now(), Some(hook)),
                    Err(why) => {
                        let msg = failure(h, &k.name, &pod_key(&p), &why);
                        record(c, &p, "Warning", "FailedPreStopHook", &msg);
                        (Instant::now(), None)
                    }
                }
            });
            if let Some(hook) = entry.1.as_mut() {
                match hook.poll(e) {
                    None => {
                        hold.insert(x.id.clone());
                    }
                    Some(r) => {
                        entry.1 = None;
                        if let Err(why) = r {
                            let msg = failure(h, &k.name, &pod_key(&p), &why);
                            record(c, &p, "Warning", "FailedPreStopHook", &msg);
                        }
                    }
                }
            }
        }
        hold
    }
}
