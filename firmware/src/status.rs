//! The connection steps shown on the status screen, and the messages that
//! change them.
//!
//! Defines the list of steps (firmware, configuration, network link, DHCP,
//! Proxmox API (kiosks only), server address, connect, SPICE link,
//! authentication, remote display),
//! each pending / in progress / done / failed with a detail line and, for a
//! failure, what to check. The [`Status`] itself is owned by the presenter
//! task alone; every other task changes it through the free functions here
//! ([`done`], [`failed`], [`note`], ...), which log the change and send an
//! [`Update`] over a bounded channel. The presenter task applies them in
//! order ([`Status::apply`]) and redraws.
//! Must not: draw, or know about devices.

use alloc::string::String;
use alloc::vec::Vec;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::channel::Channel;

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
    /// Every step pending, no title, notes, banner or display line.
    pub fn new() -> Self {
        Self {
            entries: STEPS.iter().map(|_| Entry::pending()).collect(),
            title: String::new(),
            notes: Vec::new(),
            banner: None,
            display: String::new(),
        }
    }

    /// Applies one change sent by a task.
    pub fn apply(&mut self, u: Update) {
        match u {
            Update::Set(step, entry) => {
                if let Some(e) = self.entries.get_mut(step.index()) {
                    *e = entry;
                }
            }
            Update::ResetFrom(from) => {
                for e in self.entries.iter_mut().skip(from.index()) {
                    *e = Entry::pending();
                }
            }
            Update::Title(t) => self.title = t,
            Update::Note(n) => self.notes.push(n),
            Update::PartNote { prefix, line } => {
                match self.notes.iter_mut().find(|n| n.starts_with(&prefix)) {
                    Some(n) => *n = line,
                    None => self.notes.push(line),
                }
            }
            Update::Banner(b) => self.banner = b,
            Update::Display(d) => self.display = d,
        }
    }
}

impl Default for Status {
    fn default() -> Self {
        Self::new()
    }
}

impl Entry {
    fn pending() -> Self {
        Entry {
            state: State::Pending,
            detail: String::new(),
            hint: "",
        }
    }
}

/// One change to the status screen, as a task sends it to the presenter.
#[derive(Clone, Debug)]
pub enum Update {
    /// A step's new entry.
    Set(Step, Entry),
    /// This step and every later one back to pending.
    ResetFrom(Step),
    /// The title line.
    Title(String),
    /// One more note.
    Note(String),
    /// One hardware part's note (`prefix` is `"<part>: "`), replacing that part's previous one.
    PartNote {
        /// `"<part>: "`.
        prefix: String,
        /// The whole note.
        line: String,
    },
    /// The reconnect banner (none: cleared).
    Banner(Option<String>),
    /// The display-mode line.
    Display(String),
}

/// Updates waiting for the presenter task: room for a boot's worth (steps,
/// configuration notes, bring-up results) before the executor runs.
const QUEUE_LEN: usize = 64;

static UPDATES: Channel<CriticalSectionRawMutex, Update, QUEUE_LEN> = Channel::new();

fn send(u: Update) {
    // Every change is in the log already (the senders below write it);
    // a full queue only loses the screen's copy, never blocks a task.
    if UPDATES.try_send(u).is_err() {
        defmt::warn!("status: update queue full, screen update dropped");
    }
}

/// The next update (for the presenter task, which owns the [`Status`]).
pub async fn next() -> Update {
    UPDATES.receive().await
}

/// An update if one is waiting (for the presenter task).
pub fn try_next() -> Option<Update> {
    UPDATES.try_receive().ok()
}

/// True when no update is waiting for the presenter task.
pub fn drained() -> bool {
    UPDATES.is_empty()
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
    send(Update::Set(
        step,
        Entry {
            state,
            detail,
            hint,
        },
    ));
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
    send(Update::ResetFrom(from));
}

/// Sets the title line.
pub fn set_title(t: impl Into<String>) {
    send(Update::Title(t.into()));
}

/// Adds a configuration note.
pub fn note(n: impl Into<String>) {
    send(Update::Note(n.into()));
}

/// Sets the note of one hardware part (`"<part>: <text>"`), replacing that
/// part's previous note, so a link going up and down does not pile them up.
pub fn part_note(part: &str, text: impl Into<String>) {
    send(Update::PartNote {
        prefix: alloc::format!("{part}: "),
        line: alloc::format!("{part}: {}", text.into()),
    });
}

/// Sets or clears the reconnect banner.
pub fn banner(b: Option<String>) {
    send(Update::Banner(b));
}

/// Sets the display-mode line.
pub fn set_display(d: impl Into<String>) {
    let d = d.into();
    defmt::info!("display: {=str}", d.as_str());
    send(Update::Display(d));
}
