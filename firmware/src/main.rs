//! barespice firmware: a bare-metal SPICE thin client.
//!
//! Owns the application: configuration (the `.vv` initrd + `spice.*` kernel
//! command line, parsed by `barespice-config`), and the embassy tasks —
//! network ([`net`]: embassy-net, DHCPv4, DNS), connection/kiosk loop
//! ([`connection`]), SPICE session ([`session`], spice-core inside),
//! Proxmox kiosk tickets ([`pve`]), presenter ([`presenter`]: status
//! screen or remote desktop), input
//! ([`input`]). Must not: touch registers (that is `barespice-board`) or
//! contain protocol bytes (that is `spice-core`). No `unsafe` here.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

extern crate alloc;

mod audio;
mod clock;
mod connection;
mod heap_log;
mod input;
mod keys;
mod net;
mod presenter;
mod pve;
mod rig;
mod screen;
mod session;
mod sntp;
mod status;
mod transport;
mod usbredir;

use alloc::format;
use barespice_board::{BoardOptions, Spawner};
use embassy_net::StackResources;
use rand_core::RngCore;
use static_cell::StaticCell;

use status::Step;

barespice_boot::entry!(main);

/// Sockets: DHCP, DNS, SNTP, the Proxmox API connection, and one TCP socket
/// per SPICE channel (main, display, inputs, cursor, playback, USB
/// redirection, and their TLS relinks: `session::MAX_CHANNELS`).
const SOCKETS: usize = 18;

fn main(info: barespice_boot::BootInfo) -> ! {
    let early = match barespice_board::early_init(&info) {
        Ok(e) => e,
        Err(msg) => barespice_boot::fatal::die(msg),
    };
    defmt::info!(
        "timeline: entry barespice {=str}, EL{=u8} at entry, image {=u64:#x}..{=u64:#x}, heap {=u64} MiB",
        env!("CARGO_PKG_VERSION"),
        info.entry_el,
        info.image.start,
        info.image.end,
        (info.heap.end - info.heap.start) >> 20
    );
    barespice_boot::fatal::set_screen_hook(presenter::fatal_screen);

    let bootargs = early.bootargs;
    let (cfg, issues) = barespice_config::load(early.initrd, bootargs);
    defmt::info!(
        "config: {=usize}-byte .vv, cmdline {=str}",
        early.initrd.len(),
        barespice_config::masked_cmdline(early.bootargs).as_str()
    );
    for i in &issues {
        defmt::warn!("config: {=str}", format!("{i}").as_str());
    }

    usbredir::install_policy(&cfg);
    let board = early.devices(BoardOptions {
        fb_width: cfg.resolution.0,
        fb_height: cfg.resolution.1,
        fb_from_monitor: !cfg.resolution_given,
    });
    let mut rng = board.rng;
    audio::install(&board.audio);
    let sink = board.audio;
    // TLS key exchange draws from getrandom: seed it from the board RNG.
    barespice_board::install_getrandom(&mut rng);
    presenter::install(board.framebuffer, board.name);
    presenter::set_display_mode(cfg.display);
    status::done(
        Step::Firmware,
        format!("{} {}", board.name, env!("CARGO_PKG_VERSION")),
    );
    for i in &issues {
        status::note(format!("{i}"));
    }
    let server = match (&cfg.host, cfg.port, cfg.tls_port) {
        _ if cfg.pve.enabled() => pve::describe(&cfg.pve),
        (Some(h), Some(p), _) => format!("{h}:{p}"),
        (Some(h), None, Some(t)) => format!("{h}:{t} (TLS)"),
        _ => String::from("?"),
    };
    status::set_title(
        cfg.title
            .clone()
            .unwrap_or_else(|| format!("Server {server}")),
    );
    let ready = match cfg.missing() {
        Some(why) => {
            status::failed(
                Step::Configuration,
                why,
                "the .vv file given as initrd, or spice.host=/spice.port= on the command line",
            );
            false
        }
        None => {
            status::done(Step::Configuration, format!("server {server}"));
            true
        }
    };

    // Test hooks for the fatal path (never used in normal operation).
    let self_test = match barespice_config::barespice_option(bootargs, "test").as_deref() {
        Some("panic") => Some(SelfTest::Panic),
        Some("fault") => Some(SelfTest::Fault),
        _ => None,
    };
    // Test-rig oracle: `frame:` lines with the remote surface's digest.
    if barespice_config::barespice_option(bootargs, "rig").as_deref() == Some("1") {
        rig::enable();
    }

    barespice_board::executor::run(move |spawner: Spawner| {
        spawner.spawn(presenter::task().expect("presenter task"));
        if let Some(t) = self_test {
            spawner.spawn(fail_later(t).expect("self-test task"));
        }
        spawner.spawn(input::task(board.input).expect("input task"));
        if let Some(sink) = sink {
            let target = audio::target_ms(bootargs);
            spawner.spawn(audio::task(sink, target).expect("audio task"));
        }
        spawner.spawn(bringup_reports().expect("bring-up report task"));
        spawner.spawn(heap_log::task().expect("heap log task"));
        if let Some(service) = board.service {
            spawner.spawn(board_service(service).expect("board service task"));
        }
        let Some(nic) = board.nic else {
            status::failed(
                Step::Link,
                "no network interface found",
                "the network hardware (QEMU: -device virtio-net-device)",
            );
            return;
        };
        static RESOURCES: StaticCell<StackResources<SOCKETS>> = StaticCell::new();
        let (stack, runner) = embassy_net::new(
            nic,
            embassy_net::Config::dhcpv4(Default::default()),
            RESOURCES.init(StackResources::new()),
            rng.next_u64(),
        );
        spawner.spawn(net::runner(runner).expect("net task"));
        if ready {
            spawner.spawn(connection::task(stack, cfg, rng).expect("connection task"));
        } else {
            spawner.spawn(dhcp_only(stack).expect("dhcp task"));
        }
    })
}

