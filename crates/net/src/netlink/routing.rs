//! IPv4 routes of the main table: listing them, adding a default route and
//! replacing a route out of a link.

use std::net::Ipv4Addr;

use super::error::NetlinkError;
use super::handle::Route;
use super::message::{attrs_after, ipv4, ne_u32, Msg};
use super::{
    AF_INET, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST,
    RTA_DST, RTA_GATEWAY, RTA_OIF, RTA_TABLE, RTM_GETROUTE, RTM_NEWROUTE, RTN_UNICAST, RTPROT_BOOT,
    RT_SCOPE_LINK, RT_SCOPE_UNIVERSE, RT_TABLE_MAIN,
};

/// A `struct rtmsg` for an IPv4 route.
fn rtmsg(dst_len: u8, table: u8, protocol: u8, scope: u8, kind: u8) -> [u8; 12] {
    [
        AF_INET, dst_len, 0, 0, table, protocol, scope, kind, 0, 0, 0, 0,
    ]
}

impl Route {
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
}
