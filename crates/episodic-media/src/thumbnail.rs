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
///
/// Pictures that already fill their cells (every thumbnail of one episode, drawn at one width) are
/// tiled here without ffmpeg, pixel for pixel what ffmpeg's `tile` draws: the sheet is made after
/// the last compose, where an ffmpeg run's start and decode beside concat's was most of the
/// render's tail. Anything else (sizes that differ, other colour types) goes to ffmpeg.
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
    let (pictures, out) = (thumbnails.to_vec(), out_png.to_path_buf());
    let tiled = tokio::task::spawn_blocking(move || tile_natively(&pictures, columns, &out)).await;
    match tiled {
        Ok(Ok(Tiled::Written)) => Ok(()),
        Ok(Ok(Tiled::NeedsFfmpeg)) | Err(_) => {
            contact_sheet_with_ffmpeg(ffmpeg, thumbnails, columns, out_png).await
        }
        Ok(Err(err)) => Err(err),
    }
}

/// Whether the sheet was tiled here, or its pictures need ffmpeg's scaler.
#[derive(Debug, PartialEq, Eq)]
enum Tiled {
    Written,
    NeedsFfmpeg,
}

/// The sheet tiled from 8-bit RGB PNGs of one size (what ffmpeg writes from a video frame). The
/// cells are left as they are and the rest is `BACKDROP`, as `tile` draws on an RGB frame.
fn tile_natively(thumbnails: &[PathBuf], columns: u32, out_png: &Path) -> Result<Tiled, MediaError> {
    let mut pictures = Vec::with_capacity(thumbnails.len());
    for path in thumbnails {
        let io = |source| MediaError::Io { path: path.clone(), source };
        let file = std::fs::File::open(path).map_err(io)?;
        let Ok(mut reader) = png::Decoder::new(std::io::BufReader::new(file)).read_info() else {
            return Ok(Tiled::NeedsFfmpeg);
        };
        let info = reader.info();
        let plain = info.color_type == png::ColorType::Rgb
            && info.bit_depth == png::BitDepth::Eight
            && !info.interlaced
            && info.frame_control.is_none();
        let size = (info.width, info.height);
        let Some(length) = reader.output_buffer_size().filter(|_| plain) else {
            return Ok(Tiled::NeedsFfmpeg);
        };
        let mut rgb = vec![0; length];
        if reader.next_frame(&mut rgb).is_err() {
            return Ok(Tiled::NeedsFfmpeg);
        }
        pictures.push((size, rgb));
    }
    let cell = pictures[0].0;
    if pictures.iter().any(|(size, _)| *size != cell) {
        return Ok(Tiled::NeedsFfmpeg);
    }
    let (width, height) = sheet_size(pictures.len(), columns, cell);
    let (columns, _) = grid(pictures.len(), columns);
    let backdrop = backdrop_rgb();
    let mut sheet: Vec<u8> =
        backdrop.iter().copied().cycle().take(width as usize * height as usize * 3).collect();
    let row_bytes = cell.0 as usize * 3;
    for (index, (_, rgb)) in pictures.iter().enumerate() {
        let (column, row) = (index as u32 % columns, index as u32 / columns);
        let left = (SHEET_MARGIN + column * (cell.0 + SHEET_PADDING)) as usize;
        let top = (SHEET_MARGIN + row * (cell.1 + SHEET_PADDING)) as usize;
        for (line, source) in rgb.chunks_exact(row_bytes).enumerate() {
            let at = ((top + line) * width as usize + left) * 3;
            sheet[at..at + row_bytes].copy_from_slice(source);
        }
    }
    let partial = Partial::beside(out_png)?;
    let io = |source| MediaError::Io { path: partial.path().to_path_buf(), source };
    let file = std::fs::File::create(partial.path()).map_err(io)?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    let encoded = |err: png::EncodingError| MediaError::Invalid {
        detail: format!("cannot write the contact sheet `{}`: {err}", out_png.display()),
    };
    let mut writer = encoder.write_header().map_err(encoded)?;
    writer.write_image_data(&sheet).map_err(encoded)?;
    writer.finish().map_err(encoded)?;
    partial.commit()?;
    Ok(Tiled::Written)
}

