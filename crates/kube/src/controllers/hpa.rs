//! The HorizontalPodAutoscaler (autoscaling/v2) controller, with
//! Kubernetes' algorithm: per Resource metric (cpu, memory; Utilization of
//! the pods' requests, or AverageValue), desired = ceil(current replicas x
//! current / target), nothing done within the tolerance (0.1); pods without
//! a metric yet count as using nothing when scaling up and all of their
//! request when scaling down, not-ready pods as using nothing when scaling
//! up; the largest of the metrics' proposals, within min and max replicas;
//! then the behavior: stabilization windows (scale up to the lowest
//! recommendation of its window, default 0 s; down to the highest of its
//! window, default 300 s) and rate policies (default: up by 4 pods or 100%
//! per 15 s, whichever is more; down by 100% per 15 s). It runs every sync
//! period (15 s; `skiff serve --hpa-sync-period`).

use super::{events, is_ready, PassResult};
use crate::cluster::{now, Cluster};
use crate::kinds::Kind;
use crate::metrics::{Sampler, Usage};
use crate::object::Object;
use crate::quantity;
use k8s_openapi::api::autoscaling::v2::{
    HPAScalingRules, HorizontalPodAutoscaler, HorizontalPodAutoscalerCondition,
    HorizontalPodAutoscalerStatus, MetricStatus, MetricValueStatus, ResourceMetricStatus,
};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use std::collections::HashMap;
use std::time::{Duration, Instant};

const TOLERANCE: f64 = 0.1;

/// What the controller remembers between runs.
pub struct Hpa {
    period: Duration,
    sampler: Sampler,
    next: Option<Instant>,
    /// Per HPA uid: its recommendations, newest last.
    recommendations: HashMap<String, Vec<(Instant, i32)>>,
    /// Per HPA uid: its scale changes (+n up, -n down).
    changes: HashMap<String, Vec<(Instant, i32)>>,
}

impl Hpa {
    pub fn new(period: Duration) -> Hpa {
        Hpa {
            period,
            sampler: Sampler::default(),
            next: None,
            recommendations: HashMap::new(),
            changes: HashMap::new(),
        }
    }

    /// Run when the period is due.
    pub fn sync(
        &mut self,
        c: &Cluster<'_>,
        pods: &[Pod],
        out: &mut PassResult,
    ) -> crate::Result<()> {
        let now = Instant::now();
        if self.next.is_some_and(|n| now < n) {
            out.wake_at(self.next.expect("checked"));
            return Ok(());
        }
        let hpas: Vec<HorizontalPodAutoscaler> = c
            .list(Kind::HorizontalPodAutoscaler, None)?
            .into_iter()
            .filter_map(|o| match o {
                Object::HorizontalPodAutoscaler(h) => Some(*h),
                _ => None,
            })
            .collect();
        self.next = Some(now + self.period);
        out.wake_at(now + self.period);
        if hpas.is_empty() {
            return Ok(());
        }
        let usage = self.sampler.sample(c)?;
        for h in &hpas {
            self.sync_one(c, h, pods, &usage)?;
        }
        Ok(())
    }

