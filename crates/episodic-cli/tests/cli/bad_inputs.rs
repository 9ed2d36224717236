//! The bad input corpus: the mistakes producers make with files, and the odd files the world
//! hands them. Every case runs the real binary in a scratch folder and checks that it ends with
//! exit 1 and a diagnostic that names the file and says what to do (a `help:` line), never a
//! panic, within a time bound; the cases at a limit's exact edge must pass. Render-time cases
//! also check that nothing is left at the output path and that nothing already rendered is lost.
//! Large and odd files are generated here at run time, never committed.

use crate::support::{
    Bench, Output, TestContext, assert_ok, demo_plan, regex_escape, repo, run_bounded, wait_for_event,
};
use episodic_studio::{FaultConfig, StudioConfig};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// A case taking longer than this is a bug: a hang, or work proportional to garbage. It guards
/// against those, not against slowness (speed is measured by `just bench`): the largest case
/// takes about 1.5 s of a debug build's CPU, and 6-12 s of wall time on a loaded machine.
const TIME_LIMIT: Duration = Duration::from_secs(30);

/// A scratch folder holding `media/` (a copy of the fixture media) and the case's manifest.
struct Case {
    context: TestContext,
}

impl Case {
    fn new() -> Case {
        let context = TestContext::new();
        crate::support::copy_tree(&repo().join("tests/fixtures/media"), &context.root().join("media"));
        Case { context }
    }

    fn root(&self) -> &Path {
        self.context.root()
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.root().join(relative)
    }

    fn write(&self, relative: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&path, bytes).expect("write");
        path
    }

    /// `episode.yaml`: one cast member with `image`, one segment speaking `audio`.
    fn manifest(&self, image: &str, audio: &str) -> &'static str {
        self.write("episode.yaml", manifest_text(image, audio));
        "episode.yaml"
    }

    fn symlink(&self, target: impl AsRef<Path>, relative: &str) {
        std::os::unix::fs::symlink(target, self.path(relative)).expect("symlink");
    }

    fn fifo(&self, relative: &str) {
        let status = Command::new("mkfifo").arg(self.path(relative)).status().expect("mkfifo");
        assert!(status.success());
    }

    /// Runs `episodic` in the case's folder, within [`TIME_LIMIT`] (a hang fails the test).
    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = self.context.command(args);
        command.envs(env.iter().copied());
        let (output, elapsed) = run_bounded(&mut command, TIME_LIMIT);
        assert!(!output.stderr.contains("panicked"), "{args:?} panicked:\n{}", output.stderr);
        assert!(elapsed < TIME_LIMIT, "{args:?} took {elapsed:?}");
        output
    }

    fn validate(&self, manifest: &str) -> Output {
        self.run(&["validate", manifest], &[])
    }

    /// `episodic render` on the fal backend at an address where nothing listens: for the cases
    /// that must be refused before any request is made.
    fn render_offline(&self, manifest: &str, extra: &[&str]) -> Output {
        let nowhere = "http://127.0.0.1:9";
        let mut args = vec!["render", manifest, "--backend", "fal"];
        args.extend_from_slice(extra);
        self.run(
            &args,
            &[
                ("FAL_KEY", "offline-test-key"),
                ("EPISODIC_FAL_QUEUE_URL", nowhere),
                ("EPISODIC_FAL_REST_URL", nowhere),
                ("EPISODIC_FAL_CDN_URL", nowhere),
                ("EPISODIC_FAL_API_URL", nowhere),
            ],
        )
    }

    /// Snapshots what the user reads, with the scratch folder shown as `[TMP]`.
    fn snapshot(&self, name: &str, output: &Output) {
        let root = regex_escape(&self.root().display().to_string());
        insta::with_settings!({
            snapshot_path => "snapshots/bad_inputs",
            prepend_module_to_snapshot => false,
            omit_expression => true,
            filters => vec![(root.as_str(), "[TMP]")],
        }, {
            insta::assert_snapshot!(name, output.transcript());
        });
    }
}

fn manifest_text(image: &str, audio: &str) -> String {
    format!(
        "episode: bad-input\ncast:\n  host:\n    image: {image}\nsegments:\n  - id: hello\n    speaker: host\n    audio: {audio}\n"
    )
}

