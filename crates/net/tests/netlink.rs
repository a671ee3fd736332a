//! The netlink module against the real kernel. Every test works in private
//! network namespaces made for it, so nothing on the host changes. Needs
//! root (CAP_SYS_ADMIN and CAP_NET_ADMIN), `ip`, `nsenter` and `nft`.

use std::fs::File;
use std::net::{Ipv4Addr, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use nix::sched::{setns, unshare, CloneFlags};
use skiff_net::netlink::{
    nft_generation, nft_table_exists, NetlinkError, Route, NFPROTO_INET, NFPROTO_IPV4,
};

/// A private network namespace, alive as long as this handle on it is open.
struct Netns {
    file: File,
}

impl Netns {
    /// Makes a namespace on a throwaway thread (namespaces are per thread).
    fn new() -> Netns {
        let file = thread::spawn(|| {
            unshare(CloneFlags::CLONE_NEWNET).expect("unshare(CLONE_NEWNET)");
            File::open("/proc/thread-self/ns/net").expect("open own netns")
        })
        .join()
        .unwrap();
        Netns { file }
    }

    /// Runs `f` on a new thread that has entered this namespace.
    fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        thread::scope(|s| {
            s.spawn(|| {
                setns(self.file.as_fd(), CloneFlags::CLONE_NEWNET).expect("setns");
                f()
            })
            .join()
            .unwrap()
        })
    }

    /// Runs a command inside the namespace through nsenter; its stdout.
    fn cmd(&self, args: &[&str]) -> String {
        let ns = format!("/proc/{}/fd/{}", std::process::id(), self.file.as_raw_fd());
        let out = Command::new("nsenter")
            .arg(format!("--net={ns}"))
            .args(args)
            .output()
            .expect("run nsenter");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

fn current_netns() -> std::path::PathBuf {
    std::fs::read_link("/proc/thread-self/ns/net").unwrap()
}

#[test]
fn bridge_veth_addresses_routes_and_a_packet_across() {
    let host = Netns::new();
    let ctr = Netns::new();
    let bridge_ip = Ipv4Addr::new(10, 89, 3, 1);
    let ctr_ip = Ipv4Addr::new(10, 89, 3, 2);
    let mac = [0x02, 0x42, 0x0a, 0x59, 0x03, 0x02];

    // Host side: a bridge with the gateway address, and a veth whose peer
    // lands in the container namespace, enslaved to the bridge.
    let br = host.run(|| {
        let mut r = Route::open().unwrap();
        r.create_bridge("skbr0", Some(1400)).unwrap();
        let br = r.link_index("skbr0").unwrap().expect("bridge exists");
        r.add_address(br, bridge_ip, 24).unwrap();
        r.set_up(br).unwrap();
        r.create_veth("vskiff0", "tmp0", ctr.file.as_fd(), Some(1400))
            .unwrap();
        assert_eq!(r.link_index("tmp0").unwrap(), None, "peer is not here");
        let veth = r.link_index("vskiff0").unwrap().expect("host end exists");
        r.set_master(veth, br).unwrap();
        r.set_up(veth).unwrap();
        assert!(r.addresses().unwrap().contains(&(br, bridge_ip, 24)));
        assert!(r
            .routes_v4()
            .unwrap()
            .contains(&(Ipv4Addr::new(10, 89, 3, 0), 24, Some(br))));
        br
    });
    let links = host.cmd(&["ip", "-o", "link", "show"]);
    let bridge_line = links.lines().find(|l| l.contains(" skbr0:")).unwrap();
    assert!(bridge_line.contains("UP") && bridge_line.contains("mtu 1400"));
    let veth_line = links.lines().find(|l| l.contains(" vskiff0@")).unwrap();
    assert!(veth_line.contains("master skbr0"), "{veth_line}");
    assert!(veth_line.contains("mtu 1400"), "{veth_line}");
    let addrs = host.cmd(&["ip", "-o", "-4", "addr", "show", "dev", "skbr0"]);
    assert!(
        addrs.contains("inet 10.89.3.1/24 brd 10.89.3.255"),
        "{addrs}"
    );
    assert!(addrs.contains(&format!("{br}: skbr0")), "{addrs}");

    // Container side: rename the peer to eth0, give it a MAC, an address
    // and a default route through the bridge.
    let eth0 = ctr.run(|| {
        let mut r = Route::open().unwrap();
        let idx = r.link_index("tmp0").unwrap().expect("peer arrived");
        r.set_name(idx, "eth0").unwrap();
        assert_eq!(r.link_index("eth0").unwrap(), Some(idx));
        assert_eq!(r.link_index("tmp0").unwrap(), None);
        r.set_mac(idx, mac).unwrap();
        r.set_mtu(idx, 1380).unwrap();
        r.add_address(idx, ctr_ip, 24).unwrap();
        r.set_up(idx).unwrap();
        let lo = r.link_index("lo").unwrap().unwrap();
        r.set_up(lo).unwrap();
        r.add_default_route(bridge_ip, idx).unwrap();
        let routes = r.routes_v4().unwrap();
        assert!(routes.contains(&(Ipv4Addr::UNSPECIFIED, 0, Some(idx))));
        assert!(routes.contains(&(Ipv4Addr::new(10, 89, 3, 0), 24, Some(idx))));
        let addrs = r.addresses().unwrap();
        assert!(addrs.contains(&(idx, ctr_ip, 24)));
        assert!(addrs.contains(&(lo, Ipv4Addr::LOCALHOST, 8)));
        idx
    });
    let addrs = ctr.cmd(&["ip", "-o", "-4", "addr"]);
    assert!(
        addrs.contains(&format!(
            "{eth0}: eth0    inet 10.89.3.2/24 brd 10.89.3.255"
        )),
        "{addrs}"
    );
    let link = ctr.cmd(&["ip", "-o", "link", "show", "eth0"]);
    assert!(link.contains("link/ether 02:42:0a:59:03:02"), "{link}");
    assert!(link.contains("mtu 1380"), "{link}");
    // ip leaves out "proto boot" when printing; filter on it instead.
    let routes = ctr.cmd(&[
        "ip", "-4", "route", "show", "table", "main", "proto", "boot",
    ]);
    assert_eq!(routes.trim(), "default via 10.89.3.1 dev eth0", "{routes}");

    // A UDP datagram from the container to the gateway address. A socket
    // stays in the namespace it was made in, whichever thread uses it.
    let server = host.run(|| UdpSocket::bind((bridge_ip, 0)).unwrap());
    server
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let client = ctr.run(|| UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap());
    let target = server.local_addr().unwrap();
    let mut buf = [0u8; 16];
    let mut received = None;
    for _ in 0..20 {
        client.send_to(b"hello bridge", target).unwrap();
        if let Ok((n, from)) = server.recv_from(&mut buf) {
            received = Some((buf[..n].to_vec(), from));
            break;
        }
    }
    let (data, from) = received.expect("datagram reached the bridge address");
    assert_eq!(data, b"hello bridge");
    assert_eq!(from.ip(), std::net::IpAddr::V4(ctr_ip));

    // Deleting the host end removes the pair, the container's end too.
    host.run(|| {
        let mut r = Route::open().unwrap();
        let veth = r.link_index("vskiff0").unwrap().unwrap();
        r.delete_link(veth).unwrap();
        assert_eq!(r.link_index("vskiff0").unwrap(), None);
    });
    ctr.run(|| assert_eq!(Route::open().unwrap().link_index("eth0").unwrap(), None));
}

#[test]
fn open_in_netns_works_there_and_restores_the_thread() {
    let ns = Netns::new();
    let before = current_netns();
    let mut r = Route::open_in_netns(ns.file.as_fd()).unwrap();
    assert_eq!(current_netns(), before, "thread back in its namespace");
    r.create_bridge("skbr-remote", None).unwrap();
    let there = ns.run(|| Route::open().unwrap().link_index("skbr-remote").unwrap());
    assert_eq!(there, r.link_index("skbr-remote").unwrap());
    assert!(there.is_some());

    // Not a namespace: refused, and the thread stays where it was.
    let not_ns = File::open("/dev/null").unwrap();
    let err = Route::open_in_netns(not_ns.as_fd()).unwrap_err();
    assert_eq!(err.errno(), Some(libc::EINVAL), "{err}");
    assert!(err.to_string().contains("/dev/null"), "{err}");
    assert_eq!(current_netns(), before);
}

#[test]
fn errors_name_the_operation_and_can_be_matched() {
    Netns::new().run(|| {
        let mut r = Route::open().unwrap();
        r.create_bridge("skbr1", None).unwrap();
        let err = r.create_bridge("skbr1", None).unwrap_err();
        assert!(err.is_exists(), "{err}");
        assert!(
            err.to_string()
                .starts_with("creating bridge skbr1: File exists (os error 17)"),
            "{err}"
        );

        let br = r.link_index("skbr1").unwrap().unwrap();
        r.add_address(br, Ipv4Addr::new(10, 89, 9, 1), 24).unwrap();
        let err = r
            .add_address(br, Ipv4Addr::new(10, 89, 9, 1), 24)
            .unwrap_err();
        assert!(err.is_exists(), "{err}");
        assert!(err.to_string().contains("10.89.9.1/24"), "{err}");

        // A veth whose host name is taken.
        let peer_ns = Netns::new();
        let err = r
            .create_veth("skbr1", "eth0", peer_ns.file.as_fd(), None)
            .unwrap_err();
        assert!(err.is_exists(), "{err}");
        assert!(
            err.to_string()
                .starts_with("creating veth skbr1 (peer eth0 in net:["),
            "{err}"
        );

        // The kernel's extended-ack explanation is part of the message.
        let err = r.set_mtu(br, 10).unwrap_err();
        assert_eq!(err.errno(), Some(libc::EINVAL), "{err}");
        assert!(
            matches!(
                err,
                NetlinkError::Os {
                    kernel_message: Some(_),
                    ..
                }
            ),
            "{err}"
        );

        assert!(!r.delete_link_by_name("nope0").unwrap());
        assert!(r.delete_link_by_name("skbr1").unwrap());
        assert_eq!(r.link_index("skbr1").unwrap(), None);
        assert!(r.delete_link(br).unwrap_err().is_not_found());
        let err = r.set_up(999_999).unwrap_err();
        assert!(err.is_not_found(), "{err}");
        assert!(err.to_string().starts_with("bringing up link 999999: "));

        // Names the kernel would refuse are caught before sending.
        let long = "sixteen-bytes-xx";
        for err in [
            r.create_bridge(long, None).unwrap_err(),
            r.link_index(long).unwrap_err(),
            r.delete_link_by_name(long).unwrap_err(),
            r.set_name(1, long).unwrap_err(),
        ] {
            assert!(matches!(err, NetlinkError::Invalid { .. }), "{err}");
            assert!(err.to_string().contains("longer than 15 bytes"), "{err}");
        }
        let err = r.create_bridge("a/b", None).unwrap_err();
        assert!(matches!(err, NetlinkError::Invalid { .. }), "{err}");
        let err = r
            .add_address(1, Ipv4Addr::new(10, 0, 0, 1), 33)
            .unwrap_err();
        assert!(matches!(err, NetlinkError::Invalid { .. }), "{err}");

        // A second default route is refused.
        let lo = r.link_index("lo").unwrap().unwrap();
        r.set_up(lo).unwrap();
        r.add_address(lo, Ipv4Addr::new(10, 77, 0, 1), 24).unwrap();
        r.add_default_route(Ipv4Addr::new(10, 77, 0, 2), lo)
            .unwrap();
        let err = r
            .add_default_route(Ipv4Addr::new(10, 77, 0, 2), lo)
            .unwrap_err();
        assert!(err.is_exists(), "{err}");
    });
}

#[test]
fn dumps_see_only_the_main_table() {
    Netns::new().run(|| {
        let mut r = Route::open().unwrap();
        assert_eq!(r.addresses().unwrap(), vec![]);
        assert_eq!(r.routes_v4().unwrap(), vec![]);
        let lo = r.link_index("lo").unwrap().unwrap();
        r.set_up(lo).unwrap();
        // 127.0.0.0/8 and friends live in the local table, not main.
        assert_eq!(r.addresses().unwrap(), vec![(lo, Ipv4Addr::LOCALHOST, 8)]);
        assert_eq!(r.routes_v4().unwrap(), vec![]);
        // Enough addresses and routes that each dump spans several
        // datagrams (the kernel fills at most 32 KiB per datagram).
        r.create_bridge("skd0", None).unwrap();
        let br = r.link_index("skd0").unwrap().unwrap();
        r.set_up(br).unwrap();
        let subnet = |i: u16| Ipv4Addr::new(10, 100 + (i / 200) as u8, (i % 200) as u8, 0);
        for i in 0..500 {
            let addr = Ipv4Addr::from(u32::from(subnet(i)) + 1);
            r.add_address(br, addr, 24).unwrap();
        }
        let addrs = r.addresses().unwrap();
        assert_eq!(addrs.len(), 501);
        assert!(addrs.contains(&(lo, Ipv4Addr::LOCALHOST, 8)));
        assert_eq!(addrs.iter().filter(|a| a.0 == br && a.2 == 24).count(), 500);
        let mut routes = r.routes_v4().unwrap();
        routes.sort();
        let expected: Vec<_> = (0..500).map(|i| (subnet(i), 24, Some(br))).collect();
        assert_eq!(routes, expected);
    });
}

#[test]
fn nft_generation_moves_and_tables_are_found() {
    let ns = Netns::new();
    let (g0, found) = ns.run(|| {
        (
            nft_generation().unwrap(),
            nft_table_exists(NFPROTO_IPV4, "skifftest").unwrap(),
        )
    });
    assert!(!found);
    ns.cmd(&["nft", "add", "table", "ip", "skifftest"]);
    ns.run(|| {
        let g1 = nft_generation().unwrap();
        assert!(g1 > g0, "generation {g0} -> {g1}");
        assert!(nft_table_exists(NFPROTO_IPV4, "skifftest").unwrap());
        assert!(!nft_table_exists(NFPROTO_INET, "skifftest").unwrap());
        assert!(!nft_table_exists(NFPROTO_IPV4, "other").unwrap());
        assert_eq!(nft_generation().unwrap(), g1, "no change, same generation");
        let err = nft_table_exists(NFPROTO_IPV4, "").unwrap_err();
        assert!(matches!(err, NetlinkError::Invalid { .. }), "{err}");
    });
}

/// Times each step of the per-container setup the engine does, averaged
/// over 20 containers; run with --nocapture to see the numbers.
#[test]
fn timing_of_a_container_setup() {
    let host = Netns::new();
    let ctrs: Vec<Netns> = (0..20).map(|_| Netns::new()).collect();
    let mut steps: Vec<(&str, Duration)> = Vec::new();
    let mut time = |label: &'static str, start: Instant| {
        let spent = start.elapsed();
        match steps.iter_mut().find(|(l, _)| *l == label) {
            Some((_, total)) => *total += spent,
            None => steps.push((label, spent)),
        }
    };
    host.run(|| {
        let mut r = Route::open().unwrap();
        r.create_bridge("skbr0", None).unwrap();
        let br = r.link_index("skbr0").unwrap().unwrap();
        r.add_address(br, Ipv4Addr::new(10, 89, 0, 1), 16).unwrap();
        r.set_up(br).unwrap();
        for (i, ctr) in ctrs.iter().enumerate() {
            let (host_name, peer) = (format!("vsk{i}"), format!("tmp{i}"));
            let t = Instant::now();
            r.create_veth(&host_name, &peer, ctr.file.as_fd(), None)
                .unwrap();
            time("create_veth", t);
            let t = Instant::now();
            let veth = r.link_index(&host_name).unwrap().unwrap();
            time("link_index", t);
            let t = Instant::now();
            r.set_master(veth, br).unwrap();
            time("set_master", t);
            let t = Instant::now();
            r.set_up(veth).unwrap();
            time("set_up (host end)", t);

            let t = Instant::now();
            let mut c = Route::open_in_netns(ctr.file.as_fd()).unwrap();
            time("open_in_netns", t);
            let idx = c.link_index(&peer).unwrap().unwrap();
            let t = Instant::now();
            c.set_name(idx, "eth0").unwrap();
            time("set_name", t);
            let t = Instant::now();
            c.add_address(idx, Ipv4Addr::new(10, 89, 1, i as u8 + 2), 16)
                .unwrap();
            time("add_address", t);
            let t = Instant::now();
            c.set_up(idx).unwrap();
            time("set_up (container end)", t);
            let t = Instant::now();
            c.add_default_route(Ipv4Addr::new(10, 89, 0, 1), idx)
                .unwrap();
            time("add_default_route", t);

            let t = Instant::now();
            r.addresses().unwrap();
            time("addresses (dump)", t);
            let t = Instant::now();
            r.routes_v4().unwrap();
            time("routes_v4 (dump)", t);
            let t = Instant::now();
            nft_generation().unwrap();
            time("nft_generation", t);
        }
    });
    for (label, total) in steps {
        eprintln!(
            "{label:>24}: {:>5} us",
            (total / ctrs.len() as u32).as_micros()
        );
    }
}
