//! The fal.ai HTTP client of episodic.
//!
//! It speaks fal's wire protocol (`fal-protocol.md` in the shared reference): storage upload,
//! queue submit / status / result / cancel, polling with logs, output download, retries with
//! backoff, and webhook signatures. The same wire types serve the local studio emulator, and
//! every base URL is configuration, so one client talks to fal.ai or to the studio.
//!
//! What it must not do:
//! - print or log anything: it returns typed values and [`FalError`]s, and reports progress
//!   through callbacks; rendering is the CLI's job;
//! - reveal the API key: [`FalKey`] prints as `FalKey(***)`, the key is sent only to the
//!   configured queue and REST origins, and server text is scrubbed of it before it reaches
//!   an error;
//! - pay twice: a submit is retried only when the failure proves nothing was queued (see
//!   [`retry`]); otherwise the error says the request may exist;
//! - depend on any other episodic crate.
//!
//! Modules: [`wire`] (bodies), [`endpoint`] (ids and URLs), [`key`], [`config`], [`retry`],
//! [`error`], [`client`] (queue calls and the retry loop), [`handle`], [`poll`], [`upload`],
//! [`download`], [`webhook`], [`pyjson`] (Python-compatible JSON for webhook bodies).

pub mod client;
pub mod config;
pub mod download;
pub mod endpoint;
pub mod error;
pub mod handle;
pub mod key;
pub mod poll;
pub mod pyjson;
pub mod retry;
pub mod timefmt;
pub mod upload;
pub mod webhook;
pub mod wire;

pub use client::{FalClient, Priority, SubmitOptions};
pub use config::{ConfigError, FalConfig};
pub use endpoint::{EndpointError, EndpointId};
pub use error::{FalError, FalErrorKind};
pub use handle::RequestHandle;
pub use key::{FalKey, KeyError, KeySource};
pub use poll::{Completion, PollEvent, PollOptions};
pub use retry::{Backoff, Operation, RetryPolicy};
pub use upload::{UploadedFile, content_type_for};
pub use webhook::{
    WebhookError, WebhookHeaderValues, WebhookHeaders, WebhookSigningKey, sign_webhook,
    verify_and_parse_webhook, verify_webhook, webhook_body_bytes,
};
pub use wire::{
    AvatarOutput, CancelStatus, LogEntry, ObjectLifecycle, QueueState, QueueStatus, SubmitResponse,
    VideoOutput,
};
