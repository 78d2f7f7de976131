//! dsa110-convert: DSA-110 UVH5 subband groups to CASA Measurement Sets.
//!
//! Data flows one way through the modules, each with one job:
//! [`uvh5`] reads files, [`group`] decides which files belong together and
//! joins them along frequency, [`astro`] computes times and directions,
//! [`compute`] runs the batch kernels (UVW, phase correction, separations) on
//! the GPU (WGSL through wgpu) or the CPU (rayon), [`ms`] writes Measurement
//! Sets, [`convert`] wires those into the pipeline, [`stream`] runs it as a
//! daemon, [`batch`] runs it over an archive as a Slurm job array, [`qa`]
//! gathers quick-look statistics and a verdict of a group (fed by the
//! converter or read from files or an MS), [`sim`] writes synthetic DSA-110
//! groups and [`cli`] is the command-line front end.

pub mod astro;
pub mod batch;
pub mod calibrators;
pub mod cli;
pub mod compute;
pub mod convert;
pub mod group;
pub mod ms;
pub mod phasing;
pub mod qa;
pub mod sim;
pub mod stream;
pub mod telescope;
pub mod uvh5;
