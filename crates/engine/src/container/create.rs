//! `create`: a container's record, directory and volumes from the image's
//! configuration and the caller's options, with the daemon's checks.

use super::*;

/// What `create` (and `run`) takes.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub name: Option<String>,
    pub image: String,
    /// The command; empty: the image's.
    pub cmd: Vec<String>,
    /// `--entrypoint`, the API's `Entrypoint` (`Some([])` or `Some([""])`:
    /// none; `None`: the image's).
    pub entrypoint: Option<Vec<String>>,
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub tty: bool,
    pub open_stdin: bool,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<i64>,
    /// `--health-*` flags: set fields override the image's health check.
    pub healthcheck: HealthConfig,
    /// `--no-healthcheck`.
    pub no_healthcheck: bool,
    /// `--network-alias`.
    pub network_aliases: Vec<String>,
    /// `--ip`: the address on the network `--network` names.
    pub ip: Option<String>,
    /// `--expose`: `80/tcp`.
    pub expose: Vec<String>,
    pub host: HostConfig,
    /// The new container's ID, as a prepared supervisor was spawned for
    /// it ([`crate::container::Prepared::id`]); None: a new one.
    pub id: Option<String>,
}

/// The json-file driver's options (`--log-opt`, the API's
/// `LogConfig.Config`): `max-size` (decimal units, as Docker reads it) and
/// `max-file`; any other is refused, as dockerd refuses it.
pub fn log_limits(opts: &BTreeMap<String, String>) -> Result<(Option<u64>, Option<u32>)> {
    let (mut size, mut files) = (None, None);
    for (k, v) in opts {
        match k.as_str() {
            "max-size" => size = Some(crate::units::parse_decimal_size(v).map_err(Error::Invalid)?),
            "max-file" => {
                files = Some(
                    v.parse()
                        .map_err(|_| Error::Invalid(format!("invalid value for max-file: {v}")))?,
                )
            }
            _ => {
                return Err(Error::Invalid(format!(
                    "unknown log opt '{k}' for json-file log driver"
                )))
            }
        }
    }
    Ok((size, files))
}

