//! The store on real SQLite files: migrations, concurrent opens, lookups,
//! the events journal.

use super::*;
use crate::model::{Config, Container, HostConfig, State, Status};
use rusqlite::Connection;

fn container(id: &str, name: &str) -> Container {
    Container {
        id: id.into(),
        name: name.into(),
        created: "2026-11-22T00:00:00.000000001Z".into(),
        image_id: "sha256:00".into(),
        config: Config::default(),
        host: HostConfig::default(),
        state: State::default(),
    }
}

#[test]
fn a_schema_5_store_keeps_its_networks_and_endpoints() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("c.db");
    {
        let c = Connection::open(&p).unwrap();
        for (i, m) in schema::MIGRATIONS[..5].iter().enumerate() {
            c.execute_batch(m).unwrap();
            c.execute_batch(&format!("PRAGMA user_version = {}", i + 1))
                .unwrap();
        }
        c.execute_batch(
            "INSERT INTO networks (id, name, driver, subnet, gateway, bridge, internal, labels, created, ipam_gateway)
             VALUES ('n1', 'given', 'bridge', '10.9.0.0/24', '10.9.0.1', 'b1', 0, '{}', 't', 0),
                    ('n2', 'picked', 'bridge', '172.18.0.0/16', '172.18.0.1', 'b2', 0, '{}', 't', 1);
             INSERT INTO endpoints (network, container, aliases, ip, ifname)
             VALUES ('n1', 'c1', '[]', '10.9.0.2', 'eth0');",
        )
        .unwrap();
    }
    let s = Store::open(&p).unwrap();
    let conn = s.conn().unwrap();
    let nets: Vec<(String, i64)> = conn
        .prepare("SELECT name, user_subnet FROM networks ORDER BY name")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(nets, [("given".into(), 1), ("picked".into(), 0)]);
    let ep: (String, Option<String>) = conn
        .query_row("SELECT ip, requested_ip FROM endpoints", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(ep, ("10.9.0.2".into(), None));
}

#[test]
fn a_new_store_opened_by_many_at_once() {
    // The first opens of a store race to switch it to WAL and migrate it.
    for round in 0..5 {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(format!("c{round}.db"));
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let p = p.clone();
                std::thread::spawn(move || Store::open(&p).map(|s| s.list().map(|l| l.len())))
            })
            .collect();
        for h in handles {
            let r = h.join().unwrap();
            assert!(matches!(r, Ok(Ok(0))), "{:?}", r.err());
        }
    }
}

#[test]
fn names_are_unique_and_lookups_follow_docker() {
    let d = tempfile::tempdir().unwrap();
    let s = Store::open(&d.path().join("c.db")).unwrap();
    let a = format!("{}{}", "ab12", "0".repeat(60));
    let b = format!("{}{}", "ab34", "0".repeat(60));
    s.insert(&container(&a, "web")).unwrap();
    s.insert(&container(&b, "db")).unwrap();
    let e = s.insert(&container(&"f".repeat(64), "web")).unwrap_err();
    assert!(e.to_string().contains("\"/web\" is already in use"), "{e}");
    assert_eq!(s.find("web").unwrap().id, a);
    assert_eq!(s.find("/db").unwrap().id, b);
    assert_eq!(s.find("ab1").unwrap().id, a);
    assert!(matches!(s.find("ab"), Err(StoreError::Ambiguous(_))));
    assert!(matches!(s.find("zz"), Err(StoreError::NoSuchContainer(_))));
    s.rename(&a, "front").unwrap();
    assert!(s.rename(&b, "front").is_err());
    assert_eq!(s.find("front").unwrap().id, a);
    let st = s
        .update_state(&a, |st| {
            st.status = Status::Exited;
            st.exit_code = 3;
        })
        .unwrap();
    assert_eq!(st.exit_code, 3);
    assert_eq!(s.find(&a).unwrap().state.status, Status::Exited);
    assert_eq!(s.list().unwrap().len(), 2);
    assert!(s.remove(&a).unwrap());
    assert_eq!(s.list().unwrap().len(), 1);
    s.add_event(
        "container",
        "die",
        &b,
        &serde_json::json!({"exitCode": "0"}),
    )
    .unwrap();
    let ev = s.events_after(0).unwrap();
    assert_eq!(
        (ev[0].action.as_str(), ev[0].actor.as_str()),
        ("die", b.as_str())
    );
}

#[test]
fn the_events_journal_keeps_the_latest_and_finds_by_time() {
    let d = tempfile::tempdir().unwrap();
    let s = Store::open(&d.path().join("c.db")).unwrap();
    let attrs = serde_json::json!({});
    let mut last = 0;
    for i in 0..(events::KEEP + 250) {
        last = s
            .add_event("container", "start", &format!("c{i}"), &attrs)
            .unwrap();
    }
    assert_eq!(s.last_event_seq().unwrap(), last);
    let all = s.events_after(0).unwrap();
    // Trimmed once per 100: never fewer than KEEP, at most 99 more.
    assert!(
        all.len() as i64 >= events::KEEP && all.len() as i64 <= events::KEEP + 99,
        "{}",
        all.len()
    );
    assert_eq!(
        all.last().unwrap().actor,
        format!("c{}", events::KEEP + 249)
    );
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
    let mid = all[all.len() / 2].time_nano;
    let later = s
        .events(&EventQuery {
            since: Some(mid),
            ..Default::default()
        })
        .unwrap();
    assert!(!later.is_empty() && later.iter().all(|e| e.time_nano >= mid));
    let none = s
        .events(&EventQuery {
            after_seq: last,
            ..Default::default()
        })
        .unwrap();
    assert!(none.is_empty());
}

#[test]
fn one_store_shared_by_threads_updates_atomically() {
    let d = tempfile::tempdir().unwrap();
    let s = Store::open(&d.path().join("c.db")).unwrap();
    let id = "c".repeat(64);
    s.insert(&container(&id, "shared")).unwrap();
    std::thread::scope(|sc| {
        for _ in 0..8 {
            sc.spawn(|| {
                for _ in 0..25 {
                    s.update_state(&id, |st| st.restart_count += 1).unwrap();
                    s.add_event("container", "x", &id, &serde_json::json!({}))
                        .unwrap();
                }
            });
        }
    });
    assert_eq!(s.get(&id).unwrap().unwrap().state.restart_count, 200);
    assert_eq!(s.events_after(0).unwrap().len(), 200);
}

#[test]
fn a_quiet_checkpoint_leaves_an_empty_wal_and_a_short_one_alone() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("c.db");
    let s = Store::open(&p).unwrap();
    let wal = || std::fs::metadata(d.path().join("c.db-wal")).unwrap().len();
    for i in 0..4 {
        s.insert(&container(&format!("{i:064x}"), &format!("c{i}")))
            .unwrap();
    }
    // A few pages: not worth it.
    let before = wal();
    assert!(before > 0);
    s.checkpoint_over(1_000);
    assert_eq!(wal(), before);
    s.checkpoint_over(1);
    assert_eq!(wal(), 0, "the WAL is cut once checkpointed");
    // What was in it is in the database now.
    drop(s);
    let s = Store::open(&p).unwrap();
    assert!(s.find("c3").is_ok());
}
