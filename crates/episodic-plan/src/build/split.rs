//! A line longer than its model renders, planned as pieces: one upload, render and download per
//! piece of audio (cut at the pauses when the manifest was resolved), and a join that lays the
//! pieces' clips end to end into the segment's speaker clip. Each piece's render is keyed by its
//! own audio, so an edit re-renders only the pieces whose samples changed.

use super::{Builder, put_file};
use crate::NodeKey;
use crate::node::{JoinPieceSpec, JoinSpec, NodeDetail, RenderRole};
use episodic_catalog::{Model, Usd};
use episodic_manifest::{Dialogue, Segment};
use petgraph::graph::NodeIndex;
use serde_json::{Map, Value, json};

impl Builder<'_> {
    /// Renders the dialogue's pieces (each on its model chain) with `args` (the whole line's
    /// arguments; each piece's audio takes the line's place) and joins them; returns the join,
    /// which stands for the speaker's download. `speaker` names what the renders show.
    pub(super) fn speaker_pieces(
        &mut self,
        segment: &Segment,
        model: &Model,
        args: &Map<String, Value>,
        dialogue: &Dialogue,
        image: NodeIndex,
        speaker: &str,
    ) -> NodeIndex {
        let (pieces, chain) = (&dialogue.pieces, &dialogue.model_fallbacks);
        let mut downloads = Vec::with_capacity(pieces.len());
        let mut specs = Vec::with_capacity(pieces.len());
        for (index, piece) in pieces.iter().enumerate() {
            let audio = self.upload(&piece.file);
            let mut piece_args = args.clone();
            put_file(&mut piece_args, model.audio_arg(), &piece.file);
            let id = format!("render/{}/speaker.{}", segment.id, index + 1);
            let label = format!(
                "speaker piece {}/{} {:.2}-{:.2} s on {}",
                index + 1,
                pieces.len(),
                piece.start,
                piece.start + piece.seconds,
                model.name
            );
            self.chain_next(chain);
            let render = self.render_as(
                id,
                label,
                segment,
                RenderRole::Speaker,
                model,
                piece_args,
                piece.seconds,
                false,
                false,
                &[image, audio],
            );
            self.shows.entry(render).or_insert_with(|| format!("{speaker} speaking"));
            // A piece shared with another segment keeps the rule of the segment that names it.
            self.cut_by.entry(render).or_insert(dialogue.pauses);
            let download = self.download(render);
            specs.push(JoinPieceSpec {
                download: self.graph[download].id.clone(),
                start: piece.start,
                seconds: piece.seconds,
                fade: piece.fade,
            });
            downloads.push(download);
        }
        let spec =
            JoinSpec { segment: segment.id.clone(), pieces: specs, fps: model.fps, pauses: dialogue.pauses };
        let key = NodeKey::of_json(&json!({
            "join": 1,
            "pieces": downloads.iter().map(|index| self.graph[*index].key.as_str()).collect::<Vec<_>>(),
            "microseconds": spec.pieces.iter().map(|p| micros(p.seconds)).collect::<Vec<_>>(),
            "fades": spec.pieces.iter().map(|p| micros(p.fade)).collect::<Vec<_>>(),
            "fps": spec.fps,
        }));
        let cuts: Vec<String> =
            spec.pieces.iter().skip(1).map(|piece| format!("{:.2} s", piece.start)).collect();
        let mut label = format!("{} pieces, cut at {}", spec.pieces.len(), cuts.join(", "));
        if !spec.pauses.is_default() {
            label.push_str(&format!(" (pauses {})", spec.pauses));
        }
        let join =
            self.add(format!("join/{}/speaker", segment.id), key, label, Usd::ZERO, NodeDetail::Join(spec));
        for download in downloads {
            self.graph.add_edge(download, join, ());
        }
        join
    }
}

fn micros(seconds: f64) -> u64 {
    (seconds * 1e6).round() as u64
}
