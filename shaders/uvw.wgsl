// UVW of each row: uvw = R[rot] * (xyz[ant2] - xyz[ant1]), in f64.
// Only multiply and add on f64 (no f64 trig): the rotations are built on
// the host in f64. One thread per row; rows beyond params.n_rows idle.
// Why f64 (SHADER_F64): an f32 baseline of 10 km is 0.5 mm coarse and
// 1 mm of w is 0.03 rad of phase at 1.4 GHz. Error budget: a few f64
// roundings of 1e4 m values, below 1e-11 m; tests hold GPU to CPU at 1e-5 m.

struct Params {
    n_rows: u32,
    // Threads per row of the dispatch grid (num_workgroups.x * 64), for 2-D grids.
    grid_width: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> antenna_xyz: array<f64>;   // 3 per antenna
@group(0) @binding(2) var<storage, read> ant1: array<u32>;          // per row
@group(0) @binding(3) var<storage, read> ant2: array<u32>;          // per row
@group(0) @binding(4) var<storage, read> rotation_index: array<u32>; // per row
@group(0) @binding(5) var<storage, read> rotations: array<f64>;     // 9 per rotation, row-major
@group(0) @binding(6) var<storage, read_write> uvw: array<f64>;     // 3 per row

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x + gid.y * params.grid_width;
    if (i >= params.n_rows) {
        return;
    }
    let a1 = ant1[i];
    let a2 = ant2[i];
    let r = 9u * rotation_index[i];
    let bx = antenna_xyz[3u * a2] - antenna_xyz[3u * a1];
    let by = antenna_xyz[3u * a2 + 1u] - antenna_xyz[3u * a1 + 1u];
    let bz = antenna_xyz[3u * a2 + 2u] - antenna_xyz[3u * a1 + 2u];
    for (var k = 0u; k < 3u; k++) {
        uvw[3u * i + k] = rotations[r + 3u * k] * bx
            + rotations[r + 3u * k + 1u] * by
            + rotations[r + 3u * k + 2u] * bz;
    }
}
