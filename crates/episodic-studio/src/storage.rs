//! Storage: the CDN token, the v3 upload, the legacy initiate + PUT flow, and serving files.
//! Files live in the studio's data folder; URLs point back at the studio and need no auth.

use crate::server::{AppState, json_error, now_unix};
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use episodic_fal::wire::{
    CdnToken, CdnUploadResponse, InitiateUploadRequest, InitiateUploadResponse, ObjectLifecycle,
};
use rand::RngExt;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// How long a CDN token lives; fal's were observed to last 30 days.
const TOKEN_LIFETIME_SECS: i64 = 30 * 86_400;

/// One stored file.
#[derive(Debug, Clone)]
pub(crate) struct StoredFile {
    pub(crate) path: PathBuf,
    pub(crate) content_type: String,
    /// Unix seconds after which the file is gone.
    pub(crate) expires_at: Option<i64>,
}

/// The file store.
pub(crate) struct Storage {
    dir: PathBuf,
    files: Mutex<HashMap<String, StoredFile>>,
    tokens: Mutex<HashMap<String, i64>>,
    pending_puts: Mutex<HashMap<String, (String, String)>>,
    pending_files: Mutex<HashMap<String, String>>,
    default_ttl: Option<u64>,
}

impl Storage {
    pub(crate) fn new(dir: PathBuf, default_ttl: Option<u64>) -> Self {
        Self {
            dir,
            files: Mutex::default(),
            tokens: Mutex::default(),
            pending_puts: Mutex::default(),
            pending_files: Mutex::default(),
            default_ttl,
        }
    }

    fn issue_token(&self) -> (String, i64) {
        let token = random_hex(32);
        let expires = now_unix() + TOKEN_LIFETIME_SECS;
        lock(&self.tokens).insert(token.clone(), expires);
        (token, expires)
    }

    fn token_valid(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
            return false;
        };
        let Some((scheme, token)) = value.split_once(' ') else { return false };
        scheme.eq_ignore_ascii_case("bearer")
            && lock(&self.tokens).get(token.trim()).is_some_and(|expires| *expires > now_unix())
    }

    /// Stores bytes; returns the file's id and its URL path (`/files/<id>/<name>`).
    pub(crate) async fn store(
        &self,
        bytes: &[u8],
        content_type: &str,
        name: &str,
        ttl_secs: Option<u64>,
    ) -> std::io::Result<(String, String)> {
        let id = random_hex(16);
        let name = safe_name(name);
        let path = self.dir.join(format!("{id}-{name}"));
        tokio::fs::write(&path, bytes).await?;
        Ok(self.register(id, path, content_type, &name, ttl_secs))
    }

    /// Adopts a file already in the data folder (a rendered output).
    pub(crate) fn adopt(&self, path: PathBuf, content_type: &str, name: &str) -> (String, String) {
        let id = random_hex(16);
        self.register(id, path, content_type, &safe_name(name), None)
    }

    /// A fresh path in the data folder for a file about to be written.
    pub(crate) fn scratch_path(&self, extension: &str) -> PathBuf {
        self.dir.join(format!("render-{}.{extension}", random_hex(12)))
    }

    fn register(
        &self,
        id: String,
        path: PathBuf,
        content_type: &str,
        name: &str,
        ttl: Option<u64>,
    ) -> (String, String) {
        let ttl = ttl.or(self.default_ttl);
        let file = StoredFile {
            path,
            content_type: content_type.to_owned(),
            expires_at: ttl.map(|ttl| now_unix() + ttl as i64),
        };
        lock(&self.files).insert(id.clone(), file);
        let url_path = format!("/files/{id}/{name}");
        (id, url_path)
    }

    /// Expires every stored file now, as a storage lifecycle would; returns how many.
    pub(crate) fn expire_all(&self) -> usize {
        let past = now_unix() - 1;
        let mut files = lock(&self.files);
        for file in files.values_mut() {
            file.expires_at = Some(past);
        }
        files.len()
    }

    /// A stored, unexpired file by id.
    pub(crate) fn get(&self, id: &str) -> Option<StoredFile> {
        lock(&self.files).get(id).filter(|file| file.expires_at.is_none_or(|at| at > now_unix())).cloned()
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Random lowercase hex of `len` characters.
pub(crate) fn random_hex(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len).map(|_| char::from_digit(rng.random_range(0..16u32), 16).unwrap_or('0')).collect()
}

/// File names keep `[A-Za-z0-9._-]`, like fal's URLs.
fn safe_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' })
        .collect();
    let cleaned = cleaned.trim_start_matches('.').to_owned();
    if cleaned.is_empty() { "upload.bin".to_owned() } else { cleaned.chars().take(100).collect() }
}

/// `X-Fal-Object-Lifecycle(-Preference)`: the expiry an upload asks for.
fn lifecycle_ttl(headers: &HeaderMap) -> Option<u64> {
    ["x-fal-object-lifecycle-preference", "x-fal-object-lifecycle"]
        .iter()
        .filter_map(|name| headers.get(*name).and_then(|v| v.to_str().ok()))
        .find_map(|text| serde_json::from_str::<ObjectLifecycle>(text).ok())
        .and_then(|lifecycle| lifecycle.expiration_duration_seconds)
}

