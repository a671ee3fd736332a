//! Container IDs (64 random hex digits, as Docker's) and names (given, or
//! `adjective_surname` picked at random, as Docker makes them).

use std::io::Read;

/// `n` random bytes from the kernel.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    let mut filled = 0;
    while filled < N {
        // SAFETY: getrandom writes at most N - filled bytes into the buffer.
        let r = unsafe { libc::getrandom(b[filled..].as_mut_ptr().cast(), N - filled, 0) };
        if r > 0 {
            filled += r as usize;
        } else if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            let _ = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b));
            break;
        }
    }
    b
}

/// A new container ID. Like Docker's, never all digits (so that no prefix of
/// it reads as a number).
pub fn new_id() -> String {
    loop {
        let id: String = random_bytes::<32>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if !id[..12].bytes().all(|c| c.is_ascii_digit()) {
            return id;
        }
    }
}

const ADJECTIVES: &[&str] = &[
    "agile", "amber", "ancient", "bold", "brave", "bright", "brisk", "calm", "candid", "careful",
    "cheerful", "clever", "cosmic", "crisp", "curious", "daring", "deft", "eager", "earnest",
    "elated", "epic", "fearless", "fervent", "fluent", "focused", "frosty", "gentle", "gifted",
    "glad", "golden", "graceful", "happy", "hardy", "hopeful", "humble", "jolly", "keen", "kind",
    "lively", "loyal", "lucid", "merry", "mighty", "modest", "nimble", "noble", "patient",
    "placid", "plucky", "polite", "proud", "quick", "quiet", "radiant", "rapid", "serene", "sharp",
    "shiny", "silent", "smooth", "snappy", "spry", "steady", "stoic", "sturdy", "sunny", "swift",
    "tender", "tidy", "upbeat", "valiant", "vivid", "warm", "wise", "witty", "zealous",
];

const SURNAMES: &[&str] = &[
    "agnesi",
    "babbage",
    "backus",
    "bardeen",
    "bell",
    "bohr",
    "boole",
    "cerf",
    "chandra",
    "curie",
    "dijkstra",
    "einstein",
    "euler",
    "faraday",
    "fermat",
    "fermi",
    "feynman",
    "franklin",
    "galileo",
    "gauss",
    "goodall",
    "hamilton",
    "hawking",
    "heisenberg",
    "hodgkin",
    "hopper",
    "hypatia",
    "jackson",
    "johnson",
    "kepler",
    "knuth",
    "kowalevski",
    "lamarr",
    "lamport",
    "leavitt",
    "liskov",
    "lovelace",
    "maxwell",
    "mayer",
    "meitner",
    "mendel",
    "mirzakhani",
    "moore",
    "newton",
    "nobel",
    "noether",
    "pascal",
    "pasteur",
    "planck",
    "raman",
    "ritchie",
    "rosalind",
    "sagan",
    "shannon",
    "somerville",
    "stallman",
    "tesla",
    "thompson",
    "torvalds",
    "turing",
    "wilson",
    "wozniak",
    "wright",
    "yalow",
    "yonath",
];

/// A random `adjective_surname`.
pub fn random_name() -> String {
    let b = random_bytes::<4>();
    let a = u16::from_le_bytes([b[0], b[1]]) as usize % ADJECTIVES.len();
    let s = u16::from_le_bytes([b[2], b[3]]) as usize % SURNAMES.len();
    format!("{}_{}", ADJECTIVES[a], SURNAMES[s])
}

/// Docker's rule for names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+` (a leading `/` is
/// dropped).
pub fn check_name(name: &str) -> Result<String, String> {
    let n = name.strip_prefix('/').unwrap_or(name);
    let ok = n.len() >= 2
        && n.as_bytes()[0].is_ascii_alphanumeric()
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-');
    if ok {
        Ok(n.to_string())
    } else {
        Err(format!(
            "Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names() {
        let a = new_id();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, new_id());
        let n = random_name();
        let (adj, sur) = n.split_once('_').unwrap();
        assert!(ADJECTIVES.contains(&adj) && SURNAMES.contains(&sur));
        assert_eq!(check_name("/web-1").unwrap(), "web-1");
        assert!(check_name("a").is_err());
        assert!(check_name("-x").is_err());
        assert!(check_name("a b")
            .unwrap_err()
            .contains("Invalid container name (a b)"));
    }
}
