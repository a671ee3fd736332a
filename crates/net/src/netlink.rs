//! rtnetlink and nfnetlink over raw `AF_NETLINK` sockets, synchronously.
//!
//! [`Route`] creates bridges and veth pairs, assigns IPv4 addresses and
//! routes, and lists what a namespace already has so the IPAM can avoid
//! subnets that clash with the host's. [`nft_generation`] and
//! [`nft_table_exists`] let the engine notice that its nftables rules may have
//! been flushed by someone else.
//!
//! Every request gets a fresh sequence number. Requests carry `NLM_F_ACK` and
//! end at the kernel's ack or error; dumps end at `NLMSG_DONE` (the kernel
//! never acks a dump). Messages with another sequence number are left-overs
//! of an earlier, abandoned exchange and are skipped.

use std::fs::File;
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use nix::sched::{setns, CloneFlags};
use nix::sys::socket::{
    bind, getsockname, recv, recvfrom, sendto, socket, AddressFamily, MsgFlags, NetlinkAddr,
    SockFlag, SockProtocol, SockType,
};

/// nftables family `inet` (IPv4 and IPv6), for [`nft_table_exists`].
pub const NFPROTO_INET: u8 = 1;
/// nftables family `ip`.
pub const NFPROTO_IPV4: u8 = 2;
/// nftables family `ip6`.
pub const NFPROTO_IPV6: u8 = 10;

// Kernel uapi constants (linux/netlink.h, rtnetlink.h, if_link.h, veth.h,
// if_addr.h, netfilter/nfnetlink.h, netfilter/nf_tables.h). Defined here
// with the exact widths the wire format uses.
const NLMSG_HDRLEN: usize = 16;
const NLA_HDRLEN: usize = 4;

const NLMSG_NOOP: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;

const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP_INTR: u16 = 0x10;
const NLM_F_DUMP: u16 = 0x300;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const NLM_F_REPLACE: u16 = 0x100;
// Flags of an NLMSG_ERROR reply.
const NLM_F_CAPPED: u16 = 0x100;
const NLM_F_ACK_TLVS: u16 = 0x200;

const NLA_F_NESTED: u16 = 1 << 15;
const NLA_F_NET_BYTEORDER: u16 = 1 << 14;
const NLMSGERR_ATTR_MSG: u16 = 1;

const SOL_NETLINK: libc::c_int = 270;
const NETLINK_CAP_ACK: libc::c_int = 10;
const NETLINK_EXT_ACK: libc::c_int = 11;

const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const RTM_GETLINK: u16 = 18;
const RTM_SETLINK: u16 = 19;
const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;
const RTM_NEWROUTE: u16 = 24;
const RTM_GETROUTE: u16 = 26;

const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_MASTER: u16 = 10;
const IFLA_LINKINFO: u16 = 18;
const IFLA_NET_NS_FD: u16 = 28;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const VETH_INFO_PEER: u16 = 1;
const IFF_UP: u32 = 1;
const IFNAMSIZ: usize = 16;

const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_BROADCAST: u16 = 4;

const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_TABLE: u16 = 15;
const RT_TABLE_MAIN: u8 = 254;
const RTPROT_BOOT: u8 = 3;
const RT_SCOPE_UNIVERSE: u8 = 0;
const RT_SCOPE_LINK: u8 = 253;
const RTN_UNICAST: u8 = 1;

const AF_UNSPEC: u8 = 0;
const AF_INET: u8 = 2;

const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFNETLINK_V0: u8 = 0;
const NFT_MSG_GETTABLE: u16 = 1;
const NFT_MSG_NEWGEN: u16 = 15;
const NFT_MSG_GETGEN: u16 = 16;
const NFTA_TABLE_NAME: u16 = 1;
const NFTA_GEN_ID: u16 = 1;
const NFT_NAME_MAXLEN: usize = 256;

/// A failed netlink operation, naming what was being done and to what.
#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    /// A system call failed or the kernel refused the request; `kernel_message`
    /// is the kernel's extended-ack explanation when it gave one.
    #[error("{op} {object}: {source}{}", explain(.kernel_message))]
    Os {
        op: &'static str,
        object: String,
        source: io::Error,
        kernel_message: Option<String>,
    },
    /// An argument was rejected before anything was sent.
    #[error("{op} {object}: {reason}")]
    Invalid {
        op: &'static str,
        object: String,
        reason: &'static str,
    },
    /// The kernel's reply could not be parsed.
    #[error("{op} {object}: malformed netlink reply: {reason}")]
    Malformed {
        op: &'static str,
        object: String,
        reason: &'static str,
    },
}

fn explain(kernel_message: &Option<String>) -> String {
    match kernel_message {
        Some(m) => format!(" ({m})"),
        None => String::new(),
    }
}

impl NetlinkError {
    /// A link that should exist was not found.
    pub fn gone(op: &'static str, object: &str) -> NetlinkError {
        NetlinkError::Os {
            op,
            object: object.to_string(),
            source: io::Error::from_raw_os_error(libc::ENODEV),
            kernel_message: None,
        }
    }

