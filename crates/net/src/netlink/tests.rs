//! Unit tests of message building and parsing, error replies, and the
//! interface name check.

use super::link::{check_ifname, ifinfomsg};
use super::message::{attrs_after, ne_u16, ne_u32, Attrs, Messages, Msg};
use super::socket::handle_datagram;
use super::*;

fn attrs(buf: &[u8]) -> Vec<(u16, Vec<u8>)> {
    Attrs(buf)
        .map(|a| a.map(|(t, v)| (t, v.to_vec())))
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn attributes_are_padded_to_four_bytes() {
    let mut m = Msg::new(RTM_NEWLINK, NLM_F_REQUEST);
    m.attr_str(IFLA_IFNAME, "eth0").attr_u32(IFLA_MTU, 1500);
    let bytes = m.finish(7).to_vec();
    assert_eq!(bytes.len(), 16 + 12 + 8);
    assert_eq!(ne_u32(&bytes[0..4]), Some(36));
    assert_eq!(ne_u32(&bytes[8..12]), Some(7));
    // "eth0\0" is 5 bytes: nla_len 9, padded to 12.
    assert_eq!(ne_u16(&bytes[16..18]), Some(9));
    assert_eq!(&bytes[20..28], b"eth0\0\0\0\0");
    assert_eq!(
        attrs(&bytes[16..]),
        vec![
            (IFLA_IFNAME, b"eth0\0".to_vec()),
            (IFLA_MTU, 1500u32.to_ne_bytes().to_vec())
        ]
    );
}

#[test]
fn nested_attributes_cover_their_children() {
    let mut m = Msg::new(RTM_NEWLINK, NLM_F_REQUEST);
    m.nested(IFLA_LINKINFO, |m| {
        m.attr_str(IFLA_INFO_KIND, "veth");
        m.nested(IFLA_INFO_DATA, |m| {
            m.nested(VETH_INFO_PEER, |m| {
                m.header(&ifinfomsg(0, 0, 0)).attr_str(IFLA_IFNAME, "e");
            });
        });
    });
    m.attr_u32(IFLA_MTU, 9000);
    let bytes = m.finish(1).to_vec();
    let top = &bytes[16..];
    // LINKINFO = 4 + KIND(4 + 8) + DATA(4 + PEER(4 + 16 + 8)) = 48.
    assert_eq!(ne_u16(&top[0..2]), Some(48));
    assert_eq!(ne_u16(&top[2..4]), Some(IFLA_LINKINFO | NLA_F_NESTED));
    let outer = attrs(top);
    assert_eq!(outer.len(), 2);
    assert_eq!(outer[0].0, IFLA_LINKINFO);
    assert_eq!(outer[1], (IFLA_MTU, 9000u32.to_ne_bytes().to_vec()));
    let info = attrs(&outer[0].1);
    assert_eq!(info[0], (IFLA_INFO_KIND, b"veth\0".to_vec()));
    let data = attrs(&info[1].1);
    assert_eq!(data[0].0, VETH_INFO_PEER);
    let peer = &data[0].1;
    assert_eq!(peer.len(), 16 + 8);
    assert_eq!(attrs(&peer[16..]), vec![(IFLA_IFNAME, b"e\0".to_vec())]);
}

#[test]
fn malformed_input_is_an_error_not_a_panic() {
    assert!(Attrs(&[1, 0]).next().unwrap().is_err());
    assert!(Attrs(&[3, 0, 1, 0]).next().unwrap().is_err()); // len < 4
    assert!(Attrs(&[9, 0, 1, 0, 1]).next().unwrap().is_err()); // past end
    assert!(Messages(&[0; 10]).next().unwrap().is_err());
    let mut short = [0u8; 16];
    short[0..4].copy_from_slice(&40u32.to_ne_bytes());
    assert!(Messages(&short).next().unwrap().is_err());
    assert!(attrs_after(&[0; 7], 8).is_err());
    // Every truncation of a valid datagram fails cleanly or ends early.
    let mut m = Msg::new(NLMSG_ERROR, 0);
    m.header(&(-17i32).to_ne_bytes()).header(&[0; 16]);
    let full = m.finish(5).to_vec();
    for cut in 0..full.len() {
        let mut interrupted = false;
        let _ = handle_datagram(&full[..cut], 5, &mut interrupted, &mut |_, _| Ok(()));
    }
    // An error whose echoed request claims to be huge keeps its errno.
    let mut m = Msg::new(NLMSG_ERROR, NLM_F_ACK_TLVS);
    m.header(&(-libc::EINVAL).to_ne_bytes())
        .header(&u32::MAX.to_ne_bytes());
    let bytes = m.finish(5).to_vec();
    let mut interrupted = false;
    let err = handle_datagram(&bytes, 5, &mut interrupted, &mut |_, _| Ok(())).unwrap_err();
    assert_eq!(err.errno(), Some(libc::EINVAL));
}

#[test]
fn error_replies_carry_errno_and_kernel_message() {
    let mut m = Msg::new(NLMSG_ERROR, NLM_F_CAPPED | NLM_F_ACK_TLVS);
    m.header(&(-libc::EEXIST).to_ne_bytes())
        .header(&[0; 16])
        .attr_str(NLMSGERR_ATTR_MSG, "Link already exists");
    let bytes = m.finish(9).to_vec();
    let mut interrupted = false;
    // Another exchange's error is skipped.
    let other = handle_datagram(&bytes, 8, &mut interrupted, &mut |_, _| Ok(()));
    assert!(matches!(other, Ok(false)));
    let err = handle_datagram(&bytes, 9, &mut interrupted, &mut |_, _| Ok(()))
        .unwrap_err()
        .at("creating bridge", "br0");
    assert!(err.is_exists());
    assert_eq!(
        err.to_string(),
        "creating bridge br0: File exists (os error 17) (Link already exists)"
    );
}

#[test]
fn interface_names_are_checked() {
    assert!(check_ifname("eth0").is_ok());
    assert!(check_ifname("fifteen-bytes-x").is_ok());
    for bad in [
        "",
        "sixteen-bytes-xx",
        ".",
        "..",
        "a/b",
        "a:b",
        "a b",
        "a\0",
    ] {
        assert!(check_ifname(bad).is_err(), "{bad:?}");
    }
}
