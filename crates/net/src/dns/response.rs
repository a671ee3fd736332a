//! Responses: answer records and encoding a response to a parsed query.

use std::net::Ipv4Addr;

use super::{
    Header, Name, Query, Rcode, CLASS_IN, EDNS_UDP_SIZE, FLAG_AA, FLAG_CD, FLAG_QR, FLAG_RA,
    FLAG_RD, FLAG_TC, TTL, TYPE_A, TYPE_OPT, TYPE_PTR,
};

/// The data of an answer record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RData {
    A(Ipv4Addr),
    Ptr(Name),
}

impl RData {
    /// The record type.
    pub fn rtype(&self) -> u16 {
        match self {
            RData::A(_) => TYPE_A,
            RData::Ptr(_) => TYPE_PTR,
        }
    }

    fn encoded_len(&self) -> usize {
        // Owner (a pointer to the question's name), type, class, TTL,
        // length, data.
        12 + match self {
            RData::A(_) => 4,
            RData::Ptr(n) => n.wire().len(),
        }
    }
}

/// A response to a parsed query, for [`Response::encode`].
#[derive(Debug, Clone)]
pub struct Response<'a> {
    pub query: &'a Query,
    pub rcode: Rcode,
    /// Answer records, all owned by the question's name, class IN.
    pub answers: Vec<RData>,
    pub ttl: u32,
    /// AA: set for names this responder holds.
    pub authoritative: bool,
    /// RA: set when the responder can forward.
    pub recursion_available: bool,
}

impl<'a> Response<'a> {
    /// An answerless response with `rcode`, TTL [`TTL`], AA and RA clear.
    pub fn new(query: &'a Query, rcode: Rcode) -> Response<'a> {
        Response {
            query,
            rcode,
            answers: Vec::new(),
            ttl: TTL,
            authoritative: false,
            recursion_available: false,
        }
    }

    /// The response on the wire: the id, opcode, RD and CD echoed, the
    /// question echoed, the answers that fit in the client's size (TC set
    /// when some did not), and an OPT record if the query had one.
    pub fn encode(&self) -> Vec<u8> {
        let q = self.query;
        let limit = q.max_response_size();
        let opt_len = if q.edns.is_some() { 11 } else { 0 };
        let mut flags = FLAG_QR | (q.flags & (0x7800 | FLAG_RD | FLAG_CD));
        if self.authoritative {
            flags |= FLAG_AA;
        }
        if self.recursion_available {
            flags |= FLAG_RA;
        }
        flags |= self.rcode.value() & 0xf;
        let mut out = Vec::with_capacity(limit.min(512));
        let mut header = Header {
            id: q.id,
            flags,
            qdcount: 1,
            ancount: 0,
            nscount: 0,
            arcount: u16::from(q.edns.is_some()),
        };
        header.encode(&mut out);
        q.question.encode(&mut out);
        let mut count: u16 = 0;
        for rr in &self.answers {
            if out.len() + rr.encoded_len() + opt_len > limit {
                header.flags |= FLAG_TC;
                break;
            }
            out.extend_from_slice(&[0xc0, 0x0c]);
            out.extend_from_slice(&rr.rtype().to_be_bytes());
            out.extend_from_slice(&CLASS_IN.to_be_bytes());
            out.extend_from_slice(&self.ttl.to_be_bytes());
            match rr {
                RData::A(ip) => {
                    out.extend_from_slice(&4u16.to_be_bytes());
                    out.extend_from_slice(&ip.octets());
                }
                RData::Ptr(name) => {
                    out.extend_from_slice(&(name.wire().len() as u16).to_be_bytes());
                    out.extend_from_slice(name.wire());
                }
            }
            count += 1;
        }
        header.ancount = count;
        if let Some(e) = q.edns {
            let ext = u32::from(self.rcode.value() >> 4);
            let do_bit = if e.dnssec_ok { 0x8000 } else { 0 };
            out.push(0);
            out.extend_from_slice(&TYPE_OPT.to_be_bytes());
            out.extend_from_slice(&EDNS_UDP_SIZE.to_be_bytes());
            out.extend_from_slice(&((ext << 24) | do_bit).to_be_bytes());
            out.extend_from_slice(&0u16.to_be_bytes());
        }
        let mut h = Vec::with_capacity(12);
        header.encode(&mut h);
        out[..12].copy_from_slice(&h);
        out
    }
}

/// A header-only response (no question) to a query whose header could be
/// read but not the rest: the id, opcode and RD echoed.
pub fn encode_header_response(query_header: &Header, rcode: Rcode) -> Vec<u8> {
    let h = Header {
        id: query_header.id,
        flags: FLAG_QR | (query_header.flags & (0x7800 | FLAG_RD)) | (rcode.value() & 0xf),
        qdcount: 0,
        ancount: 0,
        nscount: 0,
        arcount: 0,
    };
    let mut out = Vec::with_capacity(12);
    h.encode(&mut out);
    out
}