    /// The errno, if the failure was a system call or a kernel refusal.
    pub fn errno(&self) -> Option<i32> {
        match self {
            NetlinkError::Os { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }

    /// The object already exists (`EEXIST`): a link name taken, an address
    /// or route already present.
    pub fn is_exists(&self) -> bool {
        self.errno() == Some(libc::EEXIST)
    }

    /// The object does not exist (`ENODEV` for links, `ENOENT` otherwise).
    pub fn is_not_found(&self) -> bool {
        matches!(self.errno(), Some(libc::ENODEV | libc::ENOENT))
    }
}

/// A failure before the operation and object are attached to it.
#[derive(Debug)]
enum Failure {
    Os(io::Error, Option<String>),
    Invalid(&'static str),
    Malformed(&'static str),
}

impl Failure {
    fn at(self, op: &'static str, object: impl Into<String>) -> NetlinkError {
        let object = object.into();
        match self {
            Failure::Os(source, kernel_message) => NetlinkError::Os {
                op,
                object,
                source,
                kernel_message,
            },
            Failure::Invalid(reason) => NetlinkError::Invalid { op, object, reason },
            Failure::Malformed(reason) => NetlinkError::Malformed { op, object, reason },
        }
    }

    fn errno(&self) -> Option<i32> {
        match self {
            Failure::Os(e, _) => e.raw_os_error(),
            _ => None,
        }
    }
}

impl From<Errno> for Failure {
    fn from(e: Errno) -> Failure {
        Failure::Os(io::Error::from_raw_os_error(e as i32), None)
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Failure {
        Failure::Os(e, None)
    }
}

/// Rounds `len` up to netlink's 4-byte alignment.
const fn align(len: usize) -> usize {
    (len + 3) & !3
}

/// A netlink request under construction: header, family header, attributes.
///
/// Payload sizes are bounded by the callers (interface names are at most 15
/// bytes, nftables names under 256), so lengths always fit the u16 fields.
struct Msg {
    buf: Vec<u8>,
}

impl Msg {
    fn new(ty: u16, flags: u16) -> Msg {
        let mut buf = Vec::with_capacity(128);
        buf.extend_from_slice(&0u32.to_ne_bytes()); // length, set by finish()
        buf.extend_from_slice(&ty.to_ne_bytes());
        buf.extend_from_slice(&flags.to_ne_bytes());
        buf.extend_from_slice(&[0; 8]); // sequence, set by finish(); port 0
        Msg { buf }
    }

    fn pad(&mut self) {
        self.buf.resize(align(self.buf.len()), 0);
    }

    /// Appends a fixed family header (ifinfomsg, ifaddrmsg, rtmsg, nfgenmsg).
    fn header(&mut self, bytes: &[u8]) -> &mut Msg {
        self.buf.extend_from_slice(bytes);
        self.pad();
        self
    }

    fn attr_parts(&mut self, ty: u16, parts: &[&[u8]]) -> &mut Msg {
        let len = NLA_HDRLEN + parts.iter().map(|p| p.len()).sum::<usize>();
        debug_assert!(len <= usize::from(u16::MAX));
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        for p in parts {
            self.buf.extend_from_slice(p);
        }
        self.pad();
        self
    }

    fn attr(&mut self, ty: u16, payload: &[u8]) -> &mut Msg {
        self.attr_parts(ty, &[payload])
    }

    fn attr_u32(&mut self, ty: u16, v: u32) -> &mut Msg {
        self.attr(ty, &v.to_ne_bytes())
    }

    /// A NUL-terminated string attribute.
    fn attr_str(&mut self, ty: u16, s: &str) -> &mut Msg {
        self.attr_parts(ty, &[s.as_bytes(), &[0]])
    }

    /// A nested attribute (flagged `NLA_F_NESTED`) holding what `fill` adds.
    fn nested(&mut self, ty: u16, fill: impl FnOnce(&mut Msg)) -> &mut Msg {
        let start = self.buf.len();
        self.attr(ty | NLA_F_NESTED, &[]);
        fill(self);
        let len = self.buf.len() - start;
        debug_assert!(len <= usize::from(u16::MAX));
        self.buf[start..start + 2].copy_from_slice(&(len as u16).to_ne_bytes());
        self
    }

    /// Sets the total length and the sequence number; returns the bytes.
    fn finish(&mut self, seq: u32) -> &[u8] {
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        &self.buf
    }
}

/// One received netlink message.
struct Reply<'a> {
    ty: u16,
    flags: u16,
    seq: u32,
    payload: &'a [u8],
}

/// The messages of one datagram; yields an error and stops at a malformed one.
struct Messages<'a>(&'a [u8]);

impl<'a> Iterator for Messages<'a> {
    type Item = Result<Reply<'a>, &'static str>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        let buf = std::mem::take(&mut self.0);
        let Some(hdr) = buf.get(..NLMSG_HDRLEN) else {
            return Some(Err("truncated message header"));
        };
        let len = ne_u32(&hdr[0..4])? as usize;
        if len < NLMSG_HDRLEN || len > buf.len() {
            return Some(Err("message length out of bounds"));
        }
        self.0 = buf.get(align(len)..).unwrap_or(&[]);
        Some(Ok(Reply {
            ty: ne_u16(&hdr[4..6])?,
            flags: ne_u16(&hdr[6..8])?,
            seq: ne_u32(&hdr[8..12])?,
            payload: &buf[NLMSG_HDRLEN..len],
        }))
    }
}

/// The attributes in a buffer as (type without flags, payload); yields an
/// error and stops at a malformed one.
struct Attrs<'a>(&'a [u8]);

impl<'a> Iterator for Attrs<'a> {
    type Item = Result<(u16, &'a [u8]), &'static str>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        let buf = std::mem::take(&mut self.0);
        let Some(hdr) = buf.get(..NLA_HDRLEN) else {
            return Some(Err("truncated attribute header"));
        };
        let len = usize::from(ne_u16(&hdr[0..2])?);
        if len < NLA_HDRLEN || len > buf.len() {
            return Some(Err("attribute length out of bounds"));
        }
        self.0 = buf.get(align(len)..).unwrap_or(&[]);
        let ty = ne_u16(&hdr[2..4])? & !(NLA_F_NESTED | NLA_F_NET_BYTEORDER);
        Some(Ok((ty, &buf[NLA_HDRLEN..len])))
    }
}

/// The attributes after a family header of `hdr_len` bytes, or an error if
/// the payload is shorter than that header.
fn attrs_after(payload: &[u8], hdr_len: usize) -> Result<Attrs<'_>, &'static str> {
    if payload.len() < hdr_len {
        return Err("payload shorter than its family header");
    }
    Ok(Attrs(payload.get(align(hdr_len)..).unwrap_or(&[])))
}

fn ne_u16(b: &[u8]) -> Option<u16> {
    Some(u16::from_ne_bytes(b.try_into().ok()?))
}

fn ne_u32(b: &[u8]) -> Option<u32> {
    Some(u32::from_ne_bytes(b.try_into().ok()?))
}

fn ipv4(b: &[u8]) -> Option<Ipv4Addr> {
    Some(Ipv4Addr::from(<[u8; 4]>::try_from(b).ok()?))
}

/// The text of an extended ack's `NLMSGERR_ATTR_MSG`, if any.
fn kernel_message(tlvs: &[u8]) -> Option<String> {
    Attrs(tlvs).map_while(Result::ok).find_map(|(ty, v)| {
        (ty == NLMSGERR_ATTR_MSG).then(|| {
            let text = v.split(|&b| b == 0).next().unwrap_or(&[]);
            String::from_utf8_lossy(text).into_owned()
        })
    })
}

/// Turns an `NLMSG_ERROR` or `NLMSG_DONE` payload into Ok (errno 0) or the
/// error, with the kernel's explanation when the reply carries one.
fn status(reply: &Reply<'_>) -> Result<(), Failure> {
    let Some(code) = reply.payload.get(..4).and_then(ne_u32) else {
        // Very old kernels send NLMSG_DONE without a status.
        return match reply.ty {
            NLMSG_DONE => Ok(()),
            _ => Err(Failure::Malformed("error message without an error code")),
        };
    };
    let code = code as i32;
    if code == 0 {
        return Ok(());
    }
    if code > 0 || code == i32::MIN {
        return Err(Failure::Malformed("error code out of range"));
    }
    let mut message = None;
    if reply.flags & NLM_F_ACK_TLVS != 0 {
        // An error echoes the request (only its header when capped); the
        // extended-ack attributes follow it. A DONE has them right away.
        let echoed = match reply.ty {
            NLMSG_ERROR if reply.flags & NLM_F_CAPPED != 0 => NLMSG_HDRLEN,
            NLMSG_ERROR => reply
                .payload
                .get(4..8)
                .and_then(ne_u32)
                .map_or(NLMSG_HDRLEN, |l| l as usize),
            _ => 0,
        };
        let echoed = echoed.min(reply.payload.len());
        message = reply
            .payload
            .get(4 + align(echoed)..)
            .and_then(kernel_message);
    }
    Err(Failure::Os(io::Error::from_raw_os_error(-code), message))
}

/// Receives each data message's (type, payload) during an exchange.
type OnData<'a> = dyn FnMut(u16, &[u8]) -> Result<(), &'static str> + 'a;

/// Handles one received datagram of the exchange numbered `seq`: passes data
/// messages to `on_data`, notes an interrupted dump, and returns true once
/// the exchange is over (acked, or the dump done).
fn handle_datagram(
    datagram: &[u8],
    seq: u32,
    interrupted: &mut bool,
    on_data: &mut OnData<'_>,
) -> Result<bool, Failure> {
    for reply in Messages(datagram) {
        let reply = reply.map_err(Failure::Malformed)?;
        if reply.seq != seq {
            continue;
        }
        if reply.flags & NLM_F_DUMP_INTR != 0 {
            *interrupted = true;
        }
        match reply.ty {
            NLMSG_NOOP => {}
            NLMSG_ERROR | NLMSG_DONE => {
                status(&reply)?;
                return Ok(true);
            }
            ty => on_data(ty, reply.payload).map_err(Failure::Malformed)?,
        }
    }
    Ok(false)
}

/// A bound netlink socket with its sequence counter and receive buffer.
struct Socket {
    fd: OwnedFd,
    seq: u32,
    buf: Vec<u8>,
}

impl Socket {
    fn open(protocol: SockProtocol) -> Result<Socket, Failure> {
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            protocol,
        )?;
        // Ask for short acks (no echo of the request) and for the kernel's
        // explanation of errors. Both are best effort: old kernels lack them.
        for opt in [NETLINK_CAP_ACK, NETLINK_EXT_ACK] {
            let on: libc::c_int = 1;
            // SAFETY: fd is a valid socket; the option value is a c_int that
            // lives across the call, and its size is passed.
            unsafe {
                libc::setsockopt(
                    fd.as_raw_fd(),
                    SOL_NETLINK,
                    opt,
                    (&on as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                );
            }
        }
        bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 0))?;
        // Start from a per-socket value so that two sockets' numbers differ.
        let seq = getsockname::<NetlinkAddr>(fd.as_raw_fd())?.pid();
        Ok(Socket {
            fd,
            seq,
            buf: vec![0; 32 * 1024],
        })
    }

    /// Sends `msg` and reads replies until its ack, error or dump end,
    /// passing each data message's (type, payload) to `on_data`. Returns
    /// whether the kernel flagged a dump as interrupted by a change.
    fn exchange(&mut self, msg: &mut Msg, on_data: &mut OnData<'_>) -> Result<bool, Failure> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let req = msg.finish(seq);
        let kernel = NetlinkAddr::new(0, 0);
        let sent = retry(|| sendto(self.fd.as_raw_fd(), req, &kernel, MsgFlags::empty()))?;
        if sent != req.len() {
            return Err(Failure::Os(io::Error::from(io::ErrorKind::WriteZero), None));
        }
        let mut interrupted = false;
        loop {
            let len = self.recv()?;
            if handle_datagram(&self.buf[..len], seq, &mut interrupted, on_data)? {
                return Ok(interrupted);
            }
        }
    }

    /// Sends a request that expects no data back.
    fn request(&mut self, msg: &mut Msg) -> Result<(), Failure> {
        self.exchange(msg, &mut |_, _| Ok(())).map(drop)
    }

    /// Receives one datagram from the kernel into `buf`; returns its length.
    fn recv(&mut self) -> Result<usize, Failure> {
        let fd = self.fd.as_raw_fd();
        loop {
            // With MSG_TRUNC netlink reports the datagram's full size, so the
            // buffer can grow before reading instead of losing the tail.
            let size = retry(|| recv(fd, &mut [], MsgFlags::MSG_PEEK | MsgFlags::MSG_TRUNC))?;
            if size > self.buf.len() {
                self.buf.resize(size, 0);
            }
            let (len, from) = retry(|| recvfrom::<NetlinkAddr>(fd, &mut self.buf))?;
            // Only the kernel (port 0) answers requests; drop anything a
            // process may have sent to this socket.
            if from.is_some_and(|a| a.pid() == 0) {
                return Ok(len);
            }
        }
    }

    /// Runs a dump, restarting it (a few times) if the kernel reports that
    /// the table changed under it; `parse` keeps the entries it wants.
    fn dump<T>(
        &mut self,
        mut msg: Msg,
        mut parse: impl FnMut(u16, &[u8]) -> Result<Option<T>, &'static str>,
    ) -> Result<Vec<T>, Failure> {
        let mut out = Vec::new();
        for _ in 0..3 {
            out.clear();
            let interrupted = self.exchange(&mut msg, &mut |ty, payload| {
                out.extend(parse(ty, payload)?);
                Ok(())
            })?;
            if !interrupted {
                return Ok(out);
            }
        }
        Err(Failure::Os(
            io::Error::from_raw_os_error(libc::EAGAIN),
            None,
        ))
    }
}

