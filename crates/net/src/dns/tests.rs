//! Unit tests of the message code, the decision on queries, the name
//! helpers, resolv.conf parsing and query ids.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV6};

use super::responder::Ids;
use super::*;

fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let q = Question {
        name: Name::from_dotted(name).unwrap(),
        qtype,
        qclass: CLASS_IN,
    };
    encode_query(id, FLAG_RD, &q, None)
}

fn table() -> Table {
    let mut t = Table::new();
    t.add_a("web", Ipv4Addr::new(10, 0, 0, 2));
    t.add_a("db", Ipv4Addr::new(10, 0, 0, 3));
    t.add_a("db", Ipv4Addr::new(10, 0, 0, 4));
    t.add_ptr(Ipv4Addr::new(10, 0, 0, 2), "web.net1");
    t
}

fn reply(o: Outcome) -> Vec<u8> {
    match o {
        Outcome::Reply(r) => r,
        o => panic!("expected a reply, got {o:?}"),
    }
}

#[test]
fn name_round_trip() {
    let n = Name::from_dotted("Web.Example.").unwrap();
    assert_eq!(n.wire(), b"\x03Web\x07Example\x00");
    assert_eq!(n.to_string(), "Web.Example.");
    assert_eq!(n.to_lookup_key(), "web.example");
    assert!(n.eq_ignore_case(&Name::from_dotted("web.example").unwrap()));
    assert!(Name::from_dotted("").unwrap().is_root());
    assert!(Name::from_dotted(".").unwrap().is_root());
    assert_eq!(Name::from_dotted("a..b"), Err(ParseError::EmptyLabel));
    assert_eq!(
        Name::from_dotted(&"a".repeat(64)),
        Err(ParseError::BadLabel)
    );
    let long = vec!["a".repeat(63); 4].join(".");
    assert_eq!(Name::from_dotted(&long), Err(ParseError::NameTooLong));
    let ok = [
        "a".repeat(63),
        "a".repeat(63),
        "a".repeat(63),
        "a".repeat(61),
    ]
    .join(".");
    assert_eq!(Name::from_dotted(&ok).unwrap().wire().len(), 255);
}

#[test]
fn lookup_key_escapes() {
    let mut msg = vec![0u8; 12];
    msg.extend_from_slice(b"\x03a.B\x02\x00\xff\x00");
    let (n, end) = Name::parse(&msg, 12).unwrap();
    assert_eq!(end, msg.len());
    assert_eq!(n.to_lookup_key(), "a\\.b.\\000\\255");
}

#[test]
fn compression() {
    // "example.com" at 12, then "www" + pointer to 12, then a pointer
    // to the pointer.
    let mut msg = vec![0u8; 12];
    msg.extend_from_slice(b"\x07example\x03com\x00");
    let www = msg.len();
    msg.extend_from_slice(b"\x03www\xc0\x0c");
    let ptr = msg.len();
    msg.extend_from_slice(&[0xc0, www as u8]);
    let (n, end) = Name::parse(&msg, www).unwrap();
    assert_eq!(n.to_string(), "www.example.com.");
    assert_eq!(end, ptr);
    let (n, end) = Name::parse(&msg, ptr).unwrap();
    assert_eq!(n.to_string(), "www.example.com.");
    assert_eq!(end, ptr + 2);
}

#[test]
fn pointer_loops_and_forward_pointers() {
    let mut msg = vec![0u8; 12];
    msg.extend_from_slice(&[0xc0, 12]);
    assert_eq!(Name::parse(&msg, 12), Err(ParseError::BadPointer));
    // a -> b -> a
    let mut msg = vec![0u8; 12];
    msg.extend_from_slice(&[0xc0, 14, 0xc0, 12]);
    assert_eq!(Name::parse(&msg, 12), Err(ParseError::BadPointer));
    assert_eq!(Name::parse(&msg, 14), Err(ParseError::BadPointer));
    // A label then a pointer back to it.
    let mut msg = vec![0u8; 12];
    msg.extend_from_slice(b"\x01a\xc0\x0c");
    assert_eq!(Name::parse(&msg, 12), Err(ParseError::BadPointer));
    // A long backwards chain: bounded.
    let mut msg = vec![0u8; 12];
    msg.push(0);
    let mut prev = 12usize;
    for _ in 0..40 {
        let here = msg.len();
        msg.extend_from_slice(&[0xc0 | (prev >> 8) as u8, prev as u8]);
        prev = here;
    }
    assert_eq!(Name::parse(&msg, prev), Err(ParseError::PointerLoop));
    let (n, end) = Name::parse(&msg, 13).unwrap();
    assert!(n.is_root());
    assert_eq!(end, 15);
}

