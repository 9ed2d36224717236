//! The run's timeline: an inline SVG Gantt chart, one bar per node from its start to its end,
//! coloured by kind, with a time axis and a legend. Pure text in, text out.

use crate::html::escape;
use crate::model::NodeLine;
use std::fmt::Write;

/// Node kinds in plan order, with their colours (colour-blind-safe: the seven Okabe–Ito hues,
/// then two of Paul Tol's for the speech kinds, which Okabe–Ito has no more hues for).
const KINDS: &[(&str, &str)] = &[
    ("speech", "#332288"),
    ("align", "#44AA99"),
    ("upload", "#56B4E9"),
    ("render", "#E69F00"),
    ("download", "#009E73"),
    ("join", "#F0E442"),
    ("compose", "#CC79A7"),
    ("audio", "#0072B2"),
    ("concat", "#D55E00"),
];
/// A kind added after this page was written.
const OTHER: &str = "#999999";

const LABEL_WIDTH: f64 = 250.0;
const CHART_WIDTH: f64 = 650.0;
const ROW: f64 = 16.0;
const AXIS: f64 = 26.0;
const LEGEND: f64 = 40.0;
/// Longest node id drawn in full; longer ones are cut (the bar's tooltip has it whole).
const LABEL_CHARS: usize = 34;

fn colour(kind: &str) -> &'static str {
    KINDS.iter().find(|(name, _)| *name == kind).map_or(OTHER, |(_, colour)| colour)
}

/// The chart, or a sentence saying why there is none.
pub(crate) fn timeline(nodes: &[NodeLine], run_seconds: f64) -> String {
    let bars: Vec<(&NodeLine, f64, f64)> =
        nodes.iter().filter_map(|node| Some((node, node.started_seconds?, node.finished_seconds?))).collect();
    if bars.is_empty() {
        return "<p class=\"muted\">No timeline: no node started in this run, or the report was \
                written before node times were recorded (report schema 1).</p>"
            .to_owned();
    }
    let end = bars.iter().map(|(_, _, end)| *end).fold(run_seconds, f64::max).max(0.001);
    let x = |t: f64| LABEL_WIDTH + (t.clamp(0.0, end) / end) * CHART_WIDTH;
    let width = LABEL_WIDTH + CHART_WIDTH + 20.0;
    let rows_height = bars.len() as f64 * ROW;
    let height = AXIS + rows_height + LEGEND;
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg id=\"timeline-chart\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" \
         viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" data-bars=\"{}\" \
         aria-label=\"Timeline of the run: {} nodes over {:.1} seconds\">",
        bars.len(),
        bars.len(),
        end
    );
    // The axis: a tick every `step` seconds, at most about eight.
    let step = tick_step(end);
    let mut tick = 0.0;
    while tick <= end + 1e-9 {
        let at = x(tick);
        let _ = write!(
            svg,
            "<line x1=\"{at:.1}\" y1=\"{}\" x2=\"{at:.1}\" y2=\"{:.1}\" class=\"grid\"/>\
             <text x=\"{at:.1}\" y=\"14\" class=\"tick\" text-anchor=\"middle\">{}</text>",
            AXIS - 6.0,
            AXIS + rows_height,
            tick_label(tick, step)
        );
        tick += step;
    }
    for (row, (node, start, finish)) in bars.iter().enumerate() {
        let y = AXIS + row as f64 * ROW;
        let label = cut(&node.id, LABEL_CHARS);
        let (left, right) = (x(*start), x(*finish));
        let bar_width = (right - left).max(2.0);
        let mut class = String::from("bar");
        if node.cache_hit {
            class.push_str(" cached");
        }
        if node.status != "done" {
            class.push_str(" failed");
        }
        let tip = format!(
            "{}: {} {}{}, {:.2}–{:.2} s",
            node.id,
            node.kind,
            node.status,
            if node.cache_hit { " (cache hit)" } else { "" },
            start,
            finish
        );
        let _ = write!(
            svg,
            "<g class=\"row\" data-kind=\"{kind}\"><text x=\"{lx}\" y=\"{ty:.1}\" class=\"label\">{label}</text>\
             <rect x=\"{left:.1}\" y=\"{by:.1}\" width=\"{bar_width:.1}\" height=\"{bh:.1}\" rx=\"2\" \
             fill=\"{fill}\" class=\"{class}\"><title>{tip}</title></rect></g>",
            kind = escape(&node.kind),
            lx = LABEL_WIDTH - 8.0,
            ty = y + ROW - 4.0,
            label = escape(&label),
            by = y + 2.0,
            bh = ROW - 4.0,
            fill = colour(&node.kind),
            tip = escape(&tip),
        );
    }
    // The legend: the kinds drawn, then what lighter and outlined bars mean.
    let legend_y = AXIS + rows_height + 16.0;
    let mut lx = LABEL_WIDTH;
    let mut drawn: Vec<&str> = Vec::new();
    for node in nodes.iter().filter(|node| node.started_seconds.is_some()) {
        if !drawn.contains(&node.kind.as_str()) {
            drawn.push(&node.kind);
        }
    }
    drawn.sort_by_key(|kind| KINDS.iter().position(|(name, _)| name == kind).unwrap_or(KINDS.len()));
    for kind in drawn {
        let _ = write!(
            svg,
            "<g class=\"legend\" data-kind=\"{k}\"><rect x=\"{lx:.1}\" y=\"{:.1}\" width=\"12\" height=\"12\" rx=\"2\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{k}</text></g>",
            legend_y - 10.0,
            colour(kind),
            lx + 16.0,
            legend_y,
            k = escape(kind),
        );
        lx += 24.0 + 7.5 * kind.chars().count() as f64;
    }
    let _ = write!(
        svg,
        "<text x=\"{lx:.1}\" y=\"{legend_y:.1}\" class=\"muted\">pale: cache hit · red outline: failed</text></svg>"
    );
    svg
}

