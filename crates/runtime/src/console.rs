//! The container's terminal: a pty made inside the container's devpts, its master
//! sent to the caller's console socket with SCM_RIGHTS, its slave made the
//! process's stdio and controlling terminal.

use nix::sys::socket::{
    connect, recvmsg, sendmsg, socket, AddressFamily, ControlMessage, ControlMessageOwned,
    MsgFlags, SockFlag, SockType, UnixAddr,
};
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("connecting to console socket {path}: {err}")]
    Connect {
        path: String,
        err: nix::errno::Errno,
    },
    #[error("{op}: {err}")]
    Sys {
        op: &'static str,
        err: nix::errno::Errno,
    },
}

fn sys(op: &'static str) -> impl FnOnce(nix::errno::Errno) -> ConsoleError {
    move |err| ConsoleError::Sys { op, err }
}

/// Connect to the console socket the caller listens on.
pub fn connect_socket(path: &Path) -> Result<OwnedFd, ConsoleError> {
    let err = |err| ConsoleError::Connect {
        path: path.display().to_string(),
        err,
    };
    let fd = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(err)?;
    let addr = UnixAddr::new(path).map_err(err)?;
    connect(fd.as_raw_fd(), &addr).map_err(err)?;
    Ok(fd)
}

/// Open a new pty in the current mount namespace's /dev/pts; returns (master, slave).
pub fn open_pty(size: Option<(u16, u16)>) -> Result<(OwnedFd, OwnedFd), ConsoleError> {
    // SAFETY: a constant C string; open returns a new fd or -1.
    let m = unsafe {
        libc::open(
            c"/dev/ptmx".as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    if m < 0 {
        return Err(ConsoleError::Sys {
            op: "opening /dev/ptmx",
            err: nix::errno::Errno::last(),
        });
    }
    // SAFETY: m is a fresh fd we own.
    let master = unsafe { OwnedFd::from_raw_fd(m) };
    let mut unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK takes a pointer to an int.
    if unsafe { libc::ioctl(m, libc::TIOCSPTLCK, &mut unlock) } < 0 {
        return Err(sys("unlocking pty")(nix::errno::Errno::last()));
    }
    // SAFETY: TIOCGPTPEER opens the peer of this master and returns a new fd.
    let s = unsafe {
        libc::ioctl(
            m,
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    if s < 0 {
        return Err(sys("opening pty slave")(nix::errno::Errno::last()));
    }
    // SAFETY: s is a fresh fd we own.
    let slave = unsafe { OwnedFd::from_raw_fd(s) };
    if let Some((h, w)) = size {
        let ws = libc::winsize {
            ws_row: h,
            ws_col: w,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads a winsize struct.
        unsafe { libc::ioctl(m, libc::TIOCSWINSZ, &ws) };
    }
    Ok((master, slave))
}

/// Send the pty master over the console socket.
pub fn send_master(sock: RawFd, master: &OwnedFd) -> Result<(), ConsoleError> {
    let fds = [master.as_raw_fd()];
    let name = b"/dev/ptmx";
    let iov = [IoSlice::new(name)];
    sendmsg::<()>(
        sock,
        &iov,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(sys("sending pty master to the console socket"))?;
    Ok(())
}

/// Receive a fd sent with SCM_RIGHTS (the other end of `send_master`).
pub fn recv_fd(sock: RawFd) -> Result<OwnedFd, ConsoleError> {
    let mut buf = [0u8; 256];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut cmsg = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(sock, &mut iov, Some(&mut cmsg), MsgFlags::MSG_CMSG_CLOEXEC)
        .map_err(sys("receiving pty master"))?;
    for c in msg.cmsgs().map_err(sys("reading control message"))? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(&fd) = fds.first() {
                // SAFETY: the kernel just installed this fd in our table.
                return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
    }
    Err(ConsoleError::Sys {
        op: "receiving pty master: no fd in message",
        err: nix::errno::Errno::EBADMSG,
    })
}

/// Make `slave` the calling process's stdio and controlling terminal.
pub fn become_tty(slave: &OwnedFd) -> Result<(), ConsoleError> {
    nix::unistd::setsid().map_err(sys("setsid"))?;
    let fd = slave.as_raw_fd();
    // SAFETY: TIOCSCTTY with an int argument.
    if unsafe { libc::ioctl(fd, libc::TIOCSCTTY, 0) } < 0 {
        return Err(sys("setting controlling terminal")(
            nix::errno::Errno::last(),
        ));
    }
    for target in 0..3 {
        // SAFETY: dup2 onto the standard descriptors.
        if unsafe { libc::dup2(fd, target) } < 0 {
            return Err(sys("dup2 of pty slave")(nix::errno::Errno::last()));
        }
    }
    Ok(())
}