fn retry<T>(mut f: impl FnMut() -> nix::Result<T>) -> nix::Result<T> {
    loop {
        match f() {
            Err(Errno::EINTR) => continue,
            r => return r,
        }
    }
}

/// Checks an interface name the way the kernel will, before sending it.
fn check_ifname(name: &str) -> Result<(), Failure> {
    if name.is_empty() {
        return Err(Failure::Invalid("interface name is empty"));
    }
    if name.len() >= IFNAMSIZ {
        return Err(Failure::Invalid("interface name is longer than 15 bytes"));
    }
    if name == "." || name == ".." {
        return Err(Failure::Invalid("interface name cannot be \".\" or \"..\""));
    }
    if name
        .bytes()
        .any(|b| b == b'/' || b == b':' || b == 0 || b.is_ascii_whitespace())
    {
        return Err(Failure::Invalid(
            "interface name contains '/', ':', NUL or whitespace",
        ));
    }
    Ok(())
}

/// A `struct ifinfomsg` (family AF_UNSPEC, any link type).
fn ifinfomsg(index: u32, flags: u32, change: u32) -> [u8; 16] {
    let mut h = [0u8; 16];
    h[4..8].copy_from_slice(&index.to_ne_bytes());
    h[8..12].copy_from_slice(&flags.to_ne_bytes());
    h[12..16].copy_from_slice(&change.to_ne_bytes());
    h
}

