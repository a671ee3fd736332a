//! The store's schema: each migration takes it from one version to the
//! next (`PRAGMA user_version`), in one transaction. A store made by an
//! older skiff is brought up to date when opened; one made by a newer skiff
//! is refused.

pub(crate) const MIGRATIONS: [&str; 8] = [
    V1_CONTAINERS_EVENTS,
    V2_VOLUMES,
    V3_HEALTH,
    V4_NETWORKS,
    V5_IPAM_GATEWAY,
    V6_USER_SUBNET,
    V7_EVENTS_BY_TIME,
    V8_OBJECTS,
];

/// Schema 1: containers and events.
const V1_CONTAINERS_EVENTS: &str = "
    CREATE TABLE containers (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created TEXT NOT NULL,
        image_id TEXT NOT NULL,
        config TEXT NOT NULL,
        host_config TEXT NOT NULL,
        status TEXT NOT NULL,
        pid INTEGER NOT NULL DEFAULT 0,
        pid_start INTEGER NOT NULL DEFAULT 0,
        supervisor_pid INTEGER NOT NULL DEFAULT 0,
        supervisor_start INTEGER NOT NULL DEFAULT 0,
        exit_code INTEGER NOT NULL DEFAULT 0,
        started_at TEXT NOT NULL,
        finished_at TEXT NOT NULL,
        oom_killed INTEGER NOT NULL DEFAULT 0,
        restart_count INTEGER NOT NULL DEFAULT 0,
        error TEXT NOT NULL DEFAULT '',
        stopped_by_user INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        time_nano INTEGER NOT NULL,
        type TEXT NOT NULL,
        action TEXT NOT NULL,
        actor TEXT NOT NULL,
        attributes TEXT NOT NULL
    );
";

/// Schema 2: volumes.
const V2_VOLUMES: &str = "
    CREATE TABLE volumes (
        name TEXT PRIMARY KEY,
        created TEXT NOT NULL,
        labels TEXT NOT NULL,
        anonymous INTEGER NOT NULL DEFAULT 0
    );
";

/// Schema 3: a container's health.
const V3_HEALTH: &str = "
    ALTER TABLE containers ADD COLUMN health TEXT;
";

/// Schema 4: networks, endpoints, published ports.
const V4_NETWORKS: &str = "
    CREATE TABLE networks (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        driver TEXT NOT NULL,
        subnet TEXT NOT NULL,
        gateway TEXT NOT NULL,
        bridge TEXT NOT NULL,
        internal INTEGER NOT NULL DEFAULT 0,
        labels TEXT NOT NULL,
        created TEXT NOT NULL
    );
    CREATE TABLE endpoints (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        network TEXT NOT NULL,
        container TEXT NOT NULL,
        aliases TEXT NOT NULL,
        ip TEXT,
        ifname TEXT NOT NULL DEFAULT '',
        UNIQUE (network, container)
    );
    CREATE UNIQUE INDEX endpoint_ips ON endpoints (network, ip);
    CREATE TABLE published (
        container TEXT NOT NULL,
        proto TEXT NOT NULL,
        host_ip TEXT NOT NULL,
        host_port INTEGER NOT NULL,
        port INTEGER NOT NULL
    );
";

/// Schema 5: whether `network inspect` lists the gateway in the IPAM config
/// (Docker lists what was asked: a `--subnet` without `--gateway` shows the
/// subnet alone, and so does its default bridge).
const V5_IPAM_GATEWAY: &str = "
    ALTER TABLE networks ADD COLUMN ipam_gateway INTEGER NOT NULL DEFAULT 1;
    UPDATE networks SET ipam_gateway = 0 WHERE name IN ('bridge', 'host', 'none');
";

/// Schema 6: whether a network's subnet was given (`--ip` needs one), and
/// the address an endpoint asks for (`--ip`). Older stores know the first
/// only for a subnet given without a gateway.
const V6_USER_SUBNET: &str = "
    ALTER TABLE networks ADD COLUMN user_subnet INTEGER NOT NULL DEFAULT 0;
    UPDATE networks SET user_subnet = 1
        WHERE ipam_gateway = 0 AND name NOT IN ('bridge', 'host', 'none');
    ALTER TABLE endpoints ADD COLUMN requested_ip TEXT;
";

/// Schema 7: events found by time (`events --since`, the API's `since`), and
/// the journal kept bounded (see `store::events`).
const V7_EVENTS_BY_TIME: &str = "
    CREATE INDEX events_by_time ON events (time_nano);
";

/// Schema 8: documents a layer above the engine keeps (the Kubernetes
/// objects), by kind, namespace and name, each with the store-wide revision
/// of its last write.
const V8_OBJECTS: &str = "
    CREATE TABLE objects (
        kind TEXT NOT NULL,
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        uid TEXT NOT NULL UNIQUE,
        revision INTEGER NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (kind, namespace, name)
    );
    CREATE TABLE objects_revision (
        id INTEGER PRIMARY KEY CHECK (id = 0),
        revision INTEGER NOT NULL
    );
    INSERT INTO objects_revision VALUES (0, 0);
";
