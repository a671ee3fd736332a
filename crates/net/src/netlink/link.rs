//! Links: creating bridges and veth pairs, looking them up, setting them
//! up, their master, MTU, name and MAC, and deleting them.

use std::os::fd::{AsRawFd, BorrowedFd};

use super::error::{Failure, NetlinkError};
use super::handle::{describe_ns, Route};
use super::message::{ne_u32, Msg};
use super::{
    IFF_UP, IFLA_ADDRESS, IFLA_IFNAME, IFLA_INFO_DATA, IFLA_INFO_KIND, IFLA_LINKINFO, IFLA_MASTER,
    IFLA_MTU, IFLA_NET_NS_FD, IFNAMSIZ, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST,
    RTM_DELLINK, RTM_GETLINK, RTM_NEWLINK, RTM_SETLINK, VETH_INFO_PEER,
};

/// Checks an interface name the way the kernel will, before sending it.
pub(super) fn check_ifname(name: &str) -> Result<(), Failure> {
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
pub(super) fn ifinfomsg(index: u32, flags: u32, change: u32) -> [u8; 16] {
    let mut h = [0u8; 16];
    h[4..8].copy_from_slice(&index.to_ne_bytes());
    h[8..12].copy_from_slice(&flags.to_ne_bytes());
    h[12..16].copy_from_slice(&change.to_ne_bytes());
    h
}

impl Route {
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