use alloc::string::String;

/// Deliberate failures to check the fatal path (`barespice.test=panic|fault`
/// on the kernel command line).
#[derive(Clone, Copy)]
enum SelfTest {
    Panic,
    Fault,
}

#[embassy_executor::task]
async fn fail_later(t: SelfTest) {
    embassy_time::Timer::after(embassy_time::Duration::from_secs(2)).await;
    match t {
        SelfTest::Panic => panic!("self-test: barespice.test=panic on the command line"),
        SelfTest::Fault => {
            let v = barespice_boot::cpu::fault_for_test();
            defmt::error!("self-test fault returned {=u64}", v);
        }
    }
}

/// The board's own background work (the USB host stack on the Raspberry Pis).
#[embassy_executor::task]
async fn board_service(
    service: core::pin::Pin<alloc::boxed::Box<dyn core::future::Future<Output = ()>>>,
) {
    service.await;
    // It only ends when it failed: show why on the status screen.
    if let Some((detail, hint)) = barespice_board::usb::host::failure() {
        status::failed(Step::Link, detail, hint);
    }
}

/// Shows the board's hardware bring-up results on the status screen: what
/// works, what has no driver yet, and for a failure what to check (absent
/// devices only go to the log).
#[embassy_executor::task]
async fn bringup_reports() {
    use barespice_board::bringup::{next, Outcome};
    loop {
        let r = next().await;
        match r.outcome {
            Outcome::Ok | Outcome::Unsupported => status::part_note(r.part, r.detail),
            Outcome::Failed => {
                status::part_note(r.part, format!("FAILED: {} (check: {})", r.detail, r.check))
            }
            Outcome::Absent => {}
        }
    }
}

/// Without a usable configuration: still bring the network up, so the
/// status screen shows what works.
#[embassy_executor::task]
async fn dhcp_only(stack: embassy_net::Stack<'static>) {
    net::wait_ready(stack).await;
}
