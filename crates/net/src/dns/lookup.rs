//! The names the responder answers itself: the `Lookup` trait, the `Table`
//! that implements it, and the text forms of names (reverse names, keys).

use std::collections::HashMap;
use std::net::Ipv4Addr;

#[cfg(doc)]
use super::Responder;

/// `d.c.b.a.in-addr.arpa` for `a.b.c.d` (no trailing dot).
pub fn reverse_name(ip: Ipv4Addr) -> String {
    let [a, b, c, d] = ip.octets();
    format!("{d}.{c}.{b}.{a}.in-addr.arpa")
}

/// The address of a full IPv4 reverse name, `d.c.b.a.in-addr.arpa`, any
/// case, trailing dot optional. Octets are decimal without leading zeros;
/// anything else (fewer octets, `ip6.arpa`) is `None`.
pub fn parse_reverse_name(name: &str) -> Option<Ipv4Addr> {
    let name = name.strip_suffix('.').unwrap_or(name);
    const SUFFIX: &str = ".in-addr.arpa";
    if name.len() <= SUFFIX.len() || !name.is_char_boundary(name.len() - SUFFIX.len()) {
        return None;
    }
    let (rest, suffix) = name.split_at(name.len() - SUFFIX.len());
    if !suffix.eq_ignore_ascii_case(SUFFIX) {
        return None;
    }
    let mut octets = [0u8; 4];
    let mut parts = rest.split('.');
    for slot in octets.iter_mut().rev() {
        let p = parts.next()?;
        if p.is_empty()
            || p.len() > 3
            || !p.bytes().all(|b| b.is_ascii_digit())
            || (p.len() > 1 && p.starts_with('0'))
        {
            return None;
        }
        *slot = p.parse().ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(Ipv4Addr::from(octets))
}

/// `name` as lookup keys are written: ASCII lowercased, without a trailing
/// dot. [`Responder`] passes names to [`Lookup::lookup_a`] in this form.
pub fn normalize_name(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

/// The names the responder answers itself.
pub trait Lookup {
    /// The IPv4 addresses of `name` (lowercased, no trailing dot; see
    /// [`normalize_name`]). `None`: not a name of ours, forward the query.
    /// `Some(vec![])`: ours but without an IPv4 address; queries for it
    /// get NOERROR with no answers (AAAA queries for any of our names do
    /// too, as with Docker on networks without IPv6).
    fn lookup_a(&self, name: &str) -> Option<Vec<Ipv4Addr>>;

    /// The name for a PTR query on `ip`'s reverse name, or `None` to
    /// forward it.
    fn lookup_ptr(&self, ip: Ipv4Addr) -> Option<String>;

    /// Whether `name` lies in a zone this lookup answers for alone: a name
    /// there it does not know gets NXDOMAIN instead of being forwarded.
    fn in_zone(&self, _name: &str) -> bool {
        false
    }
}

/// A [`Lookup`] from tables: names (compared without case and trailing
/// dot) to addresses, and addresses to names.
#[derive(Debug, Clone, Default)]
pub struct Table {
    a: HashMap<String, Vec<Ipv4Addr>>,
    ptr: HashMap<Ipv4Addr, String>,
}

impl Table {
    /// An empty table.
    pub fn new() -> Table {
        Table::default()
    }

    /// `name` resolves to `ip` (among others added for it).
    pub fn add_a(&mut self, name: &str, ip: Ipv4Addr) {
        let ips = self.a.entry(normalize_name(name)).or_default();
        if !ips.contains(&ip) {
            ips.push(ip);
        }
    }

    /// `name` is ours, with no IPv4 address unless one is added.
    pub fn add_name(&mut self, name: &str) {
        self.a.entry(normalize_name(name)).or_default();
    }

    /// The PTR query for `ip` answers `name`.
    pub fn add_ptr(&mut self, ip: Ipv4Addr, name: &str) {
        self.ptr.insert(ip, name.to_string());
    }
}

impl Lookup for Table {
    fn lookup_a(&self, name: &str) -> Option<Vec<Ipv4Addr>> {
        self.a.get(&normalize_name(name)).cloned()
    }

    fn lookup_ptr(&self, ip: Ipv4Addr) -> Option<String> {
        self.ptr.get(&ip).cloned()
    }
}
