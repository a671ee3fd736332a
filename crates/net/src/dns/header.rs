//! The message header, response codes, and the errors of message parsing.

use super::FLAG_QR;

/// Why a message could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("message truncated")]
    Short,
    #[error("not a query (QR set)")]
    NotAQuery,
    #[error("{0} questions (one is supported)")]
    QuestionCount(u16),
    #[error("label longer than 63 bytes or of an unknown type")]
    BadLabel,
    #[error("name longer than 255 bytes")]
    NameTooLong,
    #[error("compression pointer not pointing backwards")]
    BadPointer,
    #[error("too many compression pointers")]
    PointerLoop,
    #[error("bad or repeated OPT record")]
    BadOpt,
    #[error("empty label in a name")]
    EmptyLabel,
}

/// A response code, including EDNS's BADVERS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rcode {
    NoError,
    FormErr,
    ServFail,
    NxDomain,
    NotImp,
    Refused,
    /// EDNS version not supported (16; needs an OPT record to be sent).
    BadVers,
}

impl Rcode {
    /// The 12-bit code: the header holds the low 4 bits, the OPT record the
    /// rest.
    pub fn value(self) -> u16 {
        match self {
            Rcode::NoError => 0,
            Rcode::FormErr => 1,
            Rcode::ServFail => 2,
            Rcode::NxDomain => 3,
            Rcode::NotImp => 4,
            Rcode::Refused => 5,
            Rcode::BadVers => 16,
        }
    }
}

/// A message header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub id: u16,
    pub flags: u16,
    pub qdcount: u16,
    pub ancount: u16,
    pub nscount: u16,
    pub arcount: u16,
}

impl Header {
    /// The first 12 bytes of `msg`.
    pub fn parse(msg: &[u8]) -> Result<Header, ParseError> {
        if msg.len() < 12 {
            return Err(ParseError::Short);
        }
        let w = |i: usize| u16::from_be_bytes([msg[i], msg[i + 1]]);
        Ok(Header {
            id: w(0),
            flags: w(2),
            qdcount: w(4),
            ancount: w(6),
            nscount: w(8),
            arcount: w(10),
        })
    }

    /// Whether this is a response.
    pub fn qr(&self) -> bool {
        self.flags & FLAG_QR != 0
    }

    /// The opcode (0 for a standard query).
    pub fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0xf) as u8
    }

    /// The header's 4-bit response code.
    pub fn rcode(&self) -> u8 {
        (self.flags & 0xf) as u8
    }

    pub(super) fn encode(&self, out: &mut Vec<u8>) {
        for v in [
            self.id,
            self.flags,
            self.qdcount,
            self.ancount,
            self.nscount,
            self.arcount,
        ] {
            out.extend_from_slice(&v.to_be_bytes());
        }
    }
}