    fn sync_one(
        &mut self,
        c: &Cluster<'_>,
        h: &HorizontalPodAutoscaler,
        pods: &[Pod],
        usage: &HashMap<String, Usage>,
    ) -> crate::Result<()> {
        let ns = h.metadata.namespace.clone().unwrap_or_default();
        let uid = h.metadata.uid.clone().unwrap_or_default();
        let Some(spec) = h.spec.clone() else {
            return Ok(());
        };
        let target = &spec.scale_target_ref;
        let kind = match target.kind.as_str() {
            "Deployment" => Kind::Deployment,
            "ReplicaSet" => Kind::ReplicaSet,
            other => return self.status(c, h, None, vec![], Some(("FailedGetScale", format!("the HPA controller was unable to get the target's current scale: no scale for kind {other}")))),
        };
        let Some(obj) = c.get(kind, &ns, &target.name)? else {
            return self.status(
                c,
                h,
                None,
                vec![],
                Some(("FailedGetScale", format!("the HPA controller was unable to get the target's current scale: {} \"{}\" not found", kind.plural_resource(), target.name))),
            );
        };
        let (current, selector) = match &obj {
            Object::Deployment(d) => (
                d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
                d.spec.as_ref().map(|s| s.selector.clone()),
            ),
            Object::ReplicaSet(r) => (
                r.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
                r.spec.as_ref().map(|s| s.selector.clone()),
            ),
            _ => return Ok(()),
        };
        let selector = selector.unwrap_or_default();
        let mine: Vec<&Pod> = pods
            .iter()
            .filter(|p| {
                p.metadata.namespace.as_deref() == Some(&ns)
                    && p.metadata.deletion_timestamp.is_none()
            })
            .filter(|p| {
                !matches!(
                    p.status.as_ref().and_then(|s| s.phase.as_deref()),
                    Some("Succeeded" | "Failed")
                )
            })
            .filter(|p| {
                crate::selector::matches(&selector, &p.metadata.labels.clone().unwrap_or_default())
            })
            .collect();
        let min = spec.min_replicas.unwrap_or(1);
        let max = spec.max_replicas;
        let mut proposal = 0;
        let mut metrics = Vec::new();
        let mut failure = None;
        for m in spec.metrics.iter().flatten() {
            let Some(r) = &m.resource else { continue };
            match propose(&r.name, &r.target, current, &mine, usage) {
                Ok((desired, status)) => {
                    proposal = proposal.max(desired);
                    metrics.push(MetricStatus {
                        type_: "Resource".into(),
                        resource: Some(ResourceMetricStatus {
                            name: r.name.clone(),
                            current: status,
                        }),
                        ..Default::default()
                    });
                }
                Err(why) => failure = Some(("FailedGetResourceMetric", why)),
            }
        }
        if failure.is_some() && metrics.is_empty() {
            return self.status(c, h, Some(current), metrics, failure);
        }
        let recommended = proposal.clamp(min, max.max(min));
        // The behavior: stabilization, then the rate policies.
        let now = Instant::now();
        let behavior = spec.behavior.clone().unwrap_or_default();
        let up = behavior.scale_up.clone().unwrap_or_default();
        let down = behavior.scale_down.clone().unwrap_or_default();
        let up_window = up.stabilization_window_seconds.unwrap_or(0).max(0) as u64;
        let down_window = down.stabilization_window_seconds.unwrap_or(300).max(0) as u64;
        let recs = self.recommendations.entry(uid.clone()).or_default();
        recs.push((now, recommended));
        let keep = Duration::from_secs(up_window.max(down_window));
        recs.retain(|(t, _)| now.duration_since(*t) <= keep);
        let within = |w: u64| {
            recs.iter()
                .filter(move |(t, _)| now.duration_since(*t) <= Duration::from_secs(w))
                .map(|r| r.1)
        };
        let up_rec = within(up_window).min().unwrap_or(recommended);
        let down_rec = within(down_window).max().unwrap_or(recommended);
        let mut desired = current;
        if desired < up_rec {
            desired = up_rec;
        }
        if desired > down_rec {
            desired = down_rec;
        }
        let changes = self.changes.entry(uid.clone()).or_default();
        changes.retain(|(t, _)| now.duration_since(*t) <= Duration::from_secs(1800));
        let (up_limit, down_limit) = limits(&up, &down, current, changes, now);
        let mut limited = false;
        if desired > up_limit {
            desired = up_limit;
            limited = true;
        }
        if desired < down_limit {
            desired = down_limit;
            limited = true;
        }
        desired = desired.clamp(min, max.max(min));
        if desired != current {
            let set = |o: &mut Object| {
                match o {
                    Object::Deployment(d) => {
                        d.spec.get_or_insert_with(Default::default).replicas = Some(desired)
                    }
                    Object::ReplicaSet(r) => {
                        r.spec.get_or_insert_with(Default::default).replicas = Some(desired)
                    }
                    _ => {}
                }
                Ok(())
            };
            c.modify(kind, &ns, &target.name, set)?;
            changes.push((now, desired - current));
            let metric = spec
                .metrics
                .iter()
                .flatten()
                .filter_map(|m| m.resource.as_ref())
                .map(|r| {
                    if r.target.type_ == "Utilization" {
                        format!("{} resource utilization (percentage of request)", r.name)
                    } else {
                        format!("{} resource", r.name)
                    }
                })
                .next()
                .unwrap_or_else(|| "metric".into());
            let reason = if desired > current {
                format!("{metric} above target")
            } else {
                "All metrics below target".to_string()
            };
            events::record(
                c,
                &Object::HorizontalPodAutoscaler(Box::new(h.clone())),
                "Normal",
                "SuccessfulRescale",
                &format!("New size: {desired}; reason: {reason}"),
            );
        }
        let mut st = self.status_of(h, Some(current), desired, metrics, failure);
        let scaled = desired != current;
        if scaled {
            st.last_scale_time = Some(now_time());
        }
        set_condition(
            &mut st,
            "ScalingLimited",
            limited || desired == max || desired == min,
            if limited {
                "ScaleUpLimit"
            } else if desired == max {
                "TooManyReplicas"
            } else if desired == min {
                "TooFewReplicas"
            } else {
                "DesiredWithinRange"
            },
            if limited {
                "the desired replica count is increasing faster than the maximum scale rate"
            } else {
                "the desired count is within the acceptable range"
            },
        );
        write(c, h, st)
    }

