//! Align: a recording's words timed by ElevenLabs' forced alignment (`POST /v1/forced-alignment`),
//! kept as a JSON artifact under the node's key (the audio's sha256, the text and the endpoint),
//! so a rerun asks nothing and an edited text aligns again.

use super::{Context, Done, Output, artifact};
use crate::NodeError;
use crate::executor::speech::api::ForcedTimes;
use episodic_media::captions::{Alignment, CaptionError, Word, Words};
use episodic_plan::AlignSpec;

pub(crate) async fn align(ctx: &Context, key: &str, spec: &AlignSpec) -> Result<Done, NodeError> {
    if let Some(path) = artifact::existing(ctx, key).await? {
        return Ok(Done::cached(Output::Artifact { path }));
    }
    let Some(api) = ctx.speech.as_deref() else {
        return Err(NodeError::NoSpeechApi);
    };
    let audio = tokio::fs::read(&spec.audio.path).await.map_err(|source| NodeError::Io {
        what: format!("cannot read `{}`", spec.audio.path.display()),
        source,
    })?;
    let timed = tokio::select! {
        timed = api.forced_alignment(&audio, &spec.text) => timed,
        () = ctx.aborted() => return Err(NodeError::Interrupted),
    };
    let timed = timed.map_err(|error| NodeError::Align { error, audio: spec.audio.written.clone() })?;
    let words = words_of(timed).map_err(|error| {
        NodeError::Unexpected(format!("the alignment of `{}`: {error}", spec.audio.written))
    })?;
    let json = serde_json::to_vec(&words)
        .map_err(|error| NodeError::Unexpected(format!("the words cannot be written: {error}")))?;
    let part = artifact::scratch(ctx, "json");
    tokio::fs::write(&part, &json)
        .await
        .map_err(|source| NodeError::Io { what: format!("cannot write `{}`", part.display()), source })?;
    let path = artifact::adopt(ctx, key, &part, "json").await?;
    Ok(Done::fresh(Output::Artifact { path }))
}

/// The words of a forced alignment, by the same rules as a line's: from the characters when
/// ElevenLabs sent them (they hold the text as written, so punctuation stays on its word and
/// tags are dropped), else from its words.
fn words_of(timed: ForcedTimes) -> Result<Words, CaptionError> {
    if timed.characters.is_empty() {
        return Words::from_timed(timed.words.into_iter().map(|word| Word {
            text: word.text,
            start: word.start,
            end: word.end,
        }));
    }
    let mut alignment = Alignment::default();
    for character in timed.characters {
        alignment.characters.push(character.text);
        alignment.character_start_times_seconds.push(character.start);
        alignment.character_end_times_seconds.push(character.end);
    }
    Words::from_alignment(&alignment)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::speech::api::TimedWord;

    fn timed(text: &str, start: f64, end: f64) -> TimedWord {
        TimedWord { text: text.to_owned(), start, end }
    }

    #[test]
    fn characters_keep_punctuation_and_drop_tags_and_words_are_the_fallback() {
        let text = "Hi [laughs] there.";
        let characters = text
            .chars()
            .enumerate()
            .map(|(at, c)| timed(&c.to_string(), at as f64 * 0.1, at as f64 * 0.1 + 0.1))
            .collect();
        let words = vec![timed("Hi", 0.0, 0.2), timed("there", 1.2, 1.8)];
        let from_characters = words_of(ForcedTimes { characters, words: words.clone() }).unwrap();
        let texts: Vec<&str> = from_characters.as_slice().iter().map(|word| word.text.as_str()).collect();
        assert_eq!(texts, ["Hi", "there."]);
        assert!(
            (from_characters.as_slice()[1].start - 1.2).abs() < 1e-9,
            "the word after the tag keeps its time"
        );
        let from_words = words_of(ForcedTimes { characters: Vec::new(), words }).unwrap();
        assert_eq!(from_words.as_slice()[1].text, "there");
    }
}
