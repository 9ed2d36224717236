//! Where captions go on a canvas and how large they are drawn: inside the platform's safe area,
//! and small enough that no page can run off the frame.
//!
//! Sizes are in ASS font size units on a script whose resolution is the canvas, so one unit is one
//! pixel of the final video. libass scales a font so that its ascent plus descent equals the font
//! size; a glyph's advance is then a fixed fraction of the size.

/// The platform shape a canvas is, which decides its safe area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// Taller than 4:5 (Shorts, Reels, TikTok at 9:16).
    Portrait,
    /// Wider than 5:4 (16:9 players).
    Landscape,
    /// Between the two (1:1, 4:5 feeds).
    Square,
}

impl Shape {
    fn of((width, height): (u32, u32)) -> Shape {
        let (width, height) = (u64::from(width), u64::from(height));
        if width * 5 < height * 4 {
            Shape::Portrait
        } else if width * 4 > height * 5 {
            Shape::Landscape
        } else {
            Shape::Square
        }
    }
}

/// Where captions may be drawn: margins in pixels from each edge of the canvas.
///
/// - 9:16 (portrait): clear of the top 6 % (status bar, search and tabs) and the bottom 16 % (the
///   channel name, the description and the sound line that Shorts, Reels and TikTok draw over the
///   video), and 10 % from each side (the like and share buttons stand at the right edge).
/// - 16:9 (landscape): the 5 % title-safe border at the top and sides widened to 10 % at the
///   sides, and 10 % at the bottom, where players draw their progress bar and controls.
/// - 1:1 and 4:5 (feeds): 8 % at the sides, 6 % at the top and 12 % at the bottom (captions
///   and buttons under feed posts overlap the lowest part).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SafeArea {
    /// Pixels kept clear at the left edge.
    pub left: u32,
    /// Pixels kept clear at the right edge.
    pub right: u32,
    /// Pixels kept clear at the top edge.
    pub top: u32,
    /// Pixels kept clear at the bottom edge.
    pub bottom: u32,
}

impl SafeArea {
    /// The safe area of a `width`×`height` canvas.
    pub fn of(canvas: (u32, u32)) -> SafeArea {
        let (side, top, bottom) = match Shape::of(canvas) {
            Shape::Portrait => (0.10, 0.06, 0.16),
            Shape::Landscape => (0.10, 0.05, 0.10),
            Shape::Square => (0.08, 0.06, 0.12),
        };
        let (width, height) = (f64::from(canvas.0), f64::from(canvas.1));
        let up = |fraction: f64, length: f64| (fraction * length).ceil() as u32;
        SafeArea {
            left: up(side, width),
            right: up(side, width),
            top: up(top, height),
            bottom: up(bottom, height),
        }
    }
}

/// How captions sit on a canvas: the safe area, how far above its bottom they stand, the usual
/// font size and the outline around letters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Placement {
    pub(crate) canvas: (u32, u32),
    pub(crate) safe: SafeArea,
    /// Distance from the bottom of the canvas to the bottom of the last line (ASS `MarginV`).
    pub(crate) baseline: u32,
    /// The font size pages are drawn at when they fit.
    pub(crate) size: u32,
    /// The outline's thickness in pixels.
    pub(crate) outline: u32,
}

/// The most lines a page may wrap onto before its font shrinks.
const MAX_LINES: usize = 2;

/// Slack on top of the measured advances: libass draws some glyphs a little past their advance,
/// and a page that wraps one word later than estimated must still fit.
const SAFETY: f64 = 1.06;

impl Placement {
    pub(crate) fn of(canvas: (u32, u32)) -> Placement {
        let shape = Shape::of(canvas);
        let safe = SafeArea::of(canvas);
        let (width, height) = (f64::from(canvas.0), f64::from(canvas.1));
        // Portrait captions stand a little above the safe edge (a gap for the overlays' fade), at
        // about a fourteenth of the width: the size Shorts captions are read at on a phone.
        let (lift, size) = match shape {
            Shape::Portrait => (0.04 * height, 0.07 * width),
            Shape::Landscape => (0.0, 0.06 * height),
            Shape::Square => (0.0, 0.065 * height),
        };
        let size = (size.round() as u32).max(8);
        let outline = ((f64::from(size) * 0.06).round() as u32).max(1);
        let baseline = safe.bottom + lift.ceil() as u32 + outline;
        Placement { canvas, safe, baseline, size, outline }
    }

