//! Proxmox API client: request bytes, framing, and the answers' meaning.
//! Answer bodies follow the shapes in the Proxmox VE API viewer
//! (pve.proxmox.com/pve-docs/api-viewer) for the four calls.

use super::*;
use alloc::vec;
use std::string::String;

fn api() -> Api {
    Api::new(
        "pve.lab:8006",
        ApiToken::new("kiosk@pve!room1", "0d4c-secret").unwrap(),
    )
}

fn vm() -> VmRef {
    VmRef::new("pve1", 104).unwrap()
}

fn answer(code: u16, reason: &str, body: &str) -> Response {
    let raw = std::format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    ResponseReader::new().push(raw.as_bytes()).unwrap().unwrap()
}

#[test]
fn request_carries_token_header_and_path() {
    let r = String::from_utf8(api().spiceproxy(&vm(), Some("10.0.0.5"))).unwrap();
    assert!(
        r.starts_with("POST /api2/json/nodes/pve1/qemu/104/spiceproxy HTTP/1.1\r\n"),
        "{r}"
    );
    assert!(r.contains("\r\nHost: pve.lab:8006\r\n"));
    assert!(r.contains("\r\nAuthorization: PVEAPIToken=kiosk@pve!room1=0d4c-secret\r\n"));
    assert!(
        r.ends_with("Content-Length: 14\r\n\r\nproxy=10.0.0.5"),
        "{r}"
    );
    let g = String::from_utf8(api().status(&vm())).unwrap();
    assert!(g.starts_with("GET /api2/json/nodes/pve1/qemu/104/status/current HTTP/1.1\r\n"));
    assert!(!g.contains("Content-Length"));
    let s = String::from_utf8(api().resources()).unwrap();
    assert!(s.starts_with("GET /api2/json/cluster/resources?type=vm HTTP/1.1\r\n"));
}

#[test]
fn secret_never_in_debug() {
    let d = std::format!("{:?}", api());
    assert!(!d.contains("0d4c-secret"), "{d}");
    assert!(d.contains("kiosk@pve!room1"));
}

#[test]
fn token_and_node_shapes_checked() {
    assert!(ApiToken::new("kiosk@pve", "x").is_err());
    assert!(ApiToken::new("kiosk!t", "x").is_err());
    assert!(ApiToken::new("kiosk@pve!t", "").is_err());
    assert!(ApiToken::new("kiosk@pve!t", "a b").is_err());
    assert!(ApiToken::new("kiosk@pve!t", "a\r\nX: y").is_err());
    assert!(VmRef::new("pve1/../x", 1).is_err());
    assert!(VmRef::new("", 1).is_err());
}

#[test]
fn api_url() {
    assert_eq!(
        parse_api_url("https://pve.lab:8006").unwrap(),
        ("pve.lab".into(), 8006)
    );
    assert_eq!(
        parse_api_url("https://10.0.0.2/").unwrap(),
        ("10.0.0.2".into(), 8006)
    );
    assert!(parse_api_url("http://pve.lab:8006").is_err());
    assert!(parse_api_url("https://:8006").is_err());
    assert!(parse_api_url("https://h:99999").is_err());
}

