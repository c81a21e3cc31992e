//! barespice-host against a hostile scripted SPICE server on 127.0.0.1.
//!
//! The server does a real link handshake (link reply with an RSA-1024 key,
//! the client's OAEP-SHA1 ticket decrypted and checked against the password)
//! and then, on the display channel, one of: an oversized image, a surface
//! flood, a pixmap-cache flood (many tiny entries, or large images past the
//! size the client announced), an endless message length, a slow drip or
//! garbage. Each must end the session with a clear one-line reason (and its
//! exit code), and, run in-process under a counting global allocator, every
//! byte the session allocated must be freed again (live heap back to its
//! baseline). The pictures against the real QEMU server are tests/e2e's.

mod common;

use barespice_host::{args, client};
use common::{hold_open, mini, read_link, send_link_reply, serve_main};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use rsa::pkcs8::EncodePublicKey;
use rsa::{Oaep, RsaPrivateKey};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// Counts the bytes live on the heap of this test binary, except those
/// of the scripted server's threads.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
/// The most bytes live at once since it was last reset.
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn add(n: usize) {
    let now = LIVE.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

thread_local! {
    /// Set on the scripted server's threads: their allocations are not the client's.
    static UNCOUNTED: Cell<bool> = const { Cell::new(false) };
}

fn counted() -> bool {
    !UNCOUNTED.try_with(Cell::get).unwrap_or(true)
}

// SAFETY: forwards every call to the system allocator unchanged and only
// adds bookkeeping on the side.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(l) };
        if !p.is_null() && counted() {
            add(l.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc_zeroed(l) };
        if !p.is_null() && counted() {
            add(l.size());
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(p, l) };
        if counted() {
            LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let q = unsafe { System.realloc(p, l, new) };
        if !q.is_null() && counted() {
            LIVE.fetch_sub(l.size(), Ordering::Relaxed);
            add(new);
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const PASSWORD: &[u8] = b"hostile";

/// What the display channel sends after linking.
#[derive(Clone, Copy, Debug)]
enum Attack {
    /// DRAW_COPY of an LZ_RGB image whose 28-byte header claims 4096 x 4096.
    OversizedLz,
    /// SURFACE_CREATE of 4096 x 4096 surfaces, one id after another.
    SurfaceFlood,
    /// DRAW_COPYs of 1x1 bitmaps, each with CACHE_ME and a new id.
    CacheFlood,
    /// DRAW_COPYs of 1024x1024 1-bit bitmaps, each with CACHE_ME and a new
    /// id, never invalidated: one image more than the pixmap cache size the
    /// client announced in DISPLAY_INIT.
    CacheOverflow,
    /// A header announcing a 1 GiB message, then a trickle of its body.
    EndlessLength,
    /// A valid SURFACE_CREATE dripped one byte every 500 ms.
    SlowDrip,
    /// Random bytes.
    Garbage,
}

fn le(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// SURFACE_CREATE (314): id, width, height, format 32_xRGB, flags.
fn surface_create(id: u32, w: u32, h: u32, primary: bool) -> Vec<u8> {
    mini(314, &le(&[id, w, h, 32, primary as u32]))
}

/// DRAW_COPY (304) onto surface 0 of the image that follows the fixed part.
fn draw_copy(image: &[u8]) -> Vec<u8> {
    // DisplayBase: surface, box (l,t,r,b), clip type NONE.
    let mut b = le(&[0, 0, 0, 1, 1]);
    b.push(0);
    // Copy: src_bitmap ptr, src_area, rop descriptor u16 (COPY=8), scale
    // mode u8, mask (flags u8, pos x/y, bitmap ptr 0).
    let ptr = (b.len() + 4 + 16 + 2 + 1 + 1 + 8 + 4) as u32;
    b.extend_from_slice(&le(&[ptr, 0, 0, 1, 1]));
    b.extend_from_slice(&8u16.to_le_bytes());
    b.push(0);
    b.push(0);
    b.extend_from_slice(&le(&[0, 0, 0]));
    assert_eq!(b.len(), ptr as usize);
    b.extend_from_slice(image);
    mini(304, &b)
}

/// SpiceImageDescriptor: id, type, flags, width, height.
fn descriptor(id: u64, kind: u8, flags: u8, w: u32, h: u32) -> Vec<u8> {
    let mut d = id.to_le_bytes().to_vec();
    d.push(kind);
    d.push(flags);
    d.extend_from_slice(&le(&[w, h]));
    d
}

/// The pixmap_cache_size (pixels) of the client's DISPLAY_INIT (101).
fn announced_pixmap_cache(s: &mut TcpStream) -> std::io::Result<i64> {
    loop {
        let mut h = [0u8; 6];
        s.read_exact(&mut h)?;
        let size = u32::from_le_bytes([h[2], h[3], h[4], h[5]]) as usize;
        assert!(size <= 4096, "client message of {size} bytes");
        let mut body = vec![0u8; size];
        s.read_exact(&mut body)?;
        if u16::from_le_bytes([h[0], h[1]]) == 101 {
            return Ok(i64::from_le_bytes(body[1..9].try_into().unwrap()));
        }
    }
}

/// DRAW_COPY of a valid `side` x `side` 1-bit bitmap (a two-colour palette
/// after its data, every pixel colour 0) flagged CACHE_ME as `id`.
fn cached_bitmap(id: u64, side: u32) -> Vec<u8> {
    let stride = side / 8;
    let fixed = draw_copy(&[]).len() - 6;
    let pal_ptr = (fixed + 18 + 2 + 12 + 4) as u32 + stride * side;
    let mut img = descriptor(id, 0, 1, side, side); // BITMAP, CACHE_ME
    img.extend_from_slice(&[2, 4]); // 1BIT_BE, TOP_DOWN
    img.extend_from_slice(&le(&[side, side, stride, pal_ptr]));
    img.resize(img.len() + (stride * side) as usize, 0);
    img.extend_from_slice(&id.to_le_bytes());
    img.extend_from_slice(&2u16.to_le_bytes());
    img.extend_from_slice(&le(&[0x0033_6699, 0x00ff_ffff]));
    draw_copy(&img)
}

fn attack(s: &mut TcpStream, a: Attack) -> std::io::Result<()> {
    match a {
        Attack::OversizedLz => {
            s.write_all(&surface_create(0, 64, 64, true))?;
            let mut img = descriptor(1, 101, 0, 1, 1); // LZ_RGB
            let header: Vec<u8> = [0x2020_5a4cu32, 0x0001_0001, 8, 4096, 4096, 16384, 1]
                .iter()
                .flat_map(|w| w.to_be_bytes())
                .collect();
            img.extend_from_slice(&(header.len() as u32).to_le_bytes());
            img.extend_from_slice(&header);
            s.write_all(&draw_copy(&img))?;
        }
        Attack::SurfaceFlood => {
            for id in 0..64 {
                s.write_all(&surface_create(id, 4096, 4096, id == 0))?;
            }
        }
        Attack::CacheFlood => {
            s.write_all(&surface_create(0, 64, 64, true))?;
            let mut burst = Vec::new();
            for id in 0..100_000u64 {
                // BITMAP 32BIT top-down 1x1 stride 4, no palette, one pixel.
                let mut img = descriptor(id, 0, 1, 1, 1); // CACHE_ME
                img.extend_from_slice(&[8, 4]);
                img.extend_from_slice(&le(&[1, 1, 4, 0, 0x00ff_00ff]));
                burst.extend_from_slice(&draw_copy(&img));
                if burst.len() > 1 << 16 {
                    s.write_all(&burst)?;
                    burst.clear();
                }
            }
            s.write_all(&burst)?;
        }
        Attack::CacheOverflow => {
            let pixels = announced_pixmap_cache(s)?;
            s.write_all(&surface_create(0, 64, 64, true))?;
            for id in 1..=(pixels.max(0) as u64 >> 20) + 1 {
                s.write_all(&cached_bitmap(id, 1024))?;
            }
        }
        Attack::EndlessLength => {
            let mut h = 304u16.to_le_bytes().to_vec();
            h.extend_from_slice(&(1u32 << 30).to_le_bytes());
            s.write_all(&h)?;
            loop {
                s.write_all(&[0u8; 4096])?;
                thread::sleep(Duration::from_millis(5));
            }
        }
        Attack::SlowDrip => {
            for b in surface_create(0, 64, 64, true) {
                s.write_all(&[b])?;
                thread::sleep(Duration::from_millis(500));
            }
        }
        Attack::Garbage => {
            let mut g = vec![0u8; 64 * 1024];
            StdRng::seed_from_u64(12).fill_bytes(&mut g);
            s.write_all(&g)?;
        }
    }
    Ok(())
}

fn serve_one(mut s: TcpStream, key: &RsaPrivateKey, der: &[u8], a: Attack) -> std::io::Result<()> {
    let channel_type = read_link(&mut s)?;
    send_link_reply(&mut s, 0, der)?;
    // SpiceLinkAuthMechanism (AUTH_SPICE), then the 128-byte RSA ticket.
    let mut auth = [0u8; 4];
    s.read_exact(&mut auth)?;
    let mut ticket = [0u8; 128];
    s.read_exact(&mut ticket)?;
    let plain = key
        .decrypt(Oaep::new::<sha1::Sha1>(), &ticket)
        .map_err(std::io::Error::other)?;
    let ok = plain.strip_suffix(&[0]) == Some(PASSWORD);
    s.write_all(&(if ok { 0u32 } else { 7 }).to_le_bytes())?;
    if !ok {
        return Ok(());
    }
    match channel_type {
        1 => serve_main(&mut s)?,
        2 => attack(&mut s, a)?,
        _ => {}
    }
    hold_open(&mut s)
}

fn start(a: Attack) -> u16 {
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
        UNCOUNTED.with(|u| u.set(true));
        for s in l.incoming().flatten() {
            let (key, der) = (key.clone(), der.clone());
            thread::spawn(move || {
                UNCOUNTED.with(|u| u.set(true));
                let _ = serve_one(s, &key, &der, a);
            });
        }
    });
    port
}

fn password_file() -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("rel-hostile-pw-{}", std::process::id()));
    std::fs::write(&p, PASSWORD).unwrap();
    p
}

/// The memory budget each attack runs under: enough for the caches the
/// client announces (55 MiB: the GLZ window with its ring, the pixmap
/// cache) and a little more, so floods hit it quickly.
fn budget_mib(a: Attack) -> &'static str {
    match a {
        Attack::CacheFlood => "64",
        Attack::OversizedLz => "256",
        _ => "160",
    }
}