/// The daemon's checks of what a create asks for, before anything is looked
/// up or made (Docker's words).
pub(super) fn validate(o: &CreateOptions) -> Result<Option<std::net::Ipv4Addr>> {
    let h = &o.host;
    if h.memory > 0 && h.memory < 6 << 20 {
        return Err(Error::Invalid("Minimum memory limit allowed is 6MB".into()));
    }
    if h.memory_swap > 0 && h.memory == 0 {
        return Err(Error::Invalid(
            "You should always set the Memory limit when using Memoryswap limit, see usage".into(),
        ));
    }
    if h.memory_swap > 0 && h.memory_swap < h.memory {
        return Err(Error::Invalid(
            "Minimum memoryswap limit should be larger than memory limit, see usage".into(),
        ));
    }
    if h.memory_reservation > 0 && h.memory_reservation < 6 << 20 {
        return Err(Error::Invalid(
            "Minimum memory reservation allowed is 6MB".into(),
        ));
    }
    if h.memory > 0 && h.memory_reservation > h.memory {
        return Err(Error::Invalid(
            "Minimum memory limit can not be less than memory reservation limit, see usage".into(),
        ));
    }
    if h.blkio_weight > 0 && !(10..=1000).contains(&h.blkio_weight) {
        return Err(Error::Invalid(
            "Range of blkio weight is from 10 to 1000".into(),
        ));
    }
    if h.nano_cpus > 0 && h.cpu_period > 0 {
        return Err(Error::Invalid(
            "Conflicting options: Nano CPUs and CPU Period cannot both be set".into(),
        ));
    }
    if h.nano_cpus > 0 && h.cpu_quota > 0 {
        return Err(Error::Invalid(
            "Conflicting options: Nano CPUs and CPU Quota cannot both be set".into(),
        ));
    }
    if h.cpu_period != 0 && !(1000..=1_000_000).contains(&h.cpu_period) {
        return Err(Error::Invalid(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"
                .into(),
        ));
    }
    if h.cpu_quota > 0 && h.cpu_quota < 1000 {
        return Err(Error::Invalid(
            "CPU cfs quota can not be less than 1ms (i.e. 1000)".into(),
        ));
    }
    if h.auto_remove && !matches!(h.restart_policy.name.as_str(), "" | "no") {
        return Err(Error::Invalid(
            "can't create 'AutoRemove' container with restart policy".into(),
        ));
    }
    let rp = &h.restart_policy;
    match rp.name.as_str() {
        "" | "no" | "always" | "unless-stopped" | "on-failure" => {}
        n => return Err(Error::Invalid(format!("invalid restart policy '{n}'"))),
    }
    if rp.maximum_retry_count > 0 && rp.name != "on-failure" {
        return Err(Error::Invalid(format!(
            "maximum retry count cannot be used with restart policy '{}'",
            rp.name
        )));
    }
    log_limits(&h.log_opts)?;
    match h.ipc_mode.as_str() {
        "" | "private" | "shareable" | "host" => {}
        m if m.strip_prefix("container:").is_some_and(|x| !x.is_empty()) => {}
        m => return Err(Error::Invalid(format!("invalid IPC mode: {m}"))),
    }
    match h.pid_mode.as_str() {
        "" | "host" => {}
        m if m.strip_prefix("container:").is_some_and(|x| !x.is_empty()) => {}
        m => return Err(Error::Invalid(format!("invalid PID mode: {m}"))),
    }
    if let Some(s) = &o.stop_signal {
        parse_signal(s)?;
    }
    let hc = &o.healthcheck;
    for (what, ns) in [
        ("Interval", hc.interval),
        ("Timeout", hc.timeout),
        ("StartPeriod", hc.start_period),
    ] {
        if ns != 0 && ns < 1_000_000 {
            return Err(Error::Invalid(format!(
                "{what} in Healthcheck cannot be less than 1ms"
            )));
        }
    }
    if hc.retries < 0 {
        return Err(Error::Invalid(
            "Retries in Healthcheck cannot be negative".into(),
        ));
    }
    o.ip.as_deref()
        .map(|s| {
            s.parse()
                .map_err(|_| Error::Invalid(format!("invalid IPv4 address: {s}")))
        })
        .transpose()
}

impl Engine {
    /// `create`: the container's record and directory; nothing runs yet.
    pub fn create(&self, o: &CreateOptions) -> Result<Container> {
        self.create_with_warnings(o).map(|(c, _)| c)
    }

    /// [`Engine::create`], with the warnings Docker gives for settings this
    /// host cannot honour and drops (the block I/O weight without the
    /// cgroup file for it).
    pub fn create_with_warnings(&self, o: &CreateOptions) -> Result<(Container, Vec<String>)> {
        let mut o = std::borrow::Cow::Borrowed(o);
        let warnings = if unsupported(&o.host) {
            drop_unsupported(&mut o.to_mut().host)
        } else {
            Vec::new()
        };
        self.create_checked(&o).map(|c| (c, warnings))
    }