/// Exit 1, the file named, the words that say what is wrong, and a `help:` line.
#[track_caller]
fn refused(output: &Output, names: &str, says: &str) {
    assert_eq!(output.code, 1, "should exit 1:\n{}", output.stderr);
    assert!(output.stderr.contains(names), "the diagnostic does not name `{names}`:\n{}", output.stderr);
    assert!(output.stderr.contains(says), "the diagnostic does not say `{says}`:\n{}", output.stderr);
    assert!(output.stderr.contains("help:"), "no help line:\n{}", output.stderr);
}

#[track_caller]
fn accepted(output: &Output) {
    assert_eq!(output.code, 0, "should pass:\n{}", output.stderr);
    assert!(output.stderr.contains("ok: "), "{}", output.stderr);
}

/// A PCM WAV of `frames` frames; `declared` overrides the data chunk's size in the header.
fn wav(rate: u32, bits: u16, channels: u16, frames: u32, declared: Option<u32>) -> Vec<u8> {
    let frame_bytes = u32::from(channels) * u32::from(bits / 8);
    let data_len = frames * frame_bytes;
    let header_len = declared.unwrap_or(data_len);
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36u32.saturating_add(header_len)).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&channels.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * frame_bytes).to_le_bytes());
    out.extend_from_slice(&(frame_bytes as u16).to_le_bytes());
    out.extend_from_slice(&bits.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&header_len.to_le_bytes());
    // Silence: 8-bit PCM is unsigned (0x80 is zero), 16-bit is signed.
    let silence = if bits == 8 { 0x80 } else { 0 };
    out.resize(44 + data_len as usize, silence);
    out
}

/// An 8-bit mono 8 kHz WAV of exactly `frames` samples (1/8000 s each).
fn speech_frames(frames: u32) -> Vec<u8> {
    wav(8000, 8, 1, frames, None)
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut chunk = Vec::new();
    chunk.extend_from_slice(&(data.len() as u32).to_be_bytes());
    chunk.extend_from_slice(kind);
    chunk.extend_from_slice(data);
    let mut covered = kind.to_vec();
    covered.extend_from_slice(data);
    chunk.extend_from_slice(&crc32(&covered).to_be_bytes());
    chunk
}

/// A PNG (8-bit greyscale) declaring `width`x`height`, with `idat` as its compressed pixels.
fn png(width: u32, height: u32, idat: &[u8]) -> Vec<u8> {
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(png_chunk(b"IHDR", &ihdr));
    out.extend(png_chunk(b"IDAT", idat));
    out.extend(png_chunk(b"IEND", &[]));
    out
}

/// zlib's stored (uncompressed) encoding of `data` (< 64 KiB): enough for a valid tiny PNG.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let len = data.len() as u16;
    let mut out = vec![0x78, 0x01, 0x01];
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(!len).to_le_bytes());
    out.extend_from_slice(data);
    let (mut a, mut b) = (1u32, 0u32);
    for byte in data {
        a = (a + u32::from(*byte)) % 65521;
        b = (b + a) % 65521;
    }
    out.extend_from_slice(&((b << 16) | a).to_be_bytes());
    out
}

// ---------------------------------------------------------------------------------------------
// The manifest file itself: size, encoding, YAML abuse.

#[test]
fn an_alias_bomb_is_refused_in_bounded_time() {
    let case = Case::new();
    let mut text =
        String::from("episode: bomb\nlol0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for level in 1..10 {
        let refs = vec![format!("*a{}", level - 1); 10].join(", ");
        text.push_str(&format!("lol{level}: &a{level} [{refs}]\n"));
    }
    case.write("bomb.yaml", text);
    let output = case.validate("bomb.yaml");
    refused(&output, "bomb.yaml", "invalid YAML");
    assert!(output.stderr.contains("repeated aliases"), "{}", output.stderr);
    case.snapshot("alias-bomb", &output);
}

#[test]
fn a_hundred_thousand_brackets_deep_is_refused() {
    let case = Case::new();
    case.write("deep.yaml", format!("episode: deep\nx: {}1{}\n", "[".repeat(100_000), "]".repeat(100_000)));
    let output = case.validate("deep.yaml");
    refused(&output, "deep.yaml", "deep nesting");
    case.snapshot("deep-flow-nesting", &output);
}

#[test]
fn deeply_nested_block_mappings_are_refused() {
    let case = Case::new();
    let mut text = String::from("episode: deep\n");
    for depth in 0..200 {
        text.push_str(&format!("{}k{depth}:\n", "  ".repeat(depth)));
    }
    case.write("deep.yaml", text);
    let output = case.validate("deep.yaml");
    refused(&output, "deep.yaml", "deep nesting");
}