/// A tick step giving at most about eight ticks.
fn tick_step(end: f64) -> f64 {
    const STEPS: &[f64] =
        &[0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0];
    STEPS.iter().copied().find(|step| end / step <= 8.0).unwrap_or(3600.0)
}

fn tick_label(tick: f64, step: f64) -> String {
    if step < 1.0 { format!("{tick:.1} s") } else { format!("{tick:.0} s") }
}

/// `text` cut to `max` characters with an ellipsis.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_the_plan_makes_has_a_colour_of_its_own() {
        let kinds = ["speech", "align", "upload", "render", "download", "join", "compose", "audio", "concat"];
        let colours: std::collections::BTreeSet<_> = kinds.iter().map(|kind| colour(kind)).collect();
        assert_eq!(colours.len(), kinds.len(), "two kinds share a colour");
        assert!(!colours.contains(OTHER), "a kind is drawn as unknown");
    }

    fn node(id: &str, kind: &str, times: Option<(f64, f64)>) -> NodeLine {
        NodeLine {
            id: id.to_owned(),
            kind: kind.to_owned(),
            status: "done".to_owned(),
            cache_hit: false,
            request_id: None,
            wall_seconds: times.map_or(0.0, |(start, end)| end - start),
            started_seconds: times.map(|(start, _)| start),
            finished_seconds: times.map(|(_, end)| end),
            estimated_usd: 0.0,
            billed_usd: 0.0,
            list_usd: 0.0,
            error: None,
            model: None,
            fallback: None,
        }
    }

    #[test]
    fn one_bar_per_started_node_placed_by_time_and_coloured_by_kind() {
        let nodes = [
            node("upload/a.png", "upload", Some((0.0, 1.0))),
            node("render/s1/speaker", "render", Some((1.0, 9.0))),
            node("compose/s1", "compose", None),
        ];
        let svg = timeline(&nodes, 10.0);
        assert!(svg.contains("data-bars=\"2\""), "{svg}");
        // 1 s of 10 s starts a tenth of the way along the chart.
        assert!(
            svg.contains(&format!(
                "x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\"",
                LABEL_WIDTH + 65.0,
                AXIS + ROW + 2.0,
                520.0
            )),
            "{svg}"
        );
        assert!(svg.contains(&format!("fill=\"{}\"", colour("render"))));
        assert!(svg.contains("data-kind=\"upload\"><rect"), "the legend names each kind drawn");
        assert!(!svg.contains("data-kind=\"compose\"><rect"), "not a kind that never ran");
    }

    #[test]
    fn ids_are_escaped_and_long_ones_cut() {
        let long = format!("render/{}<b>", "x".repeat(60));
        let svg = timeline(&[node(&long, "render", Some((0.0, 1.0)))], 1.0);
        assert!(!svg.contains("<b>"));
        assert!(svg.contains("&lt;b&gt;"), "the tooltip keeps the whole id, escaped");
        assert!(svg.contains('…'));
    }

    #[test]
    fn a_report_without_times_says_so() {
        assert!(timeline(&[node("a", "upload", None)], 3.0).contains("schema 1"));
    }

    #[test]
    fn ticks_stay_few() {
        for end in [0.05, 0.9, 7.0, 61.0, 1000.0, 20_000.0] {
            assert!(end / tick_step(end) <= 8.0 || tick_step(end) == 3600.0, "{end}");
        }
    }
}