    fn create_checked(&self, o: &CreateOptions) -> Result<Container> {
        timing("engine create: begin");
        let ip = validate(o)?;
        let images = skiff_image::service::Images::open(&self.paths.root)?;
        timing("engine create: images opened");
        let image_id = images.resolve(&o.image)?;
        let rec = images
            .catalog
            .get(&image_id)
            .map_err(skiff_image::service::ImagesError::from)?
            .ok_or_else(|| skiff_image::service::ImagesError::NoSuchImage(o.image.clone()))?;
        let (_, icfg) = images.load(&rec)?;
        let lower = images.layer_dirs_of(&icfg);
        let ic = icfg.config.clone().unwrap_or_default();
        let name = match &o.name {
            Some(n) => crate::names::check_name(n).map_err(Error::Invalid)?,
            None => crate::names::random_name(),
        };
        let entrypoint = match &o.entrypoint {
            Some(e) if e.len() == 1 && e[0].is_empty() => Vec::new(),
            Some(e) => e.clone(),
            None => ic.entrypoint.clone().unwrap_or_default(),
        };
        // A new entrypoint drops the image's command, as Docker does.
        let cmd = if !o.cmd.is_empty() {
            o.cmd.clone()
        } else if o.entrypoint.is_some() {
            Vec::new()
        } else {
            ic.cmd.clone().unwrap_or_default()
        };
        if entrypoint.is_empty() && cmd.is_empty() {
            return Err(Error::Invalid("No command specified".into()));
        }
        let mut env = ic.env.clone();
        for e in &o.env {
            let key = e.split('=').next().unwrap_or("");
            env.retain(|x| x.split('=').next() != Some(key));
            env.push(e.clone());
        }
        let mut labels = ic.labels.clone();
        labels.extend(o.labels.clone());
        let mut host = o.host.clone();
        // The log's limits from its options, where they are given.
        let (size, files) = log_limits(&host.log_opts)?;
        host.log_max_size = size.or(host.log_max_size);
        host.log_max_file = files.or(host.log_max_file);
        if host.network_mode.is_empty() {
            host.network_mode = "default".into();
        }
        if let Some(other) = host.network_mode.strip_prefix("container:") {
            self.find(other)?;
        }
        // Kept by ID, so a rename does not lose it. A container that is not
        // there is a bad argument of this create (dockerd's 400: a client
        // reads a 404 as a missing image, and pulls).
        let joined = |other: &str| -> Result<String> {
            match self.find(other) {
                Ok(o) => Ok(format!("container:{}", o.id)),
                Err(e) if e.kind() == crate::error::ErrorKind::NotFound => {
                    Err(Error::Invalid(e.to_string()))
                }
                Err(e) => Err(e),
            }
        };
        if let Some(other) = host.ipc_mode.strip_prefix("container:") {
            host.ipc_mode = joined(other)?;
        }
        if let Some(other) = host.pid_mode.strip_prefix("container:") {
            host.pid_mode = joined(other)?;
        }
        let network = self.network_for_create(&host.network_mode, &o.network_aliases)?;
        for e in &host.extra_hosts {
            let ok = e
                .split_once(':')
                .is_some_and(|(h, ip)| !h.is_empty() && ip.parse::<std::net::IpAddr>().is_ok());
            if !ok {
                return Err(Error::Invalid(format!(
                    "invalid IP address in add-host: {e:?}"
                )));
            }
        }
        for d in &host.dns {
            if d.parse::<std::net::IpAddr>().is_err() {
                return Err(Error::Invalid(format!("{d} is not an ip address")));
            }
        }
        // Exposed: the image's, --expose and what -p publishes.
        let mut exposed: Vec<String> = ic.exposed_ports.keys().cloned().collect();
        for p in o.expose.iter().chain(host.port_bindings.keys()) {
            if !exposed.contains(p) {
                exposed.push(p.clone());
            }
        }
        exposed.sort_by_key(|k| crate::network::parse_port_key(k));
        // Check the security options now, so `run` fails before anything exists.
        for opt in &mut host.security_opt {
            if let Some(file) = opt
                .strip_prefix("seccomp=")
                .or_else(|| opt.strip_prefix("seccomp:"))
            {
                if file != "unconfined" {
                    // A file's path (the CLI), or the profile itself (the
                    // API: the docker CLI sends the file's content).
                    let text = if file.trim_start().starts_with('{') {
                        file.to_string()
                    } else {
                        std::fs::read_to_string(file).map_err(|e| {
                            Error::Invalid(format!("opening seccomp profile ({file}) failed: {e}"))
                        })?
                    };
                    serde_json::from_str::<skiff_runtime::spec::Seccomp>(&text).map_err(|e| {
                        Error::Invalid(format!("decoding seccomp profile ({file}) failed: {e}"))
                    })?;
                    *opt = format!("seccomp={text}");
                }
            } else if !matches!(
                opt.as_str(),
                "no-new-privileges"
                    | "no-new-privileges:true"
                    | "no-new-privileges=true"
                    | "no-new-privileges:false"
                    | "no-new-privileges=false"
            ) {
                return Err(Error::Invalid(format!("invalid --security-opt: {opt:?}")));
            }
        }
        let healthcheck = if o.no_healthcheck {
            Some(HealthConfig {
                test: vec!["NONE".into()],
                ..Default::default()
            })
        } else {
            let mut h = ic
                .healthcheck
                .as_ref()
                .map(|i| HealthConfig {
                    test: i.test.clone(),
                    interval: i.interval,
                    timeout: i.timeout,
                    start_period: i.start_period,
                    retries: i.retries,
                })
                .unwrap_or_default();
            let f = &o.healthcheck;
            if !f.test.is_empty() {
                h.test = f.test.clone();
            }
            for (dst, src) in [
                (&mut h.interval, f.interval),
                (&mut h.timeout, f.timeout),
                (&mut h.start_period, f.start_period),
                (&mut h.retries, f.retries),
            ] {
                if src != 0 {
                    *dst = src;
                }
            }
            (!h.test.is_empty() || h != HealthConfig::default()).then_some(h)
        };
        let c = Container {
            id: match &o.id {
                Some(id) => fresh_id(id)?,
                None => crate::names::new_id(),
            },
            name,
            created: now(),
            image_id: image_id.to_string(),
            config: Config {
                hostname: o.hostname.clone().unwrap_or_default(),
                domainname: String::new(),
                user: o
                    .user
                    .clone()
                    .unwrap_or_else(|| ic.user.clone().unwrap_or_default()),
                tty: o.tty,
                open_stdin: o.open_stdin,
                env,
                cmd,
                entrypoint,
                working_dir: o
                    .workdir
                    .clone()
                    .unwrap_or_else(|| ic.working_dir.clone().unwrap_or_default()),
                labels,
                stop_signal: o.stop_signal.clone().or(ic.stop_signal.clone()),
                stop_timeout: o.stop_timeout,
                image: o.image.clone(),
                volumes: ic.volumes.keys().cloned().collect(),
                exposed_ports: exposed,
                healthcheck,
            },
            host,
            state: State::default(),
        };
        crate::spec::capabilities(&c)?;
        if let Some(s) = &c.config.stop_signal {
            parse_signal(s)?;
        }
        check_cpus(&c.host)?;
        // Volumes: those this create makes (only those: another create may
        // make some at the same time) are removed again if it fails.
        let mut made = Vec::new();
        let mut c = c;
        let undo_volumes = |e: &Engine, made: &[String]| {
            for v in made {
                let _ = e.volume_remove(v, true);
            }
        };
        c.host.mounts = match self.prepare_mounts(&c.host.mounts, &c.config.volumes, &mut made) {
            Ok(m) => m,
            Err(e) => {
                undo_volumes(self, &made);
                return Err(e);
            }
        };
        let dir = self.paths.container_dir(&c.id);
        if let Err(e) = self.paths.make_container_dir(&c.id) {
            undo_volumes(self, &made);
            // (A directory that was there is not ours to remove.)
            if e.kind() != std::io::ErrorKind::AlreadyExists {
                let _ = self.paths.remove_container_dir(&c.id, true);
            }
            return Err(io_err("creating", &dir)(e));
        }
        // Without an endpoint to add, the `create` event is recorded with
        // the container, in one commit.
        let event_with_record = network.is_none();
        let mut tries = 0;
        loop {
            let events = match event_with_record {
                true => vec![("create", super::event_attributes(&c, &[]))],
                false => Vec::new(),
            };
            match self.store.insert_with_events(&c, &events) {
                Ok(()) => break,
                // A random name taken: pick another, as Docker does (with a
                // digit appended after a few tries).
                Err(crate::store::StoreError::NameInUse { .. })
                    if o.name.is_none() && tries < 20 =>
                {
                    tries += 1;
                    c.name = crate::names::random_name();
                    if tries > 5 {
                        c.name
                            .push(char::from(b'0' + crate::names::random_bytes::<1>()[0] % 10));
                    }
                }
                Err(e) => {
                    let _ = self.paths.remove_container_dir(&c.id, true);
                    undo_volumes(self, &made);
                    return Err(e.into());
                }
            }
        }
        if let Some(n) = &network {
            // Docker 20.10 lets `--ip` pass on the default bridge, unused.
            let ip = ip.filter(|_| n.name != "bridge");
            if let Err(e) = self.add_endpoint(n, &c.id, &o.network_aliases, ip) {
                let _ = self.store.remove(&c.id);
                let _ = self.paths.remove_container_dir(&c.id, true);
                undo_volumes(self, &made);
                return Err(e);
            }
        }
        if !event_with_record {
            self.event(&c, "create", &[]);
        }
        *self.created_layers.lock().expect("created layers") = Some((c.id.clone(), lower));
        timing("engine create: recorded");
        Ok(c)
    }
}

