// Phase correction in place: V[row][chan][pol] *= exp(-2 pi i dw[row] f[chan] / c).
//
// Precision: turns = dw * (f / c) is formed in f64 (|turns| up to ~25000
// for dw = 5 km at 1.5 GHz) and reduced to (-1, 1) in f64 by subtracting
// its integer part (a conversion, not f64 trig). Only then is it rounded to
// f32 and brought to [-0.5, 0.5], so the f32 sin/cos see arguments within
// [-pi, pi], where WGSL specifies them. Error budget: the f32 rounding of
// the reduced turns (<= 3e-8 turn = 2e-7 rad) plus the driver's sin/cos.
// One thread per (row, channel); it rotates all polarizations.

struct Params {
    n_rows: u32,
    n_chan: u32,
    n_pol: u32,
    grid_width: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dw_m: array<f64>;            // per row
@group(0) @binding(2) var<storage, read> freq_over_c: array<f64>;     // per channel, 1/m
@group(0) @binding(3) var<storage, read_write> vis: array<vec2<f32>>; // [row][chan][pol]

const TWO_PI: f32 = 6.283185307179586;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let idx = gid.x + gid.y * params.grid_width;
    if (idx >= params.n_rows * params.n_chan) {
        return;
    }
    let row = idx / params.n_chan;
    let chan = idx - row * params.n_chan;
    let turns = dw_m[row] * freq_over_c[chan];
    let reduced = f32(turns - f64(i32(turns)));
    let t = reduced - round(reduced);
    let angle = -TWO_PI * t;
    let c = cos(angle);
    let s = sin(angle);
    let base = idx * params.n_pol;
    for (var p = 0u; p < params.n_pol; p++) {
        let v = vis[base + p];
        vis[base + p] = vec2<f32>(v.x * c - v.y * s, v.x * s + v.y * c);
    }
}
