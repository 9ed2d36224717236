//! Item 6: compose at the real canvas (1080p) per layout, x264 preset and thread count, with quality
//! (SSIM against a lossless compose) and size; concat by stream copy against a full re-encode.

use crate::context::Context;
use episodic_bench::generate;
use episodic_bench::markdown::{Figure, Section};
use episodic_media::{Composition, EncodeSettings, Ffmpeg, Fill, Layout, Probe, Seat, compose, placeholder};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Length of every fixture clip and composed segment.
const SECONDS: f64 = 5.0;
/// The preset episodic composes with by default (`EngineConfig::preset`).
const DEFAULT_PRESET: &str = "veryfast";

struct Kit<'a> {
    ctx: &'a Context,
    probe: Probe,
    speaker: PathBuf,
    listener: PathBuf,
    canvas: (u32, u32),
    fps: u32,
}

impl Kit<'_> {
    fn settings(&self, preset: &str, crf: u8) -> EncodeSettings {
        let mut encode = EncodeSettings::new(self.canvas.0, self.canvas.1, self.fps);
        encode.preset = preset.to_owned();
        encode.crf = crf;
        encode
    }

    async fn compose(
        &self,
        ffmpeg: &Ffmpeg,
        layout: Layout,
        encode: &EncodeSettings,
        out: &Path,
    ) -> Duration {
        let composition = Composition {
            layout,
            canvas: self.canvas,
            fps: self.fps,
            seconds: SECONDS,
            main: &self.speaker,
            main_seat: Seat::First,
            listener: Some((&self.listener, Fill::Trim)),
            encode,
            // Its sound too, as before: the re-encoding join of item 6 reads it.
            sound: true,
        };
        let started = Instant::now();
        compose(ffmpeg, &self.probe, &composition, out).await.expect("compose a 1080p segment");
        started.elapsed()
    }

    /// SSIM (all planes) of `a` against `b`, from ffmpeg's `ssim` filter.
    fn ssim(&self, a: &Path, b: &Path) -> f64 {
        let output = Command::new(&self.ctx.ffmpeg.path)
            .args(["-hide_banner", "-nostdin", "-i"])
            .arg(a)
            .arg("-i")
            .arg(b)
            .args(["-lavfi", "ssim", "-f", "null", "-"])
            .output()
            .expect("run ffmpeg ssim");
        let text = String::from_utf8_lossy(&output.stderr);
        text.rsplit("All:")
            .next()
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|value| value.parse().ok())
            .expect("ffmpeg's ssim filter prints All:<value>")
    }
}

