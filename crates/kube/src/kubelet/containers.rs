//! One container of a pod through its life: made and started (its image
//! pulled as its policy says), restarted as the pod's restartPolicy says
//! after the kubelet's back-off (none for the first restart, then 10 s
//! doubling to 300 s, forgotten after 10 minutes of running), a failed
//! pull or start retried after the same back-off, its probes run while it
//! runs.

use super::spec::{PodRef, Waiting};
use super::{
    attempt, epoch, hooks, record, running, status, Kubelet, PodContainers, Sandbox, Step,
    BACKOFF_RESET_SECS,
};
use crate::cluster::Cluster;
use k8s_openapi::api::core::v1::Container as PodContainer;
use skiff_engine::images::{PullOptions, PullPolicy};
use skiff_engine::model::Status;
use std::time::{Duration, Instant};

impl Kubelet {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn sync_container(
        &mut self,
        c: &Cluster<'_>,
        p: &PodRef<'_>,
        k: &PodContainer,
        have: &PodContainers,
        sb: Sandbox<'_>,
        policy: &str,
        init: bool,
        st: &mut status::Builder,
    ) -> Step {
        let key = (p.uid.to_string(), k.name.clone());
        let latest = have.latest(&k.name);
        let next_attempt = match latest {
            None => 0,
            Some(x) if running(x) => {
                if self.post_start_running(c, p, k, x) {
                    st.waiting(&k.name, "ContainerCreating", String::new());
                    return Step::Wait(Some(Instant::now() + hooks::POLL));
                }
                for (reason, msg) in self.probes.track(c.engine(), p, k, x, sb.ip) {
                    let ty = if reason == "Unhealthy" {
                        "Warning"
                    } else {
                        "Normal"
                    };
                    record(c, p, ty, reason, &msg);
                }
                return if init { Step::Wait(None) } else { Step::Done };
            }
            Some(x) if x.state.status == Status::Created => attempt(x),
            Some(x) => {
                let code = x.state.exit_code;
                self.probes.stopped(p.uid, &k.name);
                if let Some(h) = self.post_start.remove(&x.id) {
                    h.abandon(c.engine());
                }
                let restart = match policy {
                    "Always" => !init || code != 0,
                    "OnFailure" => code != 0,
                    _ => false,
                };
                if init && code == 0 {
                    return Step::Done;
                }
                if !restart {
                    return if init { Step::Wait(None) } else { Step::Done };
                }
                let ran = match (epoch(&x.state.started_at), epoch(&x.state.finished_at)) {
                    (Some(s), Some(f)) => f - s,
                    _ => 0,
                };
                if ran >= BACKOFF_RESET_SECS {
                    self.backoff.remove(&key);
                }
                let now = Instant::now();
                if let Some(b) = self.backoff.get(&key) {
                    let until = b.last + b.delay;
                    if now < until {
                        if self
                            .reported
                            .insert((key.0.clone(), key.1.clone(), attempt(x)))
                        {
                            let msg = format!(
                                "Back-off restarting failed container {} in pod {}_{}({})",
                                k.name, p.name, p.namespace, p.uid
                            );
                            record(c, p, "Warning", "BackOff", &msg);
                        }
                        st.waiting(
                            &k.name,
                            "CrashLoopBackOff",
                            format!(
                                "back-off {}s restarting failed container={} pod={}_{}({})",
                                b.delay.as_secs(),
                                k.name,
                                p.name,
                                p.namespace,
                                p.uid
                            ),
                        );
                        return Step::Wait(Some(until));
                    }
                }
                self.back_off(&key);
                // Keep the attempt that just ended (`logs --previous`); drop
                // the ones before it.
                if let Some(old) = have.previous(&k.name) {
                    let _ = c.engine().remove(&old.id, true, false);
                }
                attempt(x) + 1
            }
        };
        // A start that failed is tried again after the kubelet's back-off,
        // its error shown meanwhile.
        let start_key = (p.uid.to_string(), format!("start:{}", k.name));
        if let (Some(b), Some(w)) = (
            self.backoff.get(&start_key),
            self.start_errors.get(&start_key),
        ) {
            let until = b.last + b.delay;
            if Instant::now() < until {
                st.waiting(&k.name, w.reason, w.message.clone());
                return Step::Wait(Some(until));
            }
        }
        // A pull that failed is tried again after the kubelet's back-off.
        let pull_key = (p.uid.to_string(), format!("pull:{}", k.name));
        if let Some(b) = self.backoff.get(&pull_key) {
            let until = b.last + b.delay;
            if Instant::now() < until {
                let image = k.image.clone().unwrap_or_default();
                st.waiting(
                    &k.name,
                    "ImagePullBackOff",
                    format!("Back-off pulling image \"{image}\""),
                );
                return Step::Wait(Some(until));
            }
        }
        match self.start_container(c, p, k, have, sb, next_attempt) {
            Ok(()) => {
                self.backoff.remove(&pull_key);
                self.backoff.remove(&start_key);
                self.start_errors.remove(&start_key);
                if init {
                    Step::Wait(None)
                } else {
                    Step::Done
                }
            }
            Err(w) => {
                let mut wake = Instant::now() + Duration::from_secs(2);
                if w.reason == "ErrImagePull" || w.reason == "ErrImageNeverPull" {
                    record(c, p, "Warning", "Failed", &w.message);
                    record(c, p, "Warning", "Failed", &format!("Error: {}", w.reason));
                    wake = self.back_off(&pull_key);
                } else if w.reason == "RunContainerError" || w.reason == "CreateContainerError" {
                    // (A configuration error is tried on every pass: nothing
                    // is made until it is mended.)
                    wake = self.back_off(&start_key);
                    self.start_errors.insert(start_key, w.clone());
                    record(c, p, "Warning", "Failed", &format!("Error: {}", w.message));
                }
                st.waiting(&k.name, w.reason, w.message);
                Step::Wait(Some(wake))
            }
        }
    }

