//! One writer per output path: the lock, the writer's own partial
//! directory, and putting the finished MS in place without ever losing the
//! old one.
//!
//! Beside an output `<dir>/<name>` live, hidden:
//! - `.<name>.lock`: an exclusive `flock` held by the one process writing
//!   `<name>` ([`OutputClaim`]), holding its pid for the others' messages.
//!   The kernel drops the lock with a killed process, so a crash never
//!   leaves a stale lock.
//! - `.<name>.<pid>-<n>.partial`: the MS being written, unique per writer.
//! - `.<name>.<pid>-<n>.old`: an old MS moved aside while a new one takes
//!   its place, on filesystems without `RENAME_EXCHANGE` only.
//! - `.<name>.<pid>-<n>.reserve`: disk space the writer holds until its
//!   final flush ([`Reserve`]).
//!
//! Whoever holds the lock owns every partial and old copy of the output:
//! [`OutputClaim::acquire`] removes them (restoring an old MS whose
//! replacement never arrived) before anything else is checked.

use std::ffi::CString;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rubbl_casatables::{Table, TableOpenMode};

use super::{io, MsError};

/// What is at an output path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutputState {
    Absent,
    /// A Measurement Set casacore opens: the only thing that counts as done.
    Complete,
    /// Something else (an empty or foreign directory, a file, a broken
    /// table): never "done", never silently replaced.
    NotAnMs(String),
}

/// What is at `path`. A complete MS is a directory whose `table.dat`
/// casacore opens as a table with an ANTENNA and a SPECTRAL_WINDOW
/// subtable (what the writer puts last but one before its rename).
pub fn inspect(path: &Path) -> OutputState {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return OutputState::Absent,
        Err(e) => return OutputState::NotAnMs(e.to_string()),
    };
    if !meta.is_dir() {
        return OutputState::NotAnMs("not a directory".into());
    }
    if !path.join("table.dat").is_file() {
        return OutputState::NotAnMs("a directory without table.dat".into());
    }
    for sub in ["ANTENNA", "SPECTRAL_WINDOW"] {
        if !path.join(sub).join("table.dat").is_file() {
            return OutputState::NotAnMs(format!("no {sub} subtable"));
        }
    }
    match Table::open(path, TableOpenMode::Read) {
        Ok(_) => OutputState::Complete,
        Err(e) => OutputState::NotAnMs(format!("casacore cannot open it: {e}")),
    }
}

/// The right to write one output path: the lock on `.<name>.lock`, held
/// until dropped (the lock file is removed then).
#[derive(Debug)]
pub struct OutputClaim {
    final_path: PathBuf,
    lock_path: PathBuf,
    /// Open for as long as the claim lives: the lock.
    _lock: std::fs::File,
    stale_removed: usize,
}

fn file_name(final_path: &Path) -> String {
    final_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The lock file of `final_path`.
pub fn lock_path(final_path: &Path) -> PathBuf {
    final_path.with_file_name(format!(".{}.lock", file_name(final_path)))
}

/// Per-process counter making every partial name unique.
static NEXT: AtomicU64 = AtomicU64::new(0);

/// A hidden name beside `final_path` unique to this writer, ending in `.suffix`.
fn unique_path(final_path: &Path, suffix: &str) -> PathBuf {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    final_path.with_file_name(format!(
        ".{}.{}-{n}.{suffix}",
        file_name(final_path),
        std::process::id()
    ))
}

/// Whether `entry` (a file name in the output's directory) is a partial
/// (`.partial`) or moved-aside (`.old`) copy of the output named `name`:
/// `.<name>.<pid>-<n>.<suffix>`, or the older `.<name>.partial`.
fn is_copy_of(entry: &str, name: &str, suffix: &str) -> bool {
    let Some(rest) = entry
        .strip_prefix('.')
        .and_then(|e| e.strip_prefix(name))
        .and_then(|e| e.strip_prefix('.'))
        .and_then(|e| e.strip_suffix(suffix))
    else {
        return false;
    };
    if rest.is_empty() {
        return suffix == "partial";
    }
    let Some(id) = rest.strip_suffix('.') else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    id.split_once('-')
        .is_some_and(|(pid, n)| digits(pid) && digits(n))
}

/// Remove a directory tree or a file; absent is fine.
pub(super) fn remove_any(path: &Path) -> Result<(), MsError> {
    let res = if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
    match res {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(path)(e)),
        _ => Ok(()),
    }
}

