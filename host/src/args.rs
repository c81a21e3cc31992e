//! Command-line parsing for `barespice-host` (hand-written; no parser crate).

use spice_core::enums::*;
use std::path::PathBuf;
use std::time::Duration;

/// Usage text printed on `--help` and on bad arguments.
pub const USAGE: &str = "usage: barespice-host (FILE.vv | --server HOST:PORT) [--password-file F] --snapshot OUT.png \
[--idle-ms N] [--timeout-s N] [--type TEXT] [--compression off|lz|lz4|quic|glz|auto] [--record DIR] \
[--memory-budget-mib N] [--log]";

/// Parsed options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// `HOST:PORT` of the SPICE server (plain, no file).
    pub server: Option<String>,
    /// A virt-viewer connection file (every key honoured; deleted after
    /// reading when it says `delete-this-file=1`).
    pub vv: Option<PathBuf>,
    /// File holding the password (first line, newline stripped).
    pub password_file: Option<PathBuf>,
    /// Password taken from the connection file (never printed).
    pub password: Option<String>,
    /// Where to write the PNG.
    pub snapshot: PathBuf,
    /// Quiet time after the last display change before the snapshot.
    pub idle: Duration,
    /// Overall deadline.
    pub timeout: Duration,
    /// Text to type (followed by Enter) once the first frame arrived.
    pub type_text: Option<String>,
    /// `SPICE_IMAGE_COMPRESSION_*` to request.
    pub compression: Option<u8>,
    /// Directory for recorded display messages.
    pub record: Option<PathBuf>,
    /// Print a traffic summary to stderr.
    pub log: bool,
    /// The session's memory budget in bytes (`--memory-budget-mib`).
    pub memory_budget: usize,
}

/// Map a `--compression` word to `SPICE_IMAGE_COMPRESSION_*`.
pub fn compression(word: &str) -> Option<u8> {
    let c = match word {
        "off" => SPICE_IMAGE_COMPRESSION_OFF,
        "lz" => SPICE_IMAGE_COMPRESSION_LZ,
        "lz4" => SPICE_IMAGE_COMPRESSION_LZ4,
        "quic" => SPICE_IMAGE_COMPRESSION_QUIC,
        "glz" => SPICE_IMAGE_COMPRESSION_GLZ,
        "auto" => SPICE_IMAGE_COMPRESSION_AUTO_GLZ,
        _ => return None,
    };
    Some(c as u8)
}

/// Parse the arguments after the program name.
pub fn parse(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut server = None;
    let mut snapshot = None;
    let mut a = Args {
        server: None,
        vv: None,
        password_file: None,
        password: None,
        snapshot: PathBuf::new(),
        idle: Duration::from_millis(1500),
        timeout: Duration::from_secs(30),
        type_text: None,
        compression: None,
        record: None,
        log: false,
        memory_budget: spice_core::budget::DEFAULT_BUDGET,
    };
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        let number = |name: &str, v: String| {
            v.parse::<u64>()
                .map_err(|_| format!("{name}: not a number: {v}"))
        };
        match flag.as_str() {
            "--server" => server = Some(value("--server")?),
            "--password-file" => a.password_file = Some(value("--password-file")?.into()),
            "--snapshot" => snapshot = Some(PathBuf::from(value("--snapshot")?)),
            "--idle-ms" => {
                a.idle = Duration::from_millis(number("--idle-ms", value("--idle-ms")?)?)
            }
            "--timeout-s" => {
                a.timeout = Duration::from_secs(number("--timeout-s", value("--timeout-s")?)?)
            }
            "--type" => a.type_text = Some(value("--type")?),
            "--compression" => {
                let w = value("--compression")?;
                a.compression = Some(
                    compression(&w).ok_or_else(|| format!("--compression: unknown value {w}"))?,
                );
            }
            "--record" => a.record = Some(value("--record")?.into()),
            "--memory-budget-mib" => {
                let mib = number("--memory-budget-mib", value("--memory-budget-mib")?)?;
                a.memory_budget = usize::try_from(mib)
                    .ok()
                    .and_then(|m| m.checked_mul(1 << 20))
                    .ok_or("--memory-budget-mib: too large")?;
            }
            "--log" | "-v" | "--verbose" => a.log = true,
            "--help" | "-h" => return Err(String::new()),
            other if !other.starts_with('-') && a.vv.is_none() => a.vv = Some(other.into()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    a.server = server;
    if a.server.is_some() == a.vv.is_some() {
        return Err("give either a connection file (FILE.vv) or --server HOST:PORT".into());
    }
    a.snapshot = snapshot.ok_or("--snapshot is required")?;
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Args, String> {
        parse(s.split_whitespace().map(String::from))
    }

    #[test]
    fn parses_all_flags() {
        let a = p(
            "--server 127.0.0.1:5931 --password-file pw --snapshot o.png --idle-ms 200 \
                   --timeout-s 9 --type hello --compression lz4 --record rec --log",
        )
        .unwrap();
        assert_eq!(a.server.as_deref(), Some("127.0.0.1:5931"));
        assert_eq!(a.idle, Duration::from_millis(200));
        assert_eq!(a.timeout, Duration::from_secs(9));
        assert_eq!(a.type_text.as_deref(), Some("hello"));
        assert_eq!(a.compression, Some(SPICE_IMAGE_COMPRESSION_LZ4 as u8));
        assert!(a.log);
    }

    #[test]
    fn rejects_missing_and_unknown() {
        assert!(p("--snapshot o.png").is_err());
        assert!(p("--server h:1").is_err());
        assert!(p("--server h:1 --snapshot o.png --compression zip").is_err());
        assert!(p("--server h:1 --snapshot o.png --bogus").is_err());
        assert!(p("--server h:1 --snapshot o.png --idle-ms x").is_err());
        assert!(p("a.vv --server h:1 --snapshot o.png").is_err());
        assert!(p("a.vv b.vv --snapshot o.png").is_err());
        assert_eq!(
            p("a.vv --snapshot o.png").unwrap().vv,
            Some(PathBuf::from("a.vv"))
        );
        assert_eq!(
            compression("auto"),
            Some(SPICE_IMAGE_COMPRESSION_AUTO_GLZ as u8)
        );
    }
}
