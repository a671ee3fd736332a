//! `events`: the engine's events as Docker prints them, or through a
//! template.

use super::{daemon, open, parse_time_arg, Failure, Result};
use clap::Args;
use std::path::Path;

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Show all events created since timestamp.
    #[arg(long)]
    since: Option<String>,
    /// Stream events until this timestamp.
    #[arg(long)]
    until: Option<String>,
    /// Filter output (type=, event=, container=).
    #[arg(short = 'f', long)]
    filter: Vec<String>,
    /// Format the output using a Go template.
    #[arg(long)]
    format: Option<String>,
}

pub fn events(root: &Path, runroot: &Path, a: EventsArgs) -> Result {
    use std::io::Write;
    let e = open(root, runroot)?;
    let time = |v: &Option<String>| v.as_deref().map(parse_time_arg).transpose();
    let o = skiff_engine::events::EventOptions {
        since: time(&a.since).map_err(Failure::from)?,
        until: time(&a.until).map_err(Failure::from)?,
        filters: skiff_engine::filters::Filters::parse(&a.filter).map_err(daemon(1))?,
    };
    let print = |ev: &skiff_engine::store::Event| -> Result {
        let time = skiff_engine::time::rfc3339_nanos(ev.time_nano);
        match &a.format {
            Some(f) => {
                let v = serde_json::json!({
                    "Type": ev.kind, "Action": ev.action, "Status": ev.action, "ID": ev.actor,
                    "Actor": {"ID": ev.actor, "Attributes": ev.attributes},
                    "time": ev.time_nano / 1_000_000_000, "timeNano": ev.time_nano,
                });
                let line = if f == "json" || f == "{{json .}}" {
                    v.to_string()
                } else {
                    crate::output::template::render(f, &v).map_err(Failure::from)?
                };
                println!("{line}");
            }
            None => {
                let mut attrs: Vec<(String, String)> = ev
                    .attributes
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| {
                                (
                                    k.clone(),
                                    v.as_str()
                                        .map(str::to_string)
                                        .unwrap_or_else(|| v.to_string()),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                attrs.sort();
                let attrs = attrs
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                println!("{time} {} {} {} ({attrs})", ev.kind, ev.action, ev.actor);
            }
        }
        let _ = std::io::stdout().flush();
        Ok(())
    };
    let mut failed = None;
    let mut sink = |ev: &skiff_engine::store::Event| match print(ev) {
        Ok(()) => true,
        Err(f) => {
            failed = Some(f);
            false
        }
    };
    e.subscribe(&o, &skiff_engine::notify::Cancel::new(), &mut sink)
        .map_err(daemon(1))?;
    failed.map_or(Ok(()), Err)
}