#[test]
fn long_labels_and_names() {
    let mut msg = vec![0u8; 12];
    msg.push(64);
    msg.extend_from_slice(&[b'a'; 64]);
    msg.push(0);
    assert_eq!(Name::parse(&msg, 12), Err(ParseError::BadLabel));
    let mut msg = vec![0u8; 12];
    for _ in 0..5 {
        msg.push(63);
        msg.extend_from_slice(&[b'a'; 63]);
    }
    msg.push(0);
    assert_eq!(Name::parse(&msg, 12), Err(ParseError::NameTooLong));
    // Too long only through pointers.
    let mut msg = vec![0u8; 12];
    for _ in 0..3 {
        msg.push(63);
        msg.extend_from_slice(&[b'a'; 63]);
    }
    msg.push(0);
    let second = msg.len();
    msg.push(63);
    msg.extend_from_slice(&[b'b'; 63]);
    msg.extend_from_slice(&[0xc0, 12]);
    assert_eq!(Name::parse(&msg, second), Err(ParseError::NameTooLong));
    assert_eq!(Name::parse(&msg[..20], 12), Err(ParseError::Short));
}

#[test]
fn parse_query_with_edns() {
    let q = Question {
        name: Name::from_dotted("web").unwrap(),
        qtype: TYPE_A,
        qclass: CLASS_IN,
    };
    let e = Edns {
        udp_size: 4096,
        version: 0,
        dnssec_ok: true,
    };
    let wire = encode_query(7, FLAG_RD, &q, Some(e));
    let p = parse_query(&wire).unwrap();
    assert_eq!(p.id, 7);
    assert!(p.rd());
    assert_eq!(p.question, q);
    assert_eq!(p.edns, Some(e));
    assert_eq!(p.max_response_size(), EDNS_UDP_SIZE as usize);
    // Two OPT records.
    let mut two = wire.clone();
    two[11] = 2;
    two.extend_from_slice(&wire[wire.len() - 11..]);
    assert_eq!(parse_query(&two), Err(ParseError::BadOpt));
    // Truncated OPT.
    assert_eq!(parse_query(&wire[..wire.len() - 1]), Err(ParseError::Short));
    // Two questions.
    let mut qd2 = wire.clone();
    qd2[5] = 2;
    assert_eq!(parse_query(&qd2), Err(ParseError::QuestionCount(2)));
}

#[test]
fn answers_a_case_insensitively() {
    let t = table();
    for name in ["web", "WEB.", "Web"] {
        let r = reply(decide(&query(0x1234, name, TYPE_A), &t, true));
        let h = Header::parse(&r).unwrap();
        assert_eq!(h.id, 0x1234);
        assert!(h.qr());
        assert_eq!(h.flags & (FLAG_AA | FLAG_RD | FLAG_RA), FLAG_RD | FLAG_RA);
        assert_eq!(h.rcode(), 0);
        assert_eq!(h.ancount, 1);
        assert_eq!(&r[r.len() - 4..], &[10, 0, 0, 2]);
        // The question is echoed as sent.
        let (q, _) = Question::parse(&r, 12).unwrap();
        assert_eq!(
            q.name.to_string().trim_end_matches('.'),
            name.trim_end_matches('.')
        );
    }
    let r = reply(decide(&query(1, "db", TYPE_A), &t, true));
    assert_eq!(Header::parse(&r).unwrap().ancount, 2);
    let r = reply(decide(&query(1, "db", TYPE_AAAA), &t, true));
    let h = Header::parse(&r).unwrap();
    assert_eq!((h.rcode(), h.ancount), (0, 0));
}

#[test]
fn ptr_and_forward() {
    let t = table();
    let r = reply(decide(
        &query(9, "2.0.0.10.in-addr.arpa", TYPE_PTR),
        &t,
        true,
    ));
    let h = Header::parse(&r).unwrap();
    assert_eq!(h.ancount, 1);
    assert!(r.ends_with(b"\x03web\x04net1\x00"));
    match decide(&query(9, "3.0.0.10.in-addr.arpa", TYPE_PTR), &t, true) {
        Outcome::Forward(q) => assert_eq!(q.id, 9),
        o => panic!("{o:?}"),
    }
    match decide(&query(9, "example.com", TYPE_A), &t, true) {
        Outcome::Forward(q) => assert_eq!(q.question.name.to_lookup_key(), "example.com"),
        o => panic!("{o:?}"),
    }
    let r = reply(decide(&query(9, "example.com", TYPE_A), &t, false));
    let h = Header::parse(&r).unwrap();
    assert_eq!(h.rcode(), 2);
    assert_eq!(h.flags & FLAG_RA, 0);
}

