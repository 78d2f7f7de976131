// Shared by separation.wgsl and match.wgsl (prepended by the host):
// angular separation by Vincenty's formula, arranged so that small
// separations keep their relative accuracy. The differences dRA and dDec
// are formed in f64 and reduced to turns before becoming f32, and
//   num2 = sin(dDec) + sin(dec1) cos(dec2) 2 sin^2(dRA/2)
// replaces cos(dec1) sin(dec2) - sin(dec1) cos(dec2) cos(dRA), which
// cancels catastrophically near zero. Every f32 sin/cos argument lies in
// [-pi, pi]. The final atan2 is NOT taken here: WGSL allows atan2 an error
// of 4096 ulp (llvmpipe's is ~4e-6 rad), so the kernels return (sin, cos)
// of the separation, each good to ~1e-7, and the host takes atan2 in f64,
// or compares against tan(radius) without any inverse trig.

const TWO_PI: f32 = 6.283185307179586;
const INV_TWO_PI: f64 = 0.15915494309189535lf;

// An f64 angle (radians, any size) as f32 radians in [-pi, pi].
fn reduce(x: f64) -> f32 {
    let turns = x * INV_TWO_PI;
    let r = f32(turns - f64(i32(turns)));
    return TWO_PI * (r - round(r));
}

// (|sin|, cos) of the separation, unnormalised (scaled alike).
fn separation_parts(ra1: f64, dec1: f64, ra2: f64, dec2: f64) -> vec2<f32> {
    let dra = reduce(ra2 - ra1);
    let ddec = f32(dec2 - dec1);
    let d1 = f32(dec1);
    let d2 = f32(dec2);
    let sd1 = sin(d1);
    let cd2 = cos(d2);
    let half = sin(0.5 * dra);
    let num1 = cd2 * sin(dra);
    let num2 = sin(ddec) + 2.0 * sd1 * cd2 * half * half;
    let den = sd1 * sin(d2) + cos(d1) * cd2 * cos(dra);
    return vec2<f32>(sqrt(num1 * num1 + num2 * num2), den);
}