fn argv(port: u16, a: Attack) -> Vec<String> {
    let snap = std::env::temp_dir().join(format!("rel-hostile-{}-{port}.png", std::process::id()));
    let mut v: Vec<String> = ["--server", &format!("127.0.0.1:{port}"), "--snapshot"]
        .map(String::from)
        .to_vec();
    v.push(snap.display().to_string());
    v.extend([
        "--password-file".to_string(),
        password_file().display().to_string(),
    ]);
    v.extend(["--timeout-s", "4", "--memory-budget-mib", budget_mib(a)].map(String::from));
    v
}

/// The barespice-host binary against `a`: (exit code, stderr).
fn run_binary(a: Attack) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_barespice-host"))
        .args(argv(start(a), a))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The client library in this process against `a`: its error, the live
/// heap bytes left over compared with before (after the client's reader
/// threads have seen their sockets close), and the most it held meanwhile.
fn run_in_process(a: Attack) -> (String, isize, usize) {
    let port = start(a);
    let args = args::parse(argv(port, a).into_iter()).unwrap();
    let before = LIVE.load(Ordering::SeqCst) as isize;
    PEAK.store(before as usize, Ordering::SeqCst);
    let err = match client::run(args).expect_err("a hostile server must end the session") {
        client::Exit::Failure(f) => f.to_string(),
        client::Exit::Other(s) => s,
    };
    // The client's reader threads end once the server side closes (it does
    // when the client's sockets are gone); give them a moment.
    let t = Instant::now();
    let mut left = LIVE.load(Ordering::SeqCst) as isize - before;
    while left > 0 && t.elapsed() < Duration::from_secs(5) {
        thread::sleep(Duration::from_millis(50));
        left = LIVE.load(Ordering::SeqCst) as isize - before;
    }
    (err, left, PEAK.load(Ordering::SeqCst) - before as usize)
}

