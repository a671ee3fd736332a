//! The Job controller: pods from the template (owned by the Job, named
//! `<job>-<5 random>`) until `completions` succeed, at most `parallelism`
//! at once; failures (failed pods, and restarts of `OnFailure` containers)
//! count against `backoffLimit`, a new pod after a failure waiting the
//! controller's back-off (10 s doubling, at most 6 minutes);
//! `activeDeadlineSeconds` fails the Job; a finished Job's running pods
//! go, its Complete or Failed condition is set, and
//! `ttlSecondsAfterFinished` later the Job itself goes with its pods.

use super::{controller_of, events, is_ready, owner_ref, random_suffix, PassResult};
use crate::cluster::{now, now_timestamp, Cluster, DeleteOptions, Mode};
use crate::kinds::Kind;
use crate::manifest::Manifest;
use crate::object::Object;
use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus};
use k8s_openapi::api::core::v1::Pod;

const BACKOFF_START: i64 = 10;
const BACKOFF_MAX: i64 = 360;

fn phase(p: &Pod) -> &str {
    p.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending")
}

/// When the pod finished (its containers' latest finish), seconds since
/// the epoch.
fn finished_at(p: &Pod) -> i64 {
    p.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|c| c.state.as_ref()?.terminated.as_ref()?.finished_at.as_ref())
        .map(|t| t.0.as_second())
        .max()
        .unwrap_or(0)
}

pub fn sync(c: &Cluster<'_>, pods: &[Pod], out: &mut PassResult) -> crate::Result<()> {
    for o in c.list(Kind::Job, None)? {
        let Object::Job(j) = o else { continue };
        if j.metadata.deletion_timestamp.is_none() {
            sync_one(c, &j, pods, out)?;
        }
    }
    Ok(())
}

fn condition(st: &JobStatus, ty: &str) -> bool {
    st.conditions
        .iter()
        .flatten()
        .any(|c| c.type_ == ty && c.status == "True")
}

