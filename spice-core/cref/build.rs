//! Builds spice-common's QUIC and LZ codecs and spice-gtk's GLZ window from
//! Debian's spice-gtk source package (unpacked by `scripts/spice-common-src`
//! into `.cache/spice-src/`, or `SPICE_GTK_SRC`), plus `c/glue.c`, linked
//! with glib, pixman and liblz4. Without the source the crate builds empty
//! (`cref` cfg unset) and the reference bench says how to get it.

use std::path::{Path, PathBuf};

fn main() {
    println!("cargo::rustc-check-cfg=cfg(cref)");
    println!("cargo::rerun-if-env-changed=SPICE_GTK_SRC");
    println!("cargo::rerun-if-changed=c");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let src = match std::env::var_os("SPICE_GTK_SRC") {
        Some(s) => Some(PathBuf::from(s)),
        None => find_unpacked(&manifest.join("../../.cache/spice-src")),
    };
    let Some(src) = src.filter(|s| s.join("src/decode-glz.c").exists()) else {
        println!("cargo::rerun-if-changed=../../.cache/spice-src");
        return;
    };
    println!("cargo::rerun-if-changed={}", src.display());
    let common = src.join("subprojects/spice-common");
    // decode-glz.c includes its neighbours with quotes, which would find
    // spice-gtk's own gio-coroutine.h and spice-util.h next to it: build a
    // copy beside the stand-ins instead.
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("glz");
    std::fs::create_dir_all(&out).expect("OUT_DIR/glz");
    for f in ["decode-glz.c", "decode-glz-tmpl.c", "decode.h"] {
        std::fs::copy(src.join("src").join(f), out.join(f)).expect("copy spice-gtk GLZ source");
    }
    for f in ["gio-coroutine.h", "spice-util.h", "client_sw_canvas.h"] {
        std::fs::copy(manifest.join("c/stub").join(f), out.join(f)).expect("copy stand-in");
    }
    let mut b = cc::Build::new();
    b.opt_level(2)
        .warnings(false)
        .include(manifest.join("c/stub"))
        .include(&out)
        .include(&common)
        .include(common.join("common"))
        .include("/usr/include/spice-1")
        .include("/usr/include/glib-2.0")
        .include("/usr/lib/x86_64-linux-gnu/glib-2.0/include")
        .include("/usr/lib/aarch64-linux-gnu/glib-2.0/include")
        .include("/usr/include/pixman-1")
        .define("HAVE_CONFIG_H", None)
        .file(common.join("common/quic.c"))
        .file(common.join("common/lz.c"))
        .file(common.join("common/canvas_utils.c"))
        .file(common.join("common/mem.c"))
        .file(common.join("common/log.c"))
        .file(common.join("common/backtrace.c"))
        .file(out.join("decode-glz.c"))
        .file(manifest.join("c/glue.c"));
    b.compile("spicecref");
    for lib in ["glib-2.0", "pixman-1", "lz4"] {
        println!("cargo::rustc-link-lib={lib}");
    }
    println!("cargo::rustc-cfg=cref");
}

/// The `spice-gtk-*` directory under `dir`, if one is unpacked there.
fn find_unpacked(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("spice-gtk-"))
                && p.is_dir()
        })
}