/// Bytes a finished session may leave live (thread and I/O runtime state
/// the standard library keeps once created, never a session's buffers).
const SLACK: isize = 64 * 1024;

/// Run `a` through the binary and in-process; returns the session's peak
/// heap use above its baseline.
fn check(a: Attack, reason: &str, code: i32) -> usize {
    let (rc, err) = run_binary(a);
    assert_eq!(err.lines().count(), 1, "{a:?}: {err}");
    assert!(
        err.starts_with("barespice-host: ") && err.contains(reason),
        "{a:?}: {err}"
    );
    assert_eq!(rc, code, "{a:?}: {err}");
    let (err, left, peak) = run_in_process(a);
    assert!(err.contains(reason), "{a:?}: {err}");
    assert!(
        left <= SLACK,
        "{a:?}: {left} bytes still live after the session ended"
    );
    eprintln!(
        "{a:?}: peak {} KiB above baseline, {left} bytes left after teardown: {err}",
        peak >> 10
    );
    peak
}

/// All attacks in one test, one after another, so that the live-byte count
/// sees one client session at a time.
#[test]
fn every_attack_ends_the_session_with_its_reason_and_frees_everything() {
    // The 28-byte LZ header claiming 4096 x 4096 is refused before its
    // 64 MiB exist (the budget here would allow them).
    let peak = check(
        Attack::OversizedLz,
        "LZ image larger than its data can encode",
        11,
    );
    assert!(
        peak < 16 << 20,
        "the LZ header made the client allocate {peak} bytes"
    );
    // The first 64 MiB surface is held (so the count sees the session), the
    // second does not fit the 160 MiB budget with the 55 MiB of caches.
    let peak = check(
        Attack::SurfaceFlood,
        "memory budget exceeded by a surface",
        12,
    );
    assert!(
        (64 << 20..128 << 20).contains(&peak),
        "surface flood peak {peak}"
    );
    let peak = check(
        Attack::CacheFlood,
        "memory budget exceeded by the pixmap cache",
        12,
    );
    assert!(
        peak < 64 << 20,
        "cache flood peak {peak} beyond the 64 MiB budget"
    );
    // Large valid images within the budget, but one past the announced
    // cache size: a server that ignores the size it was told is refused
    // rather than having the client evict on its behalf.
    let peak = check(
        Attack::CacheOverflow,
        "pixmap cache over its announced size",
        11,
    );
    assert!(
        peak < 64 << 20,
        "cache overflow peak {peak} beyond the announced cache and one image"
    );
    check(Attack::EndlessLength, "message size over limit", 11);
    check(
        Attack::SlowDrip,
        "timeout after 4 s: no display frame received",
        1,
    );
    check(Attack::Garbage, "protocol error on display channel 0", 11);
}
