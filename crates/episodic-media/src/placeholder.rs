//! What the local studio renders in place of fal's models: real, playable MP4 clips of the asked size,
//! frame rate and length, made from the request's own image, audio or prompt.
//!
//! They stand in for paid renders in tests and dry runs, so they must behave like the real thing where
//! the pipeline can tell: an avatar clip lasts as long as its speech and carries it; an image-to-video
//! clip moves and is silent unless asked; a text-to-video clip shows what it was asked for.

use crate::encode::{EncodeSettings, check_seconds, container_args};
use crate::ffmpeg::{Ffmpeg, args, file_arg};
use crate::filter::{BACKDROP, escape_value, even_up};
use crate::output::Partial;
use crate::{MediaError, Probe};
use std::ffi::OsString;
use std::path::Path;

/// The most words of a prompt a test card shows.
const CAPTION_WORDS: usize = 8;
/// The most characters of a prompt a test card shows.
const CAPTION_CHARS: usize = 48;

/// An avatar clip: `image` gently swaying, fitted inside `size` on a dark backdrop, for exactly as long
/// as `audio` (to the nearest frame), with all of that audio. Returns the clip's length in seconds.
///
/// The length is ffprobe's, which for MP3 includes the encoder's padding (tens of milliseconds); the
/// nearest frame absorbs it.
pub async fn avatar(
    ffmpeg: &Ffmpeg,
    probe: &Probe,
    image: &Path,
    audio: &Path,
    size: (u32, u32),
    fps: u32,
    out: &Path,
) -> Result<f64, MediaError> {
    let settings = settings(size, fps)?;
    let info = probe.probe_async(audio).await?;
    let seconds = info.audio().and(info.audio_seconds()).ok_or_else(|| MediaError::Unreadable {
        tool: "ffprobe",
        path: audio.to_path_buf(),
        detail: "no audio stream with a known length".into(),
    })?;
    let frames = settings.frames(seconds);
    let channels = info.audio().and_then(|stream| stream.channels);
    let graph = avatar_graph(&settings, frames, channels);
    let mut line = args(["-i"]);
    line.extend([file_arg(image), "-i".into(), file_arg(audio)]);
    line.extend(args(["-filter_complex", graph.as_str(), "-map", "[v]", "-map", "[a]"]));
    line.extend(settings.output_args());
    write(ffmpeg, line, out).await?;
    Ok(frames as f64 / f64::from(fps))
}

/// An image-to-video clip: `image` slowly panning, `seconds` long, silent unless `with_audio` (then
/// quiet pink noise). Returns the clip's length in seconds.
pub async fn image_clip(
    ffmpeg: &Ffmpeg,
    image: &Path,
    seconds: f64,
    size: (u32, u32),
    fps: u32,
    with_audio: bool,
    out: &Path,
) -> Result<f64, MediaError> {
    let settings = settings(size, fps)?;
    check_seconds(seconds)?;
    let frames = settings.frames(seconds);
    let graph = image_clip_graph(&settings, frames, with_audio);
    let mut line = args(["-i"]);
    line.push(file_arg(image));
    line.extend(args(["-filter_complex", graph.as_str()]));
    line.extend(outputs(&settings, with_audio));
    write(ffmpeg, line, out).await?;
    Ok(frames as f64 / f64::from(fps))
}

/// A text-to-video clip: a moving test card with the first words of `text` drawn on it (when the
/// [`Ffmpeg`] has a font), `seconds` long, silent unless `with_audio` (then a quiet tone).
/// Returns the clip's length in seconds.
pub async fn test_card(
    ffmpeg: &Ffmpeg,
    text: &str,
    seconds: f64,
    size: (u32, u32),
    fps: u32,
    with_audio: bool,
    out: &Path,
) -> Result<f64, MediaError> {
    let settings = settings(size, fps)?;
    check_seconds(seconds)?;
    let frames = settings.frames(seconds);
    let graph = test_card_graph(&settings, frames, text, ffmpeg.font(), with_audio);
    let mut line = args(["-filter_complex", graph.as_str()]);
    line.extend(outputs(&settings, with_audio));
    write(ffmpeg, line, out).await?;
    Ok(frames as f64 / f64::from(fps))
}

