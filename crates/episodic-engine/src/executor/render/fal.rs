//! The five things the render driver asks of fal, as a trait: [`FalClient`] speaks them over
//! HTTP (to fal or the studio alike); unit tests script them.

use episodic_fal::wire::{QueueStatus, RequestHistoryItem};
use episodic_fal::{
    Completion, EndpointId, FalClient, FalError, FalErrorKind, PollEvent, PollOptions, RequestHandle,
    SubmitOptions,
};
use serde_json::Value;

/// fal as the render driver sees it. A request is named by its endpoint and id alone, so a
/// request found in the history is handled exactly like one whose submit was answered.
pub(crate) trait FalApi: Send + Sync {
    /// Enqueues `input` on `endpoint`; the request id (and queue position) on success. An error
    /// with `maybe_submitted` means the answer was lost and fal may have queued it anyway.
    fn submit(
        &self,
        endpoint: &EndpointId,
        input: &Value,
        options: &SubmitOptions,
    ) -> impl Future<Output = Result<Queued, FalError>> + Send;

    /// The request's status once.
    fn status(
        &self,
        endpoint: &EndpointId,
        request_id: &str,
    ) -> impl Future<Output = Result<QueueStatus, FalError>> + Send;

    /// Polls the request until it completes, reporting queue moves and log lines.
    fn poll(
        &self,
        endpoint: &EndpointId,
        request_id: &str,
        options: &PollOptions,
        on_event: impl FnMut(PollEvent) + Send,
    ) -> impl Future<Output = Result<Completion, FalError>> + Send;

    /// The output of a completed request.
    fn result(
        &self,
        endpoint: &EndpointId,
        request_id: &str,
    ) -> impl Future<Output = Result<Value, FalError>> + Send;

    /// Requests sent to `endpoint` since `since_unix`, with their inputs (fal's request history).
    fn history(
        &self,
        endpoint: &str,
        since_unix: i64,
    ) -> impl Future<Output = Result<Vec<RequestHistoryItem>, FalError>> + Send;
}

/// A request fal queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Queued {
    /// fal's request id.
    pub(crate) request_id: String,
    /// Requests ahead of it, when fal said.
    pub(crate) queue_position: Option<u64>,
}

/// The id of the request in `items` whose input is exactly `input`: the one place a request
/// whose id was never journaled is recognised.
pub(crate) fn find_request(items: &[RequestHistoryItem], input: &Value) -> Option<String> {
    items.iter().find(|item| item.json_input.as_ref() == Some(input)).map(|item| item.request_id.clone())
}

fn handle(client: &FalClient, endpoint: &EndpointId, request_id: &str) -> Result<RequestHandle, FalError> {
    RequestHandle::reattach(client.config(), endpoint, request_id).map_err(|err| {
        FalError::new(episodic_fal::Operation::Status, FalErrorKind::InvalidArgument(err.to_string()))
    })
}

impl FalApi for FalClient {
    async fn submit(
        &self,
        endpoint: &EndpointId,
        input: &Value,
        options: &SubmitOptions,
    ) -> Result<Queued, FalError> {
        let submitted = FalClient::submit(self, endpoint, input, options).await?;
        Ok(Queued { request_id: submitted.request_id, queue_position: submitted.queue_position })
    }

    async fn status(&self, endpoint: &EndpointId, request_id: &str) -> Result<QueueStatus, FalError> {
        FalClient::status(self, &handle(self, endpoint, request_id)?, false).await
    }

    async fn poll(
        &self,
        endpoint: &EndpointId,
        request_id: &str,
        options: &PollOptions,
        on_event: impl FnMut(PollEvent) + Send,
    ) -> Result<Completion, FalError> {
        FalClient::poll(self, &handle(self, endpoint, request_id)?, options, on_event).await
    }

    async fn result(&self, endpoint: &EndpointId, request_id: &str) -> Result<Value, FalError> {
        FalClient::result(self, &handle(self, endpoint, request_id)?).await
    }

    async fn history(&self, endpoint: &str, since_unix: i64) -> Result<Vec<RequestHistoryItem>, FalError> {
        FalClient::request_history(self, endpoint, since_unix).await
    }
}
