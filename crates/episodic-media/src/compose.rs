//! One segment of an episode: the speaker (or b-roll) clip, alone or beside the silent listener,
//! normalised to the episode's canvas, frame rate and audio, and exactly as long as asked.
//!
//! Every segment leaves here encoded with the same [`EncodeSettings`], so the episode can be joined by
//! copying video. A segment is exactly as many frames as its length asks; one that keeps its sound
//! ([`Composition::sound`]) has it cut or padded to the same number of samples, as 16-bit PCM in a
//! QuickTime file ([`EncodeSettings::segment_args`]). The engine's segments are pictures only: the
//! episode's sound is cut from the same clips by the same chain ([`crate::episode_audio`]) and
//! encoded once, and concat copies both.

use crate::captions::CaptionFont;
use crate::encode::{EncodeSettings, check_seconds};
use crate::ffmpeg::{Ffmpeg, args, file_arg};
use crate::filter::{BACKDROP, burn_captions, fit};
use crate::output::Partial;
use crate::{MediaError, Probe};
use std::ffi::OsString;
use std::io::Write;
use std::path::Path;

/// How a segment's frame is shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layout {
    /// The main clip fills the whole canvas.
    Solo,
    /// Two halves, left and right (`hstack`).
    SideBySide,
    /// Two halves, top and bottom (`vstack`).
    Stacked,
}

/// Where a character sits in a two-shot layout; each keeps its seat whoever speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Seat {
    /// Left, or top.
    First,
    /// Right, or bottom.
    Second,
}

/// How the listener clip is fitted to the segment's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fill {
    /// Play it once: cut it when long, hold its last frame when short.
    Trim,
    /// Play it again and again, then cut it.
    Loop,
}

/// What one segment is made of and how it is laid out.
#[derive(Debug, Clone, Copy)]
pub struct Composition<'a> {
    /// How the frame is shared.
    pub layout: Layout,
    /// The frame size; must equal the encode settings' size.
    pub canvas: (u32, u32),
    /// Frames per second; must equal the encode settings' rate.
    pub fps: u32,
    /// The segment's length.
    pub seconds: f64,
    /// The speaker (or b-roll) clip; its audio is the segment's audio (silence when it has none).
    pub main: &'a Path,
    /// Where the speaker sits in two-shot layouts.
    pub main_seat: Seat,
    /// The silent listener clip and how to fit it; a solo layout refuses one.
    pub listener: Option<(&'a Path, Fill)>,
    /// How the segment is encoded.
    pub encode: &'a EncodeSettings,
    /// Whether the segment keeps the main clip's sound (as 16-bit PCM). The engine composes
    /// pictures only: the episode's sound is made by its own node from the same clips, and concat
    /// copies only the segments' video, so a segment's track was decoded, resampled and written
    /// for nobody (15 % of a compose's CPU at the benchmarks' canvas).
    pub sound: bool,
}

/// Captions a compose draws into its segment, in the same filter graph and encode.
#[derive(Debug, Clone, Copy)]
pub struct BurnIn<'a> {
    /// The segment's ASS script, times relative to the segment
    /// ([`crate::captions::Track::ass`] of [`crate::captions::Track::segment`]).
    pub script: &'a str,
    /// The font the script names, handed to libass so it draws no other.
    pub font: &'a CaptionFont,
}

/// What a compose makes besides the segment itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct ComposeExtras<'a> {
    /// The segment's middle frame, this many pixels wide, written as a PNG at this path.
    pub thumbnail: Option<(&'a Path, u32)>,
    /// Captions burned into the segment (the thumbnail shows them too).
    pub captions: Option<BurnIn<'a>>,
}

/// Writes the segment `c` describes to `out` (through a temporary file beside it).
pub async fn compose(
    ffmpeg: &Ffmpeg,
    probe: &Probe,
    c: &Composition<'_>,
    out: &Path,
) -> Result<(), MediaError> {
    compose_with(ffmpeg, probe, c, out, ComposeExtras::default()).await
}

