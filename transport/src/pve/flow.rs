//! The kiosk's ticket flow over the Proxmox API, sans-IO: which call comes
//! next, what the status screen says meanwhile, and when the fresh ticket is
//! there. The same sequence drives the firmware (async sockets) and
//! barespice-host (blocking sockets):
//!
//! 1. VM by name → `cluster/resources` (when no VM id is configured);
//! 2. `status/current`; when stopped and starting is allowed:
//!    `status/start`, then `status/current` every [`START_POLL_MS`] until
//!    `running` (at most [`START_WAIT_MS`]);
//! 3. `spiceproxy` with `proxy=` the API's own host (as the Proxmox web UI
//!    passes its `window.location.hostname`), so the ticket's spiceproxy is
//!    reached at the address the kiosk already reaches the API at.
//!
//! Owns the order of calls and the step texts. Must not: do I/O, sleep
//! (it asks the caller to, [`Action::Wait`]) or show the token secret.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use barespice_config::pve::PveConfig;

use super::{
    find_vm, parse_api_url, parse_spiceproxy, parse_start, parse_status, Api, ApiError, ApiToken,
    Response, SpiceTicket, VmRef,
};

/// Pause between two `status/current` calls while a started VM boots.
pub const START_POLL_MS: u32 = 500;
/// Longest wait for a started VM to report `running`.
pub const START_WAIT_MS: u32 = 60_000;

/// The kiosk's Proxmox settings, borrowed from the configuration.
#[derive(Clone, Copy, Debug, Default)]
pub struct Settings<'a> {
    /// `https://HOST[:PORT]` of the API.
    pub api: &'a str,
    /// `USER@REALM!TOKENID`.
    pub token_id: &'a str,
    /// The token's secret.
    pub secret: &'a str,
    /// The VM's node (with `vmid`).
    pub node: Option<&'a str>,
    /// The VM id.
    pub vmid: Option<u32>,
    /// A VM name to look up instead of `node` + `vmid`.
    pub vm_name: Option<&'a str>,
    /// Start the VM when it is stopped.
    pub start: bool,
}

impl<'a> Settings<'a> {
    /// The settings of the `x-barespice-pve-*` keys (empty strings for
    /// missing ones; [`Flow::new`] then says what is wrong).
    pub fn from_config(p: &'a PveConfig) -> Self {
        Self {
            api: p.api.as_deref().unwrap_or_default(),
            token_id: p.token_id.as_deref().unwrap_or_default(),
            secret: p.token_secret.as_deref().unwrap_or_default(),
            node: p.node.as_deref(),
            vmid: p.vmid,
            vm_name: p.vm_name.as_deref(),
            start: p.start,
        }
    }
}

/// What the caller does next.
#[derive(Debug)]
pub enum Action {
    /// Send `request` over a fresh TLS connection to the API and hand the
    /// answer to [`Flow::answer`]; `step` is the status text meanwhile.
    Call {
        /// The HTTP request bytes (they carry the token: never log them).
        request: Vec<u8>,
        /// E.g. "asking Proxmox for a ticket", "starting VM 104".
        step: String,
    },
    /// Sleep this many milliseconds, then call [`Flow::waited`].
    Wait {
        /// Milliseconds.
        ms: u32,
    },
    /// The fresh one-time connection description: connect at once.
    Done(SpiceTicket),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Lookup,
    Status,
    Start,
    Poll,
    Ticket,
}

/// One run of the flow (make a new one for every connect).
#[derive(Debug)]
pub struct Flow {
    api: Api,
    host: String,
    port: u16,
    vm: Option<VmRef>,
    name: Option<String>,
    start: bool,
    stage: Stage,
    waited_ms: u32,
}