#[test]
fn a_hundred_thousand_bad_segments_report_a_bounded_number_of_errors() {
    let case = Case::new();
    let mut text = manifest_text("media/portrait.png", "media/speech.mp3");
    text.push_str(&"  - 42\n".repeat(100_000));
    case.write("many.yaml", text);
    let output = case.validate("many.yaml");
    refused(&output, "many.yaml", "must be a mapping");
    assert!(output.stderr.len() < 200_000, "{} bytes of diagnostics", output.stderr.len());
    assert!(output.stderr.contains("more errors"), "{}", &output.stderr[output.stderr.len() - 2000..]);
}

#[test]
fn a_hundred_thousand_list_items_under_an_unknown_key_are_one_error() {
    let case = Case::new();
    let mut text = manifest_text("media/portrait.png", "media/speech.mp3");
    text.push_str("tags:\n");
    text.push_str(&"  - news\n".repeat(100_000));
    case.write("tags.yaml", text);
    let output = case.validate("tags.yaml");
    refused(&output, "[tags.yaml:9:1]", "unknown field `tags`");
}

#[test]
fn a_50_mb_manifest_is_refused_before_it_is_parsed() {
    let case = Case::new();
    let mut text = manifest_text("media/portrait.png", "media/speech.mp3");
    let line = format!("# {}\n", "x".repeat(98));
    text.push_str(&line.repeat(500_000));
    case.write("huge.yaml", text);
    let output = case.validate("huge.yaml");
    refused(&output, "huge.yaml", "is 50 MB; manifests are at most 16 MB");
    case.snapshot("manifest-50-mb", &output);
}

#[test]
fn a_sparse_terabyte_manifest_is_refused_without_reading_it() {
    let case = Case::new();
    let file = std::fs::File::create(case.path("sparse.yaml")).expect("create");
    file.set_len(1 << 40).expect("sparse file");
    let output = case.validate("sparse.yaml");
    refused(&output, "sparse.yaml", "manifests are at most 16 MB");
}

#[test]
fn a_10_mb_title_is_handled_in_bounded_time() {
    let case = Case::new();
    let text = manifest_text("media/portrait.png", "media/speech.mp3").replace(
        "episode: bad-input\n",
        &format!("episode: bad-input\ntitle: \"{}\"\n", "t".repeat(10_000_000)),
    );
    case.write("long-title.yaml", text);
    accepted(&case.validate("long-title.yaml"));
}

#[test]
fn invalid_utf8_names_the_line() {
    let case = Case::new();
    let mut bytes = b"episode: latin\ntitle: \"caf".to_vec();
    bytes.push(0xe9); // é in Latin-1
    bytes.extend_from_slice(b"\"\n");
    case.write("latin1.yaml", bytes);
    let output = case.validate("latin1.yaml");
    refused(&output, "latin1.yaml", "is not UTF-8 text (invalid byte at line 2");
    case.snapshot("latin1", &output);
}