/// As [`compose`], and writes the segment's middle frame, `width` pixels wide, to `thumbnail` (a
/// PNG) in the same run of ffmpeg: a second run would start ffmpeg and decode the segment again.
pub async fn compose_with_thumbnail(
    ffmpeg: &Ffmpeg,
    probe: &Probe,
    c: &Composition<'_>,
    out: &Path,
    thumbnail: &Path,
    width: u32,
) -> Result<(), MediaError> {
    compose_with(ffmpeg, probe, c, out, ComposeExtras { thumbnail: Some((thumbnail, width)), captions: None })
        .await
}

/// As [`compose`], with the `extras` (a thumbnail, burned-in captions) made in the same run of
/// ffmpeg: captions cost their drawing, not another decode and encode of the segment.
pub async fn compose_with(
    ffmpeg: &Ffmpeg,
    probe: &Probe,
    c: &Composition<'_>,
    out: &Path,
    extras: ComposeExtras<'_>,
) -> Result<(), MediaError> {
    let prepared = prepare(probe, &ComposeJob { composition: *c, out, extras }, 0, "", None).await?;
    let mut line = decoding(ffmpeg, &prepared.inputs);
    line.extend(args(["-filter_complex", prepared.graph.join(";").as_str()]));
    line.extend(prepared.outputs.iter().cloned());
    ffmpeg.run(&line).await?;
    prepared.commit()
}

/// One segment of [`compose_batch`]: what [`compose_with`] takes.
#[derive(Debug, Clone, Copy)]
pub struct ComposeJob<'a> {
    /// What the segment is made of.
    pub composition: Composition<'a>,
    /// Where it is written.
    pub out: &'a Path,
    /// Its thumbnail and captions.
    pub extras: ComposeExtras<'a>,
}

