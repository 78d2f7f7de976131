//! The phase kernel's per-row inputs, reduced on the host in f64 so the
//! kernel needs no f64 at all.
//!
//! For evenly spaced channels `f = f0 + c df`, the correction of row `r` at
//! channel `c` is `turns = dw f0 / c_light + c (dw df / c_light)`, modulo 1.
//! Both parts are reduced modulo 1 here (`x - round(x)`, no integer
//! conversion that could saturate) and split so that the kernel's f32
//! products are exact:
//! - `a_hi + a_lo`: the offset in turns, an f32 pair (`a_hi` in [-0.5, 0.5]);
//! - `b1 + b2 + b3`: the step in turns per channel, with `b1` a multiple of
//!   2^-12 and `b2` a multiple of 2^-24, so that `c b1` and `c b2` are exact
//!   in f32 for `c < 2^12`, and `|b3| <= 2^-25` (its product's rounding is
//!   below 1e-12 turn).
//!
//! Channels are counted from an anchor every [`CHANNELS_PER_ANCHOR`]
//! channels, so `c < 2^12` holds for any number of channels.

use crate::compute::SPEED_OF_LIGHT_M_S;

/// Channels per anchor: the channel offset `c` stays below 2^12.
pub const CHANNELS_PER_ANCHOR: usize = 4096;

/// One (row, anchor) term: `[a_hi, a_lo, b1, b2]`, `[b3, 0, 0, 0]` as the
/// shader's two `vec4<f32>`.
pub type Term = [[f32; 4]; 2];

/// `x` modulo 1, in [-0.5, 0.5].
fn reduce(x: f64) -> f64 {
    x - x.round()
}

/// The term of one row and anchor: `dw_m` metres of w change, anchor
/// frequency `f0_hz`, channel step `df_hz`.
pub fn term(dw_m: f64, f0_hz: f64, df_hz: f64) -> Term {
    let a = reduce(dw_m * f0_hz / SPEED_OF_LIGHT_M_S);
    let b = reduce(dw_m * df_hz / SPEED_OF_LIGHT_M_S);
    let a_hi = a as f32;
    let a_lo = (a - a_hi as f64) as f32;
    let b1 = (b * 4096.0).round() / 4096.0;
    let b2 = ((b - b1) * 16_777_216.0).round() / 16_777_216.0;
    let b3 = b - b1 - b2;
    [
        [a_hi, a_lo, b1 as f32, b2 as f32],
        [b3 as f32, 0.0, 0.0, 0.0],
    ]
}

/// Anchors per row for `n_chan` channels.
pub fn anchors(n_chan: usize) -> usize {
    n_chan.div_ceil(CHANNELS_PER_ANCHOR).max(1)
}

/// Terms of every row of `dw_m` (row-major, [`anchors`] per row) into
/// `out`, for channels `f0_hz + c df_hz`.
pub fn fill(dw_m: &[f64], f0_hz: f64, df_hz: f64, n_chan: usize, out: &mut [Term]) {
    let per_row = anchors(n_chan);
    for (row, &dw) in out.chunks_mut(per_row).zip(dw_m) {
        for (k, t) in row.iter_mut().enumerate() {
            *t = term(dw, f0_hz + (k * CHANNELS_PER_ANCHOR) as f64 * df_hz, df_hz);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel's arithmetic, in f32 as the shader does it.
    fn kernel_turns(t: Term, c: f32) -> f32 {
        let r = |x: f32| x - x.round();
        let [a_hi, a_lo, b1, b2] = t[0];
        let mut s = r(a_hi + r(c * b1));
        s = r(s + (r(c * b2) + (a_lo + c * t[1][0])));
        s
    }

    #[test]
    fn turns_agree_with_f64_to_1e_7_for_5_km_at_1_5_ghz() {
        let (f0, df) = (1.311e9, 244_140.625);
        let mut worst = 0.0f64;
        for dw in [-5000.0, -1234.567, 0.001, 17.25, 4999.999] {
            let t = term(dw, f0, df);
            for c in [0usize, 1, 7, 767, 4095] {
                let want = reduce(dw * (f0 + c as f64 * df) / SPEED_OF_LIGHT_M_S);
                let got = kernel_turns(t, c as f32) as f64;
                worst = worst.max(reduce(got - want).abs());
            }
        }
        assert!(worst < 1e-7, "{worst} turns");
    }
}
