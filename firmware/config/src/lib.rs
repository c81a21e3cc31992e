//! `barespice-config`: the thin client's configuration.
//!
//! Owns parsing of the two configuration sources and merging them:
//! 1. a virt-viewer connection file (`.vv`, INI with a `[virt-viewer]`
//!    section: `type`, `host`, `port`, `tls-port`, `password`, `title`, ...),
//!    which the loader hands over as the initrd;
//! 2. `spice.KEY=VALUE` words on the kernel command line (`/chosen/bootargs`),
//!    which override the file. Keys are the `.vv` names, plus barespice's own
//!    `resolution` (`WIDTHxHEIGHT` of the local display) and
//!    `reconnect-max` (longest back-off between reconnects, in seconds).
//!
//! Bad lines are reported as [`Issue`]s and skipped, never fatal. Must not:
//! do I/O or know where the bytes came from; it is `no_std` and tested on the host.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

/// Default local display size (ramfb), overridable with `resolution`.
pub const DEFAULT_RESOLUTION: (u32, u32) = (1920, 1080);
/// Default longest reconnect back-off in seconds.
pub const DEFAULT_RECONNECT_MAX: u32 = 30;
/// Largest accepted display dimension.
pub const MAX_DIMENSION: u32 = 8192;

/// The merged configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// SPICE server host name or IPv4 address.
    pub host: Option<String>,
    /// Plain-text SPICE port.
    pub port: Option<u16>,
    /// TLS SPICE port.
    pub tls_port: Option<u16>,
    /// Ticket password (may be empty).
    pub password: String,
    /// Window title / name shown on the status screen.
    pub title: Option<String>,
    /// Local display size.
    pub resolution: (u32, u32),
    /// Longest back-off between reconnect attempts, seconds.
    pub reconnect_max_secs: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            host: None,
            port: None,
            tls_port: None,
            password: String::new(),
            title: None,
            resolution: DEFAULT_RESOLUTION,
            reconnect_max_secs: DEFAULT_RECONNECT_MAX,
        }
    }
}

/// Where a setting or an issue came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The `.vv` file (line numbers from 1).
    VvFile,
    /// The kernel command line (word numbers from 1).
    CommandLine,
}

/// A line or word that was not understood; it was skipped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    /// Which source.
    pub source: Source,
    /// Line (file) or word (command line) number, from 1.
    pub line: usize,
    /// What was wrong.
    pub reason: &'static str,
    /// The offending text (passwords masked).
    pub text: String,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let src = match self.source {
            Source::VvFile => ".vv line",
            Source::CommandLine => "cmdline word",
        };
        write!(f, "{src} {}: {} ({})", self.line, self.reason, self.text)
    }
}

/// Keys of `[virt-viewer]` that barespice accepts but does not use.
const IGNORED_KEYS: &[&str] = &[
    "fullscreen", "delete-this-file", "enable-smartcard", "enable-usbredir", "enable-usb-autoshare",
    "usb-filter", "color-depth", "disable-effects", "hotkeys", "release-cursor", "toggle-fullscreen",
    "secure-attention", "smartcard-insert", "smartcard-remove", "zoom-in", "zoom-out", "versions",
    "newer-version-url", "secure-channels", "host-subject", "ca", "proxy", "username", "disable-channels",
    "zoom", "enable-usbredir", "kiosk", "kiosk-quit",
];

/// Why a value was rejected, or None if the key was applied.
fn apply_key(cfg: &mut Config, key: &str, value: &str) -> Result<(), &'static str> {
    match key {
        "type" => {
            if value.eq_ignore_ascii_case("spice") {
                Ok(())
            } else {
                Err("only type=spice is supported")
            }
        }
        "host" => {
            if value.is_empty() || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
                Err("host must be a name or address without spaces")
            } else {
                cfg.host = Some(value.to_string());
                Ok(())
            }
        }
        "port" => parse_port(value).map(|p| cfg.port = p),
        "tls-port" => parse_port(value).map(|p| cfg.tls_port = p),
        "password" => {
            cfg.password = value.to_string();
            Ok(())
        }
        "title" => {
            cfg.title = Some(value.to_string());
            Ok(())
        }
        "resolution" => {
            let (w, h) = value.split_once(['x', 'X']).ok_or("resolution must be WIDTHxHEIGHT")?;
            let w: u32 = w.trim().parse().map_err(|_| "resolution width is not a number")?;
            let h: u32 = h.trim().parse().map_err(|_| "resolution height is not a number")?;
            if w == 0 || h == 0 || w > MAX_DIMENSION || h > MAX_DIMENSION {
                return Err("resolution out of range (1..=8192)");
            }
            cfg.resolution = (w, h);
            Ok(())
        }
        "reconnect-max" => {
            let s: u32 = value.parse().map_err(|_| "reconnect-max must be seconds")?;
            cfg.reconnect_max_secs = s.clamp(1, 3600);
            Ok(())
        }
        k if IGNORED_KEYS.contains(&k) => Ok(()),
        _ => Err("unknown key (ignored)"),
    }
}

