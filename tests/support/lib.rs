//! Support for Warmline's end-to-end tests: the desktop app driven through
//! WebDriver (`tauri-driver` in front of WebKitWebDriver), screenshots kept
//! as artifacts, and checks that a screenshot shows something.
//!
//! Everything here runs inside `installer/test-session.sh`, which provides
//! the X display, D-Bus, keyring and audio the app needs.

pub mod agent;
pub mod bencode;
pub mod daemon;
pub mod rtpengine;
pub mod webdriver;

use std::path::{Path, PathBuf};

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from(".."))
}

/// The cargo target directory the tests were built into.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace_root().join("target"))
}

/// Where tests leave files for people to look at (screenshots, logs).
pub fn artifacts_dir(suite: &str) -> PathBuf {
    let dir = target_dir().join("test-artifacts").join(suite);
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// The `warmline` desktop binary, built by `make test` before the tests run.
pub fn desktop_binary() -> PathBuf {
    let path = std::env::var_os("WARMLINE_DESKTOP_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("debug").join("warmline"));
    assert!(
        path.is_file(),
        "{} does not exist: build it first with `cargo build -p warmline` (make test does)",
        path.display()
    );
    path
}

/// Fails with a clear message outside the test session.
pub fn require_session() {
    assert!(
        std::env::var_os("WARMLINE_TEST_SESSION").is_some(),
        "this test needs the project's desktop session: run it inside `installer/test-session.sh` (make test does)"
    );
}

/// What a screenshot shows, roughly: enough to tell a rendered window from a
/// blank or single-colour one.
#[derive(Debug, Clone, PartialEq)]
pub struct PictureStats {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Number of distinct colours (capped at 4096).
    pub distinct_colours: usize,
    /// Share of pixels that differ from the most common colour.
    pub non_background_share: f64,
}

/// Decodes a PNG and measures it.
pub fn picture_stats(png_bytes: &[u8]) -> Result<PictureStats, String> {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().map_err(|e| format!("not a PNG: {e}"))?;
    let mut buf = vec![0; reader.output_buffer_size().ok_or("PNG too large")?];
    let info = reader.next_frame(&mut buf).map_err(|e| format!("bad PNG frame: {e}"))?;
    let channels = info.color_type.samples();
    let bytes = &buf[..info.buffer_size()];
    let mut counts: std::collections::HashMap<&[u8], usize> = std::collections::HashMap::new();
    for px in bytes.chunks_exact(channels) {
        let rgb = &px[..channels.min(3)];
        if counts.len() < 4096 || counts.contains_key(rgb) {
            *counts.entry(rgb).or_default() += 1;
        }
    }
    let total = (bytes.len() / channels).max(1);
    let most = counts.values().copied().max().unwrap_or(0);
    Ok(PictureStats {
        width: info.width,
        height: info.height,
        distinct_colours: counts.len(),
        non_background_share: 1.0 - most as f64 / total as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32, pixel: impl Fn(u32, u32) -> [u8; 3]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, width, height);
        enc.set_color(png::ColorType::Rgb);
        let mut w = enc.write_header().expect("header");
        let pixel = &pixel;
        let data: Vec<u8> = (0..height).flat_map(|y| (0..width).flat_map(move |x| pixel(x, y))).collect();
        w.write_image_data(&data).expect("data");
        drop(w);
        out
    }

    #[test]
    fn a_blank_picture_is_recognised_as_blank() {
        let s = picture_stats(&png(40, 30, |_, _| [255, 255, 255])).expect("stats");
        assert_eq!((s.width, s.height, s.distinct_colours), (40, 30, 1));
        assert_eq!(s.non_background_share, 0.0);
    }

    #[test]
    fn a_drawn_picture_has_colours_and_foreground() {
        let s =
            picture_stats(&png(40, 30, |x, y| if x > 20 { [x as u8, y as u8, 9] } else { [0, 0, 0] })).expect("stats");
        assert!(s.distinct_colours > 100 && s.non_background_share > 0.4, "{s:?}");
    }
}