/// Composes every job in one run of ffmpeg, each exactly as [`compose_with`] would, and says how
/// each ended (in the order given). ffmpeg's start (loading its libraries, about 70 ms of CPU) is
/// paid once for them all, and a listener clip several segments share is opened once: what a
/// backlog of small composes is mostly made of. When the shared run fails, each job is composed
/// alone, so a bad segment fails by itself, with its own error, and the others are still made.
pub async fn compose_batch(
    ffmpeg: &Ffmpeg,
    probe: &Probe,
    jobs: &[ComposeJob<'_>],
) -> Vec<Result<(), MediaError>> {
    if jobs.len() <= 1 {
        let mut results = Vec::with_capacity(jobs.len());
        for job in jobs {
            results.push(compose_with(ffmpeg, probe, &job.composition, job.out, job.extras).await);
        }
        return results;
    }
    // A listener clip several segments of the batch show alike (the same file, fill, box and
    // rate: one character's listening clip shared by the segments where it listens) is decoded
    // and fitted once, then split: 10 % of a batch's CPU at the benchmarks' canvas.
    let mut groups: Vec<SharedListener> = Vec::new();
    for (index, job) in jobs.iter().enumerate() {
        let c = &job.composition;
        let (Some((path, fill)), Some(size)) = (c.listener, listener_box(c)) else { continue };
        let same =
            |g: &&mut SharedListener| g.path == path && g.fill == fill && g.size == size && g.fps == c.fps;
        match groups.iter_mut().find(same) {
            Some(group) => group.members.push(index),
            None => groups.push(SharedListener { path, fill, size, fps: c.fps, members: vec![index] }),
        }
    }
    groups.retain(|group| group.members.len() > 1);
    let shared_label = |index: usize| {
        groups
            .iter()
            .position(|group| group.members.contains(&index))
            .map(|g| format!("listener_{g}_{index}"))
    };
    let mut inputs = 0usize;
    let mut prepared = Vec::with_capacity(jobs.len());
    for (index, job) in jobs.iter().enumerate() {
        let shared = shared_label(index);
        match prepare(probe, job, inputs, &format!("_{index}"), shared.as_deref()).await {
            Ok(ready) => {
                inputs += ready.input_count;
                prepared.push(Ok(ready));
            }
            Err(err) => prepared.push(Err(err)),
        }
    }
    let mut line = Vec::new();
    let mut graph = Vec::new();
    let mut outputs = Vec::new();
    for (g, SharedListener { path, fill, size: (width, height), fps, members }) in groups.iter().enumerate() {
        // Only the segments that were prepared take a branch: a split output left unread fails
        // the run.
        let branches: Vec<String> = members
            .iter()
            .filter(|&&index| prepared.get(index).is_some_and(Result::is_ok))
            .map(|index| format!("[listener_{g}_{index}]"))
            .collect();
        if branches.is_empty() {
            continue;
        }
        line.extend(decoding(ffmpeg, &listener_input(path, *fill)));
        graph.push(format!(
            "[{inputs}:v]fps={fps},{fit},tpad=stop=-1:stop_mode=clone,split={n}{outs}",
            fit = fit(*width, *height),
            n = branches.len(),
            outs = branches.concat()
        ));
        inputs += 1;
    }
    // The segments' own inputs come first, numbered from 0 as they were prepared.
    let shared_inputs = std::mem::take(&mut line);
    for ready in prepared.iter().flatten() {
        line.extend(decoding(ffmpeg, &ready.inputs));
        graph.extend(ready.graph.iter().cloned());
        // The thread limit `Ffmpeg::run` places reaches only the last output: each segment's
        // encoder gets its own.
        if let Some(threads) = ffmpeg.threads() {
            let (file, options) =
                ready.outputs.split_last().map_or((None, &ready.outputs[..]), |(f, o)| (Some(f), o));
            outputs.extend(options.iter().cloned());
            outputs.extend(args(["-threads", threads.to_string().as_str()]));
            outputs.extend(file.cloned());
        } else {
            outputs.extend(ready.outputs.iter().cloned());
        }
    }
    line.extend(shared_inputs);
    line.extend(args(["-filter_complex", graph.join(";").as_str()]));
    line.extend(outputs);
    let ran = if prepared.iter().flatten().count() > 0 { ffmpeg.run(&line).await } else { Ok(()) };
    match ran {
        Ok(()) => prepared.into_iter().map(|ready| ready.and_then(Prepared::commit)).collect(),
        Err(_) => {
            drop(prepared);
            let mut results = Vec::with_capacity(jobs.len());
            for job in jobs {
                results.push(compose_with(ffmpeg, probe, &job.composition, job.out, job.extras).await);
            }
            results
        }
    }
}

/// `inputs` with the thread limit, when `ffmpeg` has one, given to each input's decoder as well:
/// an H.264 decoder otherwise starts a thread per core for each clip, and a compose sharing the
/// cores (or a batch opening forty clips) spends more CPU switching between them than decoding
/// (17 % of a 10-segment batch's CPU at the benchmarks' canvas).
fn decoding(ffmpeg: &Ffmpeg, inputs: &[OsString]) -> Vec<OsString> {
    let Some(threads) = ffmpeg.threads() else { return inputs.to_vec() };
    let mut line = Vec::with_capacity(inputs.len() * 2);
    for arg in inputs {
        if arg == "-i" {
            line.extend(args(["-threads", threads.to_string().as_str()]));
        }
        line.push(arg.clone());
    }
    line
}

/// A listener clip that several segments of a batch show alike, and which segments (by index).
struct SharedListener<'a> {
    path: &'a Path,
    fill: Fill,
    size: (u32, u32),
    fps: u32,
    members: Vec<usize>,
}

/// One segment's part of an ffmpeg run: its inputs, its filter chains, its outputs, and the
/// temporary files they are written to until the run succeeds.
struct Prepared {
    inputs: Vec<OsString>,
    /// How many `-i` inputs `inputs` holds.
    input_count: usize,
    graph: Vec<String>,
    outputs: Vec<OsString>,
    partial: Partial,
    picture: Option<Partial>,
    /// The captions' script, read by ffmpeg while it runs, removed when this is dropped.
    _captions: Option<tempfile::TempPath>,
}

impl Prepared {
    /// Moves the finished files into place: the thumbnail first, so a segment never lacks it.
    fn commit(self) -> Result<(), MediaError> {
        if let Some(picture) = self.picture {
            picture.commit()?;
        }
        self.partial.commit()
    }
}

