//! The batch's index page: one line per episode of a `render` of several manifests, linking
//! each episode's report.

use crate::html::{dollars, escape, seconds, url_path};
use crate::model::EpisodeReport;
use std::fmt::Write;

/// One episode of the batch.
#[derive(Debug, Clone)]
pub struct IndexEntry {
    /// Its report, as read back from `report.json`.
    pub report: EpisodeReport,
    /// Its HTML report relative to the index (`/`-separated, not yet URL-encoded).
    pub page: String,
}

/// The index of a batch.
pub fn index_page(entries: &[IndexEntry]) -> String {
    let micros = |usd: f64| (usd * 1e6).round() as u64;
    let billed = entries.iter().map(|entry| micros(entry.report.totals.billed_usd)).sum::<u64>();
    let estimated = entries.iter().map(|entry| micros(entry.report.totals.estimated_usd)).sum::<u64>();
    let completed = entries.iter().filter(|entry| entry.report.status == "completed").count();
    let mut page = String::with_capacity(8 * 1024);
    let _ = write!(
        page,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>episodic batch: {completed} of {count} completed</title><style>{STYLE}</style></head><body>\n\
         <h1>Batch: {completed} of {count} episodes completed</h1>\
         <section id=\"totals\" data-total-billed-usd=\"{billed_raw}\" data-episodes=\"{count}\" \
         data-completed=\"{completed}\"><p>billed in this run: <b>{billed}</b> · estimate of the episodes: \
         {estimated}</p></section>\n<table><thead><tr><th>episode</th><th>status</th><th class=\"num\">nodes</th>\
         <th class=\"num\">reused</th><th class=\"num\">billed</th><th class=\"num\">estimate</th>\
         <th class=\"num\">wall</th><th>manifest</th></tr></thead><tbody>",
        count = entries.len(),
        billed_raw = billed as f64 / 1e6,
        billed = dollars(billed as f64 / 1e6),
        estimated = dollars(estimated as f64 / 1e6),
    );
    for entry in entries {
        let report = &entry.report;
        let _ = write!(
            page,
            "<tr class=\"status-{status}\" data-episode=\"{episode}\" data-billed-usd=\"{billed_raw}\">\
             <td><a href=\"{href}\">{episode}</a></td><td><span class=\"status status-{status}\">{status}</span></td>\
             <td class=\"num\">{nodes}</td><td class=\"num\">{hits}</td><td class=\"num\">{billed}</td>\
             <td class=\"num\">{estimated}</td><td class=\"num\">{wall}</td><td><code>{manifest}</code></td></tr>",
            status = escape(&report.status),
            episode = escape(&report.episode),
            billed_raw = report.totals.billed_usd,
            href = escape(&url_path(&entry.page)),
            nodes = report.totals.nodes,
            hits = report.totals.cache_hits,
            billed = dollars(report.totals.billed_usd),
            estimated = dollars(report.totals.estimated_usd),
            wall = seconds(report.wall_seconds),
            manifest = escape(&report.manifest),
        );
    }
    page.push_str(
        "</tbody></table><footer>Made by episodic from each episode's report.json.</footer></body></html>\n",
    );
    page
}

const STYLE: &str = "\
:root{color-scheme:light dark}body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;\
margin:0 auto;max-width:1000px;padding:24px}h1{font-size:22px}\
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #d1d9e0}\
.num{text-align:right;font-variant-numeric:tabular-nums}code{font-size:12.5px}\
.status{font-size:12px;padding:1px 8px;border-radius:10px;color:#fff;background:#59636e}\
.status-completed{background:#1a7f37}.status-failed{background:#cf222e}.status-interrupted{background:#9a6700}\
footer{margin-top:24px;color:#59636e;font-size:12px}";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Totals;

    fn entry(episode: &str, status: &str, billed: f64, page: &str) -> IndexEntry {
        IndexEntry {
            report: EpisodeReport {
                schema_version: 2,
                episode: episode.to_owned(),
                manifest: format!("{episode}.yaml"),
                output: format!("out/{episode}.mp4"),
                status: status.to_owned(),
                backend: "fal".to_owned(),
                started_at: None,
                wall_seconds: 1.0,
                totals: Totals {
                    nodes: 3,
                    cache_hits: 1,
                    fresh_renders: 1,
                    estimated_usd: 1.0,
                    billed_usd: billed,
                    retries: 0,
                },
                nodes: Vec::new(),
            },
            page: page.to_owned(),
        }
    }

    #[test]
    fn the_index_links_each_report_and_sums_exactly() {
        let page = index_page(&[
            entry("one", "completed", 0.1, "one.report.html"),
            entry("t<wo>", "failed", 0.2, "../b/t wo.report.html"),
        ]);
        assert!(page.contains("data-total-billed-usd=\"0.3\""), "micro-dollars summed, not floats");
        assert!(page.contains("href=\"one.report.html\""));
        assert!(page.contains("href=\"../b/t%20wo.report.html\""));
        assert!(page.contains("t&lt;wo&gt;") && !page.contains("t<wo>"));
        assert!(page.contains("1 of 2 episodes completed"));
    }
}