    fn start_container(
        &mut self,
        c: &Cluster<'_>,
        p: &PodRef<'_>,
        k: &PodContainer,
        have: &PodContainers,
        sb: Sandbox<'_>,
        attempt_no: u32,
    ) -> Result<(), Waiting> {
        let e = c.engine();
        self.dirty = true;
        let image = k.image.clone().unwrap_or_default();
        let policy = match k.image_pull_policy.as_deref() {
            Some("Always") => PullPolicy::Always,
            Some("Never") => PullPolicy::Never,
            _ => PullPolicy::Missing,
        };
        // A created but never started attempt (a failed start) is replaced.
        if let Some(x) = have
            .latest(&k.name)
            .filter(|x| x.state.status == Status::Created)
        {
            let _ = e.remove(&x.id, true, false);
        }
        let pull = PullOptions {
            tls_verify: !image.starts_with("127.0.0.1") && !image.starts_with("localhost"),
            ..Default::default()
        };
        if let Err(err) = e.ensure_image(&image, policy, &pull) {
            let reason = if policy == PullPolicy::Never {
                "ErrImageNeverPull"
            } else {
                "ErrImagePull"
            };
            let message = if policy == PullPolicy::Never {
                format!("Container image \"{image}\" is not present with pull policy of Never")
            } else {
                format!("failed to pull and unpack image \"{image}\": {err}")
            };
            return Err(Waiting { reason, message });
        }
        let opts = p.container(c, k, sb.infra, sb.ip, attempt_no)?;
        let made = e.create(&opts).map_err(|err| Waiting {
            reason: "CreateContainerError",
            message: err.to_string(),
        })?;
        record(
            c,
            p,
            "Normal",
            "Created",
            &format!("Created container: {}", k.name),
        );
        e.start(&made.id, None).map_err(|err| Waiting {
            reason: "RunContainerError",
            message: err.to_string(),
        })?;
        record(
            c,
            p,
            "Normal",
            "Started",
            &format!("Started container {}", k.name),
        );
        self.start_post_start(c, p, k, &made.id, sb.ip);
        Ok(())
    }
}
