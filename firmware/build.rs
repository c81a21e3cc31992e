//! Records when the firmware was built (Unix seconds) as
//! `BARESPICE_BUILD_UNIX`: the certificate-time floor while the firmware's
//! clock is unknown (see barespice-transport's `Clock`). Taken from
//! `SOURCE_DATE_EPOCH` when set (reproducible builds), else the last commit's
//! time, else now.
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

fn main() {
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    println!("cargo:rerun-if-changed=build.rs");
    let from_env = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok());
    let from_git = || {
        let out = Command::new("git")
            .args(["log", "-1", "--format=%ct"])
            .output()
            .ok()?;
        String::from_utf8(out.stdout)
            .ok()?
            .trim()
            .parse::<u64>()
            .ok()
    };
    let now = || {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    };
    let t = from_env.or_else(from_git).unwrap_or_else(now);
    println!("cargo:rustc-env=BARESPICE_BUILD_UNIX={t}");
}
