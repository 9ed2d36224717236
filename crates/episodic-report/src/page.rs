//! `<episode>.report.html`: one episode's run on one self-contained page.

use crate::html::{dollars, escape, seconds, url_path, utc};
use crate::model::EpisodeReport;
use crate::timeline::timeline;
use base64::Engine as _;
use std::fmt::Write;

/// What a page shows beside the report's own data: things only the caller knows.
#[derive(Debug, Clone, Default)]
pub struct PageExtras {
    /// The episode's MP4 relative to the page (a `/`-separated path, not yet URL-encoded); `None`
    /// when the run wrote no episode.
    pub video: Option<String>,
    /// The contact sheet's PNG bytes, inlined as a data URI so the page survives being moved.
    pub contact_sheet: Option<Vec<u8>>,
    /// The command that resumes the run (the CLI knows its flags; the report does not).
    pub resume: Option<String>,
    /// What to do about the failures, one line each.
    pub hints: Vec<String>,
}

/// The page of one episode's report.
pub fn episode_page(report: &EpisodeReport, extras: &PageExtras) -> String {
    let mut page = String::with_capacity(32 * 1024);
    let title = format!("{} · episodic run report", report.episode);
    let _ = writeln!(
        page,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>",
        escape(&title)
    );
    header(&mut page, report);
    totals(&mut page, report);
    video(&mut page, extras);
    failures(&mut page, report, extras);
    fallbacks(&mut page, report);
    if let Some(png) = &extras.contact_sheet {
        let _ = writeln!(
            page,
            "<section id=\"contact-sheet\"><h2>Contact sheet</h2><img alt=\"A frame from the middle of each \
             segment of {}\" src=\"data:image/png;base64,{}\"></section>",
            escape(&report.episode),
            base64::engine::general_purpose::STANDARD.encode(png)
        );
    }
    let _ = writeln!(
        page,
        "<section id=\"timeline\"><h2>Timeline</h2><div class=\"scroll\">{}</div></section>",
        timeline(&report.nodes, report.wall_seconds)
    );
    nodes(&mut page, report);
    let _ = writeln!(
        page,
        "<footer>Made from <code>{}.report.json</code> (report schema {}) by episodic. This page needs \
         no network: keep it beside the MP4 to play the episode.</footer>\n<script>{SCRIPT}</script>\n\
         </body></html>",
        escape(&report.episode),
        report.schema_version
    );
    page
}

fn header(page: &mut String, report: &EpisodeReport) {
    let started = report.started_at.map(|at| format!(" · started {}", utc(at))).unwrap_or_default();
    let backend = if report.backend == "local" {
        "local studio (placeholder media, nothing billed)".to_owned()
    } else {
        report.backend.clone()
    };
    let _ = writeln!(
        page,
        "<header><h1>{episode} <span class=\"status status-{status_class}\">{status}</span></h1>\
         <p class=\"muted\">manifest <code>{manifest}</code> · output <code>{output}</code><br>\
         backend: {backend} · run took {wall}{started}</p></header>",
        episode = escape(&report.episode),
        status_class = escape(&report.status),
        status = escape(&report.status),
        manifest = escape(&report.manifest),
        output = escape(&report.output),
        backend = escape(&backend),
        wall = seconds(report.wall_seconds),
        started = escape(&started),
    );
}

fn totals(page: &mut String, report: &EpisodeReport) {
    let totals = &report.totals;
    let failed = report.nodes.iter().filter(|node| node.status == "failed").count();
    let skipped = report.nodes.iter().filter(|node| node.status == "skipped").count();
    let list: f64 = report.nodes.iter().map(|node| node.list_usd).sum();
    let on_fal = if report.backend == "local" {
        format!("<div><dt>on fal it would cost</dt><dd>{}</dd></div>", dollars(list))
    } else {
        String::new()
    };
    // The billed total is written as JSON wrote it (shortest round-trip form), so a reader
    // comparing the two compares the same number.
    let _ = writeln!(
        page,
        "<section id=\"totals\" class=\"totals\" data-total-billed-usd=\"{billed_raw}\" \
         data-total-estimated-usd=\"{estimated_raw}\" data-nodes=\"{nodes}\" data-cache-hits=\"{hits}\" \
         data-failed=\"{failed}\"><h2>Totals</h2><dl>\
         <div><dt>billed in this run</dt><dd class=\"money\">{billed}</dd></div>\
         <div><dt>estimate of the whole episode</dt><dd>{estimated}</dd></div>{on_fal}\
         <div><dt>nodes</dt><dd>{nodes}</dd></div>\
         <div><dt>reused (cache hits)</dt><dd>{hits}</dd></div>\
         <div><dt>renders sent (not reused)</dt><dd>{fresh}</dd></div>\
         <div><dt>failed · skipped</dt><dd>{failed} · {skipped}</dd></div>\
         <div><dt>retries survived</dt><dd>{retries}</dd></div>\
         <div><dt>wall time</dt><dd>{wall}</dd></div></dl></section>",
        billed_raw = totals.billed_usd,
        estimated_raw = totals.estimated_usd,
        billed = dollars(totals.billed_usd),
        estimated = dollars(totals.estimated_usd),
        nodes = totals.nodes,
        hits = totals.cache_hits,
        fresh = totals.fresh_renders,
        retries = totals.retries,
        wall = seconds(report.wall_seconds),
    );
}

