//! Networking: the embassy-net stack over the board's NIC, DHCPv4, and
//! resolving the server's name. Reports link and DHCP progress to `status`.
//! Must not: speak SPICE.

use alloc::format;
use barespice_board::AnyNic;
use embassy_net::dns::DnsQueryType;
use embassy_net::{Ipv4Address, Runner, Stack};
use embassy_time::{Duration, Timer};

use crate::status::{self, Step};

/// Runs the network stack for ever.
#[embassy_executor::task]
pub async fn runner(mut runner: Runner<'static, AnyNic>) -> ! {
    runner.run().await
}

/// Waits for link and a DHCP lease, keeping the status screen current.
pub async fn wait_ready(stack: Stack<'static>) {
    status::active(Step::Link, "waiting for link");
    stack.wait_link_up().await;
    defmt::info!("timeline: link up");
    status::done(Step::Link, "link up");

    status::active(Step::Dhcp, "asking for an address");
    let mut waited = 0u32;
    while !stack.is_config_up() {
        Timer::after(Duration::from_millis(250)).await;
        waited += 1;
        if waited == 40 {
            status::failed(
                Step::Dhcp,
                "no DHCP reply yet (still trying)",
                "the network cable and that a DHCP server serves this network",
            );
        }
    }
    if let Some(c) = stack.config_v4() {
        let gw = c.gateway.map(|g| format!(" via {g}")).unwrap_or_default();
        defmt::info!("timeline: dhcp bound {}", c.address);
        status::done(Step::Dhcp, format!("{}{}", c.address, gw));
    }
}

/// Resolves `host` (a dotted IPv4 address or a DNS name).
pub async fn resolve(stack: Stack<'static>, host: &str) -> Result<Ipv4Address, &'static str> {
    if let Ok(ip) = host.parse::<Ipv4Address>() {
        return Ok(ip);
    }
    match stack.dns_query(host, DnsQueryType::A).await {
        Ok(addrs) => addrs
            .iter()
            .map(|a| match a {
                embassy_net::IpAddress::Ipv4(v4) => *v4,
            })
            .next()
            .ok_or("no IPv4 address for the name"),
        Err(_) => Err("DNS lookup failed"),
    }
}
