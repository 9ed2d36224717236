//! Running ffmpeg: one place that spawns it, bounds its threads, and turns a failure into an error.
//!
//! Every ffmpeg episodic starts goes through [`Ffmpeg::run`], so every run is quiet, never waits on
//! stdin, overwrites its (temporary) output, and is killed when the future running it is dropped: a
//! cancelled render must not leave an encoder burning CPU in the background.

use crate::probe::stderr_tail;
use crate::{MediaError, Tool};
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// ffmpeg at a known path, with the resources its runs may use.
#[derive(Debug, Clone)]
pub struct Ffmpeg {
    tool: Tool,
    threads: Option<u32>,
    font: Option<PathBuf>,
    /// `nice` and the niceness every run starts with.
    nice: Option<(Tool, u8)>,
}

impl Ffmpeg {
    /// ffmpeg at a path found by [`crate::locate`], with ffmpeg's own thread count and no font.
    pub fn new(tool: Tool) -> Self {
        Self { tool, threads: None, font: None, nice: None }
    }

    /// Runs ffmpeg at a lower CPU priority (`nice -n niceness`) when `nice` is on `PATH`; as is,
    /// otherwise. The local studio's encodes stand in for work done on fal's machines: they must not
    /// take the cores from the client they share this machine with.
    pub fn with_niceness(mut self, niceness: u8) -> Self {
        self.nice = crate::locate("nice", None).ok().map(|nice| (nice, niceness.min(19)));
        self
    }

    /// Limits every run to `threads` encoder and filter threads (`-threads`), e.g. to share cores.
    pub fn with_threads(mut self, threads: u32) -> Self {
        self.threads = Some(threads.max(1));
        self
    }

    /// Sets the font file drawn text uses; without one, clips that would carry text are made without it.
    pub fn with_font(mut self, font: Option<PathBuf>) -> Self {
        self.font = font;
        self
    }

    /// Where ffmpeg is.
    pub fn path(&self) -> &Path {
        &self.tool.path
    }

    /// The thread limit, when one is set.
    pub fn threads(&self) -> Option<u32> {
        self.threads
    }

    /// The font file for drawn text, when one is set.
    pub fn font(&self) -> Option<&Path> {
        self.font.as_deref()
    }

    /// Runs ffmpeg with `args`: inputs, filters and output options, ending with the output file.
    ///
    /// The thread limit is placed just before that last argument, where ffmpeg reads output options.
    /// Dropping the returned future kills ffmpeg.
    pub async fn run(&self, args: &[OsString]) -> Result<(), MediaError> {
        let line = self.command_line(args);
        // `nice` execs ffmpeg in its place, so killing the child still kills ffmpeg.
        let mut command = match &self.nice {
            Some((nice, niceness)) => {
                let mut command = tokio::process::Command::new(&nice.path);
                command.arg("-n").arg(niceness.to_string()).arg(&self.tool.path);
                command
            }
            None => tokio::process::Command::new(&self.tool.path),
        };
        let output = command
            .args(&line)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|err| MediaError::ToolMissing {
                tool: "ffmpeg",
                looked: format!("could not run `{}`: {err}", self.tool.path.display()),
            })?;
        if output.status.success() {
            Ok(())
        } else {
            let mut detail = stderr_tail(&output.stderr);
            if output.stderr.iter().all(u8::is_ascii_whitespace) {
                detail = format!("exited with {}", output.status);
            }
            Err(MediaError::Failed { tool: "ffmpeg", detail, command: short_command(&line) })
        }
    }

    /// The whole argument list for one run: fixed global options, then `args`, with the thread limit.
    fn command_line(&self, args: &[OsString]) -> Vec<OsString> {
        let mut line: Vec<OsString> =
            ["-hide_banner", "-loglevel", "error", "-nostdin", "-y"].iter().map(OsString::from).collect();
        match (self.threads, args.split_last()) {
            (Some(threads), Some((output, rest))) => {
                let threads = threads.to_string();
                for option in ["-filter_threads", "-filter_complex_threads"] {
                    line.extend([option.into(), OsString::from(&threads)]);
                }
                line.extend_from_slice(rest);
                line.extend(["-threads".into(), threads.into(), output.clone()]);
            }
            _ => line.extend_from_slice(args),
        }
        line
    }
}