#[test]
fn framing_content_length_split_anywhere() {
    let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{\"data\":1}\nEXTRA";
    for cut in 0..raw.len() {
        let mut r = ResponseReader::new();
        let first = r.push(&raw[..cut]).unwrap();
        let got = first
            .or_else(|| r.push(&raw[cut..]).unwrap())
            .expect("complete");
        assert_eq!(got.body, b"{\"data\":1}\n");
        assert_eq!(got.code, 200);
    }
}

#[test]
fn framing_chunked_and_close() {
    let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"da\r\n7;x=1\r\nta\":2}\n\r\n0\r\n\r\n";
    let mut r = ResponseReader::new();
    let mut done = None;
    for b in raw.iter() {
        if let Some(x) = r.push(&[*b]).unwrap() {
            done = Some(x);
            break;
        }
    }
    assert_eq!(done.unwrap().body, b"{\"data\":2}\n");
    let mut r = ResponseReader::new();
    assert_eq!(
        r.push(b"HTTP/1.0 200 OK\r\n\r\n{\"data\":3}").unwrap(),
        None
    );
    assert_eq!(r.finish().unwrap().body, b"{\"data\":3}");
    let mut r = ResponseReader::new();
    r.push(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort")
        .unwrap();
    assert!(matches!(r.finish(), Err(ApiError::Malformed(_))));
}

#[test]
fn framing_bounded_and_malformed() {
    let mut r = ResponseReader::new();
    assert!(r
        .push(b"HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n")
        .is_err());
    let mut r = ResponseReader::new();
    let big = vec![b'a'; MAX_HEADER + 10];
    assert!(r.push(&big).is_err());
    let mut r = ResponseReader::new();
    assert!(r.push(b"SSH-2.0-x\r\n\r\n").is_err());
    let mut r = ResponseReader::new();
    assert!(r
        .push(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
        .is_err());
    let mut r = ResponseReader::new();
    assert!(r
        .push(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFF\r\n")
        .is_err());
    let mut r = ResponseReader::new();
    let chunk = vec![b'x'; 1000];
    r.push(b"HTTP/1.1 200 OK\r\n\r\n").unwrap();
    let mut failed = false;
    for _ in 0..(MAX_RESPONSE / 1000 + 2) {
        if r.push(&chunk).is_err() {
            failed = true;
            break;
        }
    }
    assert!(failed, "a body without length must still be capped");
}

#[test]
fn status_running_and_stopped() {
    let run = answer(
        200,
        "OK",
        r#"{"data":{"status":"running","qmpstatus":"running","vmid":104,"name":"kiosk"}}"#,
    );
    assert!(parse_status(&run, &vm()).unwrap());
    let stop = answer(200, "OK", r#"{"data":{"status":"stopped","vmid":104}}"#);
    assert!(!parse_status(&stop, &vm()).unwrap());
    assert!(matches!(
        parse_status(&answer(200, "OK", "{\"data\":{}}"), &vm()),
        Err(ApiError::Malformed(_))
    ));
    assert!(matches!(
        parse_status(&answer(200, "OK", "not json"), &vm()),
        Err(ApiError::Malformed(_))
    ));
}

#[test]
fn start_returns_upid() {
    let a = answer(
        200,
        "OK",
        r#"{"data":"UPID:pve1:0001:0002:6553F00D:qmstart:104:kiosk@pve!room1:"}"#,
    );
    assert!(parse_start(&a, &vm()).unwrap().starts_with("UPID:pve1:"));
}

#[test]
fn error_statuses_mean_something() {
    let e = parse_status(
        &answer(401, "authentication failure", r#"{"data":null}"#),
        &vm(),
    )
    .unwrap_err();
    assert_eq!(e, ApiError::TokenRefused);
    assert!(std::format!("{e}").contains("401"));
    let e = parse_spiceproxy(
        &answer(
            403,
            "Permission check failed (/vms/104, VM.Console)",
            r#"{"data":null}"#,
        ),
        &vm(),
    )
    .unwrap_err();
    let shown = std::format!("{e}");
    assert!(
        shown.contains("VM.Console") && shown.contains("/vms/104"),
        "{shown}"
    );
    let e = parse_status(
        &answer(
            500,
            "Configuration file 'nodes/pve1/qemu-server/104.conf' does not exist",
            r#"{"data":null}"#,
        ),
        &vm(),
    )
    .unwrap_err();
    assert!(matches!(e, ApiError::VmNotFound { .. }), "{e:?}");
    let e = parse_status(&answer(595, "No route to host", ""), &vm()).unwrap_err();
    assert!(matches!(e, ApiError::NodeUnreachable { .. }));
}

#[test]
fn find_vm_by_name() {
    let body = r#"{"data":[
        {"id":"qemu/101","type":"qemu","vmid":101,"node":"pve2","name":"office","status":"running"},
        {"id":"lxc/200","type":"lxc","vmid":200,"node":"pve1","name":"kiosk","status":"running"},
        {"id":"qemu/104","type":"qemu","vmid":104,"node":"pve1","name":"kiosk","status":"stopped"}]}"#;
    assert_eq!(find_vm(&answer(200, "OK", body), "kiosk").unwrap(), vm());
    assert!(matches!(
        find_vm(&answer(200, "OK", body), "nope"),
        Err(ApiError::VmNotFound { .. })
    ));
    let twice = r#"{"data":[{"type":"qemu","vmid":1,"node":"a","name":"k"},{"type":"qemu","vmid":2,"node":"b","name":"k"}]}"#;
    assert!(matches!(
        find_vm(&answer(200, "OK", twice), "k"),
        Err(ApiError::Ambiguous { .. })
    ));
}

const SPICEPROXY: &str = r#"{"data":{"type":"spice","title":"VM 104 - kiosk","host":"pvespiceproxy:6553f00d:104:pve1::0a1b2c","proxy":"http://10.0.0.5:3128","tls-port":61000,"password":"pw-once","ca":"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n","host-subject":"OU=PVE Cluster Node,O=Proxmox Virtual Environment,CN=pve1.lab","secure-attention":"Ctrl+Alt+Ins","delete-this-file":1,"release-cursor":"Ctrl+Alt+R","toggle-fullscreen":"Shift+F11"}}"#;

#[test]
fn spiceproxy_description() {
    let t = parse_spiceproxy(&answer(200, "OK", SPICEPROXY), &vm()).unwrap();
    assert_eq!(t.host, "pvespiceproxy:6553f00d:104:pve1::0a1b2c");
    assert_eq!(t.proxy.as_deref(), Some("http://10.0.0.5:3128"));
    assert_eq!(t.tls_port, 61000);
    assert_eq!(t.password, "pw-once");
    assert!(!std::format!("{t:?}").contains("pw-once"));
    let vv = t.to_vv();
    assert!(
        vv.contains("\nca=-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n\n"),
        "{vv}"
    );
    assert!(vv.contains("\ntls-port=61000\n") && vv.contains("\nsecure-channels=all\n"));
    let no_port = SPICEPROXY.replace("\"tls-port\":61000", "\"tls-port\":0");
    assert!(parse_spiceproxy(&answer(200, "OK", &no_port), &vm()).is_err());
    let str_port = SPICEPROXY.replace("\"tls-port\":61000", "\"tls-port\":\"61001\"");
    assert_eq!(
        parse_spiceproxy(&answer(200, "OK", &str_port), &vm())
            .unwrap()
            .tls_port,
        61001
    );
    let ctl = SPICEPROXY.replace("pw-once", "pw\\nonce");
    assert!(parse_spiceproxy(&answer(200, "OK", &ctl), &vm()).is_err());
}
