//! S3-compatible object storage as the shared store, through the `object_store` crate: AWS S3,
//! or any S3-compatible server named by `AWS_ENDPOINT_URL` (MinIO, Ceph, R2, moto). Credentials
//! and region come from the standard `AWS_*` variables, and are never part of a message.

use super::{ArtifactStore, StoreError, checked};
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::buffered::{BufReader, BufWriter};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use std::path::Path;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

/// A bucket and a prefix in it.
#[derive(Debug, Clone)]
pub struct S3Store {
    bucket: Arc<AmazonS3>,
    /// `s3://bucket/prefix`, for messages.
    location: String,
    /// The prefix without slashes at either end; empty for the bucket's root.
    prefix: String,
}

impl S3Store {
    /// The store `url` (`s3://bucket[/prefix]`), configured from this process's `AWS_*`
    /// variables.
    pub fn from_env(url: &str) -> Result<Self, StoreError> {
        let settings = std::env::vars_os()
            .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
            .filter(|(name, _)| name.starts_with("AWS_"));
        Self::with_settings(url, settings)
    }

    /// The store `url` (`s3://bucket[/prefix]`), configured by `AWS_*` settings given as
    /// name and value (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`,
    /// `AWS_ENDPOINT_URL`, …); names object_store does not know are ignored.
    pub fn with_settings(
        url: &str,
        settings: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, StoreError> {
        let bad = |reason: &str| StoreError::BadUrl { url: url.to_owned(), reason: reason.to_owned() };
        let rest = url.strip_prefix("s3://").ok_or_else(|| bad("expected s3://bucket/prefix"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let prefix = prefix.trim_matches('/');
        if bucket.is_empty() {
            return Err(bad("the bucket is missing: s3://bucket/prefix"));
        }
        if !prefix.is_empty() && checked(prefix).is_none() {
            return Err(bad("the prefix has an empty, `.` or `..` part"));
        }
        let mut builder = AmazonS3Builder::new();
        let mut plain_http = false;
        for (name, value) in settings {
            // A local S3-compatible server (the tests' moto, a MinIO on the LAN) speaks plain HTTP.
            if name.starts_with("AWS_ENDPOINT") && value.starts_with("http://") {
                plain_http = true;
            }
            if let Ok(key) = name.to_ascii_lowercase().parse::<AmazonS3ConfigKey>() {
                builder = builder.with_config(key, value);
            }
        }
        builder = builder.with_bucket_name(bucket);
        if plain_http {
            builder = builder.with_allow_http(true);
        }
        let bucket_store = builder.build().map_err(|err| bad(&err.to_string()))?;
        Ok(S3Store {
            bucket: Arc::new(bucket_store),
            location: url.trim_end_matches('/').to_owned(),
            prefix: prefix.to_owned(),
        })
    }

    fn path(&self, name: &str) -> Result<ObjectPath, StoreError> {
        let name = checked(name).ok_or_else(|| StoreError::BadUrl {
            url: name.to_owned(),
            reason: "an object name must be relative, without `.` or `..` parts".into(),
        })?;
        let full = if self.prefix.is_empty() { name.to_owned() } else { format!("{}/{name}", self.prefix) };
        ObjectPath::parse(&full).map_err(|err| StoreError::BadUrl { url: full, reason: err.to_string() })
    }

    fn remote(&self, action: &'static str, name: &str, err: impl std::fmt::Display) -> StoreError {
        StoreError::Remote {
            location: self.location.clone(),
            action,
            name: name.to_owned(),
            detail: err.to_string(),
        }
    }
}

#[async_trait::async_trait]
impl ArtifactStore for S3Store {
    fn location(&self) -> String {
        self.location.clone()
    }

    async fn size(&self, name: &str) -> Result<Option<u64>, StoreError> {
        match self.bucket.head(&self.path(name)?).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(err) => Err(self.remote("look up", name, err)),
        }
    }

    async fn put_file(&self, name: &str, from: &Path) -> Result<(), StoreError> {
        let path = self.path(name)?;
        let io = |source| StoreError::Io { what: format!("cannot read `{}`", from.display()), source };
        let mut file = tokio::fs::File::open(from).await.map_err(io)?;
        // One PUT for a small file, a multipart upload (parts in parallel) for a large one; the
        // object appears only when the last part is in.
        let store: Arc<dyn ObjectStore> = self.bucket.clone();
        let mut writer = BufWriter::new(store, path);
        let copied = tokio::io::copy(&mut file, &mut writer).await;
        let copied = match copied {
            Ok(_) => writer.shutdown().await,
            Err(err) => Err(err),
        };
        if let Err(err) = copied {
            let _ = writer.abort().await;
            return Err(self.remote("write", name, err));
        }
        Ok(())
    }

    async fn get_file(&self, name: &str, to: &Path) -> Result<bool, StoreError> {
        let meta = match self.bucket.head(&self.path(name)?).await {
            Ok(meta) => meta,
            Err(object_store::Error::NotFound { .. }) => return Ok(false),
            Err(err) => return Err(self.remote("look up", name, err)),
        };
        let store: Arc<dyn ObjectStore> = self.bucket.clone();
        let mut reader = BufReader::new(store, &meta);
        let mut file = tokio::fs::File::create(to)
            .await
            .map_err(|source| StoreError::Io { what: format!("cannot create `{}`", to.display()), source })?;
        tokio::io::copy(&mut reader, &mut file).await.map_err(|err| self.remote("read", name, err))?;
        file.flush()
            .await
            .map_err(|source| StoreError::Io { what: format!("cannot write `{}`", to.display()), source })?;
        Ok(true)
    }

    async fn put_bytes(&self, name: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        let path = self.path(name)?;
        self.bucket
            .put(&path, PutPayload::from(bytes))
            .await
            .map_err(|err| self.remote("write", name, err))?;
        Ok(())
    }

    async fn get_bytes(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.path(name)?;
        let got = match self.bucket.get(&path).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(err) => return Err(self.remote("read", name, err)),
        };
        let bytes = got.bytes().await.map_err(|err| self.remote("read", name, err))?;
        Ok(Some(bytes.to_vec()))
    }
}
