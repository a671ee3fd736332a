//! `events`: what the journal recorded, selected with Docker's filters, and
//! what happens next, as it is recorded (woken by the engine's notifier).

use crate::filters::Filters;
use crate::notify::Cancel;
use crate::store::{Event, EventQuery};
use crate::{Engine, Result};

/// Which events.
#[derive(Debug, Clone, Default)]
pub struct EventOptions {
    /// Recorded at or after (nanoseconds since the epoch); None: only what
    /// happens from now on.
    pub since: Option<i64>,
    /// Recorded at or before; following stops when it passes.
    pub until: Option<i64>,
    /// `type`, `event`, `container`, `image`, `volume`, `network`, `label`
    /// (and Docker's other keys, which match none of skiff's events).
    pub filters: Filters,
}

const KEYS: [&str; 14] = [
    "type",
    "event",
    "container",
    "image",
    "volume",
    "network",
    "label",
    "daemon",
    "scope",
    "plugin",
    "node",
    "service",
    "config",
    "secret",
];

/// `image:tag` without its tag (a registry port is not a tag).
fn strip_tag(s: &str) -> &str {
    match s.rfind(':') {
        Some(i) if !s[i..].contains('/') => &s[..i],
        _ => s,
    }
}

/// Whether `ev` passes `f`, as dockerd's event filter decides: `event`
/// exactly (by prefix for `health_status`, `exec_create`, `exec_start`
/// without their detail), `container`/`volume`/`network` by a prefix of the
/// ID or name, `image` exactly by ID or name with or without its tag,
/// `label` on the attributes, `type` exactly.
pub fn matches(f: &Filters, ev: &Event) -> bool {
    let attr = |k: &str| ev.attributes[k].as_str().unwrap_or("").to_string();
    let fuzzy_name = |key: &str| {
        let name = attr("name");
        f.matches(key, |v| {
            ev.kind == key && (ev.actor.starts_with(v) || (!name.is_empty() && name.starts_with(v)))
        })
    };
    let fuzzy_event = f
        .get("event")
        .iter()
        .any(|v| matches!(v.as_str(), "health_status" | "exec_create" | "exec_start"));
    let event_ok = f.matches("event", |v| {
        if fuzzy_event {
            ev.action.starts_with(v)
        } else {
            ev.action == v
        }
    });
    let image_ok = {
        let name = attr(if ev.kind == "image" { "name" } else { "image" });
        f.matches("image", |v| {
            v == ev.actor || v == name || v == strip_tag(&ev.actor) || v == strip_tag(&name)
        })
    };
    let labels: std::collections::BTreeMap<String, String> = ev
        .attributes
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    event_ok
        && f.matches("type", |v| ev.kind == v)
        && fuzzy_name("container")
        && fuzzy_name("volume")
        && fuzzy_name("network")
        && image_ok
        && f.match_labels(&labels)
        && ["daemon", "plugin", "node", "service", "config", "secret"]
            .iter()
            .all(|k| !f.contains(k))
        && f.matches("scope", |v| v == "local")
}

impl EventOptions {
    /// Whether the filters name only keys `events` knows.
    pub fn check(&self) -> Result<()> {
        self.filters.check_keys(&KEYS)
    }
}

/// An event as the Docker Engine API sends it (`GET /events`): `Type`,
/// `Action`, `Actor`, `scope`, `time`, `timeNano`, and for containers and
/// images the older `status`, `id` and `from`.
pub fn api_json(ev: &Event) -> serde_json::Value {
    let mut v = serde_json::json!({
        "Type": ev.kind,
        "Action": ev.action,
        "Actor": {"ID": ev.actor, "Attributes": ev.attributes},
        "scope": "local",
        "time": ev.time_nano / 1_000_000_000,
        "timeNano": ev.time_nano,
    });
    if matches!(ev.kind.as_str(), "container" | "image") {
        v["status"] = serde_json::json!(ev.action);
        v["id"] = serde_json::json!(ev.actor);
        if let Some(from) = ev.attributes.get("image") {
            v["from"] = from.clone();
        }
    }
    v
}

