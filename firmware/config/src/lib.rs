//! `barespice-config`: the thin client's configuration.
//!
//! Owns parsing of the two configuration sources and merging them:
//! 1. a virt-viewer connection file (`.vv`, INI with a `[virt-viewer]`
//!    section: `type`, `host`, `port`, `tls-port`, `password`, `title`, the
//!    TLS and proxy keys `ca`, `host-subject`, `secure-channels`, `proxy`,
//!    `delete-this-file`, and our `x-barespice-pubkey-sha256` /
//!    `x-barespice-ntp`), which the loader hands over as the initrd (the host
//!    client reads the same way);
//! 2. `spice.KEY=VALUE` words on the kernel command line (`/chosen/bootargs`),
//!    which override the file. Keys are the `.vv` names, plus barespice's own
//!    `resolution` (`WIDTHxHEIGHT` of the local display) and
//!    `reconnect-max` (longest back-off between reconnects, in seconds);
//! 3. `barespice.KEY=VALUE` words, barespice's own switches, read one key at
//!    a time with [`barespice_option`]; those whose key has an `x-barespice-KEY`
//!    name in the `.vv` file are configuration too and win over the file
//!    (`barespice.display` = `x-barespice-display`: `resize`, `fit` or `1:1`).
//!
//! 4. The Proxmox kiosk keys `x-barespice-pve-*` (file) and
//!    `barespice.pve-*` (command line), kept in [`pve::PveConfig`].
//!
//! Bad lines are reported as [`Issue`]s and skipped, never fatal. Must not:
//! do I/O or know where the bytes came from; it is `no_std` and tested on the host.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

pub mod pve;

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
    /// `ca`: CA certificate(s), PEM (the file's `\n` escapes undone).
    pub ca: Option<String>,
    /// `host-subject`: the server certificate's subject, `K=V,...`.
    pub host_subject: Option<String>,
    /// `secure-channels`: channel names (`main`, `display`, ..., `all`)
    /// that must use TLS.
    pub secure_channels: Vec<String>,
    /// `proxy`: `http://HOST:PORT` of an HTTP CONNECT proxy.
    pub proxy: Option<String>,
    /// `delete-this-file=1`: the client deletes the file after reading it.
    pub delete_this_file: bool,
    /// `x-barespice-pubkey-sha256`: SHA-256 of the server's public key
    /// (hex), trusted instead of a CA.
    pub pubkey_sha256: Option<String>,
    /// `x-barespice-ntp`: SNTP server (name or IPv4) for certificate time.
    pub ntp: Option<String>,
    /// True when `resolution` was set (else the board may use the monitor's
    /// preferred mode).
    pub resolution_given: bool,
    /// How the remote desktop is fitted to the local display.
    pub display: DisplayMode,
    /// `disable-effects` (remote-viewer's key): guest effects to turn off
    /// through the agent, as `VD_AGENT_DISPLAY_CONFIG_FLAG_*` bits
    /// (wallpaper 1, font-smooth 2, animation 4); 0 sends nothing.
    pub disable_effects: u32,
    /// `x-barespice-pve-*` / `barespice.pve-*`: the Proxmox kiosk (issue 17).
    pub pve: pve::PveConfig,
    /// `enable-usbredir`: link the USB redirection channels.
    pub usbredir: bool,
    /// `enable-usb-autoshare`: offer devices the `usb-filter` allows
    /// without asking (a kiosk has no one to ask: off means none is offered).
    pub usb_autoshare: bool,
    /// `usb-filter`: remote-viewer's auto-connect rules
    /// (`class,vendor,product,version,allow|...`); the default shares mass
    /// storage only.
    pub usb_filter: barespice_usbredir::Rules,
}

/// How the remote desktop is fitted to the local display
/// (`x-barespice-display` / `barespice.display`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DisplayMode {
    /// Ask the guest agent for the local size; scale (as `Fit`) until the
    /// guest follows, and for good if no agent answers.
    #[default]
    Resize,
    /// Scale the remote desktop to the screen, keeping its aspect ratio.
    Fit,
    /// Remote pixels 1:1, centred (cropped when larger than the screen).
    OneToOne,
}