    fn status_of(
        &self,
        h: &HorizontalPodAutoscaler,
        current: Option<i32>,
        desired: i32,
        metrics: Vec<MetricStatus>,
        failure: Option<(&str, String)>,
    ) -> HorizontalPodAutoscalerStatus {
        let old = h.status.clone().unwrap_or_default();
        let mut st = HorizontalPodAutoscalerStatus {
            observed_generation: h.metadata.generation,
            current_replicas: current,
            desired_replicas: desired,
            current_metrics: Some(metrics).filter(|m| !m.is_empty()),
            last_scale_time: old.last_scale_time.clone(),
            conditions: old.conditions.clone(),
        };
        set_condition(
            &mut st,
            "AbleToScale",
            true,
            "ReadyForNewScale",
            "recommended size matches current size",
        );
        match failure {
            Some((reason, msg)) => set_condition(&mut st, "ScalingActive", false, reason, &msg),
            None => set_condition(
                &mut st,
                "ScalingActive",
                true,
                "ValidMetricFound",
                "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)",
            ),
        }
        st
    }

    fn status(
        &self,
        c: &Cluster<'_>,
        h: &HorizontalPodAutoscaler,
        current: Option<i32>,
        metrics: Vec<MetricStatus>,
        failure: Option<(&str, String)>,
    ) -> crate::Result<()> {
        let desired = current.unwrap_or(0);
        let st = self.status_of(h, current, desired, metrics, failure);
        write(c, h, st)
    }
}

fn now_time() -> k8s_openapi::apimachinery::pkg::apis::meta::v1::Time {
    now()
}

fn write(
    c: &Cluster<'_>,
    h: &HorizontalPodAutoscaler,
    st: HorizontalPodAutoscalerStatus,
) -> crate::Result<()> {
    if h.status.as_ref() == Some(&st) {
        return Ok(());
    }
    let mut h = h.clone();
    h.status = Some(st);
    c.replace(Object::HorizontalPodAutoscaler(Box::new(h)))
}