fn video(page: &mut String, extras: &PageExtras) {
    match &extras.video {
        Some(href) => {
            let _ = writeln!(
                page,
                "<section id=\"episode\"><h2>Episode</h2><video id=\"episode-video\" controls preload=\"auto\" \
                 src=\"{}\"></video><p id=\"video-status\" class=\"muted\" data-state=\"pending\">loading the \
                 video…</p></section>",
                escape(&url_path(href))
            );
        }
        None => page.push_str(
            "<section id=\"episode\"><h2>Episode</h2><p class=\"muted\">This run wrote no episode: see the \
             failures below.</p></section>\n",
        ),
    }
}

fn failures(page: &mut String, report: &EpisodeReport, extras: &PageExtras) {
    let failed: Vec<_> = report.nodes.iter().filter(|node| node.status == "failed").collect();
    if failed.is_empty() && report.status == "completed" {
        return;
    }
    page.push_str("<section id=\"failures\"><h2>Failures</h2>");
    if failed.is_empty() {
        let _ = write!(page, "<p>No node failed; the run was {}.</p>", escape(&report.status));
    } else {
        page.push_str("<ul>");
        for node in failed {
            let _ = write!(
                page,
                "<li><code>{}</code>: {}</li>",
                escape(&node.id),
                escape(node.error.as_deref().unwrap_or("failed"))
            );
        }
        page.push_str("</ul>");
    }
    for hint in &extras.hints {
        let _ = write!(page, "<p class=\"hint\">{}</p>", escape(hint));
    }
    if let Some(resume) = &extras.resume {
        let _ = write!(
            page,
            "<p>To resume (nothing already paid for is paid again):</p><pre id=\"resume\"><code>{}</code></pre>",
            escape(resume)
        );
    }
    page.push_str("</section>\n");
}

/// The renders a later model of their fallback chain made: which model, and why the ones before
/// it did not. Shown whatever the run's status: a fallback is not a failure, but it changes the
/// clip and its price.
fn fallbacks(page: &mut String, report: &EpisodeReport) {
    let fell_back: Vec<_> = report.nodes.iter().filter(|node| node.fallback.is_some()).collect();
    if fell_back.is_empty() {
        return;
    }
    page.push_str("<section id=\"fallbacks\"><h2>Fallbacks</h2><ul>");
    for node in fell_back {
        let _ = write!(
            page,
            "<li><code>{}</code> rendered on <strong>{}</strong>: {}</li>",
            escape(&node.id),
            escape(node.model.as_deref().unwrap_or("a later model")),
            escape(node.fallback.as_deref().unwrap_or(""))
        );
    }
    page.push_str("</ul></section>\n");
}

fn nodes(page: &mut String, report: &EpisodeReport) {
    page.push_str(
        "<section id=\"nodes\"><h2>Nodes</h2><div class=\"scroll\"><table><thead><tr><th>kind</th><th>node</th>\
         <th>status</th><th>model</th><th class=\"num\">estimated</th><th class=\"num\">billed</th><th class=\"num\">wall</th>\
         <th>cache hit</th><th>request id</th><th>note</th></tr></thead><tbody>",
    );
    for node in &report.nodes {
        let _ = write!(
            page,
            "<tr class=\"status-{status}\" data-kind=\"{kind}\"><td><span class=\"swatch kind-{kind}\"></span>{kind}</td>\
             <td><code>{id}</code></td><td>{status}</td><td>{model}</td><td class=\"num\">{estimated}</td>\
             <td class=\"num\">{billed}</td><td class=\"num\">{wall}</td><td>{hit}</td>\
             <td><code>{request}</code></td><td>{note}</td></tr>",
            kind = escape(&node.kind),
            id = escape(&node.id),
            status = escape(&node.status),
            estimated = if node.estimated_usd > 0.0 { dollars(node.estimated_usd) } else { String::new() },
            billed = if node.billed_usd > 0.0 { dollars(node.billed_usd) } else { String::new() },
            wall = if node.started_seconds.is_some() || node.wall_seconds > 0.0 {
                format!("{:.2} s", node.wall_seconds)
            } else {
                String::new()
            },
            hit = if node.cache_hit { "yes" } else { "" },
            request = escape(node.request_id.as_deref().unwrap_or("")),
            model = escape(node.model.as_deref().unwrap_or("")),
            note = escape(&note(node)),
        );
    }
    page.push_str("</tbody></table></div></section>\n");
}

