//! IPv4 addresses: assigning one to a link and listing a namespace's.

use std::net::Ipv4Addr;

use super::error::{Failure, NetlinkError};
use super::handle::Route;
use super::message::{attrs_after, ipv4, ne_u32, Msg};
use super::{
    AF_INET, IFA_ADDRESS, IFA_BROADCAST, IFA_LOCAL, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP,
    NLM_F_EXCL, NLM_F_REQUEST, RTM_GETADDR, RTM_NEWADDR, RT_SCOPE_UNIVERSE,
};

impl Route {
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
}
