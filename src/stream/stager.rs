//! The stager: a thread per collecting group that converts each subband
//! into the group's partial MS as its file is accepted.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

use super::JobError;
use crate::convert::{Conversion, ConvertError, ConvertOptions};
use crate::group::Band;
use crate::uvh5;

enum StageMsg {
    Add(PathBuf),
    Finish(Vec<PathBuf>, mpsc::Sender<Result<(), JobError>>),
}

/// A thread converting one collecting group subband by subband as its
/// files are accepted, so that little is left to do when the last lands.
/// Dropped unfinished (daemon stopping), it abandons the group and removes
/// its partial MS.
pub(super) struct Stager {
    tx: Option<mpsc::Sender<StageMsg>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Set when dropped: skip the subbands still queued.
    abandon: Arc<AtomicBool>,
}

impl Stager {
    pub fn spawn(opts: ConvertOptions, group: String, n_subbands: usize, out: PathBuf) -> Stager {
        let (tx, rx) = mpsc::channel::<StageMsg>();
        let abandon = Arc::new(AtomicBool::new(false));
        let abandoned = abandon.clone();
        let thread = std::thread::spawn(move || {
            let mut staged: Option<Conversion> = None;
            let mut failed: Option<ConvertError> = None;
            let mut next: Option<StageMsg> = None;
            loop {
                let msg = match next.take().map_or_else(|| rx.recv(), Ok) {
                    Ok(m) => m,
                    Err(_) => return,
                };
                if abandoned.load(Ordering::Relaxed) {
                    return;
                }
                match msg {
                    StageMsg::Add(path) if failed.is_none() => {
                        // Every file that landed while the last was being
                        // converted goes in together, in the order of the
                        // MS's tiles (all 16 at once: as `convert` writes).
                        let mut paths = vec![path];
                        while let Ok(m) = rx.try_recv() {
                            match m {
                                StageMsg::Add(p) => paths.push(p),
                                other => {
                                    next = Some(other);
                                    break;
                                }
                            }
                        }
                        paths.reverse();
                        let mut seen = std::collections::HashSet::new();
                        paths.retain(|p| seen.insert(p.clone()));
                        if let Err(e) = stage(&mut staged, &paths, n_subbands, &out, &opts) {
                            tracing::warn!(
                                "group {group}: converting {} file(s) as they landed failed: {e}",
                                paths.len()
                            );
                            staged = None;
                            failed = Some(e);
                        }
                    }
                    StageMsg::Add(_) => {}
                    StageMsg::Finish(files, reply) => {
                        let res = match (staged.take(), failed.take()) {
                            (Some(s), None) => s.finish(&files).map(|_| ()).map_err(JobError::from),
                            (_, Some(e)) => Err(JobError::from(e)),
                            (None, None) => Err(JobError::NothingStaged),
                        };
                        let _ = reply.send(res);
                        return;
                    }
                }
            }
        });
        Stager {
            tx: Some(tx),
            thread: Some(thread),
            abandon,
        }
    }

    pub fn add(&self, path: PathBuf) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(StageMsg::Add(path));
        }
    }

    /// Finish the group with its `files`; the error when the subbands
    /// converted so far are not that group.
    pub fn finish(mut self, files: Vec<PathBuf>) -> Result<(), JobError> {
        let (reply_tx, reply_rx) = mpsc::channel();
        let tx = self.tx.take().ok_or(JobError::StagerStopped)?;
        tx.send(StageMsg::Finish(files, reply_tx))
            .map_err(|_| JobError::StagerStopped)?;
        reply_rx.recv().unwrap_or(Err(JobError::StagerStopped))
    }
}

/// Convert the subband files `paths` into the group's MS, starting the MS
/// with the first when none is started.
fn stage(
    staged: &mut Option<Conversion>,
    paths: &[PathBuf],
    n_subbands: usize,
    out: &Path,
    opts: &ConvertOptions,
) -> Result<(), ConvertError> {
    let files = paths
        .iter()
        .map(|p| {
            uvh5::Uvh5File::open(p, opts.chunk_cache_bytes).map_err(crate::group::GroupError::from)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let conversion = match staged {
        Some(c) => c,
        None => {
            let first = &files[0];
            let band = Band::dsa110(first.header(), n_subbands)?;
            staged.insert(Conversion::start(first.shared_header(), band, out, opts)?)
        }
    };
    conversion.add(files)
}

impl Drop for Stager {
    fn drop(&mut self) {
        self.abandon.store(true, Ordering::Relaxed);
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
