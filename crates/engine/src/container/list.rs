//! Listing containers (`ps`, the API's container list) with Docker's rules
//! and filters, and what the daemon computes for each: its Status text
//! ("Up 2 minutes (healthy)"), its Command, its ports and networks.

use super::*;
use crate::filters::Filters;
use crate::network::PortEntry;

/// What `ps` takes.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// Stopped containers too (else running, paused and restarting ones,
    /// unless a `status` filter asks for others).
    pub all: bool,
    /// The newest `n` containers only (any state).
    pub last: Option<usize>,
    /// `status`, `name`, `id`, `label`, `exited`, `ancestor`, `health`.
    pub filters: Filters,
}

/// One container as listed.
#[derive(Debug, Clone)]
pub struct Summary {
    pub container: Container,
    /// The command line as the daemon shows it: arguments with spaces in
    /// single quotes.
    pub command: String,
    /// Docker's STATUS text.
    pub status: String,
    /// Exposed and published ports while it runs.
    pub ports: Vec<PortEntry>,
    /// The networks it is on (its network mode when on none of skiff's).
    pub networks: Vec<String>,
}

const KEYS: [&str; 7] = [
    "status", "name", "id", "label", "exited", "ancestor", "health",
];

impl Engine {
    /// `ps`: containers newest first, as `o` selects them.
    pub fn list_containers(&self, o: &ListOptions) -> Result<Vec<Summary>> {
        let f = &o.filters;
        f.check_keys(&KEYS)?;
        let all = o.all || o.last.is_some() || f.contains("status");
        let mut out = Vec::new();
        for c in self.list()? {
            let active = matches!(
                c.state.status,
                Status::Running | Status::Paused | Status::Restarting
            );
            if !(all || active) || !matches(&c, f) {
                continue;
            }
            out.push(self.summary(c)?);
            if o.last.is_some_and(|n| out.len() >= n) {
                break;
            }
        }
        Ok(out)
    }

    fn summary(&self, c: Container) -> Result<Summary> {
        let networks = {
            let eps = self.endpoints(&c.id)?;
            if eps.is_empty() {
                vec![c.host.network_mode.clone()]
            } else {
                eps.into_iter().map(|ep| ep.network.name).collect()
            }
        };
        Ok(Summary {
            command: command_text(&c),
            status: status_text(&c),
            ports: self.port_entries(&c),
            networks,
            container: c,
        })
    }
}

/// Whether `c` passes filters `f` (see [`crate::filters`]).
fn matches(c: &Container, f: &Filters) -> bool {
    f.matches("status", |v| c.state.status.as_str() == v)
        && f.matches("name", |v| c.name.contains(v.trim_start_matches('/')))
        && f.matches("id", |v| c.id.starts_with(v))
        && f.match_labels(&c.config.labels)
        && f.matches("exited", |v| {
            c.state.status == Status::Exited && c.state.exit_code.to_string() == v
        })
        && f.matches("ancestor", |v| {
            c.config.image == v || c.image_id.contains(v)
        })
        && f.matches("health", |v| match &c.state.health {
            Some(h) => h.status == v,
            None => v == "none",
        })
}

/// Docker's STATUS text: `Up 2 minutes (healthy)`, `Exited (0) 3 seconds
/// ago`, `Created`, ...
pub fn status_text(c: &Container) -> String {
    use crate::units::human_duration;
    let since = |t: &str| {
        crate::time::parse_rfc3339_nanos(t)
            .map(|n| ((crate::time::now_nanos() - n) / 1_000_000_000).max(0))
            .unwrap_or(0)
    };
    let s = &c.state;
    match s.status {
        Status::Running => {
            let health = match s.health.as_ref().map(|h| h.status.as_str()) {
                Some("starting") => " (health: starting)",
                Some("healthy") => " (healthy)",
                Some("unhealthy") => " (unhealthy)",
                _ => "",
            };
            format!("Up {}{health}", human_duration(since(&s.started_at)))
        }
        Status::Paused => format!("Up {} (Paused)", human_duration(since(&s.started_at))),
        Status::Restarting => format!(
            "Restarting ({}) {} ago",
            s.exit_code,
            human_duration(since(&s.finished_at))
        ),
        Status::Exited if crate::time::is_zero_time(&s.finished_at) => "Created".into(),
        Status::Exited => format!(
            "Exited ({}) {} ago",
            s.exit_code,
            human_duration(since(&s.finished_at))
        ),
        Status::Created => "Created".into(),
        Status::Removing => "Removal In Progress".into(),
        Status::Dead => "Dead".into(),
    }
}

/// The command line as Docker's daemon lists it: entrypoint and command,
/// an argument holding whitespace in single quotes.
pub fn command_text(c: &Container) -> String {
    c.config
        .entrypoint
        .iter()
        .chain(&c.config.cmd)
        .map(|a| {
            if a.contains(char::is_whitespace) {
                format!("'{a}'")
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