fn sync_one(c: &Cluster<'_>, j: &Job, pods: &[Pod], out: &mut PassResult) -> crate::Result<()> {
    let ns = j.metadata.namespace.clone().unwrap_or_default();
    let name = j.metadata.name.clone().unwrap_or_default();
    let uid = j.metadata.uid.clone().unwrap_or_default();
    let Some(spec) = j.spec.clone() else {
        return Ok(());
    };
    let old = j.status.clone().unwrap_or_default();
    let now_s = now_timestamp().as_second();
    let finished = condition(&old, "Complete") || condition(&old, "Failed");
    if finished {
        // Its time to live, then the Job and its pods go.
        if let Some(ttl) = spec.ttl_seconds_after_finished {
            let at = old
                .completion_time
                .as_ref()
                .or(old.start_time.as_ref())
                .map_or(now_s, |t| t.0.as_second())
                + ttl as i64;
            if now_s >= at {
                c.delete(
                    &[(Kind::Job, ns.clone(), name.clone())],
                    &DeleteOptions::default(),
                )?;
            } else {
                out.wake_at_epoch(at);
            }
        }
        return Ok(());
    }
    let mine: Vec<&Pod> = pods
        .iter()
        .filter(|p| {
            p.metadata.namespace.as_deref() == Some(&ns) && controller_of(&p.metadata) == Some(&uid)
        })
        .collect();
    let active: Vec<&Pod> = mine
        .iter()
        .copied()
        .filter(|p| {
            p.metadata.deletion_timestamp.is_none() && !matches!(phase(p), "Succeeded" | "Failed")
        })
        .collect();
    let succeeded = mine.iter().filter(|p| phase(p) == "Succeeded").count() as i32;
    let failed_pods = mine.iter().filter(|p| phase(p) == "Failed").count() as i32;
    let restarts: i32 = mine
        .iter()
        .filter_map(|p| p.status.as_ref()?.container_statuses.as_ref())
        .flatten()
        .map(|c| c.restart_count)
        .sum();
    let failures = failed_pods + restarts;
    let completions = spec.completions.unwrap_or(1);
    let parallelism = spec.parallelism.unwrap_or(1);
    let backoff_limit = spec.backoff_limit.unwrap_or(6);
    let start = old.start_time.clone().unwrap_or_else(now);
    let mut status = JobStatus {
        start_time: Some(start.clone()),
        active: Some(active.len() as i32).filter(|n| *n > 0),
        succeeded: Some(succeeded).filter(|n| *n > 0),
        failed: Some(failed_pods).filter(|n| *n > 0),
        ready: Some(active.iter().filter(|p| is_ready(p)).count() as i32),
        terminating: Some(
            mine.iter()
                .filter(|p| p.metadata.deletion_timestamp.is_some())
                .count() as i32,
        ),
        completion_time: None,
        conditions: old.conditions.clone(),
        ..Default::default()
    };
    let mut verdict: Option<(&str, &str, String)> = None;
    if succeeded >= completions {
        verdict = Some(("Complete", "", String::new()));
    } else if failures > backoff_limit {
        verdict = Some((
            "Failed",
            "BackoffLimitExceeded",
            "Job has reached the specified backoff limit".into(),
        ));
    } else if let Some(deadline) = spec.active_deadline_seconds {
        let at = start.0.as_second() + deadline;
        if now_s >= at {
            verdict = Some((
                "Failed",
                "DeadlineExceeded",
                "Job was active longer than specified deadline".into(),
            ));
        } else {
            out.wake_at_epoch(at);
        }
    }
    let job_object = Object::Job(Box::new(j.clone()));
    match verdict {
        Some((ty, reason, message)) => {
            // Running pods of a finished Job go.
            let doomed: Vec<_> = active
                .iter()
                .map(|p| {
                    (
                        Kind::Pod,
                        ns.clone(),
                        p.metadata.name.clone().unwrap_or_default(),
                    )
                })
                .collect();
            if !doomed.is_empty() {
                c.delete(&doomed, &DeleteOptions::default())?;
            }
            let t = now();
            let mut conds = Vec::new();
            if ty == "Complete" {
                conds.push(JobCondition {
                    type_: "SuccessCriteriaMet".into(),
                    status: "True".into(),
                    reason: Some("CompletionsReached".into()),
                    message: Some("Reached expected number of succeeded pods".into()),
                    last_probe_time: Some(t.clone()),
                    last_transition_time: Some(t.clone()),
                });
                status.completion_time = Some(t.clone());
                events::record(c, &job_object, "Normal", "Completed", "Job completed");
            } else {
                conds.push(JobCondition {
                    type_: "FailureTarget".into(),
                    status: "True".into(),
                    reason: Some(reason.into()),
                    message: Some(message.clone()),
                    last_probe_time: Some(t.clone()),
                    last_transition_time: Some(t.clone()),
                });
                events::record(c, &job_object, "Warning", reason, &message);
            }
            conds.push(JobCondition {
                type_: ty.into(),
                status: "True".into(),
                reason: Some(
                    if ty == "Complete" {
                        "CompletionsReached"
                    } else {
                        reason
                    }
                    .into(),
                ),
                message: Some(if ty == "Complete" {
                    "Reached expected number of succeeded pods".into()
                } else {
                    message
                }),
                last_probe_time: Some(t.clone()),
                last_transition_time: Some(t),
            });
            status.conditions = Some(conds);
            status.active = None;
            status.ready = Some(0);
        }
        None => {
            let want = parallelism.min(completions - succeeded).max(0) as usize;
            if active.len() < want {
                // After a failure, the controller's back-off first.
                let last_failure = mine
                    .iter()
                    .filter(|p| phase(p) == "Failed")
                    .map(|p| finished_at(p))
                    .max();
                let wait_until = last_failure.map(|t| {
                    let delay = (BACKOFF_START << (failed_pods - 1).clamp(0, 10)).min(BACKOFF_MAX);
                    t + delay
                });
                match wait_until {
                    Some(t) if now_s < t && active.is_empty() => out.wake_at_epoch(t),
                    _ => {
                        for _ in active.len()..want {
                            create_pod(c, j, &ns, &name, &uid)?;
                        }
                    }
                }
            }
        }
    }
    if j.status.as_ref() != Some(&status) {
        let mut j = j.clone();
        j.status = Some(status);
        c.replace(Object::Job(Box::new(j)))?;
    }
    Ok(())
}

fn create_pod(c: &Cluster<'_>, j: &Job, ns: &str, name: &str, uid: &str) -> crate::Result<()> {
    let template = j
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default();
    let mut meta = template.metadata.clone().unwrap_or_default();
    meta.name = Some(format!("{name}-{}", random_suffix()));
    meta.generate_name = Some(format!("{name}-"));
    meta.namespace = Some(ns.to_string());
    meta.owner_references = Some(vec![owner_ref("batch/v1", "Job", name, uid)]);
    let pod = Pod {
        metadata: meta,
        spec: template.spec.clone(),
        status: None,
    };
    let pod_name = pod.metadata.name.clone().unwrap_or_default();
    let m = Manifest {
        source: String::new(),
        object: Object::Pod(Box::new(pod)),
    };
    match c.apply(&[m], Some(ns), Mode::Create) {
        Ok(_) => {
            events::record(
                c,
                &Object::Job(Box::new(j.clone())),
                "Normal",
                "SuccessfulCreate",
                &format!("Created pod: {pod_name}"),
            );
            Ok(())
        }
        Err(crate::Error::AlreadyExists { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}
