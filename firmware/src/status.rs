//! The connection steps shown on the status screen, and their state.
//!
//! Owns the list of steps (firmware, configuration, network link, DHCP,
//! Proxmox API (kiosks only), server address, connect, SPICE link, authentication, remote display),
//! each pending / in progress / done / failed with a detail line and, for a
//! failure, what to check. Tasks update it; the presenter redraws on change.
//! Must not: draw, or know about devices.

use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::blocking_mutex::Mutex;
use embassy_sync::signal::Signal;

/// One step of bringing up the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
pub enum Step {
    /// Boot and board bring-up.
    Firmware,
    /// Reading the .vv file and command line.
    Configuration,
    /// A network interface with link.
    Link,
    /// An IPv4 address from DHCP.
    Dhcp,
    /// A fresh ticket from the Proxmox API (only with `x-barespice-pve-api`).
    Proxmox,
    /// Resolving the server's name.
    ServerAddress,
    /// TCP connection to the server.
    Connect,
    /// SPICE link handshake.
    SpiceLink,
    /// Ticket (password) accepted.
    Authentication,
    /// First picture from the server.
    Display,
}

/// All steps in screen order.
pub const STEPS: [Step; 10] = [
    Step::Firmware,
    Step::Configuration,
    Step::Link,
    Step::Dhcp,
    Step::Proxmox,
    Step::ServerAddress,
    Step::Connect,
    Step::SpiceLink,
    Step::Authentication,
    Step::Display,
];

impl Step {
    /// Label on the status screen.
    pub fn label(self) -> &'static str {
        match self {
            Step::Firmware => "Firmware",
            Step::Configuration => "Configuration",
            Step::Link => "Network link",
            Step::Dhcp => "DHCP address",
            Step::Proxmox => "Proxmox API",
            Step::ServerAddress => "Server address",
            Step::Connect => "Connect to server",
            Step::SpiceLink => "SPICE link",
            Step::Authentication => "Authentication",
            Step::Display => "Remote display",
        }
    }
    fn index(self) -> usize {
        STEPS.iter().position(|s| *s == self).unwrap_or(0)
    }
}

/// State of one step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
pub enum State {
    /// Not reached yet.
    Pending,
    /// Being worked on.
    Active,
    /// Finished.
    Done,
    /// Failed (the hint says what to check).
    Failed,
}

/// A step's state with its detail and hint.
#[derive(Clone, Debug)]
pub struct Entry {
    /// State.
    pub state: State,
    /// What happened (address, error...).
    pub detail: String,
    /// What to check, when failed.
    pub hint: &'static str,
}

/// Everything the status screen shows.
#[derive(Clone, Debug)]
pub struct Status {
    /// One entry per step in [`STEPS`] order.
    pub entries: Vec<Entry>,
    /// Title line (config title or server).
    pub title: String,
    /// Configuration problems (bad lines) and hardware bring-up results,
    /// shown under the steps.
    pub notes: Vec<String>,
    /// Shown when reconnecting: "reconnecting in N s (attempt K)".
    pub banner: Option<String>,
    /// The display mode and what it did ("resize: the guest agent set 1280x800").
    pub display: String,
}

impl Status {
    fn new() -> Self {
        Self {
            entries: STEPS
                .iter()
                .map(|_| Entry {
                    state: State::Pending,
                    detail: String::new(),
                    hint: "",
                })
                .collect(),
            title: String::new(),
            notes: Vec::new(),
            banner: None,
            display: String::new(),
        }
    }
}

static STATUS: Mutex<CriticalSectionRawMutex, RefCell<Option<Status>>> =
    Mutex::new(RefCell::new(None));
/// Raised whenever the status changes.
pub static CHANGED: Signal<CriticalSectionRawMutex, ()> = Signal::new();

fn update(f: impl FnOnce(&mut Status)) {
    STATUS.lock(|s| {
        let mut s = s.borrow_mut();
        f(s.get_or_insert_with(Status::new));
    });
    CHANGED.signal(());
}

/// A copy of the current status.
pub fn snapshot() -> Status {
    STATUS.lock(|s| s.borrow_mut().get_or_insert_with(Status::new).clone())
}

/// Sets a step's state and detail.
pub fn set(step: Step, state: State, detail: impl Into<String>, hint: &'static str) {
    let detail = detail.into();
    match state {
        State::Failed => defmt::warn!(
            "step {}: failed: {=str} (check: {=str})",
            step,
            detail.as_str(),
            hint
        ),
        _ => defmt::info!("step {}: {} {=str}", step, state, detail.as_str()),
    }
    update(|s| {
        if let Some(e) = s.entries.get_mut(step.index()) {
            *e = Entry {
                state,
                detail,
                hint,
            };
        }
    });
}

/// Marks a step in progress.
pub fn active(step: Step, detail: impl Into<String>) {
    set(step, State::Active, detail, "");
}

/// Marks a step done.
pub fn done(step: Step, detail: impl Into<String>) {
    set(step, State::Done, detail, "");
}

/// Marks a step failed, with what to check.
pub fn failed(step: Step, detail: impl Into<String>, hint: &'static str) {
    set(step, State::Failed, detail, hint);
}

/// Resets `from` and every later step to pending (before a reconnect).
pub fn reset_from(from: Step) {
    update(|s| {
        for e in s.entries.iter_mut().skip(from.index()) {
            *e = Entry {
                state: State::Pending,
                detail: String::new(),
                hint: "",
            };
        }
    });
}

/// Sets the title line.
pub fn set_title(t: impl Into<String>) {
    let t = t.into();
    update(|s| s.title = t);
}

/// Adds a configuration note.
pub fn note(n: impl Into<String>) {
    let n = n.into();
    update(|s| s.notes.push(n));
}

/// Sets the note of one hardware part (`"<part>: <text>"`), replacing that
/// part's previous note, so a link going up and down does not pile them up.
pub fn part_note(part: &str, text: impl Into<String>) {
    let line = alloc::format!("{part}: {}", text.into());
    let prefix = alloc::format!("{part}: ");
    update(
        |s| match s.notes.iter_mut().find(|n| n.starts_with(&prefix)) {
            Some(n) => *n = line,
            None => s.notes.push(line),
        },
    );
}

/// Sets or clears the reconnect banner.
pub fn banner(b: Option<String>) {
    update(|s| s.banner = b);
}

/// Sets the display-mode line.
pub fn set_display(d: impl Into<String>) {
    let d = d.into();
    defmt::info!("display: {=str}", d.as_str());
    update(|s| s.display = d);
}