/// A node's note: why it failed or was skipped, or the fallback that made it.
fn note(node: &crate::model::NodeLine) -> String {
    match (&node.error, &node.fallback) {
        (Some(error), _) => error.clone(),
        (None, Some(fallback)) => format!("fell back: {fallback}"),
        (None, None) => String::new(),
    }
}

/// The page's whole style sheet: system fonts only (no download), light and dark.
const STYLE: &str = "\
:root{color-scheme:light dark;--fg:#1b1f24;--muted:#59636e;--bg:#fff;--line:#d1d9e0;--card:#f6f8fa}\
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9198a1;--bg:#0d1117;--line:#3d444d;--card:#151b23}}\
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:var(--fg);background:var(--bg);\
margin:0 auto;max-width:1100px;padding:24px}\
h1{font-size:24px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}\
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}\
pre{background:var(--card);border:1px solid var(--line);padding:8px 12px;border-radius:6px;overflow-x:auto}\
.muted{color:var(--muted)}.scroll{overflow-x:auto}\
.status{font-size:13px;padding:2px 10px;border-radius:12px;vertical-align:middle;color:#fff;background:#59636e}\
.status-completed{background:#1a7f37}.status-failed{background:#cf222e}.status-interrupted{background:#9a6700}\
.totals dl{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:8px;margin:0}\
.totals dl div{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:8px 12px}\
dt{color:var(--muted);font-size:12px}dd{margin:0;font-size:18px;font-weight:600}\
video{width:100%;max-height:480px;background:#000;border-radius:6px}\
#contact-sheet img{max-width:100%;border-radius:6px;border:1px solid var(--line)}\
table{border-collapse:collapse;width:100%;font-size:13px}th,td{text-align:left;padding:4px 8px;\
border-bottom:1px solid var(--line);white-space:nowrap}td:last-child{white-space:normal}\
.num{text-align:right;font-variant-numeric:tabular-nums}tr.status-failed td{background:rgba(207,34,46,.12)}\
tr.status-skipped td{color:var(--muted)}\
.swatch{display:inline-block;width:9px;height:9px;border-radius:2px;margin-right:6px}\
.kind-speech{background:#332288}.kind-align{background:#44AA99}.kind-upload{background:#56B4E9}.kind-render{background:#E69F00}.kind-download{background:#009E73}\
.kind-join{background:#F0E442}.kind-compose{background:#CC79A7}.kind-audio{background:#0072B2}.kind-concat{background:#D55E00}\
#failures{border-left:4px solid #cf222e;padding-left:12px}#fallbacks{border-left:4px solid #9a6700;padding-left:12px}.hint{color:var(--muted)}\
svg text{font-size:11px;fill:var(--fg)}svg .label{text-anchor:end;font-family:ui-monospace,monospace}\
svg .tick{fill:var(--muted)}svg .grid{stroke:var(--line);stroke-width:1}svg .bar.cached{opacity:.45}\
svg .bar.failed{stroke:#cf222e;stroke-width:2}svg .muted{fill:var(--muted)}\
footer{margin-top:32px;color:var(--muted);font-size:12px}";

