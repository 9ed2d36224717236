//! Speech: one line voiced by ElevenLabs, paid for at most once. `stage.rs` decides (a stage enum
//! and one transition function), `driver.rs` acts (journal, artifact folder, ElevenLabs), `api.rs`
//! is the narrow view of ElevenLabs both run against. The audio becomes the upload of the line;
//! its alignment is kept beside it for captions; its length sets the segment's.

pub(crate) mod api;
mod driver;
mod elevenlabs;
mod stage;

use super::{Context, Done, Output};
use crate::NodeError;
use api::SpeechRequest;
use driver::{Driver, Job};
use episodic_catalog::Usd;
use episodic_plan::SpeechSpec;
use stage::{HISTORY_GRACE, Policy};

/// One speech node.
pub(crate) async fn speech(
    ctx: &Context,
    episode: &str,
    node: &str,
    key: &str,
    spec: &SpeechSpec,
    cost: Usd,
) -> Result<Done, NodeError> {
    let Some(api) = ctx.speech.as_deref() else {
        return Err(NodeError::NoSpeechApi);
    };
    let job = Job {
        node,
        key,
        voice_id: &spec.voice_id,
        request: SpeechRequest {
            text: spec.text.clone(),
            model_id: spec.model.clone(),
            voice_settings: spec.settings.clone(),
            output_format: spec.output_format.clone(),
        },
        canonical: spec.key_json().to_string(),
        characters: spec.characters,
        cost,
    };
    let progress = |kind| ctx.progress(episode, kind);
    let driver = Driver {
        api,
        journal: &ctx.journal,
        owner: &ctx.owner,
        artifacts: crate::executor::artifact::Artifacts::of(ctx),
        policy: Policy {
            retry_failed: ctx.config.retry_failed,
            resubmit_ambiguous: ctx.config.resubmit_ambiguous || ctx.config.ephemeral_backend,
            grace: HISTORY_GRACE,
        },
        cap: ctx.cap,
        breaker: &ctx.speech_breaker,
        free: ctx.config.ephemeral_backend,
        stop: ctx.stop.clone(),
        progress: &progress,
    };
    let mut done = driver.run(&job).await?;
    // Measured once here, so the render's upload, the compose and the episode's audio all cut
    // the segment to the audio's real length.
    if let Output::Speech { audio, seconds, .. } = &mut done.output {
        let info = ctx.probe.probe_async(audio).await?;
        *seconds = info.audio_seconds();
    }
    Ok(done)
}
