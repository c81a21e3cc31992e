//! The GPU firmware's power report: the "get throttled" property tag
//! (0x00030046) decoded into what the status screen should say.
//!
//! Owns: the tag number and the meaning of its bits (now: bits 0-3; since
//! boot: bits 16-19), as pure code. Must not: talk to the mailbox (the caller
//! does, in `rpi::devices`).
//!
//! Reference: the Raspberry Pi documentation of `vcgencmd get_throttled` (the
//! same bits); Circle `include/circle/bcmpropertytags.h` names the tag.
//! Status: written to the references, not yet run on hardware (QEMU's model
//! answers 0: no warning).

use alloc::format;
use alloc::string::String;

/// Property tag: get throttled state (one word in, one word out).
pub const TAG_GET_THROTTLED: u32 = 0x0003_0046;

const UNDER_VOLTAGE: u32 = 1 << 0;
const FREQ_CAPPED: u32 = 1 << 1;
const THROTTLED: u32 = 1 << 2;
const SOFT_TEMP_LIMIT: u32 = 1 << 3;
const SINCE_BOOT_SHIFT: u32 = 16;

/// A warning for the status screen when the supply sagged (now or since
/// power-on) or the SoC is being held back; `None` when all is well.
pub fn warning(v: u32) -> Option<String> {
    let now = v & 0xf;
    let ever = (v >> SINCE_BOOT_SHIFT) & 0xf;
    if now | ever == 0 {
        return None;
    }
    let mut parts = String::new();
    for (bit, what) in [
        (UNDER_VOLTAGE, "under-voltage"),
        (FREQ_CAPPED, "ARM frequency capped"),
        (THROTTLED, "throttled"),
        (SOFT_TEMP_LIMIT, "soft temperature limit"),
    ] {
        let when = match (now & bit != 0, ever & bit != 0) {
            (true, _) => "now",
            (false, true) => "since power-on",
            _ => continue,
        };
        if !parts.is_empty() {
            parts.push_str(", ");
        }
        parts.push_str(&format!("{what} {when}"));
    }
    Some(format!("{parts} (throttled = {v:#x})"))
}

/// True when the warning concerns the supply voltage.
pub fn under_voltage(v: u32) -> bool {
    v & (UNDER_VOLTAGE | (UNDER_VOLTAGE << SINCE_BOOT_SHIFT)) != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthy_supply_says_nothing() {
        assert_eq!(warning(0), None);
        assert!(!under_voltage(0));
    }

    #[test]
    fn under_voltage_now_and_since_boot() {
        // vcgencmd's classic "0x50005": under-voltage and throttled, now and since boot.
        assert_eq!(
            warning(0x5_0005).as_deref(),
            Some("under-voltage now, throttled now (throttled = 0x50005)")
        );
        assert!(under_voltage(0x5_0005));
        assert_eq!(
            warning(0x1_0000).as_deref(),
            Some("under-voltage since power-on (throttled = 0x10000)")
        );
        assert!(under_voltage(0x1_0000));
        assert!(!under_voltage(0x8_0008));
        assert_eq!(
            warning(0x8_0000).as_deref(),
            Some("soft temperature limit since power-on (throttled = 0x80000)")
        );
    }
}