#[test]
fn errors() {
    let t = table();
    assert_eq!(decide(&[0; 11], &t, true), Outcome::Drop);
    // A response is never answered.
    let mut resp = query(1, "web", TYPE_A);
    resp[2] |= 0x80;
    assert_eq!(decide(&resp, &t, true), Outcome::Drop);
    // No question: FORMERR, header only.
    let r = reply(decide(
        &[0xab, 0xcd, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        &t,
        true,
    ));
    assert_eq!(r, [0xab, 0xcd, 0x81, 0x01, 0, 0, 0, 0, 0, 0, 0, 0]);
    // Opcode STATUS: NOTIMP with the question.
    let mut st = query(3, "web", TYPE_A);
    st[2] |= 2 << 3;
    let r = reply(decide(&st, &t, true));
    let h = Header::parse(&r).unwrap();
    assert_eq!((h.rcode(), h.opcode(), h.qdcount), (4, 2, 1));
    // EDNS version 1: BADVERS, in the OPT record.
    let q = Question {
        name: Name::from_dotted("web").unwrap(),
        qtype: TYPE_A,
        qclass: CLASS_IN,
    };
    let e = Edns {
        udp_size: 1232,
        version: 1,
        dnssec_ok: false,
    };
    let r = reply(decide(&encode_query(3, 0, &q, Some(e)), &t, true));
    let h = Header::parse(&r).unwrap();
    assert_eq!((h.rcode(), h.arcount), (0, 1));
    assert_eq!(r[r.len() - 6], 1);
}

#[test]
fn truncation() {
    let mut t = Table::new();
    for i in 0..100 {
        t.add_a("many", Ipv4Addr::new(10, 0, 1, i));
    }
    let r = reply(decide(&query(1, "many", TYPE_A), &t, true));
    let h = Header::parse(&r).unwrap();
    assert!(r.len() <= 512);
    assert_ne!(h.flags & FLAG_TC, 0);
    assert_eq!(h.ancount as usize, (512 - 12 - 10) / 16);
    let q = Question {
        name: Name::from_dotted("many").unwrap(),
        qtype: TYPE_A,
        qclass: CLASS_IN,
    };
    let e = Edns {
        udp_size: 4096,
        version: 0,
        dnssec_ok: false,
    };
    let r = reply(decide(&encode_query(1, 0, &q, Some(e)), &t, true));
    // Capped at what the responder advertises.
    let h = Header::parse(&r).unwrap();
    assert!(r.len() <= EDNS_UDP_SIZE as usize);
    assert_ne!(h.flags & FLAG_TC, 0);
    assert_eq!((h.ancount, h.arcount), ((1232 - 12 - 10 - 11) / 16, 1));
    let mut few = Table::new();
    for i in 0..50 {
        few.add_a("many", Ipv4Addr::new(10, 0, 1, i));
    }
    let r = reply(decide(&encode_query(1, 0, &q, Some(e)), &few, true));
    let h = Header::parse(&r).unwrap();
    assert_eq!(h.flags & FLAG_TC, 0);
    assert_eq!((h.ancount, h.arcount), (50, 1));
}

#[test]
fn reverse_names() {
    let ip = Ipv4Addr::new(172, 18, 0, 5);
    assert_eq!(reverse_name(ip), "5.0.18.172.in-addr.arpa");
    assert_eq!(parse_reverse_name("5.0.18.172.in-addr.arpa"), Some(ip));
    assert_eq!(parse_reverse_name("5.0.18.172.IN-ADDR.ARPA."), Some(ip));
    for bad in [
        "0.18.172.in-addr.arpa",
        "1.5.0.18.172.in-addr.arpa",
        "05.0.18.172.in-addr.arpa",
        "256.0.18.172.in-addr.arpa",
        "a.0.18.172.in-addr.arpa",
        ".0.18.172.in-addr.arpa",
        "in-addr.arpa",
        ".in-addr.arpa",
        "5.0.18.172.ip6.arpa",
        "é.in-addr.arpa",
        "",
    ] {
        assert_eq!(parse_reverse_name(bad), None, "{bad}");
    }
}

#[test]
fn resolv_conf() {
    let text = "# generated\n\
                ; comment\n\
                search example.com\n\
                nameserver 10.0.0.1\n\
                nameserver   2001:db8::1 # inline\n\
                nameserver fe80::1%7\n\
                nameserver bogus\n\
                nameserver 10.0.0.1\n\
                #nameserver 10.9.9.9\n\
                options ndots:2\n\
                nameserverx 1.1.1.1\n";
    let ups = upstreams_from_resolv_conf(text);
    assert_eq!(
        ups,
        vec![
            "10.0.0.1:53".parse().unwrap(),
            "[2001:db8::1]:53".parse().unwrap(),
            SocketAddr::V6(SocketAddrV6::new("fe80::1".parse().unwrap(), 53, 0, 7)),
        ]
    );
    assert!(upstreams_from_resolv_conf("").is_empty());
}

#[test]
fn ids_vary() {
    let mut ids = Ids::new();
    let v: Vec<u16> = (0..200).map(|_| ids.next()).collect();
    let distinct: std::collections::HashSet<_> = v.iter().collect();
    assert!(distinct.len() > 150);
}