fn set_condition(
    st: &mut HorizontalPodAutoscalerStatus,
    ty: &str,
    ok: bool,
    reason: &str,
    message: &str,
) {
    let status = if ok { "True" } else { "False" };
    let conds = st.conditions.get_or_insert_with(Vec::new);
    let prev = conds.iter().find(|c| c.type_ == ty).cloned();
    conds.retain(|c| c.type_ != ty);
    let same = prev.as_ref().is_some_and(|p| p.status == status);
    conds.push(HorizontalPodAutoscalerCondition {
        type_: ty.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_transition_time: if same {
            prev.and_then(|p| p.last_transition_time)
        } else {
            Some(now())
        },
    });
    let order = ["AbleToScale", "ScalingActive", "ScalingLimited"];
    conds.sort_by_key(|c| order.iter().position(|o| *o == c.type_).unwrap_or(9));
}

/// One Resource metric's proposal: desired replicas, and the current
/// value for the status.
fn propose(
    resource: &str,
    target: &k8s_openapi::api::autoscaling::v2::MetricTarget,
    current: i32,
    pods: &[&Pod],
    usage: &HashMap<String, Usage>,
) -> Result<(i32, MetricValueStatus), String> {
    let of = |u: &Usage| {
        if resource == "cpu" {
            u.millicores
        } else {
            u.memory
        }
    };
    let request = |p: &Pod| -> Result<i64, String> {
        let mut sum = 0;
        for k in p.spec.iter().flat_map(|s| s.containers.iter()) {
            let q = k
                .resources
                .as_ref()
                .and_then(|r| r.requests.as_ref())
                .and_then(|r| r.get(resource));
            let v = q.and_then(|q| {
                if resource == "cpu" {
                    quantity::millicores(&q.0)
                } else {
                    quantity::bytes(&q.0)
                }
            });
            match v {
                Some(v) => sum += v,
                None => {
                    return Err(format!(
                        "failed to get {resource} utilization: missing request for {resource} in container {} of Pod {}",
                        k.name,
                        p.metadata.name.as_deref().unwrap_or("")
                    ))
                }
            }
        }
        Ok(sum)
    };
    // Ready pods with a metric, pods without one, not-ready pods.
    let (mut used, mut requested, mut ready_n) = (0i64, 0i64, 0i32);
    let mut missing: Vec<&Pod> = Vec::new();
    let mut unready: Vec<&Pod> = Vec::new();
    for p in pods {
        let uid = p.metadata.uid.clone().unwrap_or_default();
        match usage.get(&uid) {
            Some(u) if is_ready(p) => {
                used += of(u);
                requested += request(p)?;
                ready_n += 1;
            }
            Some(_) => unready.push(p),
            None => missing.push(p),
        }
    }
    if ready_n == 0 && missing.is_empty() && unready.is_empty() {
        return Err(format!(
            "failed to get {resource} utilization: did not receive metrics for any ready pods"
        ));
    }
    let utilization = target.type_ == "Utilization";
    let goal = if utilization {
        target.average_utilization.unwrap_or(80) as f64
    } else {
        let v = target
            .average_value
            .as_ref()
            .map(|q: &Quantity| q.0.clone())
            .unwrap_or_default();
        (if resource == "cpu" {
            quantity::millicores(&v)
        } else {
            quantity::bytes(&v)
        })
        .unwrap_or(1) as f64
    };
    let ratio_of = |used: i64, requested: i64, n: i32| -> f64 {
        if utilization {
            if requested <= 0 {
                return 0.0;
            }
            (used as f64 * 100.0 / requested as f64) / goal
        } else {
            if n <= 0 {
                return 0.0;
            }
            (used as f64 / n as f64) / goal
        }
    };
    let status = MetricValueStatus {
        average_utilization: utilization.then(|| {
            if requested > 0 {
                (used * 100 / requested) as i32
            } else {
                0
            }
        }),
        average_value: Some(Quantity(if resource == "cpu" {
            format!(
                "{}m",
                if ready_n > 0 {
                    used / ready_n as i64
                } else {
                    0
                }
            )
        } else {
            format!(
                "{}",
                if ready_n > 0 {
                    used / ready_n as i64
                } else {
                    0
                }
            )
        })),
        value: None,
    };
    let ratio = ratio_of(used, requested, ready_n);
    if missing.is_empty() && unready.is_empty() {
        if (ratio - 1.0).abs() <= TOLERANCE {
            return Ok((current, status));
        }
        return Ok(((ratio * ready_n as f64).ceil() as i32, status));
    }
    // Pods without a metric: all of their request when scaling down,
    // nothing when scaling up; not-ready ones: nothing when scaling up.
    let (mut u2, mut r2, mut n2) = (used, requested, ready_n);
    for p in &missing {
        let req = request(p)?;
        if ratio < 1.0 {
            u2 += if utilization { req } else { goal as i64 };
        }
        r2 += req;
        n2 += 1;
    }
    if ratio > 1.0 {
        for p in &unready {
            r2 += request(p)?;
            n2 += 1;
        }
    }
    let new_ratio = ratio_of(u2, r2, n2);
    if (new_ratio - 1.0).abs() <= TOLERANCE || (ratio < 1.0) != (new_ratio < 1.0) {
        return Ok((current, status));
    }
    Ok(((new_ratio * n2 as f64).ceil() as i32, status))
}