/// `id`, given for a new container: an ID as the engine makes them. (One
/// in use is refused where its directory is made: it exists.)
fn fresh_id(id: &str) -> Result<String> {
    let well_formed = id.len() == 64 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !well_formed {
        return Err(Error::Invalid(format!("not a new container ID: {id}")));
    }
    Ok(id.to_string())
}

/// Whether `h` asks for something this host cannot honour.
fn unsupported(h: &HostConfig) -> bool {
    h.blkio_weight > 0 && !blkio_weight_supported()
}

/// Drop from `h` what this host cannot honour, with Docker's warning for
/// each (create and update alike): the block I/O weight without the cgroup
/// file for it.
pub(super) fn drop_unsupported(h: &mut HostConfig) -> Vec<String> {
    let mut warnings = Vec::new();
    if h.blkio_weight > 0 && !blkio_weight_supported() {
        warnings.push(
            "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded."
                .to_string(),
        );
        h.blkio_weight = 0;
    }
    warnings
}

/// Whether this host's cgroups take a block I/O weight (v1's blkio.weight
/// or BFQ's, v2's io controller).
fn blkio_weight_supported() -> bool {
    let v1 = std::path::Path::new("/sys/fs/cgroup/blkio");
    if v1.join("blkio.weight").exists() || v1.join("blkio.bfq.weight").exists() {
        return true;
    }
    std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers")
        .is_ok_and(|c| c.split_whitespace().any(|x| x == "io"))
}

