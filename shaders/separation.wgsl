// Angular separations, element-wise: out[i] = (sin, cos) of sep(a[i], b[i])
// from sphere.wgsl; the host takes atan2 in f64.

struct Params {
    n: u32,
    grid_width: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f64>;   // ra, dec pairs, radians
@group(0) @binding(2) var<storage, read> b: array<f64>;
@group(0) @binding(3) var<storage, read_write> out: array<vec2<f32>>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x + gid.y * params.grid_width;
    if (i >= params.n) {
        return;
    }
    out[i] = separation_parts(a[2u * i], a[2u * i + 1u], b[2u * i], b[2u * i + 1u]);
}
