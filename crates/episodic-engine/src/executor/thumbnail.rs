//! A segment's thumbnail: a frame from its middle, kept beside the segment in the artifact store
//! (`<sha256>.thumb.png`, so it belongs to exactly those bytes). Compose draws it as soon as the
//! segment exists, while other renders are still running; concat only gathers them.

use crate::NodeError;
use episodic_media::{Ffmpeg, Probe};
use std::path::{Path, PathBuf};

/// Width of the thumbnails, in pixels.
pub(crate) const WIDTH: u32 = 320;

/// Where the thumbnail of the segment at `segment` is kept.
pub(crate) fn path_of(segment: &Path) -> PathBuf {
    segment.with_extension("thumb.png")
}

/// The segment's thumbnail, drawn now unless it is already there. Probing the segment for its
/// length also leaves its facts in memory for concat.
pub(crate) async fn ensure(ffmpeg: &Ffmpeg, probe: &Probe, segment: &Path) -> Result<PathBuf, NodeError> {
    let picture = path_of(segment);
    if tokio::fs::metadata(&picture).await.is_ok_and(|meta| meta.len() > 0) {
        return Ok(picture);
    }
    let seconds = probe.probe_async(segment).await?.duration.unwrap_or(0.0);
    episodic_media::thumbnail(ffmpeg, segment, seconds / 2.0, WIDTH, &picture).await?;
    Ok(picture)
}
