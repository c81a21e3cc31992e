//! The bring-up report channel: what each hardware bring-up step found, from
//! the board to the firmware's status screen.
//!
//! Owns: a small bounded queue of [`Report`]s. Board code (also its service
//! tasks, e.g. when an Ethernet link never comes up) calls [`report`]; the
//! firmware drains it with [`next`] and shows failures with what to check.
//! Must not: carry register values anywhere but in the detail text, or block
//! the reporter (a full queue drops the report after logging it).

use alloc::string::String;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::channel::Channel;

/// How a bring-up step ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
pub enum Outcome {
    /// The device works.
    Ok,
    /// The device is not there (e.g. under QEMU); nothing to fix.
    Absent,
    /// The device is there but did not come up.
    Failed,
    /// The device is there but barespice has no driver for it yet (the Pi 5's
    /// RP1 Ethernet and USB): shown on the status screen, not a failure.
    Unsupported,
}

/// One step's result.
#[derive(Clone, Debug)]
pub struct Report {
    /// Which part, e.g. "PCIe", "VL805", "Ethernet".
    pub part: &'static str,
    /// How it ended.
    pub outcome: Outcome,
    /// What was seen (versions, link speed, the register that says why not).
    pub detail: String,
    /// For a failure: what a person should check.
    pub check: &'static str,
}

static QUEUE: Channel<CriticalSectionRawMutex, Report, 16> = Channel::new();

/// Logs a step's result and queues it for the status screen.
pub fn report(part: &'static str, outcome: Outcome, detail: String, check: &'static str) {
    match outcome {
        Outcome::Failed => {
            defmt::warn!(
                "bring-up: {=str} failed: {=str} (check: {=str})",
                part,
                detail.as_str(),
                check
            )
        }
        _ => defmt::info!(
            "bring-up: {=str} {}: {=str}",
            part,
            outcome,
            detail.as_str()
        ),
    }
    if QUEUE
        .try_send(Report {
            part,
            outcome,
            detail,
            check,
        })
        .is_err()
    {
        defmt::warn!("bring-up: report queue full; {=str} report dropped", part);
    }
}

/// The next report (waits until one is queued).
pub async fn next() -> Report {
    QUEUE.receive().await
}
