//! Device buffers that live as long as the backend: one per role (a
//! kernel's input, output, parameters, read-back staging), created at the
//! size of the first block and replaced only by a larger one. Blocks after
//! the first of a conversion allocate nothing on the device.

use std::collections::HashMap;

use super::context::Context;
use crate::compute::ComputeError;

/// The buffers of every role seen so far, and how many were ever created.
#[derive(Default)]
pub(super) struct Pool {
    buffers: HashMap<&'static str, wgpu::Buffer>,
    allocations: u64,
}

impl Pool {
    /// The buffer of `role` (a handle to the pooled one), at least `bytes` long with `usage`; a new one
    /// (rounded up to 256 bytes) only when none is large enough yet.
    pub fn get(
        &mut self,
        ctx: &Context,
        role: &'static str,
        bytes: u64,
        usage: wgpu::BufferUsages,
    ) -> Result<wgpu::Buffer, ComputeError> {
        let bytes = bytes.max(16).next_multiple_of(256);
        let fits = self
            .buffers
            .get(role)
            .is_some_and(|b| b.size() >= bytes && b.usage().contains(usage));
        if !fits {
            // Drop the old one first: its memory may be needed for the new one.
            self.buffers.remove(role);
            let buffer = ctx.scoped(role, || {
                ctx.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some(role),
                    size: bytes,
                    usage,
                    mapped_at_creation: false,
                })
            })?;
            self.allocations += 1;
            tracing::trace!("GPU buffer '{role}': {bytes} bytes");
            self.buffers.insert(role, buffer);
        }
        Ok(self.buffers[role].clone())
    }

    /// Device buffers created since the backend was opened.
    pub fn allocations(&self) -> u64 {
        self.allocations
    }
}
