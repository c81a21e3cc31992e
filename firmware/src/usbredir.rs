//! USB redirection: joins the board's redirection slot
//! (`barespice_board::usb::redirect`: the device, its transfers) to the SPICE
//! usbredir channel (spice-core's spicevmc stream) through
//! `barespice_usbredir::RedirHost` (the protocol), and gives the board the
//! sharing decision from the `.vv` `usb-filter` / `enable-usb-autoshare`
//! ([`install_policy`]).
//!
//! Owns: which channel carries the device (the first usbredir channel linked),
//! the sharing policy and the offer log lines. Must not: contain protocol bytes or
//! registers. A malformed usbredir stream ends the session (reason on the
//! status screen, then the usual reconnect).

use crate::status::Step;
use crate::transport::Failure;
use alloc::format;
use alloc::vec::Vec;
use barespice_board::usb::redirect::{self, DeviceEvent, Offer};
use barespice_config::Config;
use barespice_usbredir::{RedirHost, Rules};
use spice_core::session::{ChannelHandle, Session};

/// Version string in our hello.
const VERSION: &[u8] = b"barespice usbredir";

/// Hands the board the sharing decision: with `enable-usb-autoshare` on, what
/// `usb-filter` allows (a kiosk has no one to ask, so off shares nothing).
pub fn install_policy(cfg: &Config) {
    let autoshare = cfg.usb_autoshare && cfg.usbredir;
    let rules: Rules = cfg.usb_filter.clone();
    redirect::set_policy(alloc::boxed::Box::new(move |o: &Offer| {
        let i = &o.attached.info;
        autoshare
            && rules.allows(
                i.class,
                i.vendor_id,
                i.product_id,
                i.device_version_bcd,
                &o.interfaces,
            )
    }));
}

/// The session's USB redirection state.
pub struct Redir {
    handle: Option<ChannelHandle>,
    host: Option<RedirHost>,
    offer: Option<Offer>,
}

impl Redir {
    /// Redirection as `cfg` asks for it.
    pub fn new() -> Self {
        Self {
            handle: None,
            host: None,
            offer: None,
        }
    }

    fn offer_to_vm(&mut self) {
        let (Some(host), Some(o)) = (self.host.as_mut(), self.offer.as_ref()) else {
            return;
        };
        let i = &o.attached.info;
        defmt::info!(
            "usbredir: offering device {} {:04x}:{:04x} to the VM",
            o.address,
            i.vendor_id,
            i.product_id
        );
        host.attach(o.attached);
    }

    /// A usbredir channel linked: the first one carries the device.
    pub fn linked(&mut self, h: ChannelHandle) {
        if self.handle.is_some() {
            return;
        }
        self.handle = Some(h);
        self.host = Some(RedirHost::new(VERSION));
        redirect::flush();
        self.offer_to_vm();
    }

    /// A channel closed; forget it if it was ours.
    pub fn closed(&mut self, h: ChannelHandle) {
        if self.handle == Some(h) {
            self.handle = None;
            self.host = None;
            redirect::flush();
        }
    }

    /// Moves device changes, requests, completions and stream bytes along.
    pub fn pump(&mut self, session: &mut Session) -> Result<(), Failure> {
        while let Some(ev) = redirect::take_event() {
            match ev {
                DeviceEvent::Attached(o) => {
                    self.offer = Some(*o);
                    self.offer_to_vm();
                }
                DeviceEvent::Detached => {
                    self.offer = None;
                    if let Some(host) = self.host.as_mut() {
                        if host.connected() {
                            defmt::info!("usbredir: device unplugged, telling the VM");
                        }
                        host.detach();
                    }
                }
            }
        }
        let (Some(h), Some(host)) = (self.handle, self.host.as_mut()) else {
            return Ok(());
        };
        let data = session.vmc_take(h);
        if !data.is_empty() {
            let was_ready = host.peer_ready();
            if let Err(e) = host.receive(&data) {
                return Err(Failure {
                    step: Step::Connect,
                    detail: format!("usbredir channel: {e}"),
                    hint: "the VM's usb-redir device (QEMU log)",
                });
            }
            if !was_ready && host.peer_ready() {
                defmt::info!(
                    "usbredir: VM side ready ({=str})",
                    core::str::from_utf8(host.peer_version()).unwrap_or("?")
                );
            }
        }
        while let Some(r) = host.next_request() {
            redirect::submit(r);
        }
        while let Some(c) = redirect::take_completion() {
            host.complete(c);
        }
        let out: Vec<u8> = host.take_output();
        if !out.is_empty() {
            // The channel may have closed meanwhile; its ChannelClosed event
            // resets us.
            let _ = session.vmc_send(h, &out);
        }
        Ok(())
    }
}