#[test]
fn utf16_with_a_bom_is_named_as_such() {
    let case = Case::new();
    let mut bytes = vec![0xff, 0xfe];
    for unit in manifest_text("media/portrait.png", "media/speech.mp3").encode_utf16() {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    case.write("utf16.yaml", bytes);
    let output = case.validate("utf16.yaml");
    refused(&output, "utf16.yaml", "is UTF-16 text");
    case.snapshot("utf16-le", &output);
}

#[test]
fn utf16_big_endian_is_named_as_such() {
    let case = Case::new();
    let mut bytes = vec![0xfe, 0xff];
    for unit in manifest_text("media/portrait.png", "media/speech.mp3").encode_utf16() {
        bytes.extend_from_slice(&unit.to_be_bytes());
    }
    case.write("utf16be.yaml", bytes);
    refused(&case.validate("utf16be.yaml"), "utf16be.yaml", "is UTF-16 text");
}

#[test]
fn a_utf8_bom_is_accepted() {
    let case = Case::new();
    let mut bytes = b"\xef\xbb\xbf".to_vec();
    bytes.extend_from_slice(manifest_text("media/portrait.png", "media/speech.mp3").as_bytes());
    case.write("bom.yaml", bytes);
    accepted(&case.validate("bom.yaml"));
}

#[test]
fn a_bom_does_not_shift_the_reported_place() {
    let case = Case::new();
    let mut bytes = b"\xef\xbb\xbf".to_vec();
    bytes.extend_from_slice(manifest_text("media/portrait.png", "media/speech.mp3").as_bytes());
    bytes.extend_from_slice(b"bogus: 1\n");
    case.write("bom.yaml", bytes);
    refused(&case.validate("bom.yaml"), "[bom.yaml:9:1]", "unknown field `bogus`");
}

#[test]
fn crlf_line_endings_are_accepted() {
    let case = Case::new();
    case.write("crlf.yaml", manifest_text("media/portrait.png", "media/speech.mp3").replace('\n', "\r\n"));
    accepted(&case.validate("crlf.yaml"));
}

#[test]
fn crlf_line_endings_keep_lines_and_columns() {
    let case = Case::new();
    let text =
        manifest_text("media/portrait.png", "media/speech.mp3").replace("speaker: host", "speaker: hots");
    case.write("crlf.yaml", text.replace('\n', "\r\n"));
    refused(&case.validate("crlf.yaml"), "[crlf.yaml:7:14]", "hots");
}

#[test]
fn tab_indentation_says_to_use_spaces() {
    let case = Case::new();
    case.write("tabs.yaml", manifest_text("media/portrait.png", "media/speech.mp3").replace("    ", "\t\t"));
    let output = case.validate("tabs.yaml");
    refused(&output, "tabs.yaml:", "tab");
    assert!(output.stderr.contains("spaces, not tabs"), "{}", output.stderr);
}

#[test]
fn nul_bytes_are_refused_at_their_line() {
    let case = Case::new();
    let text = manifest_text("media/portrait.png", "media/speech.mp3").replace("id: hello", "id: hel\0lo");
    case.write("nul.yaml", text);
    let output = case.validate("nul.yaml");
    refused(&output, "nul.yaml", "NUL");
    case.snapshot("nul-byte", &output);
}

#[test]
fn whitespace_only_is_the_empty_manifest() {
    let case = Case::new();
    case.write("blank.yaml", "\n   \n\n");
    refused(&case.validate("blank.yaml"), "blank.yaml", "the manifest is empty");
}

#[test]
fn a_lone_document_marker_is_the_empty_manifest() {
    let case = Case::new();
    case.write("marker.yaml", "---\n...\n");
    refused(&case.validate("marker.yaml"), "marker.yaml", "the manifest is empty");
}

#[test]
fn two_documents_in_one_file_are_refused() {
    let case = Case::new();
    let one = manifest_text("media/portrait.png", "media/speech.mp3");
    case.write("two.yaml", format!("{one}---\n{one}"));
    let output = case.validate("two.yaml");
    refused(&output, "two.yaml", "invalid YAML");
    case.snapshot("two-documents", &output);
}

#[test]
fn a_non_string_mapping_key_is_refused() {
    let case = Case::new();
    let text = manifest_text("media/portrait.png", "media/speech.mp3")
        .replace("cast:\n", "cast:\n  ? [a, b]\n  : x\n");
    case.write("key.yaml", text);
    refused(&case.validate("key.yaml"), "key.yaml:", "invalid YAML");
}

#[test]
fn too_many_anchors_are_refused() {
    let case = Case::new();
    let mut text = manifest_text("media/portrait.png", "media/speech.mp3");
    text.push_str("notes:\n");
    for n in 0..1_500 {
        text.push_str(&format!("  - &n{n} x\n"));
    }
    case.write("anchors.yaml", text);
    refused(&case.validate("anchors.yaml"), "anchors.yaml", "invalid YAML");
}

#[test]
fn not_a_number_budget_is_refused() {
    let case = Case::new();
    let text = manifest_text("media/portrait.png", "media/speech.mp3")
        .replace("episode: bad-input\n", "episode: bad-input\nbudget_usd: .nan\n");
    case.write("nan.yaml", text);
    let output = case.validate("nan.yaml");
    refused(&output, "nan.yaml:2:13", "budget_usd");
    case.snapshot("nan-budget", &output);
}

#[test]
fn an_infinite_broll_duration_is_refused() {
    let case = Case::new();
    let mut text = manifest_text("media/portrait.png", "media/speech.mp3");
    text.push_str("  - id: sky\n    broll: { model: kling-o3-standard-t2v, prompt: \"Neon skyline.\", duration: .inf }\n");
    case.write("inf.yaml", text);
    refused(&case.validate("inf.yaml"), "inf.yaml:10:", "duration");
}

// ---------------------------------------------------------------------------------------------
// The manifest path: folders, links, devices.

#[test]
fn a_missing_manifest_says_so() {
    let case = Case::new();
    let output = case.validate("epsiode.yaml");
    refused(&output, "epsiode.yaml", "does not exist");
    case.snapshot("manifest-missing", &output);
}

#[test]
fn a_folder_given_as_the_manifest_names_the_file_to_give() {
    let case = Case::new();
    std::fs::create_dir(case.path("show")).expect("mkdir");
    let output = case.validate("show");
    refused(&output, "show", "is a folder, not a manifest");
    assert!(output.stderr.contains("show/episode.yaml"), "{}", output.stderr);
}

#[test]
fn a_manifest_symlink_to_nothing_names_its_target() {
    let case = Case::new();
    case.symlink("moved/episode.yaml", "episode.yaml");
    let output = case.validate("episode.yaml");
    refused(&output, "episode.yaml", "moved/episode.yaml");
    case.snapshot("manifest-dangling-symlink", &output);
}

#[test]
fn a_manifest_symlink_loop_is_named() {
    let case = Case::new();
    case.symlink("b.yaml", "a.yaml");
    case.symlink("a.yaml", "b.yaml");
    let output = case.validate("a.yaml");
    refused(&output, "a.yaml", "symbolic link loop");
    case.snapshot("manifest-symlink-loop", &output);
}

#[test]
fn a_manifest_that_is_a_fifo_does_not_hang() {
    let case = Case::new();
    case.fifo("episode.yaml");
    let output = case.validate("episode.yaml");
    refused(&output, "episode.yaml", "not a regular file");
    case.snapshot("manifest-fifo", &output);
}

#[test]
fn a_manifest_that_is_a_device_is_not_read_forever() {
    let case = Case::new();
    case.symlink("/dev/zero", "episode.yaml");
    refused(&case.validate("episode.yaml"), "episode.yaml", "not a regular file");
}

// ---------------------------------------------------------------------------------------------
// Images.

#[test]
fn a_cast_image_that_is_a_fifo_does_not_hang() {
    let case = Case::new();
    case.fifo("media/face.png");
    let manifest = case.manifest("media/face.png", "media/speech.mp3");
    let output = case.validate(manifest);
    refused(&output, "media/face.png", "not a regular file");
    case.snapshot("image-fifo", &output);
}

#[test]
fn a_cast_image_that_is_a_device_is_not_read_forever() {
    let case = Case::new();
    case.symlink("/dev/zero", "media/face.png");
    let manifest = case.manifest("media/face.png", "media/speech.mp3");
    refused(&case.validate(manifest), "media/face.png", "not a regular file");
}

#[test]
fn a_cast_image_symlink_to_nothing_names_its_target() {
    let case = Case::new();
    case.symlink("../old/face.png", "media/face.png");
    let manifest = case.manifest("media/face.png", "media/speech.mp3");
    refused(&case.validate(manifest), "media/face.png", "../old/face.png");
}

#[test]
fn a_cast_image_symlink_loop_is_named() {
    let case = Case::new();
    case.symlink("b.png", "media/a.png");
    case.symlink("a.png", "media/b.png");
    let manifest = case.manifest("media/a.png", "media/speech.mp3");
    refused(&case.validate(manifest), "media/a.png", "symbolic link loop");
}

#[test]
fn an_empty_image_says_it_is_empty() {
    let case = Case::new();
    case.write("media/face.png", b"");
    let manifest = case.manifest("media/face.png", "media/speech.mp3");
    let output = case.validate(manifest);
    refused(&output, "media/face.png", "is empty (0 bytes)");
    case.snapshot("image-empty", &output);
}

#[test]
fn a_one_pixel_png_is_too_small() {
    let case = Case::new();
    case.write("media/dot.png", png(1, 1, &zlib_stored(&[0, 0x80])));
    let manifest = case.manifest("media/dot.png", "media/speech.mp3");
    let output = case.validate(manifest);
    refused(&output, "media/dot.png", "is 1x1; the model needs at least 512x512");
    case.snapshot("image-one-pixel", &output);
}

#[test]
fn a_png_cut_after_its_header_cannot_be_decoded() {
    let case = Case::new();
    let whole = std::fs::read(case.path("media/portrait.png")).expect("portrait");
    case.write("media/cut.png", &whole[..33]);
    let manifest = case.manifest("media/cut.png", "media/speech.mp3");
    let output = case.validate(manifest);
    refused(&output, "media/cut.png", "cannot be decoded");
    assert!(!output.stderr.contains("0x0"), "a broken image is not a small one:\n{}", output.stderr);
}

#[test]
fn a_png_decompression_bomb_is_refused_by_its_declared_size() {
    let case = Case::new();
    case.write("media/bomb.png", png(100_000, 100_000, &zlib_stored(&[0; 64])));
    let manifest = case.manifest("media/bomb.png", "media/speech.mp3");
    let output = case.validate(manifest);
    refused(&output, "media/bomb.png", "declares 100000x100000");
    case.snapshot("image-decompression-bomb", &output);
}

#[test]
fn an_mp3_named_png_is_named_for_what_it_is() {
    let case = Case::new();
    std::fs::copy(case.path("media/speech.mp3"), case.path("media/face.png")).expect("copy");
    let manifest = case.manifest("media/face.png", "media/speech.mp3");
    refused(&case.validate(manifest), "media/face.png", "is really MP3");
}

#[test]
fn a_gif_named_png_is_named_for_what_it_is() {
    let case = Case::new();
    std::fs::copy(case.path("media/anim.gif"), case.path("media/face.png")).expect("copy");
    let manifest = case.manifest("media/face.png", "media/speech.mp3");
    refused(&case.validate(manifest), "media/face.png", "is really GIF");
}

// ---------------------------------------------------------------------------------------------
// Audio.

#[test]
fn an_empty_mp3_says_it_is_empty() {
    let case = Case::new();
    case.write("media/line.mp3", b"");
    let manifest = case.manifest("media/portrait.png", "media/line.mp3");
    refused(&case.validate(manifest), "media/line.mp3", "is empty (0 bytes)");
}

#[test]
fn an_mp3_with_only_an_id3_tag_cannot_be_decoded() {
    let case = Case::new();
    let mut tag = b"ID3\x04\x00\x00\x00\x00\x00\x0a".to_vec();
    tag.extend_from_slice(&[0; 10]);
    case.write("media/line.mp3", tag);
    let manifest = case.manifest("media/portrait.png", "media/line.mp3");
    refused(&case.validate(manifest), "media/line.mp3", "cannot be decoded");
}

#[test]
fn an_mp3_cut_short_is_reported_with_its_real_length() {
    let case = Case::new();
    let whole = std::fs::read(case.path("media/speech.mp3")).expect("speech");
    case.write("media/cut.mp3", &whole[..whole.len() / 5]);
    let manifest = case.manifest("media/portrait.png", "media/cut.mp3");
    refused(&case.validate(manifest), "media/cut.mp3", "is cut short: its header says 4.06 s");
}

#[test]
fn a_wav_header_claiming_more_audio_than_the_file_holds_is_refused() {
    let case = Case::new();
    // Three seconds of 16 kHz mono in the file, two minutes in the header.
    case.write("media/liar.wav", wav(16_000, 16, 1, 48_000, Some(16_000 * 2 * 120)));
    let manifest = case.manifest("media/portrait.png", "media/liar.wav");
    let output = case.validate(manifest);
    refused(&output, "media/liar.wav", "header says");
    case.snapshot("wav-header-lies", &output);
}

#[test]
fn a_wav_with_no_samples_is_refused() {
    let case = Case::new();
    case.write("media/silent.wav", speech_frames(0));
    let manifest = case.manifest("media/portrait.png", "media/silent.wav");
    refused(&case.validate(manifest), "media/silent.wav", "no audio");
}

#[test]
fn audio_of_exactly_two_seconds_is_accepted() {
    let case = Case::new();
    case.write("media/two.wav", speech_frames(16_000));
    let manifest = case.manifest("media/portrait.png", "media/two.wav");
    accepted(&case.validate(manifest));
}

#[test]
fn audio_one_sample_short_of_two_seconds_shows_the_difference() {
    let case = Case::new();
    case.write("media/short.wav", speech_frames(15_999));
    let manifest = case.manifest("media/portrait.png", "media/short.wav");
    let output = case.validate(manifest);
    refused(&output, "media/short.wav", "lasts 1.9999 s; avatars need at least 2 s");
    case.snapshot("audio-one-sample-short", &output);
}

#[test]
fn audio_of_exactly_sixty_seconds_is_accepted() {
    let case = Case::new();
    case.write("media/sixty.wav", speech_frames(480_000));
    let manifest = case.manifest("media/portrait.png", "media/sixty.wav");
    accepted(&case.validate(manifest));
}

#[test]
fn audio_one_sample_over_sixty_seconds_shows_the_difference() {
    let case = Case::new();
    case.write("media/long.wav", speech_frames(480_001));
    let manifest = case.manifest("media/portrait.png", "media/long.wav");
    let output = case.validate(manifest);
    // Over the cap, it would be cut at a pause; this one has none.
    refused(&output, "media/long.wav", "lasts 60.0001 s, longer than");
    case.snapshot("audio-one-sample-long", &output);
}

#[test]
fn audio_of_exactly_five_megabytes_is_accepted() {
    let case = Case::new();
    // 48 kHz 16-bit stereo: 44 header bytes + 1,249,989 frames of 4 bytes = 5,000,000 bytes (26 s).
    let bytes = wav(48_000, 16, 2, 1_249_989, None);
    assert_eq!(bytes.len(), 5_000_000);
    case.write("media/edge.wav", bytes);
    let manifest = case.manifest("media/portrait.png", "media/edge.wav");
    accepted(&case.validate(manifest));
}

#[test]
fn audio_one_frame_over_five_megabytes_is_refused() {
    let case = Case::new();
    case.write("media/over.wav", wav(48_000, 16, 2, 1_249_990, None));
    let manifest = case.manifest("media/portrait.png", "media/over.wav");
    refused(&case.validate(manifest), "media/over.wav", "the limit is 5.0 MB");
}

#[test]
fn an_audio_folder_is_not_a_file() {
    let case = Case::new();
    std::fs::create_dir(case.path("media/lines")).expect("mkdir");
    let manifest = case.manifest("media/portrait.png", "media/lines");
    refused(&case.validate(manifest), "media/lines", "is a folder, not a file");
}

#[test]
fn an_audio_fifo_does_not_hang() {
    let case = Case::new();
    case.fifo("media/line.mp3");
    let manifest = case.manifest("media/portrait.png", "media/line.mp3");
    refused(&case.validate(manifest), "media/line.mp3", "not a regular file");
}

// ---------------------------------------------------------------------------------------------
// State and output, refused before anything is spent.

#[test]
fn a_state_dir_that_is_a_file_is_refused_with_what_to_do() {
    let case = Case::new();
    let manifest = case.manifest("media/portrait.png", "media/speech.mp3");
    case.write("state", "not a folder");
    let output = case.render_offline(manifest, &["--state-dir", "state"]);
    refused(&output, "state", "cannot use the state directory");
    assert!(output.stderr.contains("--state-dir"), "{}", output.stderr);
    case.snapshot("state-dir-is-a-file", &output);
}

#[test]
fn a_state_dir_whose_artifacts_is_a_file_is_refused() {
    let case = Case::new();
    let manifest = case.manifest("media/portrait.png", "media/speech.mp3");
    case.write("state/artifacts", "not a folder");
    let output = case.render_offline(manifest, &["--state-dir", "state"]);
    refused(&output, "state/artifacts", "cannot use the state directory");
}

#[test]
fn a_corrupt_state_database_is_refused_and_left_as_it_was() {
    let case = Case::new();
    let manifest = case.manifest("media/portrait.png", "media/speech.mp3");
    // Not a SQLite header: deterministic noise of the size of a small database.
    let noise: Vec<u8> = (0u32..8192).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    case.write("state/state.sqlite", &noise);
    case.write("state/artifacts/ab/abcdef.mp4", b"an earlier render");
    let output = case.render_offline(manifest, &["--state-dir", "state"]);
    refused(&output, "state/state.sqlite", "corrupt");
    assert!(output.stderr.contains("move it aside"), "{}", output.stderr);
    case.snapshot("state-db-corrupt", &output);
    assert_eq!(
        std::fs::read(case.path("state/state.sqlite")).expect("db"),
        noise,
        "the database was changed"
    );
    assert!(case.path("state/artifacts/ab/abcdef.mp4").exists(), "an artifact was lost");
}

#[test]
fn a_state_database_that_is_a_folder_is_refused() {
    let case = Case::new();
    let manifest = case.manifest("media/portrait.png", "media/speech.mp3");
    std::fs::create_dir_all(case.path("state/state.sqlite")).expect("mkdir");
    let output = case.render_offline(manifest, &["--state-dir", "state"]);
    refused(&output, "state/state.sqlite", "state.sqlite");
}

#[test]
fn an_output_under_a_regular_file_is_refused_before_rendering() {
    let case = Case::new();
    let text = manifest_text("media/portrait.png", "media/speech.mp3")
        .replace("episode: bad-input\n", "episode: bad-input\noutput: blocker/episode.mp4\n");
    case.write("episode.yaml", text);
    case.write("blocker", "a file where a folder should be");
    let output = case.render_offline("episode.yaml", &["--state-dir", "state"]);
    refused(&output, "blocker", "is a file");
    case.snapshot("output-under-a-file", &output);
    assert!(!case.path("state").exists(), "the state was touched before the output was checked");
}

#[test]
fn an_output_that_is_a_folder_is_refused_before_rendering() {
    let case = Case::new();
    case.manifest("media/portrait.png", "media/speech.mp3");
    std::fs::create_dir_all(case.path("out/bad-input.mp4")).expect("mkdir");
    let output = case.render_offline("episode.yaml", &["--state-dir", "state"]);
    refused(&output, "out/bad-input.mp4", "is a folder");
    assert!(!case.path("state").exists());
}

// ---------------------------------------------------------------------------------------------
// During a render, against a studio.

/// The demo's last audio: with one transfer at a time against a slow studio, its upload starts
/// seconds after the run does.
const LAST_AUDIO: &str = "assets/audio/glitch-reaction.mp3";

#[test]
fn a_file_changed_between_plan_and_upload_fails_its_node_and_a_rerun_recovers() {
    let slow = StudioConfig {
        faults: FaultConfig { slow: Duration::from_millis(400), ..FaultConfig::default() },
        ..StudioConfig::default()
    };
    let bench = Bench::new(slow);
    let (renders, _, _) = demo_plan(bench.root());
    let mut child = bench
        .command(&["--json", "--transfers", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let changed = bench.root().join(LAST_AUDIO);
    wait_for_event(&mut child, |event| event["event"] == "run_started");
    let mut bytes = std::fs::read(&changed).expect("audio");
    bytes.extend_from_slice(&[0; 417]);
    std::fs::write(&changed, bytes).expect("edit");
    let output = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains("`../../assets/audio/glitch-reaction.mp3` changed since the plan was made"),
        "{stderr}"
    );
    assert!(stderr.contains("help: "), "{stderr}");
    assert!(!bench.output_path().exists(), "an episode was published from a changed input");
    let submitted = bench.stats().submits.total;
    assert!(submitted < renders, "the changed file's render was submitted");

    // Run again: the new file is planned and uploaded; what was rendered is not paid again.
    assert_ok(&bench.render(&[]));
    assert_eq!(bench.stats().submits.total, renders, "a render was paid twice");
    assert!(bench.output_path().exists());
}

#[test]
fn an_output_folder_blocked_mid_render_fails_cleanly_and_a_rerun_loses_nothing() {
    let slow = StudioConfig { render_time_per_second: Duration::from_millis(300), ..StudioConfig::default() };
    let bench = Bench::new(slow);
    let (renders, _, _) = demo_plan(bench.root());
    let mut child =
        bench.command(&["--json"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    let out = bench.root().join("pipelines/demo/out");
    wait_for_event(&mut child, |event| event["event"] == "node_progress" && event["request_id"].is_string());
    // The folder the episode goes to is now a file: the concat cannot publish.
    std::fs::write(&out, "in the way").expect("block out/");
    let output = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("pipelines/demo/out"), "{stderr}");
    assert!(stderr.contains("help: "), "{stderr}");
    assert_eq!(bench.stats().submits.total, renders);
    let parts: Vec<_> = std::fs::read_dir(bench.root().join("pipelines/demo"))
        .expect("demo dir")
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().contains(".part"))
        .collect();
    assert!(parts.is_empty(), "a partial file was left: {parts:?}");

    // The way cleared, a rerun publishes from the journal and pays for nothing.
    std::fs::remove_file(&out).expect("unblock");
    let again = bench.render(&[]);
    assert_ok(&again);
    assert_eq!(bench.stats().submits.total, renders, "a render was paid twice");
    assert!(bench.output_path().exists());
}