/// Checks `job`, probes its main clip and writes its captions' script; its inputs are numbered
/// from `base` and its filter labels end in `tag`, so several jobs can share one run. With
/// `shared`, its listener is that filter label (the clip already fitted to its box), not an input
/// of its own.
async fn prepare(
    probe: &Probe,
    job: &ComposeJob<'_>,
    base: usize,
    tag: &str,
    shared: Option<&str>,
) -> Result<Prepared, MediaError> {
    let (c, out, extras) = (&job.composition, job.out, job.extras);
    check(c)?;
    if let Some((_, width)) = extras.thumbnail
        && !(2..=8192).contains(&width)
    {
        return Err(MediaError::Invalid { detail: format!("a thumbnail {width} px wide") });
    }
    let captions = extras.captions.map(|burn| script_file(burn, out)).transpose()?;
    let info = probe.probe_async(c.main).await?;
    if info.video().is_none() {
        return Err(MediaError::Unreadable {
            tool: "ffprobe",
            path: c.main.to_path_buf(),
            detail: "no video stream".into(),
        });
    }
    let main_audio = info.audio().map(|audio| audio.channels);
    let partial = Partial::beside(out)?;
    let picture = extras
        .thumbnail
        .map(|(path, width)| Partial::beside(path).map(|picture| (picture, width)))
        .transpose()?;
    let burn = match &captions {
        Some((script, font)) => Some(burn_captions(script, font.folder())?),
        None => None,
    };
    let parts = compose_parts(
        c,
        main_audio,
        picture.as_ref().map(|(picture, width)| (*width, picture.path())),
        burn.as_deref(),
        base,
        tag,
        shared,
    );
    let mut outputs = parts.outputs;
    outputs.push(file_arg(partial.path()));
    Ok(Prepared {
        input_count: parts.input_count,
        inputs: parts.inputs,
        graph: parts.graph,
        outputs,
        partial,
        picture: picture.map(|(picture, _)| picture),
        _captions: captions.map(|(script, _)| script),
    })
}

/// Writes the captions' script to a hidden temporary file beside `out` (removed when dropped), and
/// checks their font is still there.
fn script_file<'a>(
    burn: BurnIn<'a>,
    out: &Path,
) -> Result<(tempfile::TempPath, &'a CaptionFont), MediaError> {
    burn.font.check()?;
    let dir = match out.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let write = |source| MediaError::Write { path: dir.join(".captions.ass"), source };
    let mut file =
        tempfile::Builder::new().prefix(".captions").suffix(".ass").tempfile_in(dir).map_err(write)?;
    file.write_all(burn.script.as_bytes()).map_err(write)?;
    Ok((file.into_temp_path(), burn.font))
}

fn check(c: &Composition<'_>) -> Result<(), MediaError> {
    c.encode.check()?;
    check_seconds(c.seconds)?;
    if c.canvas != c.encode.size() || c.fps != c.encode.fps {
        return Err(MediaError::Invalid {
            detail: format!(
                "the composition is {}x{} at {} fps but its encode settings are {}x{} at {} fps",
                c.canvas.0, c.canvas.1, c.fps, c.encode.width, c.encode.height, c.encode.fps
            ),
        });
    }
    if c.layout == Layout::Solo && c.listener.is_some() {
        return Err(MediaError::Invalid { detail: "a solo segment has no room for a listener".into() });
    }
    Ok(())
}

/// The boxes of a layout, first seat first.
fn boxes(layout: Layout, (width, height): (u32, u32)) -> Vec<(u32, u32)> {
    // Halves are kept even for 4:2:0; an odd half goes to the second seat as one extra pair of pixels.
    match layout {
        Layout::Solo => vec![(width, height)],
        Layout::SideBySide => {
            let first = width / 2 / 2 * 2;
            vec![(first, height), (width - first, height)]
        }
        Layout::Stacked => {
            let first = height / 2 / 2 * 2;
            vec![(width, first), (width, height - first)]
        }
    }
}

/// ffmpeg's arguments up to the segment's output file, as one line (see [`compose_parts`]).
#[cfg(test)]
fn compose_args(
    c: &Composition<'_>,
    main_audio: Option<Option<u32>>,
    thumbnail: Option<(u32, &Path)>,
    burn: Option<&str>,
) -> Vec<OsString> {
    let parts = compose_parts(c, main_audio, thumbnail, burn, 0, "", None);
    let mut line = parts.inputs;
    line.extend(args(["-filter_complex", parts.graph.join(";").as_str()]));
    line.extend(parts.outputs);
    line
}

