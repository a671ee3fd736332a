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

mod address;
mod error;
mod handle;
mod link;
mod message;
mod nftables;
mod routing;
mod socket;

pub use error::NetlinkError;
pub use handle::Route;
pub use nftables::{nft_generation, nft_table_exists, NFPROTO_INET, NFPROTO_IPV4, NFPROTO_IPV6};

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

#[cfg(test)]
mod tests;
