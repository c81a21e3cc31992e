//! The kiosk connection loop: set the clock, for a Proxmox kiosk fetch a
//! fresh ticket (`pve`), resolve the server (or the proxy), build the [`Route`] every channel connects by (`transport` opens
//! them), run the session, and when anything fails show why on the status
//! screen and try again with exponential back-off (1 s doubling up to the
//! configured maximum), resuming by itself.
//! Must not: parse or build SPICE messages (spice-core's session does), or
//! open sockets itself (`transport` does; `session` uses it too, so neither
//! imports the other's loop).

use alloc::format;
use barespice_board::BoardRng;
use barespice_config::Config;
use barespice_transport::proxy::ProxyAddr;
use barespice_transport::Trust;
use embassy_net::Stack;
use embassy_time::{Duration, Instant, Timer};

use crate::net;
use crate::presenter;
use crate::status::{self, Step};
use crate::transport::{Failure, Route};

/// A session that lasted this long resets the back-off.
const STABLE: Duration = Duration::from_secs(60);

/// Runs connection attempts for ever.
#[embassy_executor::task]
pub async fn task(stack: Stack<'static>, cfg: Config, mut rng: BoardRng) {
    net::wait_ready(stack).await;
    set_clock(stack, &cfg).await;
    let mut backoff = 1u32;
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        status::banner(None);
        status::reset_from(Step::Proxmox);
        let started = Instant::now();
        // A Proxmox kiosk asks the API for a fresh one-time ticket first.
        let failure = match cfg.pve.enabled() {
            true => match crate::pve::fresh_config(stack, &cfg).await {
                Ok(ticketed) => attempt_once(stack, &ticketed, &mut rng).await,
                Err(f) => f,
            },
            false => attempt_once(stack, &cfg, &mut rng).await,
        };
        presenter::show_status();
        status::failed(failure.step, failure.detail, failure.hint);
        // The status screen shows the failure before the heap line.
        presenter::settled().await;
        crate::heap_log::log("after teardown");
        if started.elapsed() > STABLE {
            backoff = 1;
        }
        // The banner is only on screen; say it in the log too (tests and headless setups read it).
        defmt::info!(
            "reconnecting in {=u32} s (attempt {=u32})",
            backoff,
            attempt + 1
        );
        for left in (1..=backoff).rev() {
            status::banner(Some(format!(
                "Reconnecting in {left} s (attempt {})",
                attempt + 1
            )));
            Timer::after(Duration::from_secs(1)).await;
        }
        backoff = (backoff * 2).min(cfg.reconnect_max_secs.max(1));
    }
}

/// SNTP when `x-barespice-ntp` is set; otherwise (or when it fails) the
/// status screen says the clock is unknown and which rule applies.
async fn set_clock(stack: Stack<'static>, cfg: &Config) {
    let build = barespice_transport::failure::date(crate::clock::build_time());
    // TLS: the SPICE TLS port, or the Proxmox API (always HTTPS).
    if cfg.tls_port.is_none() && !cfg.pve.enabled() {
        return;
    }
    if let Some(server) = &cfg.ntp {
        match crate::sntp::query(stack, server).await {
            Ok(t) => {
                crate::clock::set_now(t);
                let text = format!(
                    "clock: SNTP {server}: {}",
                    barespice_transport::failure::date(t)
                );
                defmt::info!("{=str}", text.as_str());
                status::note(text);
                return;
            }
            Err(e) => defmt::warn!("clock: SNTP {=str}: {=str}", server.as_str(), e),
        }
    }
    let text = format!("clock unknown: certificates checked as of the firmware build date {build}");
    defmt::info!("{=str}", text.as_str());
    status::note(text);
}

async fn attempt_once(stack: Stack<'static>, cfg: &Config, rng: &mut BoardRng) -> Failure {
    let host = cfg.host.clone().unwrap_or_default();
    let proxy = match cfg.proxy.as_deref().map(ProxyAddr::parse) {
        Some(Ok(p)) => Some(p),
        Some(Err(e)) => {
            return Failure {
                step: Step::Connect,
                detail: format!("proxy=: {e}"),
                hint: "proxy=http://HOST:PORT in the .vv file",
            }
        }
        None => None,
    };
    // With a proxy only the proxy's name is resolved here.
    let name = proxy.as_ref().map_or(host.clone(), |p| p.host.clone());
    status::active(Step::ServerAddress, name.clone());
    let ip = match net::resolve(stack, &name).await {
        Ok(ip) => ip,
        Err(e) => {
            return Failure {
                step: Step::ServerAddress,
                detail: format!("{name}: {e}"),
                hint: "the host name, and that DHCP hands out a DNS server",
            }
        }
    };
    status::done(
        Step::ServerAddress,
        match &proxy {
            Some(p) => format!("proxy {ip}:{}", p.port),
            None => format!("{ip}"),
        },
    );
    let route = Route {
        addr: ip,
        proxy: proxy.as_ref().map(|p| format!("{}:{}", p.host, p.port)),
        proxy_port: proxy.as_ref().map_or(0, |p| p.port),
        host: host.clone(),
        port: cfg.port,
        tls_port: cfg.tls_port,
        trust: Trust {
            ca_pem: cfg.ca.clone(),
            host_subject: cfg.host_subject.clone(),
            pubkey_sha256: cfg
                .pubkey_sha256
                .as_deref()
                .and_then(barespice_transport::cert::parse_pin),
            host,
        },
    };
    crate::session::run(stack, &route, cfg, rng).await
}