/// The `-i` of a listener clip, looped when its fill asks.
fn listener_input(listener: &Path, fill: Fill) -> Vec<OsString> {
    let mut inputs = Vec::new();
    if fill == Fill::Loop {
        inputs.extend(args(["-stream_loop", "-1"]));
    }
    inputs.extend(["-i".into(), file_arg(listener)]);
    inputs
}

/// The box the listener of `c` is fitted to, when it has one.
fn listener_box(c: &Composition<'_>) -> Option<(u32, u32)> {
    c.listener?;
    match (boxes(c.layout, c.canvas).as_slice(), c.main_seat) {
        ([_, second], Seat::First) => Some(*second),
        ([first, _], Seat::Second) => Some(*first),
        _ => None,
    }
}

/// One segment's share of an ffmpeg run.
struct Parts {
    /// `-i` options and files.
    inputs: Vec<OsString>,
    input_count: usize,
    /// Filter chains, to be joined with `;` into the run's `-filter_complex`.
    graph: Vec<String>,
    /// Output options up to (not including) the segment's file.
    outputs: Vec<OsString>,
}

/// ffmpeg's arguments for one segment, its inputs numbered from `base` and its filter labels
/// ending in `tag` (empty for a run of its own); `main_audio` is `None` when the main clip is
/// silent, else its channel count when known. With `thumbnail` (a width and a PNG path), the
/// middle frame at that width is an output before the segment. `burn` is a filter drawing
/// captions on the finished frame (after the colour conversion, so libass blends onto the pixels
/// that are encoded, and the thumbnail shows them). The segment is always the last output: options
/// ffmpeg adds before the last file (the thread limit of [`Ffmpeg::with_threads`]) then reach its
/// x264 encode, the part of a compose that threads matter for, not the one-frame PNG.
fn compose_parts(
    c: &Composition<'_>,
    main_audio: Option<Option<u32>>,
    thumbnail: Option<(u32, &Path)>,
    burn: Option<&str>,
    base: usize,
    tag: &str,
    shared: Option<&str>,
) -> Parts {
    let encode = c.encode;
    let frames = encode.frames(c.seconds);
    let samples = encode.samples(frames);
    let mut inputs = args(["-i"]);
    inputs.push(file_arg(c.main));
    let own_listener = c.listener.filter(|_| shared.is_none());
    if let Some((listener, fill)) = own_listener {
        inputs.extend(listener_input(listener, fill));
    }
    let input_count = 1 + usize::from(own_listener.is_some());

    let fps = encode.fps;
    // Each clip: the output rate, fitted to its box, its last frame held as long as needed, then cut.
    let clip = |input: usize, (width, height): (u32, u32), label: &str| {
        format!(
            "[{input}:v]fps={fps},{fit},tpad=stop=-1:stop_mode=clone,trim=end_frame={frames}[{label}{tag}]",
            input = base + input,
            fit = fit(width, height)
        )
    };
    let mut graph = Vec::new();
    let boxes = boxes(c.layout, c.canvas);
    let mut finish = encode.video_finish();
    if let Some(burn) = burn {
        finish = format!("{finish},{burn}");
    }
    if let [whole] = boxes[..] {
        graph.push(clip(0, whole, "main"));
        graph.push(format!("[main{tag}]{finish}[v{tag}]"));
    } else {
        let (main_box, other_box) = match c.main_seat {
            Seat::First => (boxes[0], boxes[1]),
            Seat::Second => (boxes[1], boxes[0]),
        };
        graph.push(clip(0, main_box, "main"));
        graph.push(match (c.listener, shared) {
            (Some(_), Some(label)) => format!("[{label}]trim=end_frame={frames}[other{tag}]"),
            (Some(_), None) => clip(1, other_box, "other"),
            // A monologue in a two-shot layout: the listener's seat stays empty, not taken.
            (None, _) => format!(
                "color=c={BACKDROP}:s={w}x{h}:r={fps},trim=end_frame={frames},setsar=1[other{tag}]",
                w = other_box.0,
                h = other_box.1
            ),
        });
        let stack = if c.layout == Layout::SideBySide { "hstack" } else { "vstack" };
        let order = match c.main_seat {
            Seat::First => format!("[main{tag}][other{tag}]"),
            Seat::Second => format!("[other{tag}][main{tag}]"),
        };
        graph.push(format!("{order}{stack}=inputs=2,{finish}[v{tag}]"));
    }
    // Audio: the main clip's alone, padded with silence and cut to the video's exact length.
    let audio = format!("a{tag}");
    if c.sound {
        graph.push(encode.segment_audio(main_audio.map(|channels| (base, channels)), samples, &audio));
    }

    let (video, mut outputs) = match thumbnail {
        Some((width, path)) => {
            graph.push(format!(
                "[v{tag}]split=2[segment{tag}][middle{tag}];[middle{tag}]select=eq(n\\,{}),scale={width}:-2,setsar=1[thumb{tag}]",
                frames / 2
            ));
            let mut picture = args(["-map", format!("[thumb{tag}]").as_str(), "-frames:v", "1"]);
            picture.extend(crate::thumbnail::png_args());
            picture.push(file_arg(path));
            (format!("[segment{tag}]"), picture)
        }
        None => (format!("[v{tag}]"), Vec::new()),
    };
    outputs.extend(args(["-map", video.as_str()]));
    if c.sound {
        outputs.extend(args(["-map", format!("[{audio}]").as_str()]));
        outputs.extend(encode.segment_args());
    } else {
        outputs.extend(encode.video_args());
        // Pictures only: an MP4, which concat joins without ffmpeg (`mp4_join`).
        outputs.extend(crate::encode::container_args());
    }
    Parts { inputs, input_count, graph, outputs }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn composition<'a>(
        layout: Layout,
        seat: Seat,
        listener: Option<(&'a Path, Fill)>,
        encode: &'a EncodeSettings,
    ) -> Composition<'a> {
        Composition {
            layout,
            canvas: encode.size(),
            fps: encode.fps,
            seconds: 2.5,
            main: Path::new("speaker.mp4"),
            main_seat: seat,
            listener,
            encode,
            sound: true,
        }
    }

    fn graph_of(line: &[OsString]) -> String {
        let at = line.iter().position(|arg| arg == "-filter_complex").unwrap();
        line[at + 1].to_string_lossy().into_owned()
    }

    fn joined(line: &[OsString]) -> String {
        line.iter().map(|arg| arg.to_string_lossy()).collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn halves_are_even_and_fill_the_canvas() {
        assert_eq!(boxes(Layout::SideBySide, (320, 180)), [(160, 180), (160, 180)]);
        assert_eq!(boxes(Layout::SideBySide, (322, 180)), [(160, 180), (162, 180)]);
        assert_eq!(boxes(Layout::Stacked, (1080, 1920)), [(1080, 960), (1080, 960)]);
        assert_eq!(boxes(Layout::Stacked, (320, 182)), [(320, 90), (320, 92)]);
        assert_eq!(boxes(Layout::Solo, (320, 180)), [(320, 180)]);
    }

    #[test]
    fn speaker_in_the_first_seat_goes_left() {
        let encode = EncodeSettings::new(320, 180, 10);
        let c = composition(
            Layout::SideBySide,
            Seat::First,
            Some((Path::new("listener.mp4"), Fill::Trim)),
            &encode,
        );
        let graph = graph_of(&compose_args(&c, Some(Some(2)), None, None));
        assert!(graph.contains("[main][other]hstack=inputs=2,"), "{graph}");
        assert!(graph.contains("[0:v]fps=10,scale=160:180:force_original_aspect_ratio=decrease"), "{graph}");
        assert!(graph.contains("tpad=stop=-1:stop_mode=clone,trim=end_frame=25[main]"), "{graph}");
        assert!(graph.contains("[1:v]fps=10,scale=160:180"), "{graph}");
        assert!(graph.ends_with("[0:a]aresample=48000,aformat=sample_fmts=fltp:sample_rates=48000:channel_layouts=stereo,apad,atrim=end_sample=120000[a]"), "{graph}");
        assert!(!joined(&compose_args(&c, Some(Some(2)), None, None)).contains("-stream_loop"));
    }

    #[test]
    fn speaker_in_the_second_seat_goes_below_and_the_listener_loops() {
        let encode = EncodeSettings::new(320, 180, 10);
        let c = composition(
            Layout::Stacked,
            Seat::Second,
            Some((Path::new("listener.mp4"), Fill::Loop)),
            &encode,
        );
        let line = compose_args(&c, Some(Some(1)), None, None);
        let graph = graph_of(&line);
        assert!(graph.contains("[other][main]vstack=inputs=2,"), "{graph}");
        assert!(graph.contains("[0:v]fps=10,scale=320:90"), "{graph}");
        assert!(graph.contains("pan=stereo|c0=c0|c1=c0"), "{graph}");
        let text = joined(&line);
        let listener_input = text.find("listener.mp4").unwrap();
        let loop_flag = text.find("-stream_loop -1 -i").unwrap();
        assert!(loop_flag < listener_input && text.find("speaker.mp4").unwrap() < loop_flag, "{text}");
    }

    #[test]
    fn b_roll_gets_a_silent_track_of_the_same_length() {
        let encode = EncodeSettings::new(320, 180, 10);
        let c = composition(Layout::Solo, Seat::First, None, &encode);
        let graph = graph_of(&compose_args(&c, None, None, None));
        assert!(graph.starts_with("[0:v]fps=10,scale=320:180"), "{graph}");
        assert!(graph.contains("[main]scale=out_color_matrix=bt709"), "{graph}");
        assert!(
            graph.contains("anullsrc=r=48000:cl=mono,") && graph.ends_with("atrim=end_sample=120000[a]"),
            "{graph}"
        );
        assert!(!graph.contains("[0:a]"), "{graph}");
    }

    #[test]
    fn a_monologue_leaves_the_other_seat_empty() {
        let encode = EncodeSettings::new(320, 180, 10);
        let c = composition(Layout::SideBySide, Seat::Second, None, &encode);
        let graph = graph_of(&compose_args(&c, Some(None), None, None));
        assert!(
            graph.contains("color=c=0x14161c:s=160x180:r=10,trim=end_frame=25,setsar=1[other]"),
            "{graph}"
        );
        assert!(graph.contains("[other][main]hstack"), "{graph}");
    }

    #[test]
    fn captions_are_drawn_last_on_every_layout() {
        let encode = EncodeSettings::new(320, 180, 10);
        let burn = "ass=filename=/s.ass:fontsdir=/fonts";
        let solo = composition(Layout::Solo, Seat::First, None, &encode);
        let graph =
            graph_of(&compose_args(&solo, Some(Some(2)), Some((160, Path::new("t.png"))), Some(burn)));
        // Drawn before the thumbnail is taken, so the thumbnail shows what viewers see.
        assert!(graph.contains("setsar=1,ass=filename=/s.ass:fontsdir=/fonts[v];"), "{graph}");
        assert!(graph.contains("[v]split=2[segment][middle]"), "{graph}");
        let pair = composition(Layout::Stacked, Seat::Second, None, &encode);
        let graph = graph_of(&compose_args(&pair, None, None, Some(burn)));
        assert!(graph.contains("vstack=inputs=2,scale=out_color_matrix=bt709"), "{graph}");
        assert!(graph.contains("setsar=1,ass=filename=/s.ass:fontsdir=/fonts[v]"), "{graph}");
        assert!(!graph_of(&compose_args(&pair, None, None, None)).contains("ass="));
    }

    #[test]
    fn mismatched_settings_and_solo_listeners_are_refused() {
        let encode = EncodeSettings::new(320, 180, 10);
        let mut c = composition(Layout::Solo, Seat::First, Some((Path::new("l.mp4"), Fill::Trim)), &encode);
        assert!(check(&c).unwrap_err().to_string().contains("no room for a listener"));
        c.listener = None;
        c.fps = 30;
        assert!(check(&c).unwrap_err().to_string().contains("encode settings"));
        c.fps = 10;
        c.seconds = f64::NAN;
        assert!(check(&c).is_err());
        c.seconds = 2.5;
        assert!(check(&c).is_ok());
    }
}