pub fn run(ctx: &Context) -> Section {
    let dir = ctx.scratch();
    generate::copy_assets(&ctx.assets(), dir.path()).expect("copy the assets");
    // The canvas and rate episodic composes at for a pro 16:9 episode, from its own plan.
    let yaml =
        generate::dual_anchor_yaml("bench-media", 1, &["audio/cold-open.mp3".to_owned()], "side_by_side");
    generate::write_manifest(dir.path(), "episode.yaml", &yaml).expect("write the manifest");
    let plan = ctx.plan_json(dir.path(), "episode.yaml");
    let canvas = (
        plan["episode"]["canvas"]["width"].as_u64().unwrap_or(1920) as u32,
        plan["episode"]["canvas"]["height"].as_u64().unwrap_or(1080) as u32,
    );
    let fps = plan["episode"]["fps"].as_u64().unwrap_or(30) as u32;
    let ffmpeg = Ffmpeg::new(ctx.ffmpeg.clone());
    let probe = Probe::new(ctx.ffprobe.clone());
    let path = |name: &str| dir.path().join(name);
    // Fixtures as the studio renders them at full size: a swaying avatar with speech, a panning listener.
    ctx.runtime.block_on(async {
        placeholder::avatar(
            &ffmpeg,
            &probe,
            &path("characters/ninja.png"),
            &path("audio/cold-open.mp3"),
            (1080, 1080),
            fps,
            &path("speaker.mp4"),
        )
        .await
        .expect("a 1080p avatar clip");
        placeholder::image_clip(
            &ffmpeg,
            &path("characters/glitch.png"),
            SECONDS,
            (1920, 1080),
            fps,
            false,
            &path("listener.mp4"),
        )
        .await
        .expect("a 1080p listener clip");
    });
    let kit = Kit { ctx, probe, speaker: path("speaker.mp4"), listener: path("listener.mp4"), canvas, fps };

    let presets: &[&str] = if ctx.quick { &["veryfast"] } else { &["veryfast", "faster", "medium"] };
    let mut figures = Vec::new();
    let mut segments = Vec::new();
    let mut quality = Vec::new();
    let reference = path("reference.mov");
    ctx.runtime.block_on(async {
        // Near-lossless reference for SSIM: the same composition at crf 1 (crf 0 is lossless, which
        // the High profile every segment is encoded with does not allow).
        kit.compose(&ffmpeg, Layout::SideBySide, &kit.settings("ultrafast", 1), &reference).await;
    });
    for preset in presets {
        for (layout, name) in [(Layout::SideBySide, "side_by_side"), (Layout::Stacked, "stacked")] {
            let out = path(&format!("{name}-{preset}.mov"));
            let took = ctx.runtime.block_on(kit.compose(&ffmpeg, layout, &kit.settings(preset, 20), &out));
            let per_second = took.as_secs_f64() / SECONDS;
            let mut value = format!("{per_second:.2} s per s of output");
            if layout == Layout::SideBySide {
                let ssim = kit.ssim(&out, &reference);
                // A segment carries its audio as 16-bit stereo PCM at 48 kHz (1,536 kb/s): the rest is video.
                let bits = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0) as f64 * 8.0;
                let kbps = (bits / SECONDS - 48_000.0 * 16.0 * 2.0) / 1000.0;
                value.push_str(&format!(", SSIM {ssim:.4}, {kbps:.0} kb/s of video"));
                quality.push((preset.to_string(), per_second, ssim));
            }
            figures.push(Figure::info(format!("compose {name}, {preset}, ffmpeg's threads"), value));
            segments.push(out);
        }
    }
    // Two composes at once (episodic's default --ffmpeg-jobs on 2 cores), one thread each vs ffmpeg's own.
    for threads in [Some(1), None] {
        let ffmpeg = match threads {
            Some(n) => Ffmpeg::new(ctx.ffmpeg.clone()).with_threads(n),
            None => Ffmpeg::new(ctx.ffmpeg.clone()),
        };
        let encode = kit.settings(DEFAULT_PRESET, 20);
        let (a, b) = (path("pair-a.mov"), path("pair-b.mov"));
        let started = Instant::now();
        ctx.runtime.block_on(async {
            tokio::join!(
                kit.compose(&ffmpeg, Layout::SideBySide, &encode, &a),
                kit.compose(&ffmpeg, Layout::Stacked, &encode, &b),
            )
        });
        let per_second = started.elapsed().as_secs_f64() / (2.0 * SECONDS);
        let label = threads.map_or("ffmpeg's own thread count".to_owned(), |n| format!("-threads {n}"));
        figures.push(Figure::info(
            format!("2 composes at once, {DEFAULT_PRESET}, {label}"),
            format!("{per_second:.2} s of wall per s of output"),
        ));
    }
    let mut notes = Vec::new();
    let best = quality.iter().find(|(preset, ..)| preset == "medium").map(|(_, _, ssim)| *ssim);
    let fastest_good = best.and_then(|best| {
        quality.iter().filter(|(_, _, ssim)| *ssim >= best - 0.002).min_by(|a, b| a.1.total_cmp(&b.1))
    });
    if let (Some(best), Some((preset, per_second, ssim))) = (best, fastest_good) {
        notes.push(format!(
            "Fastest preset within 0.002 SSIM of `medium`: `{preset}` ({per_second:.2} s per s of output, \
             SSIM {ssim:.4} vs {best:.4}), at the same crf 20."
        ));
    }

    // Concat: the composed 1080p segments joined by stream copy vs re-encoded. In a run, compose
    // probes each segment and concat recalls it; so here, for both.
    for segment in &segments {
        kit.probe.probe(segment).expect("probe a segment");
    }
    let encode = kit.settings(DEFAULT_PRESET, 20);
    let video_only = video_copy(ctx, &segments, &path("video-only.mp4"));
    // Segments as the engine writes them: one episode's settings (the default preset, both
    // layouts in turn; the mixed presets above have different parameter sets, which only the
    // demuxer joins) and pictures only in MP4 (the same H.264 samples, remuxed untimed), which
    // concat joins without ffmpeg.
    let alike: Vec<&PathBuf> =
        segments.iter().filter(|segment| segment.to_string_lossy().contains(DEFAULT_PRESET)).collect();
    let pictures: Vec<PathBuf> = (0..segments.len())
        .map(|index| (index, alike[index % alike.len()]))
        .map(|(index, segment)| {
            let out = path(&format!("pictures-{index}.mp4"));
            let status = Command::new(&ctx.ffmpeg.path)
                .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i"])
                .arg(segment)
                .args(["-map", "0:v", "-c", "copy", "-movflags", "+faststart", "-f", "mp4"])
                .arg(&out)
                .status()
                .expect("run ffmpeg");
            assert!(status.success(), "remux {}", segment.display());
            kit.probe.probe(&out).expect("probe a segment");
            out
        })
        .collect();
    // The episode's audio is built from the main clips while the composes run (its own node), so
    // it is timed apart from the concat, which copies it.
    let audio = path("episode.m4a");
    let parts: Vec<episodic_media::AudioPart> =
        segments.iter().map(|_| episodic_media::AudioPart { main: &kit.speaker, seconds: SECONDS }).collect();
    let (built, copy, native, reencode) = ctx.runtime.block_on(async {
        let started = Instant::now();
        episodic_media::episode_audio(&ffmpeg, &kit.probe, &parts, &encode, &audio)
            .await
            .expect("the episode's audio");
        let built = started.elapsed();
        kit.probe.probe(&audio).expect("probe the episode's audio");
        let started = Instant::now();
        episodic_media::concat(&ffmpeg, &kit.probe, &segments, &audio, &encode, &path("copy.mp4"))
            .await
            .expect("concat");
        let copy = started.elapsed();
        let started = Instant::now();
        let joined_by =
            episodic_media::concat(&ffmpeg, &kit.probe, &pictures, &audio, &encode, &path("native.mp4"))
                .await
                .expect("concat of picture-only segments");
        let native = started.elapsed();
        // The figure is labelled as the native join: it must not have been the demuxer.
        assert_eq!(joined_by, episodic_media::JoinedBy::Samples, "picture-only segments joined natively");
        let started = Instant::now();
        episodic_media::reencode_concat(&ffmpeg, &kit.probe, &segments, &encode, &path("reencode.mp4"))
            .await
            .expect("reencode_concat");
        (built, copy, native, started.elapsed())
    });
    figures.push(Figure::info(
        format!(
            "the episode's audio ({:.0} s, AAC once, from the main clips)",
            segments.len() as f64 * SECONDS
        ),
        format!("{:.2} s, beside the composes", built.as_secs_f64()),
    ));
    let ratio = reencode.as_secs_f64() / native.as_secs_f64();
    figures.push(Figure::info(
        format!(
            "concat of {} segments ({:.0} s of 1080p): copy (picture-only MP4 segments of one encoding, as the \
             engine composes them: samples copied without ffmpeg; the segments above, with sound and three \
             presets: ffmpeg's concat demuxer) vs re-encode ({DEFAULT_PRESET})",
            segments.len(),
            segments.len() as f64 * SECONDS
        ),
        format!(
            "{:.3} s (with sound: {:.2} s) vs {:.2} s",
            native.as_secs_f64(),
            copy.as_secs_f64(),
            reencode.as_secs_f64()
        ),
    ));
    figures.push(Figure::target("re-encode / copy", format!("{ratio:.0}×"), "≥ 10×", ratio >= 10.0));
    let demuxed = video_copy(ctx, &pictures, &path("pictures-demuxed.mp4"));
    figures.push(Figure::info(
        "the picture-only segments: ffmpeg's concat demuxer on their video alone vs the joiner on video and audio",
        format!("{:.3} s vs {:.3} s", demuxed.as_secs_f64(), native.as_secs_f64()),
    ));
    figures.push(Figure::info(
        "the same segments' video alone by stream copy (`-f concat -c copy -an`), and re-encode / that",
        format!(
            "{:.2} s, {:.0}×: episodic's concat adds copying the episode's audio",
            video_only.as_secs_f64(),
            reencode.as_secs_f64() / video_only.as_secs_f64(),
        ),
    ));

    Section {
        title: "6. Compose and concat at 1080p".into(),
        setup: format!(
            "In-process `episodic_media::compose` of one {SECONDS} s segment at the canvas episodic uses for a \
             pro 16:9 episode ({}x{} at {fps} fps; a 1080x1080 avatar clip with speech beside a 1920x1080 \
             listener clip, both studio placeholders at full size), crf 20, per layout and x264 preset; SSIM is \
             against the same composition encoded near-losslessly (crf 1). Then `episodic_media::concat` (video \
             and the episode's audio, encoded once beforehand by `episodic_media::episode_audio`, copied) against `episodic_media::reencode_concat` of the same segments, both \
             with the segments' probes recalled as in a run (compose probes each segment it writes).",
            canvas.0, canvas.1
        ),
        commands: vec![format!("episodic-bench --only 6{}", if ctx.quick { " --quick" } else { "" })],
        figures,
        notes,
    }
}

/// The segments' video joined by the concat demuxer and stream copy, without audio: what a copy
/// costs before episodic's one audio encode.
fn video_copy(ctx: &Context, segments: &[PathBuf], out: &Path) -> Duration {
    let list = out.with_extension("ffconcat");
    let mut text = String::from("ffconcat version 1.0\n");
    for segment in segments {
        text.push_str(&format!("file '{}'\n", segment.display()));
    }
    std::fs::write(&list, text).expect("write the concat list");
    let started = Instant::now();
    let status = Command::new(&ctx.ffmpeg.path)
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "concat", "-safe", "0", "-i"])
        .arg(&list)
        .args(["-map", "0:v", "-c", "copy", "-an", "-movflags", "+faststart"])
        .arg(out)
        .status()
        .expect("run ffmpeg");
    assert!(status.success(), "the video-only concat failed");
    started.elapsed()
}
