//! Unit tests: inputs are written as virt-viewer's documentation shows
//! `.vv` files and as a boot loader would pass a command line.
extern crate std;
use super::*;
use alloc::string::ToString;

const VV: &str = "\
[virt-viewer]
type=spice
host=10.0.2.2
port=5961
tls-port=-1
password=s3cret
title=Lab desktop
delete-this-file=1
fullscreen=1

[ovirt]
host=engine.example
";

#[test]
fn vv_file_is_read() {
    let (c, issues) = load(VV.as_bytes(), "");
    assert_eq!(issues, Vec::new());
    assert_eq!(c.host.as_deref(), Some("10.0.2.2"));
    assert_eq!(c.port, Some(5961));
    assert_eq!(c.tls_port, None);
    assert_eq!(c.password, "s3cret");
    assert_eq!(c.title.as_deref(), Some("Lab desktop"));
    assert_eq!(c.resolution, (1920, 1080));
    assert_eq!(c.missing(), None);
}

#[test]
fn command_line_overrides_file() {
    let cmd = "console=ttyAMA0 spice.host=192.0.2.7 spice.port=6000 spice.resolution=1280x800 \"spice.title=Front desk\" quiet";
    let (c, issues) = load(VV.as_bytes(), cmd);
    assert!(issues.is_empty(), "{issues:?}");
    assert_eq!(c.host.as_deref(), Some("192.0.2.7"));
    assert_eq!(c.port, Some(6000));
    assert_eq!(c.resolution, (1280, 800));
    assert_eq!(c.title.as_deref(), Some("Front desk"));
    assert_eq!(c.password, "s3cret");
}

#[test]
fn bad_lines_are_reported_not_fatal() {
    let vv = "[virt-viewer]\ntype=spice\nhost=h\nport=99999\nthis line has no equals\ncolour=blue\npassword=x\nport=5900\n";
    let (c, issues) = load(vv.as_bytes(), "spice.resolution=wide spice.password");
    let lines: Vec<(Source, usize, &str)> = issues.iter().map(|i| (i.source, i.line, i.reason)).collect();
    assert_eq!(
        lines,
        [
            (Source::VvFile, 4, "port must be 1..65535"),
            (Source::VvFile, 5, "expected key=value"),
            (Source::VvFile, 6, "unknown key (ignored)"),
            (Source::CommandLine, 1, "resolution must be WIDTHxHEIGHT"),
            (Source::CommandLine, 2, "expected spice.key=value"),
        ]
    );
    assert_eq!(c.port, Some(5900));
    assert_eq!(c.host.as_deref(), Some("h"));
}

#[test]
fn passwords_never_appear_in_issues() {
    let (_, issues) = load(b"[virt-viewer]\ntype=vnc\n", "spice.password=hunter2 spice.port=x");
    assert_eq!(issues.len(), 2);
    for i in &issues {
        assert!(!i.to_string().contains("hunter2"), "{i}");
    }
    assert_eq!(issues[0].reason, "only type=spice is supported");
}

#[test]
fn missing_host_or_port_is_explained() {
    let (c, _) = load(b"", "");
    assert!(c.missing().unwrap().contains("host"));
    let (c, _) = load(b"", "spice.host=a");
    assert!(c.missing().unwrap().contains("port"));
    let (c, _) = load(b"", "spice.host=a spice.tls-port=5901");
    assert_eq!(c.missing(), None);
}

#[test]
fn padded_initrd_and_garbage() {
    let mut padded = VV.as_bytes().to_vec();
    padded.resize(4096, 0);
    let (c, issues) = load(&padded, "");
    assert!(issues.is_empty());
    assert_eq!(c.port, Some(5961));

    let (_, issues) = load(&[b'a', b'\n', 0xff, 0xfe], "");
    assert_eq!(issues.len(), 1);
    assert_eq!((issues[0].line, issues[0].reason), (2, "not UTF-8 text; file ignored"));

    let (_, issues) = load(b"host=x\n", "");
    assert_eq!(issues[0].reason, "no [virt-viewer] section");
}

#[test]
fn resolution_limits() {
    for bad in ["0x600", "800x0", "9000x100", "x", "800x"] {
        let (c, issues) = load(b"", &std::format!("spice.resolution={bad}"));
        assert_eq!(issues.len(), 1, "{bad}");
        assert_eq!(c.resolution, DEFAULT_RESOLUTION);
    }
    let (c, _) = load(b"", "spice.reconnect-max=0");
    assert_eq!(c.reconnect_max_secs, 1);
}
