//! The decision on a client's datagram: answered locally from a `Lookup`,
//! answered with an error, dropped, or forwarded.

use super::{
    encode_header_response, parse_query, parse_reverse_name, Header, Lookup, Name, Query, RData,
    Rcode, Response, CLASS_ANY, CLASS_IN, TTL, TYPE_A, TYPE_ANY, TYPE_PTR,
};

/// What to do with a datagram received from a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing: too short for a header, or a response.
    Drop,
    /// Send this back.
    Reply(Vec<u8>),
    /// Not ours: ask an upstream.
    Forward(Query),
}

/// Decides on a client's datagram: answered locally from `lookup`, or to
/// forward. With `can_forward` false, queries that would be forwarded are
/// answered SERVFAIL instead, as Docker does on networks without external
/// access: it says "no answer now", where REFUSED would tell the client it
/// may not ask, and some stub resolvers (musl) ignore a REFUSED answer and
/// wait out their timeout.
///
/// A datagram shorter than a header, or with QR set, is dropped (never
/// answer a response: no loops); a query that cannot be parsed gets
/// FORMERR (header only), an opcode other than QUERY gets NOTIMP, an EDNS
/// version above 0 gets BADVERS.
pub fn decide(packet: &[u8], lookup: &dyn Lookup, can_forward: bool) -> Outcome {
    let Ok(header) = Header::parse(packet) else {
        return Outcome::Drop;
    };
    if header.qr() {
        return Outcome::Drop;
    }
    let query = match parse_query(packet) {
        Ok(q) => q,
        Err(_) if header.opcode() != 0 => {
            return Outcome::Reply(encode_header_response(&header, Rcode::NotImp))
        }
        Err(_) => return Outcome::Reply(encode_header_response(&header, Rcode::FormErr)),
    };
    // AA stays clear, also on answers about local names: Docker's embedded
    // server leaves it so (resolvers print "Non-authoritative answer").
    let reply = |rcode: Rcode, answers: Vec<RData>| {
        Outcome::Reply(
            Response {
                query: &query,
                rcode,
                answers,
                ttl: TTL,
                authoritative: false,
                recursion_available: can_forward,
            }
            .encode(),
        )
    };
    if query.opcode() != 0 {
        return reply(Rcode::NotImp, Vec::new());
    }
    if query.edns.is_some_and(|e| e.version > 0) {
        return reply(Rcode::BadVers, Vec::new());
    }
    let q = &query.question;
    if q.qclass == CLASS_IN || q.qclass == CLASS_ANY {
        let key = q.name.to_lookup_key();
        if let Some(ip) = parse_reverse_name(&key) {
            if let Some(target) = lookup.lookup_ptr(ip) {
                if q.qtype != TYPE_PTR && q.qtype != TYPE_ANY {
                    return reply(Rcode::NoError, Vec::new());
                }
                return match Name::from_dotted(&target) {
                    Ok(n) => reply(Rcode::NoError, vec![RData::Ptr(n)]),
                    // The lookup gave a name that cannot be sent.
                    Err(_) => reply(Rcode::ServFail, Vec::new()),
                };
            }
        }
        if let Some(ips) = lookup.lookup_a(&key) {
            let answers = if q.qtype == TYPE_A || q.qtype == TYPE_ANY {
                ips.into_iter().map(RData::A).collect()
            } else {
                // AAAA and every other type: the name exists, without data
                // of that type.
                Vec::new()
            };
            return reply(Rcode::NoError, answers);
        }
        if lookup.in_zone(&key) {
            return reply(Rcode::NxDomain, Vec::new());
        }
    }
    if !can_forward {
        return reply(Rcode::ServFail, Vec::new());
    }
    Outcome::Forward(query)
}