/// Docker's checks of `--cpus` and `--cpuset-cpus` against the host.
pub(super) fn check_cpus(h: &HostConfig) -> Result<()> {
    let online = crate::units::online_cpus();
    let n = online.len().max(1) as i64;
    if h.nano_cpus > 0 && (h.nano_cpus < 10_000_000 || h.nano_cpus > n * 1_000_000_000) {
        return Err(Error::Invalid(format!(
            "Range of CPUs is from 0.01 to {n}.00, as there are only {n} CPUs available"
        )));
    }
    if !h.cpuset_cpus.is_empty() {
        let want = crate::units::parse_cpu_list(&h.cpuset_cpus).ok_or_else(|| {
            Error::Invalid(format!("Invalid value {} for cpuset cpus", h.cpuset_cpus))
        })?;
        let missing: Vec<String> = want
            .iter()
            .filter(|c| !online.contains(c))
            .map(|c| c.to_string())
            .collect();
        if !missing.is_empty() {
            let avail =
                std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_default();
            return Err(Error::Invalid(format!(
                "Requested CPUs are not available - requested {}, available: {}",
                h.cpuset_cpus,
                avail.trim()
            )));
        }
    }
    if !h.cpuset_mems.is_empty() {
        let want = crate::units::parse_cpu_list(&h.cpuset_mems).ok_or_else(|| {
            Error::Invalid(format!("Invalid value {} for cpuset mems", h.cpuset_mems))
        })?;
        let avail = std::fs::read_to_string("/sys/devices/system/node/online")
            .unwrap_or_else(|_| "0".into());
        let nodes = crate::units::parse_cpu_list(avail.trim()).unwrap_or_default();
        if want.iter().any(|m| !nodes.contains(m)) {
            return Err(Error::Invalid(format!(
                "Requested memory nodes are not available - requested {}, available: {}",
                h.cpuset_mems,
                avail.trim()
            )));
        }
    }
    Ok(())
}
