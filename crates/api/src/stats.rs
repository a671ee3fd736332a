//! `GET /containers/{id}/stats`: samples of a container's resource use in
//! the API's form (the docker CLI computes CPU % from `cpu_stats` and
//! `precpu_stats`, memory from `usage` less `inactive_file`). Streamed
//! every second; with `stream=0` one sample with the one half a second
//! before it; with `one-shot=1` one sample alone.

use crate::http::{Request, Response};
use crate::{engine, Answer};
use serde_json::json;
use skiff_engine::container::Stats;
use skiff_engine::Engine;
use std::sync::Arc;

fn cpu(s: &Stats) -> serde_json::Value {
    let c = &s.cgroup.cpu;
    json!({
        "cpu_usage": {
            "total_usage": c.usage_ns,
            "usage_in_kernelmode": c.system_ns.unwrap_or(0),
            "usage_in_usermode": c.user_ns.unwrap_or(0),
        },
        "system_cpu_usage": s.system_cpu_ns,
        "online_cpus": s.online_cpus,
        "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
    })
}

fn time(nanos: i64) -> String {
    skiff_engine::time::rfc3339_nanos(nanos)
}

/// One sample, with the one before it.
fn sample(
    c: &skiff_engine::model::Container,
    s: &Stats,
    prev: Option<&Stats>,
) -> serde_json::Value {
    let g = &s.cgroup;
    let mut v = json!({
        "read": time(s.read_nano),
        "preread": prev.map_or("0001-01-01T00:00:00Z".to_string(), |p| time(p.read_nano)),
        "pids_stats": {"current": g.pids.current},
        "blkio_stats": {
            "io_service_bytes_recursive": [
                {"major": 0, "minor": 0, "op": "read", "value": g.blkio.read_bytes},
                {"major": 0, "minor": 0, "op": "write", "value": g.blkio.write_bytes},
            ],
        },
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": cpu(s),
        "precpu_stats": prev.map_or(json!({"cpu_usage": {"total_usage": 0}, "throttling_data": {}}), cpu),
        "memory_stats": {
            "usage": g.memory.usage,
            "stats": {"inactive_file": g.memory.inactive_file},
            "limit": s.mem_limit,
        },
        "name": format!("/{}", c.name),
        "id": c.id,
    });
    if let Some(l) = g.pids.limit {
        v["pids_stats"]["limit"] = json!(l);
    }
    if c.host.network_mode != "host" && c.host.network_mode != "none" {
        v["networks"] = json!({"eth0": {
            "rx_bytes": s.net_rx, "rx_packets": 0, "rx_errors": 0, "rx_dropped": 0,
            "tx_bytes": s.net_tx, "tx_packets": 0, "tx_errors": 0, "tx_dropped": 0,
        }});
    }
    v
}

pub fn stats(e: &Arc<Engine>, id: &str, req: &Request) -> Answer {
    let c = engine(e.find(id))?;
    let stream = req.query("stream").is_none_or(|v| v != "0" && v != "false");
    let one_shot = req.flag("one-shot");
    let e = e.clone();
    Ok(Response::stream("application/json", move |out| {
        let line = |v: serde_json::Value| {
            let mut b = serde_json::to_vec(&v).expect("JSON");
            b.push(b'\n');
            b
        };
        let mut prev: Option<Stats> = None;
        if !stream && !one_shot {
            prev = Some(e.stats(&c));
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
        loop {
            // The container as it is now (it may have stopped).
            let now = e.find(&c.id).unwrap_or_else(|_| c.clone());
            let s = e.stats(&now);
            out.send(&line(sample(&now, &s, prev.as_ref())))?;
            if !stream {
                return Ok(());
            }
            prev = Some(s);
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    }))
}
