//! Still pictures of an episode: one frame of a segment, and all segments' frames on one sheet, so a
//! report shows at a glance what was rendered.

use crate::ffmpeg::{Ffmpeg, args, file_arg};
use crate::filter::{BACKDROP, fit};
use crate::output::Partial;
use crate::{FileKind, MediaError, sniff};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use tokio::io::AsyncReadExt;

/// Space around a contact sheet, in pixels.
const SHEET_MARGIN: u32 = 8;
/// Space between a contact sheet's pictures, in pixels.
const SHEET_PADDING: u32 = 6;

/// Writes the frame of `video` at `at_seconds` as a PNG `width` pixels wide (height by aspect, even).
pub async fn thumbnail(
    ffmpeg: &Ffmpeg,
    video: &Path,
    at_seconds: f64,
    width: u32,
    out_png: &Path,
) -> Result<(), MediaError> {
    if !(at_seconds.is_finite() && at_seconds >= 0.0 && (2..=8192).contains(&width)) {
        return Err(MediaError::Invalid { detail: format!("a thumbnail {width} px wide at {at_seconds} s") });
    }
    let mut line = args(["-ss", &format!("{at_seconds:.3}"), "-i"]);
    line.push(file_arg(video));
    line.extend(args(["-map", "0:v:0", "-frames:v", "1", "-vf", &format!("scale={width}:-2,setsar=1")]));
    line.extend(png_args());
    let partial = Partial::beside(out_png)?;
    line.push(file_arg(partial.path()));
    ffmpeg.run(&line).await?;
    // Past the end ffmpeg succeeds and writes nothing.
    let written = tokio::fs::metadata(partial.path()).await.map(|meta| meta.len()).unwrap_or(0);
    if written == 0 {
        return Err(MediaError::Failed {
            tool: "ffmpeg",
            detail: format!("no frame at {at_seconds:.3} s: the video is shorter"),
            command: format!("ffmpeg -ss {at_seconds:.3} -i {} …", video.display()),
        });
    }
    partial.commit()
}

/// Lays `thumbnails` (PNGs) out on one PNG, `columns` wide, in reading order; each picture is fitted
/// into a cell the size of the largest.
pub async fn contact_sheet(
    ffmpeg: &Ffmpeg,
    thumbnails: &[PathBuf],
    columns: u32,
    out_png: &Path,
) -> Result<(), MediaError> {
    if thumbnails.is_empty() || columns == 0 {
        return Err(MediaError::Invalid {
            detail: format!("a contact sheet of {} pictures in {columns} columns", thumbnails.len()),
        });
    }
    let mut cell = (0, 0);
    for path in thumbnails {
        let (width, height) = png_size(path).await?;
        cell = (cell.0.max(width), cell.1.max(height));
    }
    let mut line: Vec<OsString> =
        thumbnails.iter().flat_map(|path| [OsString::from("-i"), file_arg(path)]).collect();
    let graph = sheet_graph(thumbnails.len(), columns, cell);
    line.extend(args(["-filter_complex", graph.as_str(), "-map", "[sheet]", "-frames:v", "1"]));
    line.extend(png_args());
    let partial = Partial::beside(out_png)?;
    line.push(file_arg(partial.path()));
    ffmpeg.run(&line).await?;
    partial.commit()
}

/// The size of a contact sheet of `count` cells of `cell` size, `columns` wide.
pub fn sheet_size(count: usize, columns: u32, cell: (u32, u32)) -> (u32, u32) {
    let (columns, rows) = grid(count, columns);
    let side = |cells: u32, size: u32| cells * size + (cells - 1) * SHEET_PADDING + 2 * SHEET_MARGIN;
    (side(columns, cell.0), side(rows, cell.1))
}

fn grid(count: usize, columns: u32) -> (u32, u32) {
    let count = u32::try_from(count).unwrap_or(u32::MAX).max(1);
    let columns = columns.clamp(1, count);
    (columns, count.div_ceil(columns))
}

fn sheet_graph(count: usize, columns: u32, (width, height): (u32, u32)) -> String {
    let (columns, rows) = grid(count, columns);
    let mut graph = String::new();
    for index in 0..count {
        graph.push_str(&format!("[{index}:v]{}[t{index}];", fit(width, height)));
    }
    for index in 0..count {
        graph.push_str(&format!("[t{index}]"));
    }
    graph.push_str(&format!(
        "concat=n={count}:v=1:a=0,tile={columns}x{rows}:margin={SHEET_MARGIN}:padding={SHEET_PADDING}:color={BACKDROP}[sheet]"
    ));
    graph
}

pub(crate) fn png_args() -> Vec<OsString> {
    args(["-c:v", "png", "-f", "image2", "-update", "1"])
}

/// A PNG's size from its header, without decoding it.
async fn png_size(path: &Path) -> Result<(u32, u32), MediaError> {
    let io = |source| MediaError::Io { path: path.to_path_buf(), source };
    let mut head = [0u8; 24];
    let mut file = tokio::fs::File::open(path).await.map_err(io)?;
    file.read_exact(&mut head).await.map_err(io)?;
    let be = |at: usize| u32::from_be_bytes([head[at], head[at + 1], head[at + 2], head[at + 3]]);
    if sniff(&head) != FileKind::Png || &head[12..16] != b"IHDR" || be(16) == 0 || be(20) == 0 {
        return Err(MediaError::Invalid { detail: format!("`{}` is not a PNG", path.display()) });
    }
    Ok((be(16), be(20)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheet_sizes() {
        assert_eq!(sheet_size(3, 2, (160, 90)), (2 * 160 + 6 + 16, 2 * 90 + 6 + 16));
        assert_eq!(sheet_size(1, 4, (160, 90)), (160 + 16, 90 + 16));
        assert_eq!(sheet_size(8, 4, (100, 50)), (4 * 100 + 3 * 6 + 16, 2 * 50 + 6 + 16));
    }

    #[test]
    fn sheet_graph_fits_then_tiles() {
        let graph = sheet_graph(3, 2, (160, 90));
        assert!(graph.starts_with("[0:v]scale=160:90:force_original_aspect_ratio=decrease"), "{graph}");
        assert!(
            graph.ends_with(
                "[t0][t1][t2]concat=n=3:v=1:a=0,tile=2x2:margin=8:padding=6:color=0x14161c[sheet]"
            ),
            "{graph}"
        );
    }

    #[tokio::test]
    async fn png_size_reads_the_header_and_refuses_others() {
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("a.png");
        let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        bytes.extend(640u32.to_be_bytes());
        bytes.extend(360u32.to_be_bytes());
        std::fs::write(&png, &bytes).unwrap();
        assert_eq!(png_size(&png).await.unwrap(), (640, 360));
        let jpeg = dir.path().join("b.png");
        std::fs::write(&jpeg, b"\xff\xd8\xff\xe0\0\x10JFIF\0\0\0\0\0\0\0\0\0\0\0\0\0\0").unwrap();
        assert!(png_size(&jpeg).await.unwrap_err().to_string().contains("not a PNG"));
    }
}
