//! The stager: a thread per collecting group that converts each subband
//! into the group's partial MS as its file is accepted.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

use super::JobError;
use crate::convert::{Band, Conversion, ConvertError, ConvertOptions};
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
            for msg in rx {
                if abandoned.load(Ordering::Relaxed) {
                    return;
                }
                match msg {
                    StageMsg::Add(path) if failed.is_none() => {
                        let res = stage(&mut staged, &path, n_subbands, &out, &opts);
                        if let Err(e) = res {
                            tracing::warn!(
                                "group {group}: converting {} as it landed failed: {e}",
                                path.display()
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

/// Convert the subband file `path` into the group's MS, starting the MS
/// with it when it is the first.
fn stage(
    staged: &mut Option<Conversion>,
    path: &Path,
    n_subbands: usize,
    out: &Path,
    opts: &ConvertOptions,
) -> Result<(), ConvertError> {
    let file = uvh5::Uvh5File::open(path, opts.chunk_cache_bytes)
        .map_err(crate::group::GroupError::from)?;
    let conversion = match staged {
        Some(c) => c,
        None => {
            let band = Band::dsa110(file.header(), n_subbands)?;
            staged.insert(Conversion::start(file.shared_header(), band, out, opts)?)
        }
    };
    conversion.add(vec![file])
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