/// The rate policies' bounds: (highest, lowest) replicas allowed now.
fn limits(
    up: &HPAScalingRules,
    down: &HPAScalingRules,
    current: i32,
    changes: &[(Instant, i32)],
    now: Instant,
) -> (i32, i32) {
    let since = |secs: i32, sign: i32| -> i32 {
        changes
            .iter()
            .filter(|(t, d)| {
                now.duration_since(*t) <= Duration::from_secs(secs.max(0) as u64)
                    && d.signum() == sign
            })
            .map(|(_, d)| *d)
            .sum()
    };
    let default_up = [("Pods", 4, 15), ("Percent", 100, 15)];
    let default_down = [("Percent", 100, 15)];
    let policies =
        |r: &HPAScalingRules, d: &[(&'static str, i32, i32)]| -> Vec<(String, i32, i32)> {
            match &r.policies {
                Some(p) if !p.is_empty() => p
                    .iter()
                    .map(|p| (p.type_.clone(), p.value, p.period_seconds))
                    .collect(),
                _ => d.iter().map(|(t, v, p)| (t.to_string(), *v, *p)).collect(),
            }
        };
    let select = |r: &HPAScalingRules| r.select_policy.clone().unwrap_or_else(|| "Max".into());
    // Up.
    let up_limits: Vec<i32> = policies(up, &default_up)
        .into_iter()
        .map(|(ty, v, period)| {
            let start = current - since(period, 1);
            if ty == "Pods" {
                start + v
            } else {
                (start as f64 * (1.0 + v as f64 / 100.0)).ceil() as i32
            }
        })
        .collect();
    let up_limit = match select(up).as_str() {
        "Disabled" => current,
        "Min" => up_limits.iter().copied().min().unwrap_or(current),
        _ => up_limits.iter().copied().max().unwrap_or(current),
    };
    let down_limits: Vec<i32> = policies(down, &default_down)
        .into_iter()
        .map(|(ty, v, period)| {
            let start = current - since(period, -1);
            if ty == "Pods" {
                start - v
            } else {
                (start as f64 * (1.0 - v as f64 / 100.0)).floor() as i32
            }
        })
        .collect();
    let down_limit = match select(down).as_str() {
        "Disabled" => current,
        "Min" => down_limits.iter().copied().max().unwrap_or(current),
        _ => down_limits.iter().copied().min().unwrap_or(current),
    };
    (up_limit.max(current), down_limit.min(current))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policies_scale_up_by_four_or_double() {
        let none = HPAScalingRules::default();
        let now = Instant::now();
        assert_eq!(limits(&none, &none, 1, &[], now), (5, 0));
        assert_eq!(limits(&none, &none, 10, &[], now), (20, 0));
        // A scale up of 3 just made counts against the period.
        assert_eq!(limits(&none, &none, 4, &[(now, 3)], now), (5, 0));
    }
}
