//! A/B comparisons: one segment rendered on several models, the clips side by side (two or
//! three) or in a grid (four or more), each captioned with its model, cost and render time.

use crate::MediaError;
use crate::ffmpeg::{Ffmpeg, args, file_arg};
use crate::filter::escape_value;
use std::path::{Path, PathBuf};

/// The widest comparison written: tiles shrink to fit it.
const MAX_WIDTH: u32 = 1920;

/// One clip of a comparison and its caption.
#[derive(Debug, Clone)]
pub struct Labelled {
    /// The clip.
    pub path: PathBuf,
    /// Its caption: `kling-avatar-v2-pro · $0.869 · 41 s to render`.
    pub label: String,
}

/// How the tiles are laid out: columns and rows, and each tile's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grid {
    /// Tiles across.
    pub columns: u32,
    /// Tiles down.
    pub rows: u32,
    /// Each tile's width.
    pub width: u32,
    /// Each tile's height.
    pub height: u32,
}

impl Grid {
    /// Side by side up to three clips, else the squarest grid; tiles keep the clips' shape and
    /// shrink so the whole is at most [`MAX_WIDTH`] wide.
    pub fn for_clips(count: u32, clip: (u32, u32)) -> Grid {
        let count = count.max(1);
        let columns = if count <= 3 { count } else { (f64::from(count).sqrt().ceil()) as u32 };
        let rows = count.div_ceil(columns);
        let width = even(clip.0.min(MAX_WIDTH / columns));
        let height = even((u64::from(clip.1) * u64::from(width) / u64::from(clip.0.max(1))) as u32);
        Grid { columns, rows, width, height }
    }
}

fn even(value: u32) -> u32 {
    (value.max(2) / 2) * 2
}

/// The filter graph: each clip fitted to its tile and captioned (when there is a font), then
/// stacked; the first clip's sound is the comparison's.
fn graph(clips: &[Labelled], grid: Grid, fps: u32, font: Option<&Path>) -> String {
    let (w, h) = (grid.width, grid.height);
    let mut graph = String::new();
    for (at, clip) in clips.iter().enumerate() {
        graph.push_str(&format!(
            "[{at}:v]scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,setsar=1,fps={fps}"
        ));
        if let Some(font) = font {
            let chars = clip.label.chars().count().max(1) as f64;
            let size = (f64::from(h) / 10.0).min(f64::from(w) * 0.92 / (0.6 * chars)).floor().max(6.0);
            graph.push_str(&format!(
                ",drawtext=fontfile={font}:text={text}:expansion=none:fontcolor=white:fontsize={size}:\
                 box=1:boxcolor=black@0.6:boxborderw={border}:x=(w-text_w)/2:y=h-text_h-{border}*2",
                font = escape_value(&font.to_string_lossy()),
                text = escape_value(&clip.label),
                border = (size / 4.0).ceil(),
            ));
        }
        graph.push_str(&format!("[t{at}];"));
    }
    let inputs: String = (0..clips.len()).map(|at| format!("[t{at}]")).collect();
    if clips.len() == 1 {
        graph.push_str(&format!("{inputs}null[v]"));
    } else {
        let layout: Vec<String> = (0..clips.len() as u32)
            .map(|at| format!("{}_{}", (at % grid.columns) * w, (at / grid.columns) * h))
            .collect();
        graph.push_str(&format!(
            "{inputs}xstack=inputs={}:layout={}:fill=black[v]",
            clips.len(),
            layout.join("|")
        ));
    }
    graph
}

/// Writes the comparison of `clips` (all of one segment, so of one length and one sound) to
/// `output` as H.264 and AAC, captions drawn with the [`Ffmpeg`]'s font when it has one.
pub async fn compare_grid(
    ffmpeg: &Ffmpeg,
    clips: &[Labelled],
    clip_size: (u32, u32),
    fps: u32,
    output: &Path,
) -> Result<Grid, MediaError> {
    let grid = Grid::for_clips(clips.len() as u32, clip_size);
    let mut line = Vec::new();
    for clip in clips {
        line.extend(args(["-i"]));
        line.push(file_arg(&clip.path));
    }
    let graph = graph(clips, grid, fps, ffmpeg.font());
    line.extend(args(["-filter_complex", &graph, "-map", "[v]", "-map", "0:a?"]));
    line.extend(args(["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p"]));
    line.extend(args(["-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart"]));
    line.push(file_arg(output));
    ffmpeg.run(&line).await?;
    Ok(grid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn up_to_three_side_by_side_then_a_grid_no_wider_than_hd() {
        assert_eq!(Grid::for_clips(2, (240, 134)), Grid { columns: 2, rows: 1, width: 240, height: 134 });
        assert_eq!(Grid::for_clips(3, (1920, 1080)), Grid { columns: 3, rows: 1, width: 640, height: 360 });
        assert_eq!(Grid::for_clips(4, (1920, 1080)), Grid { columns: 2, rows: 2, width: 960, height: 540 });
        assert_eq!(Grid::for_clips(5, (1080, 1920)).columns, 3);
    }

    #[test]
    fn tiles_are_placed_on_the_grid_and_captioned() {
        let clips: Vec<Labelled> = ["a", "b", "c", "d"]
            .iter()
            .map(|name| Labelled {
                path: PathBuf::from(name), label: format!("{name} · $0.10 · 3 s: done")
            })
            .collect();
        let grid = Grid::for_clips(4, (200, 100));
        let graph = graph(&clips, grid, 30, Some(Path::new("/f.ttf")));
        assert!(graph.contains("xstack=inputs=4:layout=0_0|200_0|0_100|200_100:fill=black[v]"), "{graph}");
        assert!(graph.contains(r"text=d · $0.10 · 3 s\\: done"), "{graph}");
        assert!(!super::graph(&clips[..1], Grid::for_clips(1, (200, 100)), 30, None).contains("drawtext"));
    }
}
