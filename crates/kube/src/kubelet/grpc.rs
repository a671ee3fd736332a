//! The `grpc` probe: one call of the gRPC health protocol
//! (`grpc.health.v1.Health/Check`, with the probe's `service`) over
//! HTTP/2 without TLS to the pod's IP, as the kubelet makes it; only
//! SERVING passes. The failures read as the kubelet's do.

use bytes::Bytes;
use std::net::SocketAddr;
use std::time::Duration;

const PATH: &str = "/grpc.health.v1.Health/Check";
/// gRPC's status code for a method the server does not have.
const UNIMPLEMENTED: u32 = 12;

/// The health protocol's answers (`HealthCheckResponse.ServingStatus`).
fn status_name(n: u64) -> String {
    match n {
        0 => "UNKNOWN".into(),
        1 => "SERVING".into(),
        2 => "NOT_SERVING".into(),
        3 => "SERVICE_UNKNOWN".into(),
        n => n.to_string(),
    }
}

/// Check `service` at `addr` within `timeout`: Ok when it is SERVING, else
/// the kubelet's words for why not.
pub(super) fn check(addr: SocketAddr, service: &str, timeout: Duration) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("error: {e}"))?;
    rt.block_on(async {
        let tcp = match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await
        {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                return Err(format!(
                    "error: failed to connect service at \"{addr}\": {e}"
                ))
            }
            Err(_) => {
                return Err(format!(
                    "timeout: failed to connect service \"{addr}\" within {}s: context deadline exceeded",
                    timeout.as_secs()
                ))
            }
        };
        match tokio::time::timeout(timeout, call(tcp, addr, service)).await {
            Ok(r) => r,
            Err(_) => Err(format!(
                "timeout: health rpc did not complete within {}s",
                timeout.as_secs()
            )),
        }
    })
}