impl DisplayMode {
    /// The configuration word (`resize`, `fit`, `1:1`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Resize => "resize",
            Self::Fit => "fit",
            Self::OneToOne => "1:1",
        }
    }
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
            ca: None,
            host_subject: None,
            secure_channels: Vec::new(),
            proxy: None,
            delete_this_file: false,
            pubkey_sha256: None,
            ntp: None,
            resolution_given: false,
            display: DisplayMode::Resize,
            disable_effects: 0,
            pve: pve::PveConfig::default(),
            usbredir: true,
            usb_autoshare: true,
            usb_filter: default_usb_filter(),
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
    "fullscreen",
    "enable-smartcard",
    "color-depth",
    "hotkeys",
    "release-cursor",
    "toggle-fullscreen",
    "secure-attention",
    "smartcard-insert",
    "smartcard-remove",
    "zoom-in",
    "zoom-out",
    "versions",
    "newer-version-url",
    "username",
    "disable-channels",
    "tls-ciphers",
    "zoom",
    "kiosk",
    "kiosk-quit",
];

/// `barespice.KEY` command-line words that stand for the `.vv` key `x-barespice-KEY`.
const BARESPICE_KEYS: &[&str] = &["display"];

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
            let (w, h) = value
                .split_once(['x', 'X'])
                .ok_or("resolution must be WIDTHxHEIGHT")?;
            let w: u32 = w
                .trim()
                .parse()
                .map_err(|_| "resolution width is not a number")?;
            let h: u32 = h
                .trim()
                .parse()
                .map_err(|_| "resolution height is not a number")?;
            if w == 0 || h == 0 || w > MAX_DIMENSION || h > MAX_DIMENSION {
                return Err("resolution out of range (1..=8192)");
            }
            cfg.resolution = (w, h);
            cfg.resolution_given = true;
            Ok(())
        }
        "reconnect-max" => {
            let s: u32 = value.parse().map_err(|_| "reconnect-max must be seconds")?;
            cfg.reconnect_max_secs = s.clamp(1, 3600);
            Ok(())
        }
        "ca" => {
            if !value.contains("-----BEGIN") {
                return Err("ca must be a PEM certificate (newlines written as \\n)");
            }
            cfg.ca = Some(value.to_string());
            Ok(())
        }
        "host-subject" => {
            cfg.host_subject = Some(value.to_string());
            Ok(())
        }
        "secure-channels" => {
            cfg.secure_channels = value
                .split([';', ','])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            Ok(())
        }
        "proxy" => {
            if value.is_empty() || value.chars().any(char::is_whitespace) {
                return Err("proxy must be http://HOST:PORT");
            }
            cfg.proxy = Some(value.to_string());
            Ok(())
        }
        "delete-this-file" => {
            cfg.delete_this_file = matches!(value, "1" | "true");
            Ok(())
        }
        "x-barespice-pubkey-sha256" => {
            if value.bytes().filter(u8::is_ascii_hexdigit).count() != 64 {
                return Err("x-barespice-pubkey-sha256 must be 64 hex digits");
            }
            cfg.pubkey_sha256 = Some(value.to_string());
            Ok(())
        }
        "x-barespice-ntp" => {
            cfg.ntp = Some(value.to_string());
            Ok(())
        }
        "x-barespice-display" => {
            cfg.display = match value.trim() {
                "resize" => DisplayMode::Resize,
                "fit" => DisplayMode::Fit,
                "1:1" => DisplayMode::OneToOne,
                _ => return Err("display must be resize, fit or 1:1"),
            };
            Ok(())
        }
        "disable-effects" => {
            let mut flags = 0;
            for word in value.split(',').map(str::trim).filter(|w| !w.is_empty()) {
                flags |= match word {
                    "wallpaper" => 1,
                    "font-smooth" => 2,
                    "animation" => 4,
                    "all" => 7,
                    _ => {
                        return Err("disable-effects takes wallpaper, font-smooth, animation, all")
                    }
                };
            }
            cfg.disable_effects = flags;
            Ok(())
        }
        "enable-usbredir" => bool_value(value).map(|b| cfg.usbredir = b),
        "enable-usb-autoshare" => bool_value(value).map(|b| cfg.usb_autoshare = b),
        "usb-filter" => {
            cfg.usb_filter = barespice_usbredir::Rules::parse(value).map_err(|_| {
                "usb-filter must be class,vendor,product,version,allow rules joined by |"
            })?;
            Ok(())
        }
        k if k.starts_with("x-barespice-pve-") => cfg
            .pve
            .apply(k.trim_start_matches("x-barespice-pve-"), value),
        k if IGNORED_KEYS.contains(&k) || k.starts_with("x-") => Ok(()),
        _ => Err("unknown key (ignored)"),
    }
}

