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
    let lines: Vec<(Source, usize, &str)> = issues
        .iter()
        .map(|i| (i.source, i.line, i.reason))
        .collect();
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
    let (_, issues) = load(
        b"[virt-viewer]\ntype=vnc\n",
        "spice.password=hunter2 spice.port=x",
    );
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
    assert_eq!(
        (issues[0].line, issues[0].reason),
        (2, "not UTF-8 text; file ignored")
    );

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

#[test]
fn display_mode_from_file_and_command_line() {
    let (c, issues) = load(VV.as_bytes(), "");
    assert_eq!(
        (c.display, issues.len(), c.resolution_given),
        (DisplayMode::Resize, 0, false)
    );
    let vv = "[virt-viewer]\nhost=h\nport=1\nx-barespice-display=fit\n";
    let (c, _) = load(vv.as_bytes(), "");
    assert_eq!(c.display, DisplayMode::Fit);
    // The command line wins; barespice.display and spice.x-barespice-display both work.
    let (c, issues) = load(
        vv.as_bytes(),
        "quiet barespice.display=1:1 spice.resolution=1024x768",
    );
    assert_eq!(
        (c.display, c.resolution_given),
        (DisplayMode::OneToOne, true)
    );
    assert!(issues.is_empty(), "{issues:?}");
    let (c, _) = load(vv.as_bytes(), "spice.x-barespice-display=resize");
    assert_eq!(c.display.name(), "resize");
    // Bad values are reported; unknown barespice.* words are someone else's.
    let (c, issues) = load(vv.as_bytes(), "barespice.display=zoom barespice.test=panic");
    assert_eq!(c.display, DisplayMode::Fit);
    assert_eq!(issues.len(), 1);
    assert_eq!(
        (issues[0].line, issues[0].reason),
        (1, "display must be resize, fit or 1:1")
    );
}

#[test]
fn disable_effects_become_display_config_flags() {
    let (c, issues) = load(
        b"[virt-viewer]\nhost=h\nport=1\ndisable-effects=wallpaper,animation\n",
        "",
    );
    assert!(issues.is_empty(), "{issues:?}");
    assert_eq!(c.disable_effects, 1 | 4);
    let (c, _) = load(b"", "spice.disable-effects=all");
    assert_eq!(c.disable_effects, 7);
    let (c, issues) = load(b"", "spice.disable-effects=wallpaper,sparkles");
    assert_eq!((c.disable_effects, issues.len()), (0, 1));
}

#[test]
fn barespice_options_are_read_by_key() {
    let line = "console=ttyAMA0 barespice.rig=1 spice.host=h barespice.test=panic \"barespice.x=a b\" barespice.rig=0";
    assert_eq!(
        barespice_option(line, "rig").as_deref(),
        Some("0"),
        "the last word wins"
    );
    assert_eq!(barespice_option(line, "test").as_deref(), Some("panic"));
    assert_eq!(barespice_option(line, "x").as_deref(), Some("a b"));
    assert_eq!(
        barespice_option(line, "host"),
        None,
        "spice.* keys are not barespice options"
    );
    assert_eq!(barespice_option("barespice.rig", "rig"), None, "no value");
    assert_eq!(barespice_option("", "rig"), None);
    // barespice.* words are not config issues.
    let (_, issues) = load(b"", line);
    assert!(issues.is_empty(), "{issues:?}");
}

