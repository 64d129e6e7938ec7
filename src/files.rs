//! Files and folders storefront writes hold codes, sessions' keys and
//! customers' data, so they are created readable by this user only (files
//! 0600, folders 0700), whatever the process's umask: the umask can only
//! take permissions away from these modes.

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

const PRIVATE_DIR: u32 = 0o700;
const PRIVATE_FILE: u32 = 0o600;

/// Creates `path` and any missing parents as private folders. Folders that
/// exist already keep their mode: they were chosen by whoever made them.
pub fn create_private_dir(path: &Path) -> std::io::Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(PRIVATE_DIR)
        .create(path)
}

/// Creates `path` as an empty private file (and its folder) unless it exists.
pub fn create_private_file(path: &Path) -> std::io::Result<()> {
    if let Some(folder) = path
        .parent()
        .filter(|folder| !folder.as_os_str().is_empty())
    {
        create_private_dir(folder)?;
    }
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(PRIVATE_FILE)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(err),
    }
}

/// Writes a new private file with `contents`, durably; fails if it exists.
pub fn write_new_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(PRIVATE_FILE)
        .open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn private_files_and_folders() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("a/b/data.db");
        create_private_file(&file).unwrap();
        assert_eq!(mode(&root.path().join("a")), 0o700);
        assert_eq!(mode(&root.path().join("a/b")), 0o700);
        assert_eq!(mode(&file), 0o600);
        create_private_file(&file).unwrap();
        let secret = root.path().join("secret");
        write_new_private(&secret, b"s").unwrap();
        assert_eq!(mode(&secret), 0o600);
        assert!(write_new_private(&secret, b"again").is_err());
    }
}