fn settings(size: (u32, u32), fps: u32) -> Result<EncodeSettings, MediaError> {
    let settings = EncodeSettings::new(size.0, size.1, fps);
    settings.check()?;
    Ok(settings)
}

/// The maps and output options for a clip whose graph labels `[v]` and, `with_audio`, `[a]`.
fn outputs(settings: &EncodeSettings, with_audio: bool) -> Vec<OsString> {
    let mut line = args(["-map", "[v]"]);
    line.extend(settings.video_args());
    if with_audio {
        line.extend(args(["-map", "[a]"]));
        line.extend(settings.audio_args());
    }
    line.extend(container_args());
    line
}

async fn write(ffmpeg: &Ffmpeg, mut line: Vec<OsString>, out: &Path) -> Result<(), MediaError> {
    let partial = Partial::beside(out)?;
    line.push(file_arg(partial.path()));
    ffmpeg.run(&line).await?;
    partial.commit()
}

/// `image` fitted inside a box `zoom` times the frame, on the backdrop, one decoded frame repeated
/// forever at the output rate (labelled `[still]`); the caller crops the frame out of it and trims.
fn still(settings: &EncodeSettings, zoom: f64) -> String {
    let (width, height) =
        (even_up(f64::from(settings.width) * zoom), even_up(f64::from(settings.height) * zoom));
    let fps = settings.fps;
    format!(
        "color=c={BACKDROP}:s={width}x{height}:r={fps}[bg];\
         [0:v]scale={width}:{height}:force_original_aspect_ratio=decrease:force_divisible_by=2,format=rgba,\
         loop=loop=-1:size=1:start=0,setpts=N/({fps}*TB)[fg];\
         [bg][fg]overlay=x=(W-w)/2:y=(H-h)/2:format=auto[still]"
    )
}

/// A slow sway (±0.7°, 3.2 s period) on a still 4% larger than the frame, so no corner shows.
fn avatar_graph(settings: &EncodeSettings, frames: u64, channels: Option<u32>) -> String {
    let still = still(settings, 1.04);
    format!(
        "{still};[still]rotate=a=0.012*sin(2*PI*t/3.2):fillcolor={BACKDROP},crop={w}:{h},\
         trim=end_frame={frames},{finish}[v];[1:a]{audio}[a]",
        w = settings.width,
        h = settings.height,
        finish = settings.video_finish(),
        audio = settings.audio_format(channels),
    )
}

/// A left-to-right pan across a still 12% larger than the frame, over the clip's length.
fn image_clip_graph(settings: &EncodeSettings, frames: u64, with_audio: bool) -> String {
    let still = still(settings, 1.12);
    let seconds = frames as f64 / f64::from(settings.fps);
    let mut graph = format!(
        "{still};[still]crop={w}:{h}:x='(iw-ow)*min(t/{seconds},1)':y=(ih-oh)/2,\
         trim=end_frame={frames},{finish}[v]",
        w = settings.width,
        h = settings.height,
        finish = settings.video_finish(),
    );
    if with_audio {
        graph.push_str(&format!(
            ";anoisesrc=c=pink:r={rate}:a=0.02:seed=1,{audio},atrim=end_sample={samples}[a]",
            rate = settings.audio_rate,
            audio = settings.audio_format(Some(1)),
            samples = settings.samples(frames),
        ));
    }
    graph
}

/// `testsrc2` with the caption centred in a dark box, and a quiet 440 Hz tone when asked.
fn test_card_graph(
    settings: &EncodeSettings,
    frames: u64,
    text: &str,
    font: Option<&Path>,
    with_audio: bool,
) -> String {
    let (width, height) = (settings.width, settings.height);
    let mut graph =
        format!("testsrc2=s={width}x{height}:r={fps},trim=end_frame={frames}", fps = settings.fps);
    let caption = caption(text);
    if let (Some(font), false) = (font, caption.is_empty()) {
        let chars = caption.chars().count() as f64;
        let size = (f64::from(height) / 8.0).min(f64::from(width) * 0.9 / (0.62 * chars)).floor().max(8.0);
        graph.push_str(&format!(
            ",drawtext=fontfile={font}:text={text}:expansion=none:fontcolor=white:fontsize={size}:\
             box=1:boxcolor=black@0.6:boxborderw={border}:x=(w-text_w)/2:y=(h-text_h)/2",
            font = escape_value(&font.to_string_lossy()),
            text = escape_value(&caption),
            border = (size / 4.0).ceil(),
        ));
    }
    graph.push_str(&format!(",{}[v]", settings.video_finish()));
    if with_audio {
        graph.push_str(&format!(
            ";sine=f=440:r={rate},volume=-26dB,{audio},atrim=end_sample={samples}[a]",
            rate = settings.audio_rate,
            audio = settings.audio_format(Some(1)),
            samples = settings.samples(frames),
        ));
    }
    graph
}