/// The `usb-filter` in effect without the key: mass storage only.
pub fn default_usb_filter() -> barespice_usbredir::Rules {
    barespice_usbredir::Rules::parse(barespice_usbredir::filter::DEFAULT_AUTOSHARE)
        .unwrap_or_default()
}

/// GKeyFile booleans as virt-viewer writes them.
fn bool_value(v: &str) -> Result<bool, &'static str> {
    match v.trim() {
        "1" | "true" => Ok(true),
        "0" | "false" => Ok(false),
        _ => Err("must be 0/1 or false/true"),
    }
}

/// `-1` and `0` mean "none", as virt-viewer writes them.
fn parse_port(v: &str) -> Result<Option<u16>, &'static str> {
    match v.trim() {
        "-1" | "0" | "" => Ok(None),
        s => s
            .parse::<u16>()
            .map(Some)
            .map_err(|_| "port must be 1..65535"),
    }
}

fn masked(key: &str, line: &str) -> String {
    if key == "password" {
        "password=********".to_string()
    } else if key
        .strip_prefix("x-barespice-pve-")
        .or(key.strip_prefix("pve-"))
        .is_some_and(pve::is_secret)
    {
        [key, "=********"].concat()
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
            let issue = |reason, text: String| Issue {
                source: Source::VvFile,
                line: i + 1,
                reason,
                text,
            };
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
            if let Err(reason) = apply_key(self, key, &unescape(v.trim())) {
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

    /// Applies the `spice.*` words of a kernel command line, and the
    /// `barespice.*` words that name an `x-barespice-*` key; other words are
    /// someone else's and are skipped silently. Double quotes group words.
    pub fn apply_cmdline(&mut self, cmdline: &str, issues: &mut Vec<Issue>) {
        for (i, word) in split_cmdline(cmdline).iter().enumerate() {
            let issue = |reason, text: String| Issue {
                source: Source::CommandLine,
                line: i + 1,
                reason,
                text,
            };
            if let Some(setting) = word.strip_prefix("barespice.pve-") {
                let (k, v) = setting.split_once('=').unwrap_or((setting, ""));
                if let Err(reason) = self.pve.apply(k, v) {
                    issues.push(issue(reason, masked(&["pve-", k].concat(), word)));
                }
                continue;
            }
            let own = word.strip_prefix("barespice.").and_then(|s| {
                let (k, v) = s.split_once('=')?;
                BARESPICE_KEYS
                    .contains(&k)
                    .then(|| alloc::format!("x-barespice-{k}={v}"))
            });
            let Some(setting) = own.as_deref().or_else(|| word.strip_prefix("spice.")) else {
                continue;
            };
            let Some((k, v)) = setting.split_once('=') else {
                issues.push(issue("expected spice.key=value", masked("", word)));
                continue;
            };
            if let Err(reason) = apply_key(self, k, v) {
                issues.push(issue(reason, masked(k, word)));
            }
        }
    }

    /// Whether the channel named `name` (`main`, `display`, `inputs`,
    /// `cursor`, ...) must use TLS: it is listed in `secure-channels` (or
    /// `all` is), or there is no plain port at all.
    pub fn wants_tls(&self, name: &str) -> bool {
        channel_wants_tls(self.port, &self.secure_channels, name)
    }

    /// What is missing before a connection can be attempted.
    pub fn missing(&self) -> Option<&'static str> {
        if self.pve.enabled() {
            // host, ports and password come from the API's fresh ticket.
            self.pve.missing()
        } else if self.host.is_none() {
            Some("no server host: set host= in the .vv file or spice.host= on the command line")
        } else if self.port.is_none() && self.tls_port.is_none() {
            Some("no server port: set port= (or tls-port=)")
        } else {
            None
        }
    }
}

impl Config {
    /// The configuration for one session from a fresh connection
    /// description (`.vv` text, e.g. a Proxmox `spiceproxy` ticket): its
    /// connection keys (host, ports, password, ca, host-subject,
    /// secure-channels, proxy, pin) replace this configuration's; local
    /// settings (display, resolution, reconnect-max, ntp, the Proxmox keys)
    /// stay. Bad lines of the description come back as issues.
    pub fn with_connection(&self, vv: &str) -> (Config, Vec<Issue>) {
        let mut c = Config {
            host: None,
            port: None,
            tls_port: None,
            password: String::new(),
            ca: None,
            host_subject: None,
            secure_channels: Vec::new(),
            proxy: None,
            pubkey_sha256: None,
            delete_this_file: false,
            ..self.clone()
        };
        let mut issues = Vec::new();
        c.apply_vv(vv, &mut issues);
        (c, issues)
    }
}

/// The kernel command line as it may be logged: the values of
/// `spice.password=` and `barespice.pve-secret=` words replaced by `********`.
pub fn masked_cmdline(cmdline: &str) -> String {
    const SECRETS: [&str; 2] = ["spice.password=", "barespice.pve-secret="];
    let mut out = String::with_capacity(cmdline.len());
    let mut word = String::new();
    let mut quoted = false;
    let flush = |word: &mut String, out: &mut String| {
        let bare = word.trim_start_matches('"');
        match SECRETS.iter().find(|p| bare.starts_with(**p)) {
            Some(p) => {
                out.push_str(&word[..word.len() - bare.len()]);
                out.push_str(p);
                out.push_str("********");
            }
            None => out.push_str(word),
        }
        word.clear();
    };
    for c in cmdline.chars() {
        if c == '"' {
            quoted = !quoted;
        }
        if c.is_whitespace() && !quoted {
            flush(&mut word, &mut out);
            out.push(c);
        } else {
            word.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
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
                line: 1 + body
                    .get(..e.valid_up_to())
                    .map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count()),
                reason: "not UTF-8 text; file ignored",
                text: String::new(),
            });
        }
    }
    cfg.apply_cmdline(cmdline, &mut issues);
    (cfg, issues)
}

