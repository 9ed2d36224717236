//! A folder as the shared store: a local disk for one machine, or a mount (NFS, SMB) that
//! several machines see. Objects are written to a temporary name beside their place and renamed,
//! so a reader on any machine sees a whole object or none.

use super::{ArtifactStore, StoreError, checked};
use std::path::{Path, PathBuf};

/// The store in a folder; `name` `a/b` is the file `<root>/a/b`.
#[derive(Debug, Clone)]
pub struct FolderStore {
    root: PathBuf,
}

impl FolderStore {
    /// Opens (creating when missing) the folder at `root`.
    pub fn open(root: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(root).map_err(|source| StoreError::Io {
            what: format!("cannot create the artifact store `{}`", root.display()),
            source,
        })?;
        Ok(FolderStore { root: root.to_path_buf() })
    }

    fn path(&self, name: &str) -> Result<PathBuf, StoreError> {
        let name = checked(name).ok_or_else(|| StoreError::BadUrl {
            url: name.to_owned(),
            reason: "an object name must be relative, without `.` or `..` parts".into(),
        })?;
        Ok(self.root.join(name))
    }

    /// A temporary name beside `target`, unique to this process and moment.
    fn partial(target: &Path) -> PathBuf {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let mut name = target.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        name.push(format!(".part-{}-{nanos}", std::process::id()));
        target.with_file_name(name)
    }

    async fn write_with(
        &self,
        name: &str,
        write: impl AsyncFnOnce(&Path) -> std::io::Result<()>,
    ) -> Result<(), StoreError> {
        let target = self.path(name)?;
        let io = |what: &str| {
            let what = format!("{what} `{}`", target.display());
            move |source| StoreError::Io { what, source }
        };
        if let Some(parent) = target.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(io("cannot create the folder of"))?;
        }
        let partial = Self::partial(&target);
        if let Err(err) = write(&partial).await {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(io("cannot write")(err));
        }
        tokio::fs::rename(&partial, &target).await.map_err(io("cannot move into place"))
    }
}

#[async_trait::async_trait]
impl ArtifactStore for FolderStore {
    fn location(&self) -> String {
        self.root.display().to_string()
    }

    async fn size(&self, name: &str) -> Result<Option<u64>, StoreError> {
        let path = self.path(name)?;
        match tokio::fs::metadata(&path).await {
            Ok(meta) if meta.is_file() => Ok(Some(meta.len())),
            Ok(_) => Ok(None),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StoreError::Io { what: format!("cannot read `{}`", path.display()), source }),
        }
    }

    async fn put_file(&self, name: &str, from: &Path) -> Result<(), StoreError> {
        self.write_with(name, async |partial: &Path| tokio::fs::copy(from, partial).await.map(drop)).await
    }

    async fn get_file(&self, name: &str, to: &Path) -> Result<bool, StoreError> {
        let path = self.path(name)?;
        match tokio::fs::copy(&path, to).await {
            Ok(_) => Ok(true),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound && !path.exists() => Ok(false),
            Err(source) => Err(StoreError::Io {
                what: format!("cannot copy `{}` to `{}`", path.display(), to.display()),
                source,
            }),
        }
    }

    async fn put_bytes(&self, name: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.write_with(name, async |partial: &Path| tokio::fs::write(partial, &bytes).await).await
    }

    async fn get_bytes(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.path(name)?;
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StoreError::Io { what: format!("cannot read `{}`", path.display()), source }),
        }
    }
}
