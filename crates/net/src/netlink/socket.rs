//! The netlink socket and its request/ack plumbing: sending a request,
//! reading replies until the ack, error or dump end, and error replies.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket::{
    bind, getsockname, recv, recvfrom, sendto, socket, AddressFamily, MsgFlags, NetlinkAddr,
    SockFlag, SockProtocol, SockType,
};

use super::error::Failure;
use super::message::{align, ne_u32, Attrs, Messages, Msg, Reply};
use super::{
    NETLINK_CAP_ACK, NETLINK_EXT_ACK, NLMSGERR_ATTR_MSG, NLMSG_DONE, NLMSG_ERROR, NLMSG_HDRLEN,
    NLMSG_NOOP, NLM_F_ACK_TLVS, NLM_F_CAPPED, NLM_F_DUMP_INTR, SOL_NETLINK,
};

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
pub(super) type OnData<'a> = dyn FnMut(u16, &[u8]) -> Result<(), &'static str> + 'a;

/// Handles one received datagram of the exchange numbered `seq`: passes data
/// messages to `on_data`, notes an interrupted dump, and returns true once
/// the exchange is over (acked, or the dump done).
pub(super) fn handle_datagram(
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
pub(super) struct Socket {
    pub(super) fd: OwnedFd,
    seq: u32,
    buf: Vec<u8>,
}

impl Socket {
    pub(super) fn open(protocol: SockProtocol) -> Result<Socket, Failure> {
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
    pub(super) fn exchange(
        &mut self,
        msg: &mut Msg,
        on_data: &mut OnData<'_>,
    ) -> Result<bool, Failure> {
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
    pub(super) fn request(&mut self, msg: &mut Msg) -> Result<(), Failure> {
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
    pub(super) fn dump<T>(
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
