//! `plan --dot`: the DAG for Graphviz.

use crate::{NodeKind, Plan};
use std::fmt::Write;

/// The plan as a Graphviz digraph, one box per node, coloured by kind, renders and speech with their
/// cost (`~` and "estimate" when a render's length waits on its speech).
pub fn to_dot(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph \"{}\" {{", escape(&plan.episode));
    let _ = writeln!(out, "  rankdir=LR;");
    let _ = writeln!(out, "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\"];");
    for index in &plan.order {
        let node = &plan.graph[*index];
        let color = match node.kind() {
            NodeKind::Speech => "#ddd6fe",
            NodeKind::Align => "#e9d5ff",
            NodeKind::Upload => "#dbeafe",
            NodeKind::Render => "#fde68a",
            NodeKind::Download => "#e5e7eb",
            NodeKind::Compose => "#bbf7d0",
            NodeKind::Audio => "#fed7aa",
            NodeKind::Concat => "#fbcfe8",
            NodeKind::Join => "#fef3c7",
        };
        let mut label = format!("{}\\n{}", escape(&node.id), escape(&node.label));
        match node.kind() {
            NodeKind::Render if node.render().is_some_and(|render| render.estimated) => {
                let _ = write!(label, "\\n~{} (estimate)", node.cost);
            }
            NodeKind::Render | NodeKind::Speech => {
                let _ = write!(label, "\\n{}", node.cost);
            }
            _ => {}
        }
        let _ = writeln!(out, "  \"{}\" [label=\"{label}\", fillcolor=\"{color}\"];", escape(&node.id));
    }
    for edge in plan.graph.raw_edges() {
        let from = &plan.graph[edge.source()].id;
        let to = &plan.graph[edge.target()].id;
        let _ = writeln!(out, "  \"{}\" -> \"{}\";", escape(from), escape(to));
    }
    let _ = writeln!(out, "  label=\"{} · total {}\";", escape(&plan.episode), plan.total_cost());
    out.push_str("}\n");
    out
}

fn escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}
