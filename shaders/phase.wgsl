// The fused transform in place, one pass over V[row][chan][pol]: the phase
// correction V *= exp(-2 pi i dw[row] f[chan] / c), then the row's
// correlations reordered and conjugated by its map (src/compute/mod.rs,
// PolMap): output p = input source[p], conjugated when the map says so.
// Maps: params.maps, per map m byte m: 2 bits of source per output
// correlation (4 at most); bit 16 + m: conjugate. Row r takes map 1 when
// bit r % 32 of alternate[r / 32] is set.
//
// f32 only (no SHADER_F64): the host reduces each row's turns in f64 and
// hands per-(row, anchor) terms (see src/compute/gpu/phase_terms.rs):
//   turns = a_hi + a_lo + c (b1 + b2 + b3)  (mod 1),  c = channel - anchor < 2^12,
// with c b1 and c b2 exact in f32. Each partial sum is reduced with
// x - round(x), so every sum stays within [-1, 1] and the f32 sin/cos see
// arguments within [-pi, pi], where WGSL specifies them.
// Error budget: two f32 roundings of a sum below 1 in magnitude (<= 2^-25
// turn each, 6e-8 turn = 3.7e-7 rad), the 2 pi multiply (<= 1.9e-7 rad),
// the a_lo and c b3 terms (< 1e-12 turn), plus the driver's sin/cos
// (~1e-7 on common drivers): under 1e-6 rad. Tests hold it to 2e-6 rad.
// One thread per (row, channel); it turns all its correlations.

struct Params {
    n_rows: u32,
    n_chan: u32,
    n_pol: u32,
    grid_width: u32,
    anchors_per_row: u32,
    channels_per_anchor: u32,
    maps: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
// Two per (row, anchor): (a_hi, a_lo, b1, b2), (b3, 0, 0, 0).
@group(0) @binding(1) var<storage, read> terms: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> vis: array<vec2<f32>>; // [row][chan][pol]
@group(0) @binding(3) var<storage, read> alternate: array<u32>; // one bit per row

const TWO_PI: f32 = 6.283185307179586;

fn wrap(x: f32) -> f32 {
    return x - round(x);
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let idx = gid.x + gid.y * params.grid_width;
    if (idx >= params.n_rows * params.n_chan) {
        return;
    }
    let row = idx / params.n_chan;
    let chan = idx - row * params.n_chan;
    let anchor = chan / params.channels_per_anchor;
    let c = f32(chan - anchor * params.channels_per_anchor);
    let k = 2u * (row * params.anchors_per_row + anchor);
    let t = terms[k];
    let b3 = terms[k + 1u].x;
    var s = wrap(t.x + wrap(c * t.z));
    s = wrap(s + (wrap(c * t.w) + (t.y + c * b3)));
    let angle = -TWO_PI * s;
    let cs = cos(angle);
    let sn = sin(angle);
    let m = (alternate[row / 32u] >> (row % 32u)) & 1u;
    let sources = params.maps >> (8u * m);
    let conjugate = ((params.maps >> (16u + m)) & 1u) == 1u;
    let base = idx * params.n_pol;
    var cell: array<vec2<f32>, 4>;
    for (var p = 0u; p < params.n_pol; p++) {
        let v = vis[base + p];
        cell[p] = vec2<f32>(v.x * cs - v.y * sn, v.x * sn + v.y * cs);
    }
    for (var p = 0u; p < params.n_pol; p++) {
        let x = cell[(sources >> (2u * p)) & 3u];
        vis[base + p] = select(x, vec2<f32>(x.x, -x.y), conjugate);
    }
}