/// Tells whoever opens the page whether the episode plays: the video's state lands in the DOM
/// (`#video-status`'s `data-state`, `data-ready-state`, `data-duration`) and in words. It
/// touches only the page's own elements and loads nothing.
const SCRIPT: &str = "(function(){\
var v=document.getElementById('episode-video'),s=document.getElementById('video-status');\
if(!v||!s)return;\
function loaded(){if(s.dataset.state==='loaded')return;s.dataset.state='loaded';\
s.dataset.readyState=String(v.readyState);s.dataset.duration=String(v.duration);\
s.textContent='Plays: '+v.duration.toFixed(1)+' s, '+v.videoWidth+'\\u00d7'+v.videoHeight+'.';}\
v.addEventListener('loadedmetadata',loaded);v.addEventListener('canplay',loaded);\
v.addEventListener('error',function(){s.dataset.state='error';\
s.textContent='The video could not be loaded: keep '+v.getAttribute('src')+' beside this page.';});\
if(v.readyState>=1)loaded();})();";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{NodeLine, Totals};

    fn report(status: &str, error: Option<&str>) -> EpisodeReport {
        EpisodeReport {
            schema_version: 2,
            episode: "ep<1>".to_owned(),
            manifest: "pipelines/a&b/episode.yaml".to_owned(),
            output: "out/ep.mp4".to_owned(),
            status: status.to_owned(),
            backend: "fal".to_owned(),
            started_at: Some(0),
            wall_seconds: 3.0,
            totals: Totals {
                nodes: 1,
                cache_hits: 0,
                fresh_renders: 1,
                estimated_usd: 0.483,
                billed_usd: 0.483,
                retries: 0,
            },
            nodes: vec![NodeLine {
                id: "render/<s>/speaker".to_owned(),
                kind: "render".to_owned(),
                status: if error.is_some() { "failed" } else { "done" }.to_owned(),
                cache_hit: false,
                request_id: Some("req-\"1\"".to_owned()),
                wall_seconds: 2.5,
                started_seconds: Some(0.5),
                finished_seconds: Some(3.0),
                estimated_usd: 0.483,
                billed_usd: 0.483,
                list_usd: 0.483,
                error: error.map(str::to_owned),
                model: Some("kling-avatar-v2-pro".to_owned()),
                fallback: None,
            }],
        }
    }

    #[test]
    fn a_page_escapes_everything_from_the_report_and_carries_the_billed_total() {
        let extras = PageExtras {
            video: Some("ep #1.mp4".to_owned()),
            contact_sheet: Some(b"\x89PNG".to_vec()),
            resume: Some("episodic render 'a b.yaml' --retry-failed".to_owned()),
            hints: vec!["rerun with <--retry-failed>".to_owned()],
        };
        let page = episode_page(&report("failed", Some("fal said <no> & left")), &extras);
        assert!(page.contains("data-total-billed-usd=\"0.483\""));
        assert!(page.contains("src=\"ep%20%231.mp4\""), "the video by its relative, encoded path");
        assert!(page.contains("data:image/png;base64,iVBORw=="));
        assert!(page.contains("fal said &lt;no&gt; &amp; left"));
        assert!(page.contains("episodic render &#39;a b.yaml&#39; --retry-failed"));
        assert!(page.contains("rerun with &lt;--retry-failed&gt;"));
        assert!(page.contains("req-&quot;1&quot;"));
        for raw in ["<s>", "ep<1>", "a&b", "<no>"] {
            assert!(!page.contains(raw), "{raw} unescaped");
        }
        // Nothing fetched at view time: no remote URL anywhere but the SVG namespace.
        let remote = page.matches("http://").count() + page.matches("https://").count();
        assert_eq!(remote, page.matches("http://www.w3.org/2000/svg").count());
    }

    #[test]
    fn a_fallback_shows_its_model_in_the_table_and_its_reason_in_its_own_section() {
        let plain = episode_page(&report("completed", None), &PageExtras::default());
        assert!(plain.contains("<td>kling-avatar-v2-pro</td>"), "the model that rendered, in the table");
        assert!(!plain.contains("id=\"fallbacks\""), "no section without a fallback");
        let mut fell_back = report("completed", None);
        fell_back.nodes[0].model = Some("omnihuman-<v1.5>".to_owned());
        fell_back.nodes[0].fallback = Some("kling-avatar-v2-pro: the endpoint is withdrawn (404)".to_owned());
        let page = episode_page(&fell_back, &PageExtras::default());
        assert!(page.contains(
            "<li><code>render/&lt;s&gt;/speaker</code> rendered on <strong>omnihuman-&lt;v1.5&gt;</strong>: \
             kling-avatar-v2-pro: the endpoint is withdrawn (404)</li>"
        ));
        assert!(page.contains("<td>fell back: kling-avatar-v2-pro: the endpoint is withdrawn (404)</td>"));
        assert!(!page.contains("id=\"failures\""), "a fallback is not a failure");
    }

    #[test]
    fn a_completed_run_has_no_failures_section_and_an_unfinished_one_says_why() {
        let done = episode_page(&report("completed", None), &PageExtras::default());
        assert!(!done.contains("id=\"failures\""));
        let stopped = episode_page(&report("interrupted", None), &PageExtras::default());
        assert!(stopped.contains("the run was interrupted"));
        assert!(stopped.contains("This run wrote no episode"));
    }
}