/// The first words of `text` on one line: at most [`CAPTION_WORDS`] words and [`CAPTION_CHARS`]
/// characters, control characters dropped, `…` when cut.
fn caption(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut caption = String::new();
    let mut cut = words.len() > CAPTION_WORDS;
    for word in words.iter().take(CAPTION_WORDS) {
        let word: String = word.chars().filter(|c| !c.is_control()).collect();
        let needed = caption.chars().count() + usize::from(!caption.is_empty()) + word.chars().count();
        if needed > CAPTION_CHARS {
            if caption.is_empty() {
                caption = word.chars().take(CAPTION_CHARS).collect();
            }
            cut = true;
            break;
        }
        if !caption.is_empty() {
            caption.push(' ');
        }
        caption.push_str(&word);
    }
    if cut && !caption.is_empty() {
        caption.push('…');
    }
    caption
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captions_keep_the_first_words() {
        assert_eq!(
            caption("  Neon skyline\tat night,\nslow dolly in. "),
            "Neon skyline at night, slow dolly in."
        );
        assert_eq!(
            caption("one two three four five six seven eight nine"),
            "one two three four five six seven eight…"
        );
        assert_eq!(caption(&"x".repeat(100)), format!("{}…", "x".repeat(48)));
        assert_eq!(caption("bell\u{7}ring"), "bellring");
        assert_eq!(caption("  "), "");
        let long = caption("supercalifragilistic expialidocious antidisestablishmentarianism words");
        assert!(long.chars().count() <= CAPTION_CHARS + 1 && long.ends_with('…'), "{long}");
    }

    #[test]
    fn avatar_graph_lasts_the_asked_frames_and_keeps_the_audio_whole() {
        let graph = avatar_graph(&EncodeSettings::new(320, 180, 10), 25, Some(1));
        assert!(graph.contains("color=c=0x14161c:s=334x188:r=10[bg]"), "{graph}");
        assert!(graph.contains("rotate=a=0.012*sin(2*PI*t/3.2)"), "{graph}");
        assert!(graph.contains("crop=320:180,trim=end_frame=25,"), "{graph}");
        assert!(graph.ends_with("[1:a]pan=stereo|c0=c0|c1=c0,aresample=48000,aformat=sample_fmts=fltp:sample_rates=48000:channel_layouts=stereo[a]"), "{graph}");
        assert!(!graph.contains("atrim"), "speech is never cut: {graph}");
    }

    #[test]
    fn image_clip_pans_and_adds_noise_only_when_asked() {
        let settings = EncodeSettings::new(320, 180, 10);
        let silent = image_clip_graph(&settings, 30, false);
        assert!(silent.contains("crop=320:180:x='(iw-ow)*min(t/3,1)'"), "{silent}");
        assert!(!silent.contains("[a]"));
        let loud = image_clip_graph(&settings, 30, true);
        assert!(loud.contains("anoisesrc=c=pink") && loud.ends_with("atrim=end_sample=144000[a]"), "{loud}");
    }

    #[test]
    fn test_card_draws_text_only_with_a_font() {
        let settings = EncodeSettings::new(320, 180, 10);
        let text = "it's 100%: [done]";
        let without = test_card_graph(&settings, 20, text, None, false);
        assert!(!without.contains("drawtext"), "{without}");
        let with = test_card_graph(&settings, 20, text, Some(Path::new("/fonts/a b.ttf")), false);
        assert!(
            with.contains(r"drawtext=fontfile=/fonts/a b.ttf:text=it\\\'s 100%\\: \[done\]:expansion=none"),
            "{with}"
        );
        assert!(!with.contains("[a]"));
        let toned = test_card_graph(&settings, 20, text, None, true);
        assert!(
            toned.contains("sine=f=440:r=48000") && toned.ends_with("atrim=end_sample=96000[a]"),
            "{toned}"
        );
    }
}