impl Flow {
    /// Checks the settings' shapes; the first [`Action`] comes from
    /// [`Flow::begin`].
    pub fn new(s: &Settings<'_>) -> Result<Self, &'static str> {
        let (host, port) = parse_api_url(s.api)?;
        let token = ApiToken::new(s.token_id, s.secret)?;
        let vm = match (s.vm_name, s.node, s.vmid) {
            (Some(_), _, _) => None,
            (None, Some(node), Some(vmid)) => Some(VmRef::new(node, vmid)?),
            _ => return Err("Proxmox: set pve-vmid= with pve-node=, or pve-vm-name="),
        };
        Ok(Self {
            api: Api::new(&format!("{host}:{port}"), token),
            host,
            port,
            vm,
            name: s.vm_name.map(str::to_string),
            start: s.start,
            stage: Stage::Lookup,
            waited_ms: 0,
        })
    }

    /// The API's host (name or address) to connect to and to check its
    /// certificate against.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The API's TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The first call.
    pub fn begin(&mut self) -> Action {
        match (&self.vm, &self.name) {
            (None, Some(name)) => {
                self.stage = Stage::Lookup;
                Action::Call {
                    request: self.api.resources(),
                    step: format!("looking up VM {name}"),
                }
            }
            _ => self.status_call("reading the status of VM"),
        }
    }

    /// The answer to the last [`Action::Call`].
    pub fn answer(&mut self, resp: &Response) -> Result<Action, ApiError> {
        let vm = match (&self.vm, self.stage) {
            (_, Stage::Lookup) => {
                let name = self.name.as_deref().unwrap_or_default();
                self.vm = Some(find_vm(resp, name)?);
                return Ok(self.status_call("reading the status of VM"));
            }
            (Some(vm), _) => vm.clone(),
            (None, _) => return Err(ApiError::Malformed("no VM chosen")),
        };
        match self.stage {
            Stage::Lookup => Err(ApiError::Malformed("no VM chosen")),
            Stage::Status if parse_status(resp, &vm)? => Ok(self.ticket_call(&vm)),
            Stage::Status if !self.start => Err(ApiError::Stopped),
            Stage::Status => {
                self.stage = Stage::Start;
                Ok(Action::Call {
                    request: self.api.start(&vm),
                    step: format!("starting VM {}", vm.vmid),
                })
            }
            Stage::Start => {
                parse_start(resp, &vm)?;
                self.stage = Stage::Poll;
                Ok(Action::Wait { ms: START_POLL_MS })
            }
            Stage::Poll if parse_status(resp, &vm)? => Ok(self.ticket_call(&vm)),
            Stage::Poll if self.waited_ms >= START_WAIT_MS => Err(ApiError::StartTimeout {
                vmid: vm.vmid,
                secs: START_WAIT_MS / 1000,
            }),
            Stage::Poll => Ok(Action::Wait { ms: START_POLL_MS }),
            Stage::Ticket => Ok(Action::Done(parse_spiceproxy(resp, &vm)?)),
        }
    }

    /// The caller slept as [`Action::Wait`] asked: ask for the status again.
    pub fn waited(&mut self) -> Action {
        self.waited_ms = self.waited_ms.saturating_add(START_POLL_MS);
        self.status_call("waiting for the start of VM")
    }

    fn status_call(&mut self, what: &str) -> Action {
        if self.stage != Stage::Poll {
            self.stage = Stage::Status;
        }
        match &self.vm {
            Some(vm) => Action::Call {
                request: self.api.status(vm),
                step: format!("{what} {}", vm.vmid),
            },
            // Unreachable by construction (new() or the look-up sets it);
            // answered as a malformed step rather than a panic.
            None => Action::Call {
                request: self.api.resources(),
                step: "looking up the VM".to_string(),
            },
        }
    }

    fn ticket_call(&mut self, vm: &VmRef) -> Action {
        self.stage = Stage::Ticket;
        Action::Call {
            request: self.api.spiceproxy(vm, Some(&self.host)),
            step: "asking Proxmox for a ticket".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings<'static> {
        Settings {
            api: "https://pve.lab:8006",
            token_id: "kiosk@pve!room1",
            secret: "s3cret",
            node: Some("lab"),
            vmid: Some(104),
            vm_name: None,
            start: true,
        }
    }

    fn ok(body: &str) -> Response {
        Response {
            code: 200,
            reason: "OK".into(),
            body: body.as_bytes().to_vec(),
        }
    }

    fn call(a: Action) -> (String, String) {
        match a {
            Action::Call { request, step } => {
                let r = String::from_utf8(request).unwrap();
                (r.lines().next().unwrap().to_string(), step)
            }
            other => panic!("expected a call, got {other:?}"),
        }
    }

    const TICKET: &str = r#"{"data":{"host":"pvespiceproxy:1:104:lab::ab","proxy":"http://pve.lab:3128","tls-port":61000,"password":"pw","type":"spice"}}"#;

    #[test]
    fn stopped_vm_started_polled_then_ticket() {
        let mut f = Flow::new(&settings()).unwrap();
        let (line, step) = call(f.begin());
        assert_eq!(
            line,
            "GET /api2/json/nodes/lab/qemu/104/status/current HTTP/1.1"
        );
        assert_eq!(step, "reading the status of VM 104");
        let stopped = ok(r#"{"data":{"status":"stopped"}}"#);
        let (line, step) = call(f.answer(&stopped).unwrap());
        assert_eq!(
            line,
            "POST /api2/json/nodes/lab/qemu/104/status/start HTTP/1.1"
        );
        assert_eq!(step, "starting VM 104");
        assert!(matches!(
            f.answer(&ok(r#"{"data":"UPID:lab:1"}"#)).unwrap(),
            Action::Wait { ms: START_POLL_MS }
        ));
        let (_, step) = call(f.waited());
        assert_eq!(step, "waiting for the start of VM 104");
        assert!(matches!(f.answer(&stopped).unwrap(), Action::Wait { .. }));
        call(f.waited());
        let (line, step) = call(f.answer(&ok(r#"{"data":{"status":"running"}}"#)).unwrap());
        assert_eq!(
            line,
            "POST /api2/json/nodes/lab/qemu/104/spiceproxy HTTP/1.1"
        );
        assert_eq!(step, "asking Proxmox for a ticket");
        match f.answer(&ok(TICKET)).unwrap() {
            Action::Done(t) => assert_eq!(t.tls_port, 61000),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn spiceproxy_names_the_api_host_as_proxy() {
        let mut f = Flow::new(&settings()).unwrap();
        f.begin();
        let a = f.answer(&ok(r#"{"data":{"status":"running"}}"#)).unwrap();
        let Action::Call { request, .. } = a else {
            panic!("expected a call")
        };
        assert!(String::from_utf8(request)
            .unwrap()
            .ends_with("\r\n\r\nproxy=pve.lab"));
    }

    #[test]
    fn stopped_without_start_and_start_timeout() {
        let mut s = settings();
        s.start = false;
        let mut f = Flow::new(&s).unwrap();
        f.begin();
        let stopped = ok(r#"{"data":{"status":"stopped"}}"#);
        assert_eq!(f.answer(&stopped).unwrap_err(), ApiError::Stopped);

        let mut f = Flow::new(&settings()).unwrap();
        f.begin();
        f.answer(&stopped).unwrap();
        f.answer(&ok(r#"{"data":"UPID:lab:1"}"#)).unwrap();
        let mut n = 0;
        loop {
            f.waited();
            match f.answer(&stopped) {
                Ok(Action::Wait { .. }) => n += 1,
                Err(e) => {
                    assert_eq!(e.to_string(), "VM 104 did not start within 60 s");
                    break;
                }
                Ok(other) => panic!("{other:?}"),
            }
            assert!(n < 1000);
        }
        assert_eq!(n, START_WAIT_MS / START_POLL_MS - 1);
    }

    #[test]
    fn name_lookup_first() {
        let mut s = settings();
        s.vm_name = Some("kiosk");
        s.node = None;
        s.vmid = None;
        let mut f = Flow::new(&s).unwrap();
        let (line, step) = call(f.begin());
        assert_eq!(line, "GET /api2/json/cluster/resources?type=vm HTTP/1.1");
        assert_eq!(step, "looking up VM kiosk");
        let list = ok(r#"{"data":[{"type":"qemu","name":"kiosk","node":"n2","vmid":230}]}"#);
        let (line, _) = call(f.answer(&list).unwrap());
        assert_eq!(
            line,
            "GET /api2/json/nodes/n2/qemu/230/status/current HTTP/1.1"
        );
    }

    #[test]
    fn errors_pass_through_and_settings_checked() {
        let mut f = Flow::new(&settings()).unwrap();
        f.begin();
        let refused = Response {
            code: 401,
            reason: "authentication failure".into(),
            body: Vec::new(),
        };
        assert_eq!(f.answer(&refused).unwrap_err(), ApiError::TokenRefused);
        let mut s = settings();
        s.node = None;
        assert!(Flow::new(&s).is_err());
        s = settings();
        s.api = "http://pve.lab:8006";
        assert!(Flow::new(&s).is_err());
        assert_eq!(Flow::new(&settings()).unwrap().port(), 8006);
    }
}