#[test]
fn proxmox_connection_file() {
    // The shape Proxmox VE's SPICE button hands out (values made up).
    let vv = "[virt-viewer]\n\
type=spice\n\
title=VM 100 - desk\n\
host=pvespiceproxy:5f0a1b2c:100:pve1::0123abcd\n\
proxy=http://pve1:3128\n\
tls-port=61000\n\
host-subject=OU=PVE Cluster Node,O=Proxmox Virtual Environment,CN=pve1\n\
ca=-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n\n\
password=one-time\n\
delete-this-file=1\n\
secure-attention=Ctrl+Alt+Ins\n\
toggle-fullscreen=Shift+F11\n\
release-cursor=Ctrl+Alt+R\n\
secure-channels=main;inputs;cursor;playback;record;display;usbredir;smartcard\n\
x-barespice-ntp=10.0.2.2\n";
    let (c, issues) = load(vv.as_bytes(), "");
    assert!(issues.is_empty(), "{issues:?}");
    assert_eq!(c.port, None);
    assert_eq!(c.tls_port, Some(61000));
    assert_eq!(c.proxy.as_deref(), Some("http://pve1:3128"));
    assert_eq!(
        c.ca.as_deref(),
        Some("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    );
    assert_eq!(
        c.host_subject.as_deref(),
        Some("OU=PVE Cluster Node,O=Proxmox Virtual Environment,CN=pve1")
    );
    assert!(c.delete_this_file);
    assert_eq!(c.ntp.as_deref(), Some("10.0.2.2"));
    assert!(c.wants_tls("main") && c.wants_tls("display"));
    assert_eq!(c.missing(), None);
}

#[test]
fn secure_channels_mix_and_escapes() {
    let vv =
        "[virt-viewer]\ntype=spice\nhost=h\nport=1\ntls-port=2\nsecure-channels=main;display\n\
host-subject=CN=a\\\\,b\nca=nope\nx-barespice-pubkey-sha256=zz\nx-other=1\n";
    let (c, issues) = load(vv.as_bytes(), "");
    assert!(c.wants_tls("main") && c.wants_tls("display"));
    assert!(!c.wants_tls("inputs") && !c.wants_tls("cursor"));
    assert_eq!(c.host_subject.as_deref(), Some("CN=a\\,b"));
    // ca without PEM and a malformed pin are reported; x- keys are ours or ignored.
    assert_eq!(issues.len(), 2, "{issues:?}");
    assert_eq!(c.ca, None);
}

const PVE_VV: &str = "\
[virt-viewer]
type=spice
x-barespice-pve-api=https://pve.lab:8006
x-barespice-pve-token=kiosk@pve!room1
x-barespice-pve-secret=0d4c-secret
x-barespice-pve-node=pve1
x-barespice-pve-vmid=104
x-barespice-pve-ca=-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n
x-barespice-pve-start=1
";

#[test]
fn pve_keys_from_vv() {
    let (cfg, issues) = load(PVE_VV.as_bytes(), "");
    assert!(issues.is_empty(), "{issues:?}");
    assert!(cfg.pve.enabled());
    assert_eq!(cfg.pve.api.as_deref(), Some("https://pve.lab:8006"));
    assert_eq!(cfg.pve.token_id.as_deref(), Some("kiosk@pve!room1"));
    assert_eq!(cfg.pve.token_secret.as_deref(), Some("0d4c-secret"));
    assert_eq!(
        (cfg.pve.node.as_deref(), cfg.pve.vmid),
        (Some("pve1"), Some(104))
    );
    assert!(cfg.pve.ca.as_deref().unwrap().contains("\nMIIB\n"));
    assert!(cfg.pve.start);
    assert_eq!(cfg.pve.missing(), None);
    assert_eq!(
        cfg.missing(),
        None,
        "a kiosk needs no host: the ticket brings it"
    );
    let shown = std::format!("{cfg:?}");
    assert!(!shown.contains("0d4c-secret"), "{shown}");
}

#[test]
fn pve_cmdline_overrides_and_masks() {
    let (cfg, issues) = load(
        PVE_VV.as_bytes(),
        "console=ttyAMA0 barespice.pve-vm-name=\"front desk\" barespice.pve-start=0 barespice.pve-secret=bad\x01 barespice.pve-bogus=1",
    );
    assert_eq!(cfg.pve.vm_name.as_deref(), Some("front desk"));
    assert!(!cfg.pve.start);
    assert_eq!(
        cfg.pve.token_secret.as_deref(),
        Some("0d4c-secret"),
        "a bad secret is skipped"
    );
    assert_eq!(issues.len(), 2, "{issues:?}");
    assert!(issues.iter().all(|i| i.source == Source::CommandLine));
    assert!(
        !std::format!("{issues:?}").contains("bad\x01"),
        "secret masked in issues"
    );
}

#[test]
fn pve_bad_values_and_missing() {
    let mut issues = Vec::new();
    let mut cfg = Config::default();
    cfg.apply_vv(
        "[virt-viewer]\nx-barespice-pve-api=http://pve:8006\nx-barespice-pve-token=kiosk\nx-barespice-pve-vmid=abc\nx-barespice-pve-secret=a b\n",
        &mut issues,
    );
    assert_eq!(issues.len(), 4, "{issues:?}");
    assert!(issues
        .iter()
        .any(|i| i.text == "password=********" || i.text.contains("********")));
    assert!(!issues.iter().any(|i| i.text.contains("a b")));
    let mut p = pve::PveConfig::default();
    p.apply("api", "https://pve:8006").unwrap();
    assert!(p.missing().unwrap().contains("pve-token"));
    p.apply("token", "k@pve!t").unwrap();
    p.apply("secret", "s").unwrap();
    assert!(p.missing().unwrap().contains("pve-vmid"));
    p.apply("vmid", "104").unwrap();
    assert!(p.missing().unwrap().contains("pve-node"));
    p.apply("node", "pve1").unwrap();
    assert!(p.missing().unwrap().contains("pve-ca"));
    p.apply("pubkey-sha256", &"ab".repeat(32)).unwrap();
    assert_eq!(p.missing(), None);
}

#[test]
fn usb_redirection_keys() {
    let (c, issues) = load(b"[virt-viewer]\nhost=h\nport=1\n", "");
    assert_eq!(issues, Vec::new());
    assert!(c.usbredir && c.usb_autoshare);
    assert_eq!(c.usb_filter, crate::default_usb_filter());
    assert!(c.usb_filter.allows(
        0,
        1,
        1,
        0,
        &[barespice_usbredir::filter::Interface {
            class: 8,
            subclass: 6,
            protocol: 0x50
        }]
    ));
    let (c, issues) = load(
        b"[virt-viewer]\nhost=h\nport=1\nenable-usbredir=0\nenable-usb-autoshare=false\nusb-filter=-1,0x46f4,0x0001,-1,0|0x08,-1,-1,-1,1\n",
        "",
    );
    assert_eq!(issues, Vec::new());
    assert!(!c.usbredir && !c.usb_autoshare);
    assert_eq!(c.usb_filter.0.len(), 2);
}

#[test]
fn bad_usb_filter_is_an_issue_and_keeps_the_default() {
    let (c, issues) = load(b"[virt-viewer]\nhost=h\nport=1\nusb-filter=0x08,-1,1\n", "");
    assert_eq!(issues.len(), 1);
    assert_eq!(c.usb_filter, crate::default_usb_filter());
}

#[test]
fn ticket_replaces_connection_keys_only() {
    let (mut base, _) = load(
        PVE_VV.as_bytes(),
        "spice.reconnect-max=2 barespice.display=1:1",
    );
    base.host = Some("stale".into());
    base.port = Some(5900);
    base.password = "stale-pw".into();
    base.pubkey_sha256 = Some("ab".repeat(32));
    let (c, issues) = base.with_connection(
        "[virt-viewer]\ntype=spice\nhost=pvespiceproxy:1:104:pve1::ab\ntls-port=61000\npassword=fresh\n\
         secure-channels=all\nproxy=http://pve.lab:3128\nhost-subject=CN=pve1\n",
    );
    assert!(issues.is_empty(), "{issues:?}");
    assert_eq!(c.host.as_deref(), Some("pvespiceproxy:1:104:pve1::ab"));
    assert_eq!((c.port, c.tls_port), (None, Some(61000)));
    assert_eq!(c.password, "fresh");
    assert_eq!(c.pubkey_sha256, None, "the old pin does not carry over");
    assert_eq!(c.proxy.as_deref(), Some("http://pve.lab:3128"));
    assert_eq!(
        (c.reconnect_max_secs, c.display),
        (2, DisplayMode::OneToOne)
    );
    assert_eq!(c.pve, base.pve);
    assert_eq!(c.missing(), None);
}

#[test]
fn cmdline_masked_for_the_log() {
    assert_eq!(
        masked_cmdline("console=x spice.password=pw  barespice.pve-secret=\"a b\" barespice.rig=1"),
        "console=x spice.password=********  barespice.pve-secret=******** barespice.rig=1"
    );
    assert_eq!(masked_cmdline(""), "");
}
