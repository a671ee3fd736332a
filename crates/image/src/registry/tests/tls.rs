//! The client's TLS (rustls): a server on 127.0.0.1 whose certificate a
//! test authority signed is trusted when that authority is one of the
//! configured roots, and refused otherwise.

use crate::registry::Config;
use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::ssl::{SslAcceptor, SslMethod};
use openssl::x509::extension::{BasicConstraints, KeyUsage, SubjectAlternativeName};
use openssl::x509::{X509Builder, X509NameBuilder, X509};
use std::io::{Read, Write};
use std::net::TcpListener;

fn key() -> PKey<Private> {
    PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap()
}

/// A certificate for `cn` with `key`, signed by `issuer` (itself when None).
fn cert(cn: &str, key: &PKey<Private>, issuer: Option<(&X509, &PKey<Private>)>) -> X509 {
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", cn).unwrap();
    let name = name.build();
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    let serial = BigNum::from_u32(if issuer.is_some() { 2 } else { 1 }).unwrap();
    b.set_serial_number(&serial.to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(issuer.map_or(&*name, |(c, _)| c.subject_name()))
        .unwrap();
    b.set_pubkey(key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(2).unwrap())
        .unwrap();
    if issuer.is_none() {
        b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
            .unwrap();
        let usage = KeyUsage::new().critical().key_cert_sign().build().unwrap();
        b.append_extension(usage).unwrap();
    } else {
        let san = SubjectAlternativeName::new()
            .ip("127.0.0.1")
            .build(&b.x509v3_context(issuer.map(|(c, _)| &**c), None))
            .unwrap();
        b.append_extension(san).unwrap();
    }
    b.sign(issuer.map_or(key, |(_, k)| k), MessageDigest::sha256())
        .unwrap();
    b.build()
}

#[tokio::test]
async fn https_trusts_the_configured_roots_only() {
    let (ca_key, leaf_key) = (key(), key());
    let ca = cert("skiff test authority", &ca_key, None);
    let leaf = cert("127.0.0.1", &leaf_key, Some((&ca, &ca_key)));
    let mut acceptor = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls()).unwrap();
    acceptor.set_private_key(&leaf_key).unwrap();
    acceptor.set_certificate(&leaf).unwrap();
    let acceptor = acceptor.build();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Two connections: the trusting client's, the other's (refused).
    let server = std::thread::spawn(move || {
        for _ in 0..2 {
            let (tcp, _) = listener.accept().unwrap();
            let Ok(mut tls) = acceptor.accept(tcp) else {
                continue;
            };
            let mut request = [0u8; 4096];
            let _ = tls.read(&mut request);
            let _ = tls
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
            let _ = tls.shutdown();
        }
    });
    let url = format!("https://127.0.0.1:{port}/v2/");

    let trusting = Config {
        root_certificates_pem: vec![ca.to_pem().unwrap()],
        use_env_proxy: false,
        ..Config::default()
    };
    let response = trusting.http_client().unwrap().get(&url).send().await;
    let response = response.expect("a server the configured authority signed is trusted");
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "ok");

    let other = Config {
        use_env_proxy: false,
        ..Config::default()
    };
    let refused = other.http_client().unwrap().get(&url).send().await;
    let err = refused.expect_err("an unknown authority is refused");
    assert!(err.is_connect(), "{err:?}");
    let chain = format!("{err:?}");
    assert!(
        chain.contains("UnknownIssuer") || chain.contains("certificate"),
        "{chain}"
    );
    server.join().unwrap();
}