/// The call on a connected stream.
async fn call(tcp: tokio::net::TcpStream, addr: SocketAddr, service: &str) -> Result<(), String> {
    let failed = |e: &dyn std::fmt::Display| format!("error: health rpc probe failed: {e}");
    let (client, conn) = h2::client::handshake(tcp).await.map_err(|e| failed(&e))?;
    // The connection's frames are read and written by its own task.
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut client = client.ready().await.map_err(|e| failed(&e))?;
    let req = http::Request::builder()
        .method("POST")
        .uri(format!("http://{addr}{PATH}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("user-agent", "kube-probe/1.35")
        .body(())
        .map_err(|e| failed(&e))?;
    let (resp, mut send) = client.send_request(req, false).map_err(|e| failed(&e))?;
    send.send_data(frame(&request(service)), true)
        .map_err(|e| failed(&e))?;
    let resp = resp.await.map_err(|e| failed(&e))?;
    let (parts, mut body) = resp.into_parts();
    if parts.status != http::StatusCode::OK {
        return Err(failed(&format!(
            "rpc error: code = Unknown desc = unexpected HTTP status code received from server: {}",
            parts.status.as_u16()
        )));
    }
    let mut data = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.map_err(|e| failed(&e))?;
        let _ = body.flow_control().release_capacity(chunk.len());
        data.extend_from_slice(&chunk);
    }
    // A call that fails at once answers with its status in the headers
    // ("trailers-only"); else the status comes in the trailers.
    let trailers = body.trailers().await.map_err(|e| failed(&e))?;
    let field = |name: &str| {
        trailers
            .as_ref()
            .and_then(|t| t.get(name))
            .or_else(|| parts.headers.get(name))
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let code: u32 = field("grpc-status")
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| failed(&"rpc error: code = Internal desc = no grpc-status"))?;
    if code != 0 {
        let msg = field("grpc-message").unwrap_or_default();
        if code == UNIMPLEMENTED {
            return Err(format!(
                "error: this server does not implement the grpc health protocol (grpc.health.v1.Health): {msg}"
            ));
        }
        return Err(failed(&format!(
            "rpc error: code = {} desc = {msg}",
            code_name(code)
        )));
    }
    let status = response_status(&data).ok_or_else(|| {
        failed(&"rpc error: code = Internal desc = a response the health protocol does not have")
    })?;
    if status != 1 {
        return Err(format!(
            "service unhealthy (responded with \"{}\")",
            status_name(status)
        ));
    }
    Ok(())
}

/// gRPC's names of its status codes, as Go's `codes.Code` prints them.
fn code_name(code: u32) -> String {
    const NAMES: [&str; 17] = [
        "OK",
        "Canceled",
        "Unknown",
        "InvalidArgument",
        "DeadlineExceeded",
        "NotFound",
        "AlreadyExists",
        "PermissionDenied",
        "ResourceExhausted",
        "FailedPrecondition",
        "Aborted",
        "OutOfRange",
        "Unimplemented",
        "Internal",
        "Unavailable",
        "DataLoss",
        "Unauthenticated",
    ];
    NAMES
        .get(code as usize)
        .map(|n| n.to_string())
        .unwrap_or_else(|| format!("Code({code})"))
}

/// `HealthCheckRequest { service }` in protobuf: field 1, a string.
pub fn request(service: &str) -> Vec<u8> {
    let mut m = Vec::new();
    if !service.is_empty() {
        m.push(0x0a);
        varint(&mut m, service.len() as u64);
        m.extend_from_slice(service.as_bytes());
    }
    m
}

/// A gRPC message on the wire: uncompressed, its length, itself.
pub fn frame(msg: &[u8]) -> Bytes {
    let mut b = Vec::with_capacity(5 + msg.len());
    b.push(0);
    b.extend_from_slice(&(msg.len() as u32).to_be_bytes());
    b.extend_from_slice(msg);
    Bytes::from(b)
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn read_varint(b: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*at)?;
        *at += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// The message of a gRPC body (one uncompressed frame), its bytes.
pub fn unframe(data: &[u8]) -> Option<&[u8]> {
    let (head, rest) = data.split_at_checked(5)?;
    if head[0] != 0 {
        return None;
    }
    let len = u32::from_be_bytes(head[1..5].try_into().ok()?) as usize;
    rest.get(..len)
}

/// `HealthCheckResponse.status` (field 1, a varint; 0 when absent, as
/// protobuf leaves a zero out). Other fields are skipped.
fn response_status(data: &[u8]) -> Option<u64> {
    let m = unframe(data)?;
    let mut at = 0;
    let mut status = 0;
    while at < m.len() {
        let key = read_varint(m, &mut at)?;
        match (key >> 3, key & 7) {
            (1, 0) => status = read_varint(m, &mut at)?,
            (_, 0) => {
                read_varint(m, &mut at)?;
            }
            (_, 2) => {
                let n = read_varint(m, &mut at)? as usize;
                at = at.checked_add(n).filter(|&e| e <= m.len())?;
            }
            (_, 1) => at += 8,
            (_, 5) => at += 4,
            _ => return None,
        }
    }
    Some(status)
}

/// The `service` of a `HealthCheckRequest` message (a test server's side).
pub fn request_service(m: &[u8]) -> Option<String> {
    let mut at = 0;
    let mut service = String::new();
    while at < m.len() {
        let key = read_varint(m, &mut at)?;
        if key != 0x0a {
            return None;
        }
        let n = read_varint(m, &mut at)? as usize;
        let end = at.checked_add(n).filter(|&e| e <= m.len())?;
        service = String::from_utf8(m[at..end].to_vec()).ok()?;
        at = end;
    }
    Some(service)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_on_the_wire() {
        assert_eq!(request(""), Vec::<u8>::new());
        assert_eq!(request("live"), b"\x0a\x04live");
        assert_eq!(&frame(b"ab")[..], b"\x00\x00\x00\x00\x02ab");
        assert_eq!(request_service(&request("live")).as_deref(), Some("live"));
        assert_eq!(request_service(b"").as_deref(), Some(""));
        // SERVING, NOT_SERVING, the zero left out, a field to skip
        assert_eq!(response_status(&frame(b"\x08\x01")), Some(1));
        assert_eq!(response_status(&frame(b"\x08\x02")), Some(2));
        assert_eq!(response_status(&frame(b"")), Some(0));
        assert_eq!(response_status(&frame(b"\x12\x01x\x08\x01")), Some(1));
        // a length past the end, a compressed frame
        assert_eq!(response_status(&frame(b"\x12\x09x")), None);
        assert_eq!(response_status(b"\x01\x00\x00\x00\x00"), None);
        let mut long = Vec::new();
        varint(&mut long, 300);
        let mut at = 0;
        assert_eq!(read_varint(&long, &mut at), Some(300));
    }
}