/// `path` as an ffmpeg input or output: absolute, behind `file:` so that a name starting with `-` or
/// holding a `:` is never read as an option or a protocol.
pub(crate) fn file_arg(path: &Path) -> OsString {
    let mut arg = OsString::from("file:");
    arg.push(std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()));
    arg
}

/// Builds an argument list from string slices and owned values.
pub(crate) fn args<I, S>(items: I) -> Vec<OsString>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    items.into_iter().map(|item| item.as_ref().to_os_string()).collect()
}

/// A command short enough for an error message: long arguments (filter graphs, paths) are cut in the
/// middle, keeping their ends, and the whole line is capped.
fn short_command(line: &[OsString]) -> String {
    const ARG: usize = 60;
    const LINE: usize = 400;
    let mut text = String::from("ffmpeg");
    for arg in line {
        let arg = arg.to_string_lossy();
        let arg = arg.strip_prefix("file:").unwrap_or(&arg);
        let chars: Vec<char> = arg.chars().collect();
        let shown = if chars.len() > ARG {
            let head: String = chars[..ARG / 2].iter().collect();
            let tail: String = chars[chars.len() - ARG / 2..].iter().collect();
            format!("{head}…{tail}")
        } else {
            arg.to_string()
        };
        text.push(' ');
        if shown.is_empty() || shown.contains(|c: char| c.is_whitespace() || "'\"[];|&$".contains(c)) {
            text.push('\'');
            text.push_str(&shown.replace('\'', r"'\''"));
            text.push('\'');
        } else {
            text.push_str(&shown);
        }
        if text.chars().count() > LINE {
            let cut: String = text.chars().take(LINE).collect();
            return format!("{cut} …");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ffmpeg() -> Ffmpeg {
        Ffmpeg::new(Tool { name: "ffmpeg", path: PathBuf::from("ffmpeg") })
    }

    fn strings(line: &[OsString]) -> Vec<String> {
        line.iter().map(|arg| arg.to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn global_options_come_first() {
        let line = ffmpeg().command_line(&args(["-i", "in.mp4", "out.mp4"]));
        assert_eq!(
            strings(&line),
            ["-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", "in.mp4", "out.mp4"]
        );
    }

    #[test]
    fn threads_bound_filters_and_the_encoder() {
        let line =
            ffmpeg().with_threads(2).command_line(&args(["-i", "in.mp4", "-c:v", "libx264", "out.mp4"]));
        let line = strings(&line);
        assert_eq!(
            line[5..],
            [
                "-filter_threads",
                "2",
                "-filter_complex_threads",
                "2",
                "-i",
                "in.mp4",
                "-c:v",
                "libx264",
                "-threads",
                "2",
                "out.mp4"
            ]
        );
    }

    #[test]
    fn zero_threads_means_one() {
        assert_eq!(ffmpeg().with_threads(0).threads(), Some(1));
    }

    #[test]
    fn short_command_cuts_long_arguments() {
        let graph = format!("[0:v]{}[v]", "scale=160:180,".repeat(20));
        let line = args(["-i", "file:/clips/in put.mp4", "-filter_complex", graph.as_str(), "out.mp4"]);
        let short = short_command(&line);
        assert!(short.starts_with("ffmpeg -i '/clips/in put.mp4' -filter_complex '[0:v]scale"), "{short}");
        assert!(short.contains('…'), "{short}");
        assert!(short.ends_with(" out.mp4"), "{short}");
        assert!(short.chars().count() < 200, "{short}");
    }

    #[test]
    fn short_command_is_capped() {
        let line: Vec<OsString> = (0..200).map(|n| OsString::from(format!("-arg{n}"))).collect();
        let short = short_command(&line);
        assert!(short.chars().count() <= 402, "{}", short.len());
        assert!(short.ends_with(" …"));
    }

    #[test]
    fn file_arg_is_absolute_behind_a_protocol() {
        let arg = file_arg(Path::new("-odd:name.mp4")).to_string_lossy().into_owned();
        assert!(arg.starts_with("file:/") || arg.starts_with("file:") && arg.contains(":\\"), "{arg}");
        assert!(arg.ends_with("-odd:name.mp4"));
    }
}