/// A `struct rtmsg` for an IPv4 route.
fn rtmsg(dst_len: u8, table: u8, protocol: u8, scope: u8, kind: u8) -> [u8; 12] {
    [
        AF_INET, dst_len, 0, 0, table, protocol, scope, kind, 0, 0, 0, 0,
    ]
}

/// A `struct nfgenmsg`: family, version, resource id 0 (big-endian).
fn nfgenmsg(family: u8) -> [u8; 4] {
    [family, NFNETLINK_V0, 0, 0]
}

/// What /proc says a namespace fd is (e.g. `net:[4026532291]`), for errors.
fn describe_ns(fd: BorrowedFd<'_>) -> String {
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| format!("namespace fd {}", fd.as_raw_fd()))
}

/// A NETLINK_ROUTE socket, bound to the network namespace it was opened in.
pub struct Route {
    sock: Socket,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Route")
            .field("fd", &self.sock.fd.as_raw_fd())
            .finish()
    }
}

impl Route {
    /// Opens a socket in the calling thread's network namespace.
    pub fn open() -> Result<Route, NetlinkError> {
        let sock = Socket::open(SockProtocol::NetlinkRoute)
            .map_err(|f| f.at("opening", "a NETLINK_ROUTE socket"))?;
        Ok(Route { sock })
    }