impl OutputClaim {
    /// Take the lock of `final_path` (its directory must exist), or
    /// [`MsError::Busy`] naming the process holding it. Then remove the
    /// output's leftover partials, and restore an old MS moved aside by a
    /// replacement that was killed before the new one was in place.
    pub fn acquire(final_path: &Path) -> Result<OutputClaim, MsError> {
        let lock_path = lock_path(final_path);
        let dir = lock_path.parent().unwrap_or(Path::new("."));
        if !std::fs::metadata(dir).is_ok_and(|m| m.is_dir()) {
            return Err(io(dir)(std::io::Error::new(
                std::io::ErrorKind::NotADirectory,
                "the output directory does not exist or is not a directory",
            )));
        }
        let lock = loop {
            let mut file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&lock_path)
                .map_err(io(&lock_path))?;
            // SAFETY: flock on a descriptor we own.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
                let err = std::io::Error::last_os_error();
                if err.raw_os_error() != Some(libc::EWOULDBLOCK) {
                    return Err(io(&lock_path)(err));
                }
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                return Err(MsError::Busy {
                    path: final_path.to_path_buf(),
                    holder: pid.trim().parse().ok(),
                });
            }
            // The previous holder removes the lock file before releasing
            // it: a lock taken on a file no longer at the path is no lock.
            let here = std::fs::metadata(&lock_path).ok().map(|m| m.ino());
            let held = file.metadata().map_err(io(&lock_path))?.ino();
            if here == Some(held) {
                file.set_len(0).map_err(io(&lock_path))?;
                write!(file, "{}", std::process::id()).map_err(io(&lock_path))?;
                break file;
            }
        };
        let mut claim = OutputClaim {
            final_path: final_path.to_path_buf(),
            lock_path,
            _lock: lock,
            stale_removed: 0,
        };
        claim.clean()?;
        Ok(claim)
    }

    /// Remove the partials of the output and settle moved-aside old MSs.
    fn clean(&mut self) -> Result<(), MsError> {
        let dir = self
            .final_path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = file_name(&self.final_path);
        let entries = std::fs::read_dir(dir).map_err(io(dir))?;
        for entry in entries.filter_map(|e| e.ok()) {
            let entry_name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if is_copy_of(&entry_name, &name, "partial")
                || is_copy_of(&entry_name, &name, "reserve")
            {
                tracing::warn!(
                    "removing the partial MS {} of a run that did not finish",
                    path.display()
                );
                remove_any(&path)?;
                self.stale_removed += 1;
            } else if is_copy_of(&entry_name, &name, "old") {
                if inspect(&self.final_path) == OutputState::Absent {
                    tracing::warn!(
                        "{}: its replacement was interrupted; the old MS is back",
                        self.final_path.display()
                    );
                    std::fs::rename(&path, &self.final_path).map_err(io(&self.final_path))?;
                } else {
                    remove_any(&path)?;
                }
                self.stale_removed += 1;
            }
        }
        Ok(())
    }

    /// The right to write a new MS at `final_path` ([`OutputClaim::acquire`]):
    /// a complete MS there is [`MsError::Exists`] and anything else
    /// [`MsError::NotAnMs`], unless `overwrite`. Checked under the lock,
    /// which the claim holds until the new MS is in place.
    pub fn for_new_ms(final_path: &Path, overwrite: bool) -> Result<OutputClaim, MsError> {
        let claim = OutputClaim::acquire(final_path)?;
        match (inspect(final_path), overwrite) {
            (OutputState::Absent, _) | (_, true) => Ok(claim),
            (OutputState::Complete, false) => Err(MsError::Exists(final_path.to_path_buf())),
            (OutputState::NotAnMs(reason), false) => Err(MsError::NotAnMs {
                path: final_path.to_path_buf(),
                reason,
            }),
        }
    }

    /// The output path this claim is for.
    pub fn final_path(&self) -> &Path {
        &self.final_path
    }

    /// Leftover partial or old copies [`OutputClaim::acquire`] removed.
    pub fn stale_removed(&self) -> usize {
        self.stale_removed
    }

    /// A fresh partial path for this writer.
    pub(super) fn new_partial(&self) -> PathBuf {
        unique_path(&self.final_path, "partial")
    }

    /// Hold `bytes` of disk beside the output until the returned reserve
    /// is dropped.
    pub(super) fn reserve(&self, bytes: u64) -> Result<Reserve, MsError> {
        Reserve::take(unique_path(&self.final_path, "reserve"), bytes)
    }

    /// Put the finished `partial` at the final path. Whatever was there
    /// stays there until the new MS is: the two are exchanged atomically
    /// (`renameat2(RENAME_EXCHANGE)`) and the old one, now at `partial`,
    /// is removed by the caller. Where the filesystem cannot exchange, the
    /// old one is first renamed aside (`.old`, restored by the next
    /// [`OutputClaim::acquire`] if a kill lands between the two renames).
    pub(super) fn install(&self, partial: &Path) -> Result<(), MsError> {
        let target = &self.final_path;
        if std::fs::symlink_metadata(target).is_err() {
            return std::fs::rename(partial, target).map_err(io(target));
        }
        let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).map_err(|e| io(p)(e.into()));
        let (from, to) = (c(partial)?, c(target)?);
        // SAFETY: two NUL-terminated paths relative to the working directory.
        let rc = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                from.as_ptr(),
                libc::AT_FDCWD,
                to.as_ptr(),
                libc::RENAME_EXCHANGE,
            )
        };
        if rc == 0 {
            return Ok(());
        }
        let err = std::io::Error::last_os_error();
        if !matches!(err.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS)) {
            return Err(io(target)(err));
        }
        let aside = unique_path(target, "old");
        std::fs::rename(target, &aside).map_err(io(target))?;
        std::fs::rename(partial, target).map_err(io(target))?;
        remove_any(&aside)
    }
}

