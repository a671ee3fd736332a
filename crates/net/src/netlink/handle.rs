//! `Route`, the NETLINK_ROUTE socket: opening it in this network namespace
//! or in another one.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use nix::sched::{setns, CloneFlags};
use nix::sys::socket::SockProtocol;

use super::error::{Failure, NetlinkError};
use super::socket::Socket;

/// What /proc says a namespace fd is (e.g. `net:[4026532291]`), for errors.
pub(super) fn describe_ns(fd: BorrowedFd<'_>) -> String {
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| format!("namespace fd {}", fd.as_raw_fd()))
}

/// A NETLINK_ROUTE socket, bound to the network namespace it was opened in.
pub struct Route {
    pub(super) sock: Socket,
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
}