    /// Opens a socket in the network namespace `netns` refers to (e.g. an
    /// open `/proc/PID/ns/net`). The calling thread enters that namespace
    /// just long enough to create the socket, which stays bound to it.
    pub fn open_in_netns(netns: BorrowedFd<'_>) -> Result<Route, NetlinkError> {
        let op = "opening a NETLINK_ROUTE socket in";
        let original = File::open("/proc/thread-self/ns/net")
            .map_err(|e| Failure::from(e).at(op, describe_ns(netns)))?;
        setns(netns, CloneFlags::CLONE_NEWNET)
            .map_err(|e| Failure::from(e).at(op, describe_ns(netns)))?;
        let opened = Socket::open(SockProtocol::NetlinkRoute);
        // Always go back, whether or not the socket could be opened.
        setns(original.as_fd(), CloneFlags::CLONE_NEWNET).map_err(|e| {
            Failure::from(e).at(
                "returning the thread to its network namespace after opening a socket in",
                describe_ns(netns),
            )
        })?;
        let sock = opened.map_err(|f| f.at(op, describe_ns(netns)))?;
        Ok(Route { sock })
    }

    /// The index of the link called `name`, or None if there is none.
    pub fn link_index(&mut self, name: &str) -> Result<Option<u32>, NetlinkError> {
        let fail = |f: Failure| f.at("looking up link", name);
        check_ifname(name).map_err(fail)?;
        // RTM_GETLINK by name answers with that link's RTM_NEWLINK.
        let mut msg = Msg::new(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK);
        msg.header(&ifinfomsg(0, 0, 0)).attr_str(IFLA_IFNAME, name);
        let mut index = None;
        let result = self.sock.exchange(&mut msg, &mut |ty, payload| {
            if ty == RTM_NEWLINK {
                let raw = payload.get(4..8).and_then(ne_u32);
                index = Some(raw.ok_or("link message shorter than ifinfomsg")?);
            }
            Ok(())
        });
        match result {
            Err(f) if f.errno() == Some(libc::ENODEV) => Ok(None),
            Err(f) => Err(fail(f)),
            Ok(_) => match index {
                Some(i) => Ok(Some(i)),
                None => Err(fail(Failure::Malformed("no link in the reply"))),
            },
        }
    }

    /// Creates a bridge called `name` (down). Fails with
    /// [`NetlinkError::is_exists`] if the name is taken.
    pub fn create_bridge(&mut self, name: &str, mtu: Option<u32>) -> Result<(), NetlinkError> {
        let fail = |f: Failure| f.at("creating bridge", name);
        check_ifname(name).map_err(fail)?;
        let mut msg = new_link_msg(name, mtu);
        msg.nested(IFLA_LINKINFO, |m| {
            m.attr_str(IFLA_INFO_KIND, "bridge");
        });
        self.sock.request(&mut msg).map_err(fail)
    }

    /// Creates a veth pair: `host_name` here and `peer_name` directly inside
    /// the network namespace `peer_netns` refers to. Both ends start down.
    pub fn create_veth(
        &mut self,
        host_name: &str,
        peer_name: &str,
        peer_netns: BorrowedFd<'_>,
        mtu: Option<u32>,
    ) -> Result<(), NetlinkError> {
        let fail = |f: Failure| {
            let object = format!(
                "{host_name} (peer {peer_name} in {})",
                describe_ns(peer_netns)
            );
            f.at("creating veth", object)
        };
        check_ifname(host_name).map_err(fail)?;
        check_ifname(peer_name).map_err(fail)?;
        // BorrowedFd is never negative.
        let ns_fd = peer_netns.as_raw_fd() as u32;
        let mut msg = new_link_msg(host_name, mtu);
        msg.nested(IFLA_LINKINFO, |m| {
            m.attr_str(IFLA_INFO_KIND, "veth");
            m.nested(IFLA_INFO_DATA, |m| {
                // The peer is described like a link of its own: an ifinfomsg
                // followed by its attributes.
                m.nested(VETH_INFO_PEER, |m| {
                    m.header(&ifinfomsg(0, 0, 0))
                        .attr_str(IFLA_IFNAME, peer_name)
                        .attr_u32(IFLA_NET_NS_FD, ns_fd);
                    if let Some(mtu) = mtu {
                        m.attr_u32(IFLA_MTU, mtu);
                    }
                });
            });
        });
        self.sock.request(&mut msg).map_err(fail)
    }

    /// Enslaves link `index` to the bridge `master_index`.
    pub fn set_master(&mut self, index: u32, master_index: u32) -> Result<(), NetlinkError> {
        self.set_link(index, 0, 0, |m| {
            m.attr_u32(IFLA_MASTER, master_index);
        })
        .map_err(|f| {
            f.at(
                "attaching",
                format!("link {index} to master {master_index}"),
            )
        })
    }

    /// Brings link `index` up.
    pub fn set_up(&mut self, index: u32) -> Result<(), NetlinkError> {
        self.set_link(index, IFF_UP, IFF_UP, |_| {})
            .map_err(|f| f.at("bringing up", format!("link {index}")))
    }

    /// Sets the MTU of link `index`.
    pub fn set_mtu(&mut self, index: u32, mtu: u32) -> Result<(), NetlinkError> {
        self.set_link(index, 0, 0, |m| {
            m.attr_u32(IFLA_MTU, mtu);
        })
        .map_err(|f| f.at("setting the MTU of", format!("link {index} to {mtu}")))
    }

    /// Renames link `index` (which must be down) to `name`.
    pub fn set_name(&mut self, index: u32, name: &str) -> Result<(), NetlinkError> {
        let fail = |f: Failure| f.at("renaming", format!("link {index} to {name}"));
        check_ifname(name).map_err(fail)?;
        self.set_link(index, 0, 0, |m| {
            m.attr_str(IFLA_IFNAME, name);
        })
        .map_err(fail)
    }

