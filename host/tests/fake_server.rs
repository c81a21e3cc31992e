//! barespice-host against a scripted fake SPICE server on 127.0.0.1: the
//! one-line failure messages and exit codes. (Pictures are checked against
//! the real QEMU server by tests/e2e.)

mod common;

use common::{hold_open, mini, read_link, send_link_reply, serve_main};
use rand::rngs::StdRng;
use rand::SeedableRng;
use rsa::pkcs8::EncodePublicKey;
use rsa::RsaPrivateKey;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::thread;

/// What the fake server does.
#[derive(Clone, Copy)]
enum Script {
    /// Refuse every link with this SPICE_LINK_ERR_* in the link result.
    RefuseResult(u32),
    /// Refuse every link in the link reply itself.
    RefuseReply(u32),
    /// Link everything; MAIN lists display 0; display sends a truncated DRAW_COPY.
    BadDrawCopy,
}

fn serve_one(mut s: TcpStream, der: &[u8], script: Script) -> std::io::Result<()> {
    let channel_type = read_link(&mut s)?;
    let reply_error = match script {
        Script::RefuseReply(e) => e,
        _ => 0,
    };
    send_link_reply(&mut s, reply_error, der)?;
    if reply_error != 0 {
        return Ok(());
    }
    let mut auth_and_ticket = [0u8; 132];
    s.read_exact(&mut auth_and_ticket)?;
    let result = match script {
        Script::RefuseResult(e) => e,
        _ => 0,
    };
    s.write_all(&result.to_le_bytes())?;
    if result != 0 {
        return Ok(());
    }
    match channel_type {
        1 => serve_main(&mut s)?,
        2 => s.write_all(&mini(304, &[1, 2, 3]))?,
        _ => {}
    }
    hold_open(&mut s)
}

fn start(script: Script) -> u16 {
    let key = RsaPrivateKey::new(&mut StdRng::seed_from_u64(3), 1024).unwrap();
    let der = key
        .to_public_key()
        .to_public_key_der()
        .unwrap()
        .as_bytes()
        .to_vec();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    thread::spawn(move || {
        for s in l.incoming().flatten() {
            let der = der.clone();
            thread::spawn(move || {
                let _ = serve_one(s, &der, script);
            });
        }
    });
    port
}

/// Run the client against `port`; returns (exit code, stderr).
fn run_client(port: u16) -> (i32, String) {
    let snap = std::env::temp_dir().join(format!("bs-fake-{}-{port}.png", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_barespice-host"))
        .args(["--server", &format!("127.0.0.1:{port}"), "--snapshot"])
        .arg(&snap)
        .args(["--timeout-s", "10"])
        .output()
        .unwrap();
    assert!(!snap.exists(), "no snapshot on failure");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn wrong_password_is_one_line() {
    let (rc, err) = run_client(start(Script::RefuseResult(7)));
    assert_eq!(rc, 10);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("barespice-host: wrong password, or ticket expired or already used, get a new connection file (check password="), "{err}");
}

#[test]
fn tls_required_is_one_line() {
    let (rc, err) = run_client(start(Script::RefuseReply(5)));
    assert_eq!(rc, 11);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("barespice-host: protocol error: main channel 0: server requires TLS (NEED_SECURED) but the connection has no tls-port"), "{err}");
}

#[test]
fn malformed_display_message_names_channel_message_and_offset() {
    let (rc, err) = run_client(start(Script::BadDrawCopy));
    assert_eq!(rc, 11);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(
            "barespice-host: protocol error on display channel 0, message 304, offset "
        ),
        "{err}"
    );
}

#[test]
fn connection_refused_names_the_address() {
    // Bind then drop a listener to get a port nobody listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (rc, err) = run_client(port);
    assert_eq!(rc, 4);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "barespice-host: connection refused by 127.0.0.1:{port} (check "
        )),
        "{err}"
    );
}