impl Drop for OutputClaim {
    /// Remove the lock file while still holding it (see `acquire`).
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.lock_path);
    }
}

/// Disk space held by a writer until just before its last flush.
///
/// casacore writes `table.dat` and what its caches still hold when a table
/// is flushed or closed, partly from destructors, where a write error (a
/// disk filled meanwhile by someone else) cannot be reported and aborts the
/// process. Holding, from the start, at least what those writes need and
/// releasing it just before them keeps them out of a full disk; a disk
/// that fills earlier fails the row writes instead, which report it.
#[derive(Debug)]
pub(super) struct Reserve {
    path: PathBuf,
}

impl Reserve {
    fn take(path: PathBuf, bytes: u64) -> Result<Reserve, MsError> {
        let file = std::fs::File::create(&path).map_err(io(&path))?;
        let reserve = Reserve { path };
        // SAFETY: a descriptor we own; offset 0, a positive length.
        let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, bytes.max(1) as libc::off_t) };
        if rc != 0 {
            let err = std::io::Error::from_raw_os_error(rc);
            return Err(io(&reserve.path)(std::io::Error::new(
                err.kind(),
                format!("reserving {} MB for the final flush: {err}", bytes >> 20),
            )));
        }
        Ok(reserve)
    }
}

impl Drop for Reserve {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Remove the leftover partials of `final_path`, unless another process
/// is writing it ([`MsError::Busy`]); how many were removed.
pub fn remove_stale(final_path: &Path) -> Result<usize, MsError> {
    Ok(OutputClaim::acquire(final_path)?.stale_removed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_of_an_output_are_recognised_by_exact_name() {
        assert!(is_copy_of(".x.ms.12-0.partial", "x.ms", "partial"));
        assert!(is_copy_of(".x.ms.partial", "x.ms", "partial"));
        assert!(is_copy_of(".x.ms.7-3.old", "x.ms", "old"));
        assert!(!is_copy_of(".x.ms.old", "x.ms", "old"));
        // The partial of another output whose name starts alike.
        assert!(!is_copy_of(".x.ms.y.ms.12-0.partial", "x.ms", "partial"));
        assert!(!is_copy_of(".x.ms.12-0.partial", "y.ms", "partial"));
        assert!(!is_copy_of("x.ms", "x.ms", "partial"));
    }

    #[test]
    fn a_second_claim_on_one_output_is_busy_and_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("a.ms");
        let first = OutputClaim::acquire(&out).unwrap();
        match OutputClaim::acquire(&out) {
            Err(MsError::Busy { path, holder }) => {
                assert_eq!(path, out);
                assert_eq!(holder, Some(std::process::id()));
            }
            other => panic!("expected Busy, got {other:?}"),
        }
        drop(first);
        assert!(!lock_path(&out).exists());
        OutputClaim::acquire(&out).unwrap();
    }

    #[test]
    fn partial_names_are_unique_per_writer() {
        let dir = tempfile::tempdir().unwrap();
        let claim = OutputClaim::acquire(&dir.path().join("a.ms")).unwrap();
        assert_ne!(claim.new_partial(), claim.new_partial());
    }

    #[test]
    fn a_claim_removes_stale_partials_and_restores_an_old_ms_left_aside() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("a.ms");
        let stale = dir.path().join(".a.ms.99-0.partial");
        let other = dir.path().join(".b.ms.99-0.partial");
        let aside = dir.path().join(".a.ms.99-1.old");
        for d in [&stale, &other, &aside] {
            std::fs::create_dir(d).unwrap();
        }
        std::fs::write(aside.join("table.dat"), "old").unwrap();
        let claim = OutputClaim::acquire(&out).unwrap();
        assert_eq!(claim.stale_removed(), 2);
        assert!(!stale.exists() && !aside.exists());
        assert!(other.exists(), "another output's partial is not ours");
        assert_eq!(std::fs::read(out.join("table.dat")).unwrap(), b"old");
    }

    #[test]
    fn install_exchanges_and_keeps_the_old_one_until_then() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("a.ms");
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("which"), "old").unwrap();
        let claim = OutputClaim::acquire(&out).unwrap();
        let partial = claim.new_partial();
        std::fs::create_dir(&partial).unwrap();
        std::fs::write(partial.join("which"), "new").unwrap();
        claim.install(&partial).unwrap();
        assert_eq!(std::fs::read(out.join("which")).unwrap(), b"new");
        // The old MS is where the partial was, for the caller to remove.
        assert_eq!(std::fs::read(partial.join("which")).unwrap(), b"old");
    }

    #[test]
    fn only_a_table_casacore_opens_is_complete() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.ms");
        assert_eq!(inspect(&p), OutputState::Absent);
        std::fs::write(&p, "").unwrap();
        assert!(matches!(inspect(&p), OutputState::NotAnMs(_)));
        std::fs::remove_file(&p).unwrap();
        std::fs::create_dir(&p).unwrap();
        assert!(matches!(inspect(&p), OutputState::NotAnMs(_)));
    }
}