    /// Sets the MAC address of link `index`.
    pub fn set_mac(&mut self, index: u32, mac: [u8; 6]) -> Result<(), NetlinkError> {
        self.set_link(index, 0, 0, |m| {
            m.attr(IFLA_ADDRESS, &mac);
        })
        .map_err(|f| {
            let [a, b, c, d, e, g] = mac;
            let mac = format!("{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}");
            f.at(
                "setting the MAC address of",
                format!("link {index} to {mac}"),
            )
        })
    }

    /// Deletes link `index` (for a veth, both ends go).
    pub fn delete_link(&mut self, index: u32) -> Result<(), NetlinkError> {
        let mut msg = Msg::new(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK);
        msg.header(&ifinfomsg(index, 0, 0));
        self.sock
            .request(&mut msg)
            .map_err(|f| f.at("deleting", format!("link {index}")))
    }

    /// Deletes the link called `name`; false if there was none.
    pub fn delete_link_by_name(&mut self, name: &str) -> Result<bool, NetlinkError> {
        let fail = |f: Failure| f.at("deleting link", name);
        check_ifname(name).map_err(fail)?;
        let mut msg = Msg::new(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK);
        msg.header(&ifinfomsg(0, 0, 0)).attr_str(IFLA_IFNAME, name);
        match self.sock.request(&mut msg) {
            Ok(()) => Ok(true),
            Err(f) if f.errno() == Some(libc::ENODEV) => Ok(false),
            Err(f) => Err(fail(f)),
        }
    }

    /// Assigns `addr/prefix_len` to link `index`, with a broadcast address
    /// for prefixes shorter than /31. Fails with [`NetlinkError::is_exists`]
    /// if the link already has that address.
    pub fn add_address(
        &mut self,
        index: u32,
        addr: Ipv4Addr,
        prefix_len: u8,
    ) -> Result<(), NetlinkError> {
        let fail = |f: Failure| {
            f.at(
                "adding address",
                format!("{addr}/{prefix_len} to link {index}"),
            )
        };
        if prefix_len > 32 {
            return Err(fail(Failure::Invalid("prefix length is over 32")));
        }
        let mut ifaddrmsg = [AF_INET, prefix_len, 0, RT_SCOPE_UNIVERSE, 0, 0, 0, 0];
        ifaddrmsg[4..8].copy_from_slice(&index.to_ne_bytes());
        let flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
        let mut msg = Msg::new(RTM_NEWADDR, flags);
        msg.header(&ifaddrmsg)
            .attr(IFA_LOCAL, &addr.octets())
            .attr(IFA_ADDRESS, &addr.octets());
        if prefix_len < 31 {
            let broadcast = Ipv4Addr::from(u32::from(addr) | (u32::MAX >> prefix_len));
            msg.attr(IFA_BROADCAST, &broadcast.octets());
        }
        self.sock.request(&mut msg).map_err(fail)
    }

    /// Every IPv4 address in the namespace as (link index, address, prefix).
    pub fn addresses(&mut self) -> Result<Vec<(u32, Ipv4Addr, u8)>, NetlinkError> {
        let mut msg = Msg::new(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP);
        msg.header(&[AF_INET, 0, 0, 0, 0, 0, 0, 0]);
        self.sock
            .dump(msg, |ty, payload| {
                if ty != RTM_NEWADDR || payload.first() != Some(&AF_INET) {
                    return Ok(None);
                }
                let attrs = attrs_after(payload, 8)?;
                let prefix = payload[1];
                let index = ne_u32(&payload[4..8]).ok_or("short ifaddrmsg")?;
                // IFA_LOCAL is the address itself; IFA_ADDRESS is the peer's
                // on point-to-point links and only a fallback.
                let (mut local, mut address) = (None, None);
                for attr in attrs {
                    match attr? {
                        (IFA_LOCAL, v) => local = ipv4(v),
                        (IFA_ADDRESS, v) => address = ipv4(v),
                        _ => {}
                    }
                }
                Ok(local.or(address).map(|a| (index, a, prefix)))
            })
            .map_err(|f| f.at("listing", "IPv4 addresses"))
    }

    /// The IPv4 routes of the main table as (destination, prefix, output
    /// link); a default route is `0.0.0.0/0`. Multipath routes have no link.
    pub fn routes_v4(&mut self) -> Result<Vec<(Ipv4Addr, u8, Option<u32>)>, NetlinkError> {
        let mut msg = Msg::new(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP);
        msg.header(&rtmsg(0, 0, 0, 0, 0));
        self.sock
            .dump(msg, |ty, payload| {
                if ty != RTM_NEWROUTE || payload.first() != Some(&AF_INET) {
                    return Ok(None);
                }
                let attrs = attrs_after(payload, 12)?;
                let prefix = payload[1];
                // rtm_table holds only 8 bits; RTA_TABLE has the full id.
                let mut table = u32::from(payload[4]);
                let (mut dst, mut oif) = (Ipv4Addr::UNSPECIFIED, None);
                for attr in attrs {
                    match attr? {
                        (RTA_TABLE, v) => table = ne_u32(v).ok_or("bad RTA_TABLE")?,
                        (RTA_DST, v) => dst = ipv4(v).ok_or("bad RTA_DST")?,
                        (RTA_OIF, v) => oif = Some(ne_u32(v).ok_or("bad RTA_OIF")?),
                        _ => {}
                    }
                }
                Ok((table == u32::from(RT_TABLE_MAIN)).then_some((dst, prefix, oif)))
            })
            .map_err(|f| f.at("listing", "IPv4 routes"))
    }

