//! Writing a surface as an RGB PNG (the remote desktop only: no cursor, no alpha).

use spice_core::canvas::Surface;
use std::path::Path;

/// Write `s` (pixels `0x..RRGGBB`) to `path` as an 8-bit RGB PNG.
pub fn write_png(path: &Path, s: &Surface) -> Result<(), String> {
    let rgb: Vec<u8> = s
        .pixels
        .iter()
        .flat_map(|p| [(p >> 16) as u8, (p >> 8) as u8, *p as u8])
        .collect();
    let file = std::fs::File::create(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), s.width, s.height);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let png_err = |e: png::EncodingError| format!("PNG error writing {}: {e}", path.display());
    let mut w = enc.write_header().map_err(png_err)?;
    w.write_image_data(&rgb).map_err(png_err)?;
    w.finish().map_err(png_err)
}
