//! Voicing with espeak-ng, word by word, so every word's time in the audio is known to the
//! sample: each word is voiced alone (its silence trimmed), the words are joined with the
//! pauses their punctuation asks for, and the character times are read off that sum.

use super::text::{Layout, alignment, pause_after};
use episodic_elevenlabs::Alignment;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use tokio::io::AsyncWriteExt;
use tokio::sync::Semaphore;

/// espeak-ng's sample rate.
pub(crate) const SAMPLE_RATE: u32 = 22_050;

/// Samples quieter than this (of 32767) count as silence when trimming a word.
const SILENCE: i16 = 300;

/// Silence kept after a word's last loud sample, so words do not run into each other.
const TAIL_PAD_SECONDS: f64 = 0.03;

/// Words remembered per studio (about 20 KB each); past it the memory starts over, so a studio
/// that runs for days does not grow without bound.
const CACHED_WORDS: usize = 4096;

/// Why a line could not be voiced.
#[derive(Debug, thiserror::Error)]
pub(crate) enum VoiceError {
    /// espeak-ng is not installed.
    #[error("espeak-ng is not installed; the studio voices lines with it (`apt-get install espeak-ng`)")]
    Missing,
    /// espeak-ng failed or wrote something that is not WAV.
    #[error("espeak-ng failed: {0}")]
    Failed(String),
}

/// A voiced line: mono 16-bit samples at [`SAMPLE_RATE`] and the timing of every character.
pub(crate) struct Voiced {
    pub(crate) samples: Vec<i16>,
    pub(crate) alignment: Alignment,
}

/// A word's samples, by espeak voice and word.
type WordCache = HashMap<(String, String), Arc<Vec<i16>>>;

/// Runs espeak-ng, a few words at a time, remembering words already voiced.
pub(crate) struct Voicer {
    espeak: Option<PathBuf>,
    cache: Mutex<WordCache>,
    slots: Arc<Semaphore>,
}

impl Voicer {
    /// A voicer using `espeak` (`None`: every line fails with [`VoiceError::Missing`]).
    pub(crate) fn new(espeak: Option<PathBuf>, parallel: usize) -> Self {
        Self { espeak, cache: Mutex::default(), slots: Arc::new(Semaphore::new(parallel.max(1))) }
    }

    /// Voices every word of `layout` with espeak `voice` and joins them.
    pub(crate) async fn line(&self, voice: &str, layout: &Layout) -> Result<Voiced, VoiceError> {
        let words = self.words(voice, &layout.words).await?;
        let mut samples = Vec::new();
        let mut spans = Vec::with_capacity(words.len());
        let seconds = |n: usize| n as f64 / f64::from(SAMPLE_RATE);
        for (index, word) in words.iter().enumerate() {
            let start = seconds(samples.len());
            samples.extend_from_slice(word);
            spans.push((start, seconds(samples.len())));
            let pause = pause_after(&layout.after[index]);
            samples.resize(samples.len() + (pause * f64::from(SAMPLE_RATE)).round() as usize, 0);
        }
        if samples.is_empty() {
            // A line of tags alone: a tenth of a second of silence, so the audio is playable.
            samples.resize(SAMPLE_RATE as usize / 10, 0);
        }
        let alignment = alignment(layout, &spans, seconds(samples.len()));
        Ok(Voiced { samples, alignment })
    }

    /// The samples of each word, voiced in parallel (bounded), each word once.
    pub(crate) async fn words(
        &self,
        voice: &str,
        words: &[String],
    ) -> Result<Vec<Arc<Vec<i16>>>, VoiceError> {
        let espeak = self.espeak.clone().ok_or(VoiceError::Missing)?;
        let mut tasks = tokio::task::JoinSet::new();
        let mut unique: Vec<&String> = words.iter().collect();
        unique.sort();
        unique.dedup();
        let mut voiced: HashMap<String, Arc<Vec<i16>>> = HashMap::new();
        for word in unique {
            let key = (voice.to_owned(), word.clone());
            let cached = self.cache.lock().unwrap_or_else(|p| p.into_inner()).get(&key).cloned();
            if let Some(samples) = cached {
                voiced.insert(word.clone(), samples);
                continue;
            }
            let (espeak, slots, voice, word) =
                (espeak.clone(), Arc::clone(&self.slots), voice.to_owned(), word.clone());
            tasks.spawn(async move {
                let _slot = slots.acquire_owned().await.map_err(|_| VoiceError::Failed("closed".into()))?;
                let samples = espeak_word(&espeak, &voice, &word).await?;
                Ok::<_, VoiceError>((word, Arc::new(trim(samples))))
            });
        }
        while let Some(joined) = tasks.join_next().await {
            let (word, samples) = joined.map_err(|e| VoiceError::Failed(e.to_string()))??;
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if cache.len() >= CACHED_WORDS {
                cache.clear();
            }
            cache.insert((voice.to_owned(), word.clone()), Arc::clone(&samples));
            drop(cache);
            voiced.insert(word, samples);
        }
        words
            .iter()
            .map(|w| {
                voiced.get(w).cloned().ok_or_else(|| VoiceError::Failed(format!("`{w}` was not voiced")))
            })
            .collect()
    }
}