/// `-1` and `0` mean "none", as virt-viewer writes them.
fn parse_port(v: &str) -> Result<Option<u16>, &'static str> {
    match v.trim() {
        "-1" | "0" | "" => Ok(None),
        s => s.parse::<u16>().map(Some).map_err(|_| "port must be 1..65535"),
    }
}

fn masked(key: &str, line: &str) -> String {
    if key == "password" {
        "password=********".to_string()
    } else {
        line.chars().take(80).collect()
    }
}

impl Config {
    /// Applies a `.vv` file; unknown or bad lines go to `issues`.
    pub fn apply_vv(&mut self, text: &str, issues: &mut Vec<Issue>) {
        let mut in_section = false;
        let mut saw_section = false;
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            let issue = |reason, text: String| Issue { source: Source::VvFile, line: i + 1, reason, text };
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(rest) = line.strip_prefix('[') {
                match rest.strip_suffix(']') {
                    Some(name) => {
                        in_section = name.trim() == "virt-viewer";
                        saw_section |= in_section;
                    }
                    None => issues.push(issue("section header without ']'", masked("", line))),
                }
                continue;
            }
            if !in_section {
                continue; // other sections ([ovirt], ...) are not ours
            }
            let Some((k, v)) = line.split_once('=') else {
                issues.push(issue("expected key=value", masked("", line)));
                continue;
            };
            let key = k.trim();
            if let Err(reason) = apply_key(self, key, v.trim()) {
                issues.push(issue(reason, masked(key, line)));
            }
        }
        if !saw_section && !text.trim().is_empty() {
            issues.push(Issue {
                source: Source::VvFile,
                line: 1,
                reason: "no [virt-viewer] section",
                text: String::new(),
            });
        }
    }

    /// Applies the `spice.*` words of a kernel command line; other words are
    /// someone else's and are skipped silently. Double quotes group words.
    pub fn apply_cmdline(&mut self, cmdline: &str, issues: &mut Vec<Issue>) {
        for (i, word) in split_cmdline(cmdline).iter().enumerate() {
            let Some(setting) = word.strip_prefix("spice.") else { continue };
            let issue = |reason, text: String| Issue { source: Source::CommandLine, line: i + 1, reason, text };
            let Some((k, v)) = setting.split_once('=') else {
                issues.push(issue("expected spice.key=value", masked("", word)));
                continue;
            };
            if let Err(reason) = apply_key(self, k, v) {
                issues.push(issue(reason, masked(k, word)));
            }
        }
    }

    /// What is missing before a connection can be attempted.
    pub fn missing(&self) -> Option<&'static str> {
        if self.host.is_none() {
            Some("no server host: set host= in the .vv file or spice.host= on the command line")
        } else if self.port.is_none() && self.tls_port.is_none() {
            Some("no server port: set port= (or tls-port=)")
        } else {
            None
        }
    }
}

/// Builds the configuration from a `.vv` file (bytes, may be empty) and a
/// kernel command line, the command line winning.
pub fn load(vv: &[u8], cmdline: &str) -> (Config, Vec<Issue>) {
    let mut cfg = Config::default();
    let mut issues = Vec::new();
    // initrds are often padded with NULs to a page boundary.
    let end = vv.iter().position(|&b| b == 0).unwrap_or(vv.len());
    let body = vv.get(..end).unwrap_or(&[]);
    match core::str::from_utf8(body) {
        Ok(text) => cfg.apply_vv(text, &mut issues),
        Err(e) => {
            issues.push(Issue {
                source: Source::VvFile,
                line: 1 + body.get(..e.valid_up_to()).map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count()),
                reason: "not UTF-8 text; file ignored",
                text: String::new(),
            });
        }
    }
    cfg.apply_cmdline(cmdline, &mut issues);
    (cfg, issues)
}

/// Splits a command line into words at spaces, keeping "quoted parts" together
/// (the quotes themselves are removed).
fn split_cmdline(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in s.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push(core::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests;
