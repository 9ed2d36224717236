//! What a producer reads on stderr while `episodic render` runs (no `--json`, not a terminal, so
//! plain lines), snapshot-tested through the [`TestContext`](crate::support::TestContext)
//! filters: a full render of the demo against the studio, then the rerun that reuses everything.
//! Times, paths, request ids and ports are filtered; costs never are.

use crate::support::{Bench, Output, run_bounded};
use episodic_studio::StudioConfig;
use std::time::Duration;

/// One render, one transfer and one ffmpeg job at a time: fewer lines cross.
const SERIAL: &[&str] = &["--concurrency", "1", "--transfers", "1", "--ffmpeg-jobs", "1"];

#[test]
fn demo_render_then_rerun_as_a_producer_reads_them() {
    let bench = Bench::new(StudioConfig::default());
    let settings = bench.context().insta_settings();

    let (first, _) = run_bounded(&mut bench.command(SERIAL), Duration::from_secs(180));
    assert_eq!(first.code, 0, "{}", first.stderr);
    settings.bind(|| insta::assert_snapshot!("demo_render", in_node_order(&first)));

    let (again, _) = run_bounded(&mut bench.command(SERIAL), Duration::from_secs(180));
    assert_eq!(again.code, 0, "{}", again.stderr);
    settings.bind(|| insta::assert_snapshot!("demo_rerun", in_node_order(&again)));
}

/// The transcript with the run's progress lines in an order that does not depend on timing.
///
/// Uploads, renders, downloads and ffmpeg work run side by side, so their lines interleave
/// differently from run to run, and how often a poll finds a request still queued depends on the
/// moment. So the lines naming a node (`render/…:`, `upload/…:`, ...) are grouped by node, nodes
/// sorted by name, each node's lines kept in the order printed; a bare `queue position N`
/// repeated by a poll is left out. Every other line stays where it was, the node block taking
/// the place of the first node line. Nothing is reworded: what remains is what was printed.
fn in_node_order(output: &Output) -> String {
    let mut before = Vec::new();
    let mut after = Vec::new();
    let mut nodes: std::collections::BTreeMap<&str, Vec<&str>> = std::collections::BTreeMap::new();
    for line in output.stderr.lines() {
        match node_of(line) {
            Some((node, message)) => {
                if message.trim().strip_prefix("queue position ").is_some_and(|n| n.parse::<u32>().is_ok()) {
                    continue;
                }
                nodes.entry(node).or_default().push(line);
            }
            None if nodes.is_empty() => before.push(line),
            None => after.push(line),
        }
    }
    let lines: Vec<&str> = before.into_iter().chain(nodes.into_values().flatten()).chain(after).collect();
    Output { code: output.code, stdout: output.stdout.clone(), stderr: lines.join("\n") + "\n" }.transcript()
}

/// The node a progress line is about (`render/cold-open/speaker`), and the rest of the line.
fn node_of(line: &str) -> Option<(&str, &str)> {
    const KINDS: &[&str] = &["upload/", "render/", "download/", "compose/", "audio/", "concat/"];
    let mut offset = 0;
    for word in line.split(' ') {
        if let Some(node) = word.strip_suffix(':')
            && KINDS.iter().any(|kind| node.starts_with(kind))
        {
            return Some((node, &line[offset + word.len()..]));
        }
        offset += word.len() + 1;
    }
    None
}
