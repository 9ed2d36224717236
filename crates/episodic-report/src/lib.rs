//! The HTML pages of a run, made from the data a run already wrote: `<episode>.report.json` is
//! the source, read back from disk, so the page can never say something the JSON does not.
//!
//! - [`episode_page`]: `<episode>.report.html`, one self-contained file (styles, script, the
//!   contact sheet as a data URI, the timeline as inline SVG) that needs no network to view. It
//!   plays the episode's MP4 from beside it by a relative link.
//! - [`index_page`]: the page of a batch (`render` of several manifests), linking each report.
//!
//! Every piece of text from the report (ids, errors, paths, commands) goes through
//! [`html::escape`]; nothing here trusts it to be markup-free. No I/O except in [`write`].

pub mod html;
mod index;
mod model;
mod page;
mod timeline;
pub mod write;

pub use index::{IndexEntry, index_page};
pub use model::{EpisodeReport, NodeLine, Totals};
pub use page::{PageExtras, episode_page};
pub use write::{
    INDEX_FILE, ReportPageError, html_path_for, read_report, write_episode_page, write_index_page,
};
