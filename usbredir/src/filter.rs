//! remote-viewer's `usb-filter` rules (`.vv` key `usb-filter`, spice-gtk's
//! auto-connect filter): `class,vendor,product,version,allow` rules joined by
//! `|`, each number decimal or `0x` hex, `-1` for "any"; the first rule that
//! matches decides. Syntax and check order as in usbredir's
//! `usbredirparser/usbredirfilter.c` (`usbredirfilter_string_to_rules`,
//! `usbredirfilter_check`): a device whose own class is not 0x00 / 0xef is
//! checked by that class first, then every interface by its class (an extra
//! non-boot HID interface of a composite device is skipped); every check must
//! end on an allow rule, and no matching rule means "no".

use alloc::vec::Vec;
use core::fmt;

/// One rule; `None` fields match anything (`-1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Device or interface class.
    pub class: Option<u8>,
    /// idVendor.
    pub vendor: Option<u16>,
    /// idProduct.
    pub product: Option<u16>,
    /// bcdDevice.
    pub version: Option<u16>,
    /// Allow (true) or deny.
    pub allow: bool,
}

/// A rule string that does not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterError {
    /// Index of the bad rule (0-based).
    pub rule: usize,
    /// What is wrong with it.
    pub what: &'static str,
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "usb-filter rule {}: {}", self.rule + 1, self.what)
    }
}

/// What the filter looks at of a device.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Interface {
    /// bInterfaceClass.
    pub class: u8,
    /// bInterfaceSubClass.
    pub subclass: u8,
    /// bInterfaceProtocol.
    pub protocol: u8,
}

/// A parsed rule list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rules(pub Vec<Rule>);

/// The auto-share rule when the `.vv` file has no `usb-filter`: mass storage
/// (class 0x08) is shared, nothing else.
pub const DEFAULT_AUTOSHARE: &str = "0x08,-1,-1,-1,1|-1,-1,-1,-1,0";

fn number(s: &str) -> Option<i64> {
    let s = s.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let v = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()?
    } else {
        s.parse::<i64>().ok()?
    };
    Some(if neg { -v } else { v })
}

fn field<T: TryFrom<i64>>(s: &str) -> Result<Option<T>, &'static str> {
    match number(s) {
        Some(-1) => Ok(None),
        Some(v) => T::try_from(v).map(Some).map_err(|_| "value out of range"),
        None => Err("not a number"),
    }
}

impl Rules {
    /// Parses `class,vendor,product,version,allow|...` (empty rules between
    /// separators are skipped, as usbredirfilter does with repeated tokens).
    pub fn parse(s: &str) -> Result<Self, FilterError> {
        let mut out = Vec::new();
        for (i, r) in s.split('|').filter(|r| !r.trim().is_empty()).enumerate() {
            let err = |what| FilterError { rule: i, what };
            let f: Vec<&str> = r.split(',').collect();
            if f.len() != 5 {
                return Err(err("needs 5 comma-separated fields"));
            }
            let allow = match number(f[4]) {
                Some(0) => false,
                Some(1) => true,
                _ => return Err(err("allow must be 0 or 1")),
            };
            out.push(Rule {
                class: field(f[0]).map_err(err)?,
                vendor: field(f[1]).map_err(err)?,
                product: field(f[2]).map_err(err)?,
                version: field(f[3]).map_err(err)?,
                allow,
            });
        }
        Ok(Rules(out))
    }

    fn check1(&self, class: u8, vendor: u16, product: u16, version: u16) -> bool {
        self.0
            .iter()
            .find(|r| {
                r.class.is_none_or(|c| c == class)
                    && r.vendor.is_none_or(|v| v == vendor)
                    && r.product.is_none_or(|p| p == product)
                    && r.version.is_none_or(|v| v == version)
            })
            .is_some_and(|r| r.allow)
    }

    /// True when the rules allow a device with this class, ids, bcdDevice and
    /// interfaces (`usbredirfilter_check` without flags).
    pub fn allows(
        &self,
        class: u8,
        vendor: u16,
        product: u16,
        version: u16,
        interfaces: &[Interface],
    ) -> bool {
        self.allows_pass(class, vendor, product, version, interfaces, true)
    }

    fn allows_pass(
        &self,
        class: u8,
        vendor: u16,
        product: u16,
        version: u16,
        interfaces: &[Interface],
        skip_non_boot_hid: bool,
    ) -> bool {
        if class != 0x00 && class != 0xef && !self.check1(class, vendor, product, version) {
            return false;
        }
        let mut skipped = 0;
        for i in interfaces {
            // Extra non-boot HID interfaces (volume buttons of an audio
            // device) are skipped unless every interface is one.
            if skip_non_boot_hid
                && interfaces.len() > 1
                && i.class == 0x03
                && i.subclass == 0
                && i.protocol == 0
            {
                skipped += 1;
                continue;
            }
            if !self.check1(i.class, vendor, product, version) {
                return false;
            }
        }
        if !interfaces.is_empty() && skipped == interfaces.len() {
            return self.allows_pass(class, vendor, product, version, interfaces, false);
        }
        true
    }
}

impl fmt::Display for Rules {
    /// The rules in usbredir's string form (as sent in filter_filter).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn put(f: &mut fmt::Formatter<'_>, v: Option<u16>) -> fmt::Result {
            match v {
                Some(v) => write!(f, "0x{v:02x},"),
                None => f.write_str("-1,"),
            }
        }
        for (i, r) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("|")?;
            }
            put(f, r.class.map(u16::from))?;
            put(f, r.vendor)?;
            put(f, r.product)?;
            put(f, r.version)?;
            write!(f, "{}", u8::from(r.allow))?;
        }
        Ok(())
    }
}