impl Engine {
    /// The recorded events `o` selects, oldest first.
    pub fn events(&self, o: &EventOptions) -> Result<Vec<Event>> {
        o.filters.check_keys(&KEYS)?;
        let mut evs = self.store.events(&EventQuery {
            after_seq: 0,
            since: Some(o.since.unwrap_or(i64::MAX)),
            until: o.until,
        })?;
        evs.retain(|e| matches(&o.filters, e));
        Ok(evs)
    }

    /// `events`: those recorded since `o.since` (none without it), then each
    /// new one as it is recorded, to `sink` (false stops), until `o.until`
    /// passes or `cancel` is set.
    pub fn subscribe(
        &self,
        o: &EventOptions,
        cancel: &Cancel,
        sink: &mut dyn FnMut(&Event) -> bool,
    ) -> Result<()> {
        o.filters.check_keys(&KEYS)?;
        let n = self.notifier()?;
        let mut seen = n.generation();
        let mut last = self.store.last_event_seq()?;
        if o.since.is_some() {
            for ev in self.store.events(&EventQuery {
                after_seq: 0,
                since: o.since,
                until: o.until,
            })? {
                last = last.max(ev.seq);
                if matches(&o.filters, &ev) && !sink(&ev) {
                    return Ok(());
                }
            }
        }
        loop {
            for ev in self.store.events(&EventQuery {
                after_seq: last,
                since: None,
                until: o.until,
            })? {
                last = last.max(ev.seq);
                if matches(&o.filters, &ev) && !sink(&ev) {
                    return Ok(());
                }
            }
            let now = crate::time::now_nanos();
            if o.until.is_some_and(|u| now > u) || cancel.is_cancelled() {
                return Ok(());
            }
            let deadline = o.until.map(|u| {
                std::time::Instant::now() + std::time::Duration::from_nanos((u - now).max(0) as u64)
            });
            seen = n.wait(seen, deadline, cancel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: &str, action: &str, actor: &str, attrs: serde_json::Value) -> Event {
        Event {
            seq: 1,
            time_nano: 1,
            kind: kind.into(),
            action: action.into(),
            actor: actor.into(),
            attributes: attrs,
        }
    }

    #[test]
    fn dockerds_event_filter_rules() {
        let start = ev(
            "container",
            "start",
            "abc123",
            serde_json::json!({"name": "web", "image": "busybox:1", "tier": "front"}),
        );
        let health = ev(
            "container",
            "health_status: healthy",
            "abc123",
            serde_json::json!({"name": "web"}),
        );
        let vol = ev(
            "volume",
            "create",
            "data",
            serde_json::json!({"driver": "local"}),
        );
        let f = |args: &[&str]| Filters::parse(args).unwrap();
        // One key's values: any; two keys: both.
        assert!(matches(&f(&["event=stop", "event=start"]), &start));
        assert!(!matches(&f(&["event=start", "type=volume"]), &start));
        // Exact event names, but health_status without its detail by prefix.
        assert!(!matches(&f(&["event=health"]), &health));
        assert!(matches(&f(&["event=health_status"]), &health));
        assert!(matches(&f(&["event=health_status: healthy"]), &health));
        // Containers by ID or name prefix; only container events.
        assert!(matches(&f(&["container=ab"]), &start));
        assert!(matches(&f(&["container=we"]), &start));
        assert!(!matches(&f(&["container=data"]), &vol));
        assert!(matches(&f(&["volume=data"]), &vol));
        // Images exactly, with or without the tag.
        assert!(matches(&f(&["image=busybox"]), &start));
        assert!(matches(&f(&["image=busybox:1"]), &start));
        assert!(!matches(&f(&["image=busy"]), &start));
        assert!(matches(&f(&["label=tier=front"]), &start));
        assert!(!matches(&f(&["label=tier=back"]), &start));
        assert!(!matches(&f(&["daemon=x"]), &start));
    }
}
