// Candidate pairs for a cross-match: every (point, target) closer than the
// radius, tested as sin(sep) < tan(radius) cos(sep) with cos(sep) > 0 (no
// inverse trig; the host passes tan of the radius widened by its margin,
// and uses the CPU for radii near 90 degrees).
// `separation` comes from sphere.wgsl. One thread per point, looping over all targets (targets are few: the
// fields of a group). Pairs go to `pairs` through an atomic counter; when
// more than `capacity` are found only the count is kept and the host runs
// again with room for all. The host recomputes each candidate's separation
// in f64 and applies the exact radius, so results equal the CPU path's.

struct Params {
    n_points: u32,
    n_targets: u32,
    capacity: u32,
    grid_width: u32,
    radius: f32,
    tan_radius: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> points: array<f64>;   // ra, dec pairs
@group(0) @binding(2) var<storage, read> targets: array<f64>;  // ra, dec pairs
@group(0) @binding(3) var<storage, read_write> count: atomic<u32>;
@group(0) @binding(4) var<storage, read_write> pairs: array<vec2<u32>>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let p = gid.x + gid.y * params.grid_width;
    if (p >= params.n_points) {
        return;
    }
    let ra = points[2u * p];
    let dec = points[2u * p + 1u];
    for (var t = 0u; t < params.n_targets; t++) {
        // Declination band first: cheap rejection without trig.
        if (abs(f32(targets[2u * t + 1u] - dec)) > params.radius) {
            continue;
        }
        let parts = separation_parts(ra, dec, targets[2u * t], targets[2u * t + 1u]);
        if (parts.y > 0.0 && parts.x < params.tan_radius * parts.y) {
            let slot = atomicAdd(&count, 1u);
            if (slot < params.capacity) {
                pairs[slot] = vec2<u32>(p, t);
            }
        }
    }
}