/// One word through espeak-ng (text on stdin, so a word starting with `-` is not an option).
async fn espeak_word(espeak: &std::path::Path, voice: &str, word: &str) -> Result<Vec<i16>, VoiceError> {
    let mut child = tokio::process::Command::new(espeak)
        .args(["-v", voice, "--stdin", "--stdout"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => VoiceError::Missing,
            _ => VoiceError::Failed(e.to_string()),
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(word.as_bytes()).await.map_err(|e| VoiceError::Failed(e.to_string()))?;
    }
    let output = child.wait_with_output().await.map_err(|e| VoiceError::Failed(e.to_string()))?;
    if !output.status.success() {
        return Err(VoiceError::Failed(String::from_utf8_lossy(&output.stderr).trim().to_owned()));
    }
    wav_samples(&output.stdout).ok_or_else(|| VoiceError::Failed("its output is not 16-bit WAV".into()))
}

/// The samples of espeak's WAV. Written to a pipe, its header's sizes are placeholders, so the
/// `data` chunk is read to the end of the bytes.
pub(crate) fn wav_samples(wav: &[u8]) -> Option<Vec<i16>> {
    if wav.len() < 12 || &wav[..4] != b"RIFF" || &wav[8..12] != b"WAVE" {
        return None;
    }
    let mut at = 12;
    while at + 8 <= wav.len() {
        let id = &wav[at..at + 4];
        let size = u32::from_le_bytes([wav[at + 4], wav[at + 5], wav[at + 6], wav[at + 7]]) as usize;
        if id == b"data" {
            let data = &wav[at + 8..];
            return Some(data.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect());
        }
        at = at.checked_add(8 + size + size % 2)?;
    }
    None
}

/// Drops the silence espeak puts before a word and most of what it puts after.
fn trim(samples: Vec<i16>) -> Vec<i16> {
    let loud = |s: &i16| s.unsigned_abs() > SILENCE.unsigned_abs();
    let Some(first) = samples.iter().position(loud) else { return Vec::new() };
    let last = samples.iter().rposition(loud).unwrap_or(first);
    let pad = (TAIL_PAD_SECONDS * f64::from(SAMPLE_RATE)) as usize;
    samples[first..(last + 1 + pad).min(samples.len())].to_vec()
}

/// Samples as little-endian bytes, for ffmpeg.
pub(crate) fn pcm_bytes(samples: &[i16]) -> Vec<u8> {
    samples.iter().flat_map(|s| s.to_le_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wav_data_is_found_after_other_chunks() {
        let mut wav = b"RIFF\xff\xff\xff\x7fWAVEfmt \x10\0\0\0".to_vec();
        wav.extend_from_slice(&[0; 16]);
        wav.extend_from_slice(b"data\xff\xff\xff\x7f");
        wav.extend_from_slice(&[1, 0, 0xff, 0xff]);
        assert_eq!(wav_samples(&wav), Some(vec![1, -1]));
        assert_eq!(wav_samples(b"not a wav"), None);
    }

    #[test]
    fn trim_keeps_the_word_and_a_short_tail() {
        let mut samples = vec![0i16; 100];
        samples.extend([5000, -5000, 4000]);
        samples.extend(vec![0i16; 10_000]);
        let trimmed = trim(samples);
        assert_eq!(&trimmed[..3], &[5000, -5000, 4000]);
        assert_eq!(trimmed.len(), 3 + (TAIL_PAD_SECONDS * f64::from(SAMPLE_RATE)) as usize);
        assert!(trim(vec![0; 50]).is_empty());
    }
}
