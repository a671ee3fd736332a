//! skiff's networking: bridges, veth pairs, addresses and routes set up over
//! netlink, nftables rules for NAT and published ports, and the DNS
//! responder containers on user networks ask for each other's names.

pub mod dns;
pub mod netlink;
pub mod nft;
pub mod services;
pub mod setup;