    /// Adds a default route via `gateway` out of link `oif` to the main
    /// table. Fails with [`NetlinkError::is_exists`] if there is one already.
    pub fn add_default_route(&mut self, gateway: Ipv4Addr, oif: u32) -> Result<(), NetlinkError> {
        let flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
        let mut msg = Msg::new(RTM_NEWROUTE, flags);
        msg.header(&rtmsg(
            0,
            RT_TABLE_MAIN,
            RTPROT_BOOT,
            RT_SCOPE_UNIVERSE,
            RTN_UNICAST,
        ))
        .attr(RTA_GATEWAY, &gateway.octets())
        .attr_u32(RTA_OIF, oif);
        self.sock.request(&mut msg).map_err(|f| {
            f.at(
                "adding default route",
                format!("via {gateway} on link {oif}"),
            )
        })
    }

    /// Routes `dst/prefix` out of link `oif` (scope link), replacing a
    /// route to the same destination.
    pub fn replace_link_route(
        &mut self,
        dst: Ipv4Addr,
        prefix: u8,
        oif: u32,
    ) -> Result<(), NetlinkError> {
        let flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
        let mut msg = Msg::new(RTM_NEWROUTE, flags);
        msg.header(&rtmsg(
            prefix,
            RT_TABLE_MAIN,
            RTPROT_BOOT,
            RT_SCOPE_LINK,
            RTN_UNICAST,
        ))
        .attr(RTA_DST, &dst.octets())
        .attr_u32(RTA_OIF, oif);
        self.sock
            .request(&mut msg)
            .map_err(|f| f.at("adding a route", format!("{dst}/{prefix} on link {oif}")))
    }

    /// Sends RTM_SETLINK for link `index`: `flags` under the `change` mask,
    /// plus the attributes `attrs` adds.
    fn set_link(
        &mut self,
        index: u32,
        flags: u32,
        change: u32,
        attrs: impl FnOnce(&mut Msg),
    ) -> Result<(), Failure> {
        let mut msg = Msg::new(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK);
        msg.header(&ifinfomsg(index, flags, change));
        attrs(&mut msg);
        self.sock.request(&mut msg)
    }
}

/// The start of an exclusive RTM_NEWLINK creating `name`.
fn new_link_msg(name: &str, mtu: Option<u32>) -> Msg {
    let flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
    let mut msg = Msg::new(RTM_NEWLINK, flags);
    msg.header(&ifinfomsg(0, 0, 0)).attr_str(IFLA_IFNAME, name);
    if let Some(mtu) = mtu {
        msg.attr_u32(IFLA_MTU, mtu);
    }
    msg
}

