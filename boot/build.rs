//! Puts `link.x` on the linker search path of whatever binary links this crate,
//! and re-runs when the script or the load address changes.
use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    // Physical address the image is linked for. The entry code copies the image
    // there if a loader put it elsewhere. QEMU virt RAM starts at 0x4000_0000 and
    // loaders honour the header's text_offset (0x80000); the Raspberry Pi boards
    // will set BARESPICE_LINK_BASE=0x80000.
    let base = env::var("BARESPICE_LINK_BASE").unwrap_or_else(|_| "0x40080000".into());
    let script = fs::read_to_string("link.x.in").expect("boot/link.x.in");
    fs::write(out.join("link.x"), script.replace("@LINK_BASE@", &base)).expect("write link.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=link.x.in");
    println!("cargo:rerun-if-env-changed=BARESPICE_LINK_BASE");
}
