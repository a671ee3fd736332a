//! Building requests (`Msg`) and parsing replies: the messages of a
//! datagram, their attributes, and the integers and addresses in them.

use std::net::Ipv4Addr;

use super::{NLA_F_NESTED, NLA_F_NET_BYTEORDER, NLA_HDRLEN, NLMSG_HDRLEN};

/// Rounds `len` up to netlink's 4-byte alignment.
pub(super) const fn align(len: usize) -> usize {
    (len + 3) & !3
}

/// A netlink request under construction: header, family header, attributes.
///
/// Payload sizes are bounded by the callers (interface names are at most 15
/// bytes, nftables names under 256), so lengths always fit the u16 fields.
pub(super) struct Msg {
    buf: Vec<u8>,
}

impl Msg {
    pub(super) fn new(ty: u16, flags: u16) -> Msg {
        let mut buf = Vec::with_capacity(128);
        buf.extend_from_slice(&0u32.to_ne_bytes()); // length, set by finish()
        buf.extend_from_slice(&ty.to_ne_bytes());
        buf.extend_from_slice(&flags.to_ne_bytes());
        buf.extend_from_slice(&[0; 8]); // sequence, set by finish(); port 0
        Msg { buf }
    }

    fn pad(&mut self) {
        self.buf.resize(align(self.buf.len()), 0);
    }

    /// Appends a fixed family header (ifinfomsg, ifaddrmsg, rtmsg, nfgenmsg).
    pub(super) fn header(&mut self, bytes: &[u8]) -> &mut Msg {
        self.buf.extend_from_slice(bytes);
        self.pad();
        self
    }

    fn attr_parts(&mut self, ty: u16, parts: &[&[u8]]) -> &mut Msg {
        let len = NLA_HDRLEN + parts.iter().map(|p| p.len()).sum::<usize>();
        debug_assert!(len <= usize::from(u16::MAX));
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        for p in parts {
            self.buf.extend_from_slice(p);
        }
        self.pad();
        self
    }

    pub(super) fn attr(&mut self, ty: u16, payload: &[u8]) -> &mut Msg {
        self.attr_parts(ty, &[payload])
    }

    pub(super) fn attr_u32(&mut self, ty: u16, v: u32) -> &mut Msg {
        self.attr(ty, &v.to_ne_bytes())
    }

    /// A NUL-terminated string attribute.
    pub(super) fn attr_str(&mut self, ty: u16, s: &str) -> &mut Msg {
        self.attr_parts(ty, &[s.as_bytes(), &[0]])
    }

    /// A nested attribute (flagged `NLA_F_NESTED`) holding what `fill` adds.
    pub(super) fn nested(&mut self, ty: u16, fill: impl FnOnce(&mut Msg)) -> &mut Msg {
        let start = self.buf.len();
        self.attr(ty | NLA_F_NESTED, &[]);
        fill(self);
        let len = self.buf.len() - start;
        debug_assert!(len <= usize::from(u16::MAX));
        self.buf[start..start + 2].copy_from_slice(&(len as u16).to_ne_bytes());
        self
    }

    /// Sets the total length and the sequence number; returns the bytes.
    pub(super) fn finish(&mut self, seq: u32) -> &[u8] {
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        &self.buf
    }
}

/// One received netlink message.
pub(super) struct Reply<'a> {
    pub(super) ty: u16,
    pub(super) flags: u16,
    pub(super) seq: u32,
    pub(super) payload: &'a [u8],
}

/// The messages of one datagram; yields an error and stops at a malformed one.
pub(super) struct Messages<'a>(pub(super) &'a [u8]);

impl<'a> Iterator for Messages<'a> {
    type Item = Result<Reply<'a>, &'static str>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        let buf = std::mem::take(&mut self.0);
        let Some(hdr) = buf.get(..NLMSG_HDRLEN) else {
            return Some(Err("truncated message header"));
        };
        let len = ne_u32(&hdr[0..4])? as usize;
        if len < NLMSG_HDRLEN || len > buf.len() {
            return Some(Err("message length out of bounds"));
        }
        self.0 = buf.get(align(len)..).unwrap_or(&[]);
        Some(Ok(Reply {
            ty: ne_u16(&hdr[4..6])?,
            flags: ne_u16(&hdr[6..8])?,
            seq: ne_u32(&hdr[8..12])?,
            payload: &buf[NLMSG_HDRLEN..len],
        }))
    }
}

/// The attributes in a buffer as (type without flags, payload); yields an
/// error and stops at a malformed one.
pub(super) struct Attrs<'a>(pub(super) &'a [u8]);

impl<'a> Iterator for Attrs<'a> {
    type Item = Result<(u16, &'a [u8]), &'static str>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        let buf = std::mem::take(&mut self.0);
        let Some(hdr) = buf.get(..NLA_HDRLEN) else {
            return Some(Err("truncated attribute header"));
        };
        let len = usize::from(ne_u16(&hdr[0..2])?);
        if len < NLA_HDRLEN || len > buf.len() {
            return Some(Err("attribute length out of bounds"));
        }
        self.0 = buf.get(align(len)..).unwrap_or(&[]);
        let ty = ne_u16(&hdr[2..4])? & !(NLA_F_NESTED | NLA_F_NET_BYTEORDER);
        Some(Ok((ty, &buf[NLA_HDRLEN..len])))
    }
}

/// The attributes after a family header of `hdr_len` bytes, or an error if
/// the payload is shorter than that header.
pub(super) fn attrs_after(payload: &[u8], hdr_len: usize) -> Result<Attrs<'_>, &'static str> {
    if payload.len() < hdr_len {
        return Err("payload shorter than its family header");
    }
    Ok(Attrs(payload.get(align(hdr_len)..).unwrap_or(&[])))
}

pub(super) fn ne_u16(b: &[u8]) -> Option<u16> {
    Some(u16::from_ne_bytes(b.try_into().ok()?))
}

pub(super) fn ne_u32(b: &[u8]) -> Option<u32> {
    Some(u32::from_ne_bytes(b.try_into().ok()?))
}

pub(super) fn ipv4(b: &[u8]) -> Option<Ipv4Addr> {
    Some(Ipv4Addr::from(<[u8; 4]>::try_from(b).ok()?))
}
