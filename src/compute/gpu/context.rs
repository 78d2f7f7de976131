//! The opened device and its failure modes as typed errors: every device
//! operation runs inside wgpu error scopes (out of memory, validation,
//! internal), errors outside a scope and device loss are caught by
//! handlers instead of wgpu's default panic, and every wait on the device
//! is bounded.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::compute::ComputeError;

/// A device, its queue and what went wrong with it.
pub(super) struct Context {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    /// Longest wait for one submission.
    timeout: Duration,
    /// Set by the device-lost callback.
    lost: Arc<Mutex<Option<String>>>,
    /// The first error raised outside an error scope.
    uncaptured: Arc<Mutex<Option<ComputeError>>>,
}

impl Context {
    /// Open a device on `adapter` with `features` and `limits`.
    pub fn open(
        adapter: &wgpu::Adapter,
        features: wgpu::Features,
        limits: wgpu::Limits,
        timeout: Duration,
    ) -> Result<Context, ComputeError> {
        let info = adapter.get_info();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("dsa110-convert"),
            required_features: features,
            required_limits: limits,
            ..Default::default()
        }))
        .map_err(|e| ComputeError::Device(format!("{}: {e}", info.name)))?;
        let lost = Arc::new(Mutex::new(None));
        let uncaptured = Arc::new(Mutex::new(None));
        {
            let lost = Arc::clone(&lost);
            device.set_device_lost_callback(move |reason, message| {
                let mut l = lost.lock().unwrap_or_else(|p| p.into_inner());
                l.get_or_insert(format!("{reason:?}: {message}"));
            });
            let uncaptured = Arc::clone(&uncaptured);
            device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
                let mut u = uncaptured.lock().unwrap_or_else(|p| p.into_inner());
                u.get_or_insert(classify(e, "outside an error scope"));
            }));
        }
        Ok(Context {
            device,
            queue,
            info,
            timeout,
            lost,
            uncaptured,
        })
    }

    /// An error if the device was lost or raised an error outside a scope.
    pub fn check(&self) -> Result<(), ComputeError> {
        if let Some(why) = self.lost.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            return Err(ComputeError::DeviceLost(format!(
                "{}: {why}",
                self.info.name
            )));
        }
        if let Some(e) = self
            .uncaptured
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            return Err(e);
        }
        Ok(())
    }

    /// Run `f` (device calls for `what`) inside error scopes; a wgpu error
    /// it raised becomes the matching [`ComputeError`].
    pub fn scoped<T>(&self, what: &str, f: impl FnOnce() -> T) -> Result<T, ComputeError> {
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let internal = self.device.push_error_scope(wgpu::ErrorFilter::Internal);
        let out = f();
        let errors = [
            pollster::block_on(internal.pop()),
            pollster::block_on(validation.pop()),
            pollster::block_on(oom.pop()),
        ];
        if let Some(e) = errors.into_iter().flatten().next() {
            return Err(classify(e, what));
        }
        self.check()?;
        Ok(out)
    }

    /// Submit `commands`, map `bytes` of `staging` once they have run and
    /// hand the mapped bytes to `read`; the wait is bounded by the
    /// context's timeout.
    pub fn submit_and_read(
        &self,
        what: &str,
        commands: wgpu::CommandBuffer,
        staging: &[(&wgpu::Buffer, u64)],
        read: impl FnOnce(&[&[u8]]),
    ) -> Result<(), ComputeError> {
        let (tx, rx) = mpsc::channel();
        let index = self.scoped(what, || {
            let index = self.queue.submit([commands]);
            for &(buffer, bytes) in staging {
                let tx = tx.clone();
                buffer.map_async(wgpu::MapMode::Read, ..bytes, move |r| {
                    let _ = tx.send(r);
                });
            }
            index
        })?;
        self.wait(what, index)?;
        for _ in staging {
            let mapped = match rx.try_recv() {
                Ok(r) => r,
                // Callbacks not yet delivered: one more bounded wait.
                Err(_) => {
                    self.wait_all(what)?;
                    rx.try_recv().map_err(|_| {
                        ComputeError::Device(format!("{what}: mapping never completed"))
                    })?
                }
            };
            mapped
                .map_err(|e| ComputeError::Device(format!("{what}: mapping the results: {e}")))?;
        }
        let views = staging
            .iter()
            .map(|&(b, bytes)| b.get_mapped_range(..bytes))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ComputeError::Device(format!("{what}: mapping the results: {e}")))?;
        let slices: Vec<&[u8]> = views.iter().map(|v| &v[..]).collect();
        read(&slices);
        drop(slices);
        drop(views);
        for &(b, _) in staging {
            b.unmap();
        }
        self.check()
    }

    fn wait(&self, what: &str, index: wgpu::SubmissionIndex) -> Result<(), ComputeError> {
        self.poll(
            what,
            wgpu::PollType::Wait {
                submission_index: Some(index),
                timeout: Some(self.timeout),
            },
        )
    }

    fn wait_all(&self, what: &str) -> Result<(), ComputeError> {
        self.poll(
            what,
            wgpu::PollType::Wait {
                submission_index: None,
                timeout: Some(self.timeout),
            },
        )
    }

    fn poll(&self, what: &str, poll: wgpu::PollType) -> Result<(), ComputeError> {
        match self.device.poll(poll) {
            Ok(_) => self.check(),
            Err(wgpu::PollError::Timeout) => {
                self.check()?;
                Err(ComputeError::Timeout {
                    what: format!("{what} on {}", self.info.name),
                    seconds: self.timeout.as_secs_f64(),
                })
            }
            Err(e) => Err(ComputeError::Device(format!("{what}: {e}"))),
        }
    }
}

/// A wgpu error as the matching [`ComputeError`] variant.
fn classify(e: wgpu::Error, what: &str) -> ComputeError {
    match e {
        wgpu::Error::OutOfMemory { .. } => ComputeError::OutOfMemory(what.to_string()),
        wgpu::Error::Validation { description, .. } => {
            ComputeError::Validation(format!("{what}: {}", flatten(&description)))
        }
        wgpu::Error::Internal { description, .. } => {
            ComputeError::Device(format!("{what}: {}", flatten(&description)))
        }
    }
}

/// wgpu's multi-line "Validation Error / Caused by: / ..." report on one line.
fn flatten(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && *l != "Caused by:" && *l != "Validation Error")
        .collect::<Vec<_>>()
        .join(": ")
}
