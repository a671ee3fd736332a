//! Domain names in wire form: parsing (with compression pointers), the
//! dotted text forms, and their labels.

use std::fmt;

#[cfg(doc)]
use super::Lookup;
use super::ParseError;

/// How many compression pointers one name may follow.
pub const MAX_POINTERS: usize = 32;

/// A domain name in wire form, uncompressed: length-prefixed labels ending
/// with the root's zero byte, at most 255 bytes, case as received.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Name {
    wire: Vec<u8>,
}

impl Name {
    /// The root name.
    pub fn root() -> Name {
        Name { wire: vec![0] }
    }

    /// A name from its dotted text form (`web`, `web.`, `a.b.c`): no
    /// escapes, labels of 1 to 63 bytes, at most 255 bytes on the wire; the
    /// empty string and `.` are the root.
    pub fn from_dotted(s: &str) -> Result<Name, ParseError> {
        let s = s.strip_suffix('.').unwrap_or(s);
        let mut wire = Vec::with_capacity(s.len() + 2);
        if !s.is_empty() {
            for label in s.split('.') {
                if label.is_empty() {
                    return Err(ParseError::EmptyLabel);
                }
                if label.len() > 63 {
                    return Err(ParseError::BadLabel);
                }
                wire.push(label.len() as u8);
                wire.extend_from_slice(label.as_bytes());
            }
        }
        wire.push(0);
        if wire.len() > 255 {
            return Err(ParseError::NameTooLong);
        }
        Ok(Name { wire })
    }

    /// Reads the name at `pos` in `msg`, following compression pointers.
    /// Returns it and the position after it (after the first pointer, if
    /// any). Pointers must point strictly before the labels that led to
    /// them, which rules out loops; at most [`MAX_POINTERS`] are followed.
    pub fn parse(msg: &[u8], pos: usize) -> Result<(Name, usize), ParseError> {
        let mut wire = Vec::with_capacity(32);
        let mut pos = pos;
        // Where the labels being read started: a pointer must go below it.
        let mut floor = pos;
        let mut end = None;
        let mut jumps = 0;
        loop {
            let len = *msg.get(pos).ok_or(ParseError::Short)? as usize;
            match len & 0xc0 {
                0x00 if len == 0 => {
                    wire.push(0);
                    if wire.len() > 255 {
                        return Err(ParseError::NameTooLong);
                    }
                    return Ok((Name { wire }, end.unwrap_or(pos + 1)));
                }
                0x00 => {
                    let label = msg.get(pos + 1..pos + 1 + len).ok_or(ParseError::Short)?;
                    wire.push(len as u8);
                    wire.extend_from_slice(label);
                    // Room must remain for the root's byte.
                    if wire.len() + 1 > 255 {
                        return Err(ParseError::NameTooLong);
                    }
                    pos += 1 + len;
                }
                0xc0 => {
                    let low = *msg.get(pos + 1).ok_or(ParseError::Short)? as usize;
                    let target = ((len & 0x3f) << 8) | low;
                    if end.is_none() {
                        end = Some(pos + 2);
                    }
                    jumps += 1;
                    if jumps > MAX_POINTERS {
                        return Err(ParseError::PointerLoop);
                    }
                    if target >= floor {
                        return Err(ParseError::BadPointer);
                    }
                    floor = target;
                    pos = target;
                }
                // 0x40 (extended label types) and 0x80 (reserved): a label
                // length over 63.
                _ => return Err(ParseError::BadLabel),
            }
        }
    }

    /// The wire form.
    pub fn wire(&self) -> &[u8] {
        &self.wire
    }

    /// The labels, root excluded.
    pub fn labels(&self) -> Labels<'_> {
        Labels {
            wire: &self.wire,
            pos: 0,
        }
    }

    /// Whether this is the root name.
    pub fn is_root(&self) -> bool {
        self.wire.len() == 1
    }

    /// Equality ignoring ASCII case, as DNS compares names.
    pub fn eq_ignore_case(&self, other: &Name) -> bool {
        self.wire.eq_ignore_ascii_case(&other.wire)
    }

    /// The dotted form given to [`Lookup::lookup_a`]: ASCII lowercased, no
    /// trailing dot (the root is the empty string). Bytes other than
    /// letters, digits, `-` and `_` are escaped as in zone files (`\.`,
    /// `\\`, `\DDD`), so a label holding a dot cannot pass for two labels.
    pub fn to_lookup_key(&self) -> String {
        let mut s = String::with_capacity(self.wire.len());
        for (i, label) in self.labels().enumerate() {
            if i > 0 {
                s.push('.');
            }
            for &b in label {
                let b = b.to_ascii_lowercase();
                match b {
                    b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' => s.push(b as char),
                    b'.' | b'\\' => {
                        s.push('\\');
                        s.push(b as char);
                    }
                    0x21..=0x7e => s.push(b as char),
                    _ => s.push_str(&format!("\\{b:03}")),
                }
            }
        }
        s
    }
}

impl fmt::Display for Name {
    /// The dotted form with its case kept and a trailing dot.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_root() {
            return f.write_str(".");
        }
        for label in self.labels() {
            for &b in label {
                match b {
                    b'.' | b'\\' => write!(f, "\\{}", b as char)?,
                    0x21..=0x7e => write!(f, "{}", b as char)?,
                    _ => write!(f, "\\{b:03}")?,
                }
            }
            f.write_str(".")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({self})")
    }
}

/// The labels of a [`Name`].
pub struct Labels<'a> {
    wire: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Labels<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let len = *self.wire.get(self.pos)? as usize;
        if len == 0 {
            return None;
        }
        let label = self.wire.get(self.pos + 1..self.pos + 1 + len)?;
        self.pos += 1 + len;
        Some(label)
    }
}