    /// The largest font size, at most the usual one, at which `words` wrap onto at most two lines
    /// and every word fits on a line, by a conservative estimate of each glyph's advance.
    pub(crate) fn size_for(&self, words: &[&str]) -> u32 {
        (1..=self.size).rev().find(|&size| self.fits(words, size)).unwrap_or(1)
    }

    /// Whether `words` at `size` fit inside the safe area (outline included).
    pub(crate) fn fits(&self, words: &[&str], size: u32) -> bool {
        let room = f64::from(self.canvas.0) - f64::from(self.safe.left + self.safe.right + 2 * self.outline);
        let size = f64::from(size);
        let width = |text: &str| text.chars().map(advance).sum::<f64>() * size * SAFETY;
        let space = advance(' ') * size * SAFETY;
        let mut lines = 1;
        let mut line = 0.0;
        for word in words {
            let needed = width(word);
            if needed > room {
                return false;
            }
            if line > 0.0 && line + space + needed > room {
                lines += 1;
                line = needed;
            } else if line > 0.0 {
                line += space + needed;
            } else {
                line = needed;
            }
        }
        let tall = f64::from(self.canvas.1) - f64::from(self.safe.top + self.baseline + self.outline);
        lines <= MAX_LINES && lines as f64 * size <= tall
    }
}

/// An upper bound on the advance of `c` in DejaVu Sans Bold, as a fraction of the ASS font size.
///
/// Measured by drawing each printable ASCII character with libass (widest per class: `W` 0.949,
/// `m` 0.895, `O` 0.73, lowercase 0.614, digits 0.598, `r` 0.426, space 0.301) and rounded up.
/// Anything else counts as a full size wide, wider than any Latin, Greek or Cyrillic letter of
/// the font.
fn advance(c: char) -> f64 {
    match c {
        ' ' => 0.31,
        'm' | 'w' | 'M' | 'W' | '%' | '@' | '&' => 0.95,
        'i' | 'j' | 'l' | 'f' | 't' | 'r' | 'I' | 'J' => 0.45,
        '.' | ',' | ':' | ';' | '\'' | '"' | '!' | '|' | '/' | '(' | ')' | '[' | ']' | '-' | '`' | '*'
        | '_' => 0.45,
        'a'..='z' | '0'..='9' => 0.62,
        c if c.is_ascii_graphic() => 0.73,
        _ => 1.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_safe_areas() {
        assert_eq!(Shape::of((1080, 1920)), Shape::Portrait);
        assert_eq!(Shape::of((1920, 1080)), Shape::Landscape);
        assert_eq!(Shape::of((1080, 1080)), Shape::Square);
        assert_eq!(Shape::of((1080, 1350)), Shape::Square);
        let portrait = SafeArea::of((1080, 1920));
        assert_eq!(portrait, SafeArea { left: 108, right: 108, top: 116, bottom: 308 });
        let placement = Placement::of((1080, 1920));
        // Clear of the bottom 16 %, with the outline and a gap.
        assert!(placement.baseline >= 308 + placement.outline);
        assert_eq!((placement.size, placement.outline), (76, 5));
        assert_eq!(Placement::of((1920, 1080)).size, 65);
    }

    #[test]
    fn ordinary_pages_keep_the_usual_size_and_long_ones_shrink() {
        let placement = Placement::of((1080, 1920));
        assert_eq!(placement.size_for(&["Come", "closer,", "now."]), placement.size);
        let long = ["Internationalisation", "notwithstanding,", "WWWWWW", "mmmmmm", "overwhelmingly", "so."];
        let size = placement.size_for(&long);
        assert!(size < placement.size && size > 10, "{size}");
        assert!(placement.fits(&long, size) && !placement.fits(&long, size + 1));
        // A word too long for any line at the usual size still fits, smaller.
        let word = ["Pneumonoultramicroscopicsilicovolcanoconiosis"];
        let size = placement.size_for(&word);
        assert!(placement.fits(&word, size) && size < placement.size / 2, "{size}");
    }

    #[test]
    fn estimates_cover_the_measured_advances() {
        for (c, measured) in
            [('W', 0.949), ('m', 0.895), ('O', 0.73), ('g', 0.614), ('0', 0.598), ('r', 0.426)]
        {
            assert!(advance(c) >= measured, "{c}");
        }
        assert_eq!(advance('é'), 1.0);
    }
}