/// The nftables ruleset generation of the calling thread's network
/// namespace. The kernel bumps it on every ruleset change, so an unchanged
/// value means nobody touched the rules since it was last read.
pub fn nft_generation() -> Result<u32, NetlinkError> {
    let fail = |f: Failure| f.at("reading", "the nftables ruleset generation");
    let mut sock = Socket::open(SockProtocol::NetlinkNetFilter).map_err(fail)?;
    // NFT_MSG_GETGEN answers with one NFT_MSG_NEWGEN carrying NFTA_GEN_ID.
    let ty = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN;
    let mut msg = Msg::new(ty, NLM_F_REQUEST | NLM_F_ACK);
    msg.header(&nfgenmsg(AF_UNSPEC));
    let mut generation = None;
    sock.exchange(&mut msg, &mut |ty, payload| {
        if ty == (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN {
            for attr in attrs_after(payload, 4)? {
                if let (NFTA_GEN_ID, v) = attr? {
                    let id = v.try_into().map_err(|_| "bad NFTA_GEN_ID")?;
                    generation = Some(u32::from_be_bytes(id));
                }
            }
        }
        Ok(())
    })
    .map_err(fail)?;
    generation.ok_or_else(|| fail(Failure::Malformed("no NFTA_GEN_ID in the reply")))
}

/// Whether the calling thread's network namespace has an nftables table
/// `name` in `family` ([`NFPROTO_INET`], [`NFPROTO_IPV4`], ...).
pub fn nft_table_exists(family: u8, name: &str) -> Result<bool, NetlinkError> {
    let fail = |f: Failure| {
        f.at(
            "looking up nftables table",
            format!("{name} (family {family})"),
        )
    };
    if name.is_empty() || name.len() >= NFT_NAME_MAXLEN || name.contains('\0') {
        return Err(fail(Failure::Invalid(
            "table name must be 1 to 255 bytes without NUL",
        )));
    }
    let mut sock = Socket::open(SockProtocol::NetlinkNetFilter).map_err(fail)?;
    // NFT_MSG_GETTABLE by name answers with the table or ENOENT.
    let ty = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETTABLE;
    let mut msg = Msg::new(ty, NLM_F_REQUEST | NLM_F_ACK);
    msg.header(&nfgenmsg(family))
        .attr_str(NFTA_TABLE_NAME, name);
    match sock.request(&mut msg) {
        Ok(()) => Ok(true),
        Err(f) if f.errno() == Some(libc::ENOENT) => Ok(false),
        Err(f) => Err(fail(f)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(buf: &[u8]) -> Vec<(u16, Vec<u8>)> {
        Attrs(buf)
            .map(|a| a.map(|(t, v)| (t, v.to_vec())))
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn attributes_are_padded_to_four_bytes() {
        let mut m = Msg::new(RTM_NEWLINK, NLM_F_REQUEST);
        m.attr_str(IFLA_IFNAME, "eth0").attr_u32(IFLA_MTU, 1500);
        let bytes = m.finish(7).to_vec();
        assert_eq!(bytes.len(), 16 + 12 + 8);
        assert_eq!(ne_u32(&bytes[0..4]), Some(36));
        assert_eq!(ne_u32(&bytes[8..12]), Some(7));
        // "eth0\0" is 5 bytes: nla_len 9, padded to 12.
        assert_eq!(ne_u16(&bytes[16..18]), Some(9));
        assert_eq!(&bytes[20..28], b"eth0\0\0\0\0");
        assert_eq!(
            attrs(&bytes[16..]),
            vec![
                (IFLA_IFNAME, b"eth0\0".to_vec()),
                (IFLA_MTU, 1500u32.to_ne_bytes().to_vec())
            ]
        );
    }

    #[test]
    fn nested_attributes_cover_their_children() {
        let mut m = Msg::new(RTM_NEWLINK, NLM_F_REQUEST);
        m.nested(IFLA_LINKINFO, |m| {
            m.attr_str(IFLA_INFO_KIND, "veth");
            m.nested(IFLA_INFO_DATA, |m| {
                m.nested(VETH_INFO_PEER, |m| {
                    m.header(&ifinfomsg(0, 0, 0)).attr_str(IFLA_IFNAME, "e");
                });
            });
        });
        m.attr_u32(IFLA_MTU, 9000);
        let bytes = m.finish(1).to_vec();
        let top = &bytes[16..];
        // LINKINFO = 4 + KIND(4 + 8) + DATA(4 + PEER(4 + 16 + 8)) = 48.
        assert_eq!(ne_u16(&top[0..2]), Some(48));
        assert_eq!(ne_u16(&top[2..4]), Some(IFLA_LINKINFO | NLA_F_NESTED));
        let outer = attrs(top);
        assert_eq!(outer.len(), 2);
        assert_eq!(outer[0].0, IFLA_LINKINFO);
        assert_eq!(outer[1], (IFLA_MTU, 9000u32.to_ne_bytes().to_vec()));
        let info = attrs(&outer[0].1);
        assert_eq!(info[0], (IFLA_INFO_KIND, b"veth\0".to_vec()));
        let data = attrs(&info[1].1);
        assert_eq!(data[0].0, VETH_INFO_PEER);
        let peer = &data[0].1;
        assert_eq!(peer.len(), 16 + 8);
        assert_eq!(attrs(&peer[16..]), vec![(IFLA_IFNAME, b"e\0".to_vec())]);
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        assert!(Attrs(&[1, 0]).next().unwrap().is_err());
        assert!(Attrs(&[3, 0, 1, 0]).next().unwrap().is_err()); // len < 4
        assert!(Attrs(&[9, 0, 1, 0, 1]).next().unwrap().is_err()); // past end
        assert!(Messages(&[0; 10]).next().unwrap().is_err());
        let mut short = [0u8; 16];
        short[0..4].copy_from_slice(&40u32.to_ne_bytes());
        assert!(Messages(&short).next().unwrap().is_err());
        assert!(attrs_after(&[0; 7], 8).is_err());
        // Every truncation of a valid datagram fails cleanly or ends early.
        let mut m = Msg::new(NLMSG_ERROR, 0);
        m.header(&(-17i32).to_ne_bytes()).header(&[0; 16]);
        let full = m.finish(5).to_vec();
        for cut in 0..full.len() {
            let mut interrupted = false;
            let _ = handle_datagram(&full[..cut], 5, &mut interrupted, &mut |_, _| Ok(()));
        }
        // An error whose echoed request claims to be huge keeps its errno.
        let mut m = Msg::new(NLMSG_ERROR, NLM_F_ACK_TLVS);
        m.header(&(-libc::EINVAL).to_ne_bytes())
            .header(&u32::MAX.to_ne_bytes());
        let bytes = m.finish(5).to_vec();
        let mut interrupted = false;
        let err = handle_datagram(&bytes, 5, &mut interrupted, &mut |_, _| Ok(())).unwrap_err();
        assert_eq!(err.errno(), Some(libc::EINVAL));
    }

    #[test]
    fn error_replies_carry_errno_and_kernel_message() {
        let mut m = Msg::new(NLMSG_ERROR, NLM_F_CAPPED | NLM_F_ACK_TLVS);
        m.header(&(-libc::EEXIST).to_ne_bytes())
            .header(&[0; 16])
            .attr_str(NLMSGERR_ATTR_MSG, "Link already exists");
        let bytes = m.finish(9).to_vec();
        let mut interrupted = false;
        // Another exchange's error is skipped.
        let other = handle_datagram(&bytes, 8, &mut interrupted, &mut |_, _| Ok(()));
        assert!(matches!(other, Ok(false)));
        let err = handle_datagram(&bytes, 9, &mut interrupted, &mut |_, _| Ok(()))
            .unwrap_err()
            .at("creating bridge", "br0");
        assert!(err.is_exists());
        assert_eq!(
            err.to_string(),
            "creating bridge br0: File exists (os error 17) (Link already exists)"
        );
    }

    #[test]
    fn interface_names_are_checked() {
        assert!(check_ifname("eth0").is_ok());
        assert!(check_ifname("fifteen-bytes-x").is_ok());
        for bad in [
            "",
            "sixteen-bytes-xx",
            ".",
            "..",
            "a/b",
            "a:b",
            "a b",
            "a\0",
        ] {
            assert!(check_ifname(bad).is_err(), "{bad:?}");
        }
    }
}
