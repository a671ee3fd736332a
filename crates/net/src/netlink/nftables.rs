//! nfnetlink: the nftables ruleset generation, and whether a table exists.

use nix::sys::socket::SockProtocol;

use super::error::{Failure, NetlinkError};
use super::message::{attrs_after, Msg};
use super::socket::Socket;
use super::{
    AF_UNSPEC, NFNETLINK_V0, NFNL_SUBSYS_NFTABLES, NFTA_GEN_ID, NFTA_TABLE_NAME, NFT_MSG_GETGEN,
    NFT_MSG_GETTABLE, NFT_MSG_NEWGEN, NFT_NAME_MAXLEN, NLM_F_ACK, NLM_F_REQUEST,
};

/// nftables family `inet` (IPv4 and IPv6), for [`nft_table_exists`].
pub const NFPROTO_INET: u8 = 1;
/// nftables family `ip`.
pub const NFPROTO_IPV4: u8 = 2;
/// nftables family `ip6`.
pub const NFPROTO_IPV6: u8 = 10;

/// A `struct nfgenmsg`: family, version, resource id 0 (big-endian).
fn nfgenmsg(family: u8) -> [u8; 4] {
    [family, NFNETLINK_V0, 0, 0]
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
