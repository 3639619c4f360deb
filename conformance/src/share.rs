//! Files in the share folder, which the target (root inside the sandbox) can change at will: every
//! path the suite reads or writes there is opened beneath the share folder without following a
//! symlink at any component, so a link planted by a target cannot make the suite read or write
//! elsewhere on the host. Reads are bounded.

use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::Mode;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::path::{Path, PathBuf};

/// The largest file the suite reads back from the share folder (an archive): a target that writes
/// more gets an error, not the suite's memory.
pub const MAX_READ: u64 = 8 << 30;

/// The share folder, opened once per call: paths are resolved beneath it.
pub struct Share {
    root: PathBuf,
}

impl Share {
    pub fn new(root: &Path) -> Share {
        Share {
            root: root.to_path_buf(),
        }
    }

    /// `path` relative to the share folder, or an error when it lies outside it.
    fn relative<'a>(&self, path: &'a Path) -> Result<&'a Path, String> {
        path.strip_prefix(&self.root).map_err(|_| {
            format!(
                "{} is not inside the share folder {}",
                path.display(),
                self.root.display()
            )
        })
    }

    fn open(&self, path: &Path, flags: OFlag, mode: Mode) -> Result<File, String> {
        let rel = self.relative(path)?;
        let root = File::open(&self.root)
            .map_err(|e| format!("cannot open the share folder {}: {e}", self.root.display()))?;
        let how = OpenHow::new()
            .flags(flags | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW)
            .mode(mode)
            .resolve(
                ResolveFlag::RESOLVE_BENEATH
                    | ResolveFlag::RESOLVE_NO_SYMLINKS
                    | ResolveFlag::RESOLVE_NO_MAGICLINKS,
            );
        let rel = if rel.as_os_str().is_empty() {
            Path::new(".")
        } else {
            rel
        };
        let fd = openat2(root.as_raw_fd(), rel, how).map_err(|e| {
            format!(
                "cannot open {} beneath the share folder without following links: {e}",
                path.display()
            )
        })?;
        // SAFETY: openat2 returned a new file descriptor that nothing else owns.
        Ok(unsafe { File::from_raw_fd(fd) })
    }

    /// A regular file opened for reading (for a reader that bounds itself).
    pub fn open_read(&self, path: &Path) -> Result<File, String> {
        let file = self.open(path, OFlag::O_RDONLY, Mode::empty())?;
        match file.metadata() {
            Ok(m) if m.is_file() => Ok(file),
            Ok(_) => Err(format!("{} is not a regular file", path.display())),
            Err(e) => Err(format!("cannot stat {}: {e}", path.display())),
        }
    }

    /// A text file (lossy UTF-8), at most [`MAX_READ`] bytes.
    pub fn read_to_string(&self, path: &Path) -> Result<String, String> {
        Ok(String::from_utf8_lossy(&self.read(path)?).into_owned())
    }

    /// The whole of a regular file, at most [`MAX_READ`] bytes.
    pub fn read(&self, path: &Path) -> Result<Vec<u8>, String> {
        let file = self.open(path, OFlag::O_RDONLY, Mode::empty())?;
        let meta = file
            .metadata()
            .map_err(|e| format!("cannot stat {}: {e}", path.display()))?;
        if !meta.is_file() {
            return Err(format!("{} is not a regular file", path.display()));
        }
        if meta.len() > MAX_READ {
            return Err(format!(
                "{} holds {} bytes, more than the {MAX_READ} the suite reads",
                path.display(),
                meta.len()
            ));
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        file.take(MAX_READ + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if bytes.len() as u64 > MAX_READ {
            return Err(format!("{} grew past {MAX_READ} bytes", path.display()));
        }
        Ok(bytes)
    }

    /// Writes a new file (replacing a regular file of that name, never following a link).
    pub fn write(&self, path: &Path, bytes: &[u8]) -> Result<(), String> {
        self.write_mode(path, bytes, 0o644)
    }

    /// As [`Share::write`], the file's mode set to `mode` (on the open file, not by its path).
    pub fn write_mode(&self, path: &Path, bytes: &[u8], mode: u32) -> Result<(), String> {
        use std::os::unix::fs::PermissionsExt;
        let mut file = self.open(
            path,
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_TRUNC,
            Mode::from_bits_truncate(0o600),
        )?;
        file.set_permissions(std::fs::Permissions::from_mode(mode))
            .and_then(|()| file.write_all(bytes))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    }

    /// Creates a folder and its parents beneath the share folder, none of them a link: each one is
    /// made and opened relative to the one before, so a link planted on the way is never followed.
    pub fn create_dir_all(&self, path: &Path) -> Result<(), String> {
        let rel = self.relative(path)?;
        let mut dir = File::open(&self.root)
            .map_err(|e| format!("cannot open the share folder {}: {e}", self.root.display()))?;
        for part in rel.components() {
            let std::path::Component::Normal(name) = part else {
                return Err(format!("{} is not a plain path", path.display()));
            };
            match nix::sys::stat::mkdirat(
                Some(dir.as_raw_fd()),
                name,
                Mode::from_bits_truncate(0o755),
            ) {
                Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
                Err(e) => return Err(format!("cannot create {}: {e}", path.display())),
            }
            let how = OpenHow::new()
                .flags(OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW)
                .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_SYMLINKS);
            let fd = openat2(dir.as_raw_fd(), Path::new(name), how).map_err(|e| {
                format!(
                    "{} is not a folder reached without a link: {e}",
                    path.display()
                )
            })?;
            // SAFETY: openat2 returned a new file descriptor that nothing else owns.
            dir = unsafe { File::from_raw_fd(fd) };
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_beneath_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let share = Share::new(dir.path());
        let file = dir.path().join("case/x.tar");
        share.create_dir_all(&dir.path().join("case")).unwrap();
        share.write(&file, b"abc").unwrap();
        assert_eq!(share.read(&file).unwrap(), b"abc");
    }

    #[test]
    fn never_follows_a_planted_link() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), b"host file").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let share = Share::new(dir.path());
        // A link as the file itself, and as a folder on the way.
        std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("a.tar"))
            .unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("case")).unwrap();
        assert!(share.read(&dir.path().join("a.tar")).is_err());
        assert!(share.write(&dir.path().join("a.tar"), b"x").is_err());
        assert!(share.write(&dir.path().join("case/new"), b"x").is_err());
        assert!(share.create_dir_all(&dir.path().join("case/sub")).is_err());
        assert!(share.read(&dir.path().join("case/secret")).is_err());
        assert_eq!(
            std::fs::read(outside.path().join("secret")).unwrap(),
            b"host file"
        );
        assert!(!outside.path().join("new").exists());
        assert!(!outside.path().join("sub").exists());
    }

    #[test]
    fn refuses_paths_outside_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let share = Share::new(dir.path());
        assert!(share.read(Path::new("/etc/passwd")).is_err());
        assert!(share.read(&dir.path().join("../x")).is_err());
    }
}
