//! DNS messages and the embedded responder.
//!
//! Containers on a user-defined network resolve each other by name, as with
//! Docker's embedded DNS: the container's `/etc/resolv.conf` names
//! `127.0.0.11`, and the container's supervisor holds a UDP socket bound to
//! `127.0.0.11:53` in the container's network namespace. A [`Responder`]
//! answers from that socket: names the caller's [`Lookup`] knows (containers
//! on the same networks, their aliases, and the reverse names of their
//! addresses) are answered here; every other query is forwarded to the
//! host's resolvers over a socket of the responder's own, opened in the
//! network namespace of the caller of [`Responder::new`] (the host's, so
//! loopback resolvers such as systemd-resolved's `127.0.0.53` work), and the
//! upstream's reply is relayed back.
//!
//! The responder is sync and single-threaded, made for a `poll(2)` loop: add
//! [`Responder::fds`] to the poll set with `POLLIN`, sleep at most
//! [`Responder::next_timeout`], then call [`Responder::handle_ready`] and
//! [`Responder::expire`]. All its sockets are non-blocking; one call never
//! waits and handles a bounded number of datagrams.
//!
//! ```no_run
//! use skiff_net::dns::{upstreams_from_resolv_conf, Responder, Table};
//! use std::net::{Ipv4Addr, UdpSocket};
//! use std::time::Instant;
//!
//! # fn main() -> std::io::Result<()> {
//! // Bound while in the container's network namespace (setns there and
//! // back), the rest in the host's.
//! let listen = UdpSocket::bind("127.0.0.11:53")?;
//! let conf = std::fs::read_to_string("/etc/resolv.conf")?;
//! let mut dns = Responder::new(listen, upstreams_from_resolv_conf(&conf))?;
//! // Any `Lookup`: here a table, rebuilt when the network's members change.
//! let mut names = Table::new();
//! names.add_a("web", Ipv4Addr::new(172, 18, 0, 2));
//! loop {
//!     let mut fds: Vec<libc::pollfd> = dns
//!         .fds()
//!         .into_iter()
//!         .map(|fd| libc::pollfd { fd, events: libc::POLLIN, revents: 0 })
//!         .collect();
//!     // ...plus the supervisor's own fds, and the minimum of its timeouts.
//!     let timeout = dns.next_timeout().map_or(-1, |d| d.as_millis().min(60_000) as i32);
//!     // SAFETY: a valid pollfd array of its length.
//!     unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as _, timeout) };
//!     dns.handle_ready(&names);
//!     dns.expire(Instant::now());
//! }
//! # }
//! ```
//!
//! Only UDP is served. A local answer that does not fit the client's size
//! (512 bytes, or the UDP size its EDNS OPT record advertises) is trimmed to
//! the records that fit and has TC set; a client that then retries over TCP
//! finds nothing listening there. Forwarded replies are relayed as the
//! upstream sent them (TC included).
//!
//! The message code (parsing queries, building responses) is here too, with
//! no other DNS library: names are parsed with compression pointers allowed
//! only backwards and at most [`MAX_POINTERS`] of them, labels up to 63 bytes
//! and names up to 255 bytes on the wire.

mod answer;
mod header;
mod lookup;
mod name;
mod query;
mod resolv_conf;
mod responder;
mod response;

pub use answer::{decide, Outcome};
pub use header::{Header, ParseError, Rcode};
pub use lookup::{normalize_name, parse_reverse_name, reverse_name, Lookup, Table};
pub use name::{Labels, Name, MAX_POINTERS};
pub use query::{encode_query, parse_query, Edns, Query, Question};
pub use resolv_conf::upstreams_from_resolv_conf;
pub use responder::{Responder, DEFAULT_MAX_PENDING, DEFAULT_TIMEOUT, MAX_ATTEMPTS, MAX_QUERY};
pub use response::{encode_header_response, RData, Response};

/// Record type A.
pub const TYPE_A: u16 = 1;
/// Record type PTR.
pub const TYPE_PTR: u16 = 12;
/// Record type AAAA.
pub const TYPE_AAAA: u16 = 28;
/// The EDNS pseudo record type OPT.
pub const TYPE_OPT: u16 = 41;
/// Query type ANY (`*`).
pub const TYPE_ANY: u16 = 255;
/// Class IN.
pub const CLASS_IN: u16 = 1;
/// Query class ANY.
pub const CLASS_ANY: u16 = 255;

/// Header flag: this is a response.
pub const FLAG_QR: u16 = 0x8000;
/// Header flag: authoritative answer.
pub const FLAG_AA: u16 = 0x0400;
/// Header flag: truncated.
pub const FLAG_TC: u16 = 0x0200;
/// Header flag: recursion desired.
pub const FLAG_RD: u16 = 0x0100;
/// Header flag: recursion available.
pub const FLAG_RA: u16 = 0x0080;
/// Header flag: authentic data (DNSSEC).
pub const FLAG_AD: u16 = 0x0020;
/// Header flag: checking disabled (DNSSEC).
pub const FLAG_CD: u16 = 0x0010;

/// The TTL of local answers, as Docker's embedded DNS uses.
pub const TTL: u32 = 600;
/// The largest response to a client that sent no EDNS OPT record.
pub const MIN_UDP_SIZE: usize = 512;
/// The UDP payload size this responder advertises in its OPT records, and
/// the cap on the size a client may ask for (the DNS flag day 2020 figure).
pub const EDNS_UDP_SIZE: u16 = 1232;

#[cfg(test)]
mod tests;