/// `BACKDROP` (`0xRRGGBB`) as bytes.
fn backdrop_rgb() -> [u8; 3] {
    let value = u32::from_str_radix(BACKDROP.trim_start_matches("0x"), 16).unwrap_or(0);
    let [_, red, green, blue] = value.to_be_bytes();
    [red, green, blue]
}

/// The sheet drawn by ffmpeg: each picture scaled and padded into its cell, then tiled.
async fn contact_sheet_with_ffmpeg(
    ffmpeg: &Ffmpeg,
    thumbnails: &[PathBuf],
    columns: u32,
    out_png: &Path,
) -> Result<(), MediaError> {
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

    /// RGB bytes and size of a PNG.
    fn decoded(path: &Path) -> ((u32, u32), Vec<u8>) {
        let mut reader = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()))
            .read_info()
            .unwrap();
        let mut rgb = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut rgb).unwrap();
        assert_eq!(info.color_type, png::ColorType::Rgb, "{}", path.display());
        ((info.width, info.height), rgb)
    }

    /// Frames of a moving test picture as ffmpeg writes a segment's thumbnail: YUV 4:2:0 to PNG.
    fn thumbnails(ffmpeg: &Ffmpeg, dir: &Path, sizes: &[(u32, u32)]) -> Vec<PathBuf> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        sizes
            .iter()
            .enumerate()
            .map(|(index, (width, height))| {
                let png = dir.join(format!("{index:03}.png"));
                let source = format!("testsrc2=size={width}x{height}:rate=10,trim=start_frame={index}");
                let mut line =
                    args(["-f", "lavfi", "-i", &source, "-frames:v", "1", "-vf", "format=yuv420p"]);
                line.extend(png_args());
                line.push(file_arg(&png));
                runtime.block_on(ffmpeg.run(&line)).unwrap();
                png
            })
            .collect()
    }

    #[test]
    fn a_sheet_tiled_here_is_pixel_for_pixel_what_ffmpeg_tiles() {
        let ffmpeg = Ffmpeg::new(crate::locate("ffmpeg", None).expect("these tests run ffmpeg: install it"));
        let dir = tempfile::tempdir().unwrap();
        // Five in two columns: the last row has an empty cell, drawn as backdrop.
        let pictures = thumbnails(&ffmpeg, dir.path(), &[(320, 178); 5]);
        let (native, drawn) = (dir.path().join("native.png"), dir.path().join("ffmpeg.png"));
        assert_eq!(tile_natively(&pictures, 2, &native).unwrap(), Tiled::Written);
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(contact_sheet_with_ffmpeg(&ffmpeg, &pictures, 2, &drawn)).unwrap();
        let (size, rgb) = decoded(&native);
        assert_eq!(size, sheet_size(5, 2, (320, 178)));
        assert!(rgb == decoded(&drawn).1, "the sheets differ");
        assert_eq!(&rgb[..3], &backdrop_rgb(), "the margin");
        assert_eq!(backdrop_rgb(), [0x14, 0x16, 0x1c]);

        // Pictures of different sizes need ffmpeg's scaler, and get it through `contact_sheet`.
        let mixed = thumbnails(&ffmpeg, dir.path(), &[(320, 178), (160, 90)]);
        let sheet = dir.path().join("mixed.png");
        assert_eq!(tile_natively(&mixed, 2, &sheet).unwrap(), Tiled::NeedsFfmpeg);
        assert!(!sheet.exists());
        runtime.block_on(contact_sheet(&ffmpeg, &mixed, 2, &sheet)).unwrap();
        assert_eq!(decoded(&sheet).0, sheet_size(2, 2, (320, 178)));
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