/// The value of the last `barespice.KEY=VALUE` word of a kernel command line
/// (barespice's own switches, e.g. `barespice.rig=1`, `barespice.test=panic`);
/// `None` when the key is absent. Other words are ignored.
pub fn barespice_option(cmdline: &str, key: &str) -> Option<String> {
    split_cmdline(cmdline).into_iter().rev().find_map(|word| {
        let (k, v) = word.strip_prefix("barespice.")?.split_once('=')?;
        (k == key).then(|| v.to_string())
    })
}

/// Whether channel `name` must use TLS, given the plain `port` and the
/// `secure-channels` list (see [`Config::wants_tls`]).
pub fn channel_wants_tls(port: Option<u16>, secure_channels: &[String], name: &str) -> bool {
    port.is_none()
        || secure_channels
            .iter()
            .any(|c| c == "all" || c.eq_ignore_ascii_case(name))
}

/// Undoes GKeyFile's value escapes (`\n`, `\t`, `\r`, `\s`, `\\`), as
/// remote-viewer reads every value; other escapes (`\,` in host-subject)
/// are kept for the value's own parser.
fn unescape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('s') => out.push(' '),
            Some('\\') => out.push('\\'),
            Some(o) => {
                out.push('\\');
                out.push(o);
            }
            None => out.push('\\'),
        }
    }
    out
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
