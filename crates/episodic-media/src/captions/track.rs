//! A caption track: pages with times, for one segment or a whole episode, and its three written
//! forms.

use super::{Page, Words, WordsPerPage, ass, page, sidecar};
use serde::{Deserialize, Serialize};

/// How burned-in captions look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptionStyle {
    /// The page in white, each word turning gold as it is said (ASS `\k`).
    #[default]
    Karaoke,
    /// The page in white.
    Plain,
}

/// Pages in time order, none overlapping the next.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Track {
    pages: Vec<Page>,
}

impl Track {
    /// One segment's pages, times relative to the segment: `words` (from the segment's speech,
    /// already rescaled) paged `per_page` words at most, no page lasting past `segment_seconds`.
    pub fn segment(words: &Words, segment_seconds: f64, per_page: WordsPerPage) -> Track {
        Track { pages: page::pages(words.as_slice(), per_page, segment_seconds) }
    }

    /// The episode's track: each segment's track shifted by where that segment starts in the
    /// final video (its offset, in seconds), in time order. A page that would still be on screen
    /// when a later one appears ends there.
    pub fn episode<'a>(segments: impl IntoIterator<Item = (f64, &'a Track)>) -> Track {
        let mut pages: Vec<Page> =
            segments.into_iter().flat_map(|(offset, track)| track.shifted(offset).pages).collect();
        pages.sort_by(|a, b| a.start.total_cmp(&b.start));
        for at in 1..pages.len() {
            let next = pages[at].start;
            let previous = &mut pages[at - 1];
            previous.end = previous.end.min(next).max(previous.start);
        }
        Track { pages }
    }

    /// The same pages `offset` seconds later (a negative or not-a-number offset counts as none).
    pub fn shifted(&self, offset: f64) -> Track {
        let offset = if offset.is_finite() { offset.max(0.0) } else { 0.0 };
        let pages = self
            .pages
            .iter()
            .map(|page| Page {
                words: page
                    .words
                    .iter()
                    .map(|word| super::Word {
                        text: word.text.clone(),
                        start: word.start + offset,
                        end: word.end + offset,
                    })
                    .collect(),
                start: page.start + offset,
                end: page.end + offset,
            })
            .collect();
        Track { pages }
    }

    /// The pages.
    pub fn pages(&self) -> &[Page] {
        &self.pages
    }

    /// Whether there is nothing to show.
    pub fn is_empty(&self) -> bool {
        self.pages.is_empty()
    }

    /// SubRip text (`.srt`): numbered cues, millisecond times.
    pub fn srt(&self) -> String {
        sidecar::srt(&self.pages)
    }

    /// WebVTT text (`.vtt`).
    pub fn vtt(&self) -> String {
        sidecar::vtt(&self.pages)
    }

    /// An ASS script that draws these pages on a `canvas`-sized video in `style`: DejaVu Sans
    /// Bold ([`super::CaptionFont`]), bottom-centred inside the canvas's [`super::SafeArea`], at a
    /// size read on phones, smaller for a page that would otherwise need more than two lines.
    /// For a segment's compose, pass the segment's track (times relative to the segment).
    pub fn ass(&self, canvas: (u32, u32), style: CaptionStyle) -> String {
        ass::script(&self.pages, canvas, style)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::captions::{Alignment, Word};

    /// Two segments as the engine would have them: a voiced line with tags (rescaled for drift),
    /// and an `audio:` segment with forced-alignment words; the second starts at 4.2 s.
    fn segments() -> (Track, Track) {
        let alignment =
            Alignment::from_chars("[whispers] Come closer. I have a secret {for} you & me.", 0.05);
        let mut first = Words::from_alignment(&alignment).unwrap();
        // The model clock ran short: the speech lasts 10 % longer than its alignment.
        let aligned = first.last_end().unwrap();
        first.rescale_to(aligned * 1.1).unwrap();
        let word = |text: &str, start, end| Word { text: text.into(), start, end };
        let second = Words::from_timed([
            word("Oh", 0.2, 0.5),
            word("really", 0.6, 1.1),
            word("?", 1.1, 1.2),
            word("Tell", 2.0, 2.3),
            word("me", 2.3, 2.5),
            word("<more>", 2.5, 3.05),
        ])
        .unwrap();
        let per_page = WordsPerPage::default();
        (Track::segment(&first, 4.2, per_page), Track::segment(&second, 3.0, per_page))
    }

    fn episode() -> Track {
        let (first, second) = segments();
        Track::episode([(0.0, &first), (4.2, &second)])
    }

    #[test]
    fn srt() {
        insta::assert_snapshot!(episode().srt());
    }

    #[test]
    fn vtt() {
        insta::assert_snapshot!(episode().vtt());
    }

    #[test]
    fn ass_karaoke_portrait() {
        let (first, _) = segments();
        insta::assert_snapshot!(first.ass((1080, 1920), CaptionStyle::Karaoke));
    }

    #[test]
    fn ass_plain_landscape() {
        let (_, second) = segments();
        insta::assert_snapshot!(second.ass((1920, 1080), CaptionStyle::Plain));
    }

    #[test]
    fn cues_are_sorted_and_never_overlap() {
        let track = episode();
        let spans: Vec<(f64, f64)> = track.pages().iter().map(|page| (page.start, page.end)).collect();
        for pair in spans.windows(2) {
            assert!(pair[0].0 <= pair[0].1 && pair[0].1 <= pair[1].0, "{spans:?}");
        }
        // Every SRT cue ends at or before the next starts, as written.
        let srt = track.srt();
        let times: Vec<(&str, &str)> = srt.lines().filter_map(|line| line.split_once(" --> ")).collect();
        assert_eq!(times.len(), track.pages().len());
        for pair in times.windows(2) {
            assert!(pair[0].0 < pair[0].1 && pair[0].1 <= pair[1].0, "{times:?}");
        }
    }

    #[test]
    fn karaoke_durations_add_up_to_each_page() {
        let (first, second) = segments();
        for (track, canvas) in [(first, (1080, 1920)), (second, (1920, 1080)), (episode(), (1080, 1080))] {
            let script = track.ass(canvas, CaptionStyle::Karaoke);
            let events: Vec<&str> = script.lines().filter(|line| line.starts_with("Dialogue:")).collect();
            assert_eq!(events.len(), track.pages().len());
            for event in events {
                let fields: Vec<&str> = event.splitn(10, ',').collect();
                let centis = |time: &str| {
                    let parts: Vec<u64> = time.split([':', '.']).map(|part| part.parse().unwrap()).collect();
                    ((parts[0] * 60 + parts[1]) * 60 + parts[2]) * 100 + parts[3]
                };
                let length = centis(fields[2]) - centis(fields[1]);
                let sum: u64 = fields[9]
                    .split("\\k")
                    .skip(1)
                    .map(|rest| rest[..rest.find('}').unwrap()].parse::<u64>().unwrap())
                    .sum();
                assert_eq!(sum, length, "{event}");
            }
        }
    }

    #[test]
    fn burned_pages_are_the_sidecar_pages() {
        let (first, second) = segments();
        let episode = episode();
        let shifted: Vec<Page> =
            first.pages().iter().cloned().chain(second.shifted(4.2).pages().iter().cloned()).collect();
        assert_eq!(episode.pages(), &shifted[..]);
    }

    #[test]
    fn nothing_said_writes_empty_files() {
        let track = Track::episode([]);
        assert!(track.is_empty());
        assert_eq!(track.srt(), "");
        assert_eq!(track.vtt(), "WEBVTT\n\n");
        assert!(!track.ass((320, 180), CaptionStyle::Plain).contains("Dialogue:"));
    }
}