/// `POST /storage/auth/token?storage_type=fal-cdn-v3`
pub(crate) async fn token(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if !state.config.v3_uploads {
        return json_error(StatusCode::NOT_FOUND, "Not found", "not_found");
    }
    if let Some(denied) = state.require_key(&headers) {
        return denied;
    }
    // The token is the v3 flow's initiation: a locked account gets none.
    if let Some(locked) = state.refuse_if_locked() {
        return locked;
    }
    let (token, expires) = state.storage.issue_token();
    let body = CdnToken {
        token,
        token_type: "Bearer".into(),
        base_url: Some(state.base_url.clone()),
        expires_at: episodic_fal::timefmt::format_rfc3339(expires),
        created_at: Some(episodic_fal::timefmt::format_rfc3339(now_unix())),
    };
    axum::Json(body).into_response()
}

/// `POST /files/upload`: raw bytes with a CDN token.
pub(crate) async fn upload(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    if !state.config.v3_uploads {
        return json_error(StatusCode::NOT_FOUND, "Not found", "not_found");
    }
    if !state.storage.token_valid(&headers) {
        state.stats.update(|s| s.rejected.unauthorized += 1);
        return json_error(StatusCode::UNAUTHORIZED, "Invalid or expired upload token", "unauthorized");
    }
    // A token fetched before the lock does not get around it.
    if let Some(locked) = state.refuse_if_locked() {
        return locked;
    }
    let content_type =
        header_str(&headers, header::CONTENT_TYPE.as_str()).unwrap_or("application/octet-stream");
    let name = header_str(&headers, "x-fal-file-name").unwrap_or("upload.bin");
    match state.storage.store(&body, content_type, name, lifecycle_ttl(&headers)).await {
        Ok((_, path)) => {
            state.stats.update(|s| {
                s.uploads.count += 1;
                s.uploads.bytes += body.len() as u64;
            });
            let body =
                CdnUploadResponse { access_url: format!("{}{path}", state.base_url), uploaded: Some(true) };
            axum::Json(body).into_response()
        }
        Err(err) => {
            json_error(StatusCode::INTERNAL_SERVER_ERROR, &format!("storage failed: {err}"), "internal_error")
        }
    }
}

/// `POST /storage/upload/initiate`: the legacy flow's first step.
pub(crate) async fn initiate(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(denied) = state.require_key(&headers) {
        return denied;
    }
    if let Some(locked) = state.refuse_if_locked() {
        return locked;
    }
    let Ok(request) = serde_json::from_slice::<InitiateUploadRequest>(&body) else {
        return json_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "expected {\"content_type\", \"file_name\"}",
            "bad_request",
        );
    };
    let ticket = random_hex(24);
    lock(&state.storage.pending_puts).insert(ticket.clone(), (request.content_type, request.file_name));
    let body = InitiateUploadResponse {
        upload_url: format!("{}/storage/upload/put/{ticket}", state.base_url),
        file_url: format!("{}/storage/upload/pending/{ticket}", state.base_url),
    };
    axum::Json(body).into_response()
}

/// `PUT /storage/upload/put/{ticket}`: the legacy flow's second step; the ticket is the secret.
pub(crate) async fn put(
    State(state): State<Arc<AppState>>,
    UrlPath(ticket): UrlPath<String>,
    body: Bytes,
) -> Response {
    let Some((content_type, name)) = lock(&state.storage.pending_puts).remove(&ticket) else {
        return json_error(StatusCode::NOT_FOUND, "Unknown upload", "not_found");
    };
    match state.storage.store(&body, &content_type, &name, None).await {
        Ok((_, path)) => {
            state.stats.update(|s| {
                s.uploads.count += 1;
                s.uploads.bytes += body.len() as u64;
            });
            // The file URL handed out at initiate now resolves to the stored file.
            lock(&state.storage.pending_files).insert(ticket, path);
            StatusCode::OK.into_response()
        }
        Err(err) => {
            json_error(StatusCode::INTERNAL_SERVER_ERROR, &format!("storage failed: {err}"), "internal_error")
        }
    }
}

/// `GET /storage/upload/pending/{ticket}`: a legacy file URL, redirected to the stored file.
pub(crate) async fn pending(
    State(state): State<Arc<AppState>>,
    UrlPath(ticket): UrlPath<String>,
) -> Response {
    match lock(&state.storage.pending_files).get(&ticket) {
        Some(path) => {
            (StatusCode::FOUND, [(header::LOCATION, format!("{}{path}", state.base_url))]).into_response()
        }
        None => json_error(StatusCode::NOT_FOUND, "File not found", "not_found"),
    }
}

/// `GET /files/{id}/{name}`: public, like fal's CDN.
pub(crate) async fn serve(
    State(state): State<Arc<AppState>>,
    UrlPath((id, _name)): UrlPath<(String, String)>,
) -> Response {
    let Some(file) = state.storage.get(&id) else {
        return json_error(StatusCode::NOT_FOUND, "File not found or expired", "not_found");
    };
    match tokio::fs::read(&file.path).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, file.content_type)], bytes).into_response(),
        Err(_) => json_error(StatusCode::NOT_FOUND, "File not found", "not_found"),
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sanitised() {
        assert_eq!(safe_name("clip one.mp3"), "clip_one.mp3");
        assert_eq!(safe_name("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(safe_name(""), "upload.bin");
    }
}
