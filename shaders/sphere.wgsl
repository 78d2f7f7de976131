// Shared by separation.wgsl and match.wgsl (prepended by the host):
// angular separation by Vincenty's formula, arranged so that small
// separations keep their relative accuracy. The differences dRA and dDec
// are formed in f64; dRA is reduced in f64 (turns - floor(turns + 1/2),
// times 2 pi, still in f64: only multiply, add and floor) and rounded to
// f32 once, as radians in [-pi, pi], and
//   num2 = sin(dDec) + sin(dec1) cos(dec2) 2 sin^2(dRA/2)
// replaces cos(dec1) sin(dec2) - sin(dec1) cos(dec2) cos(dRA), which
// cancels catastrophically near zero. Every f32 sin/cos argument lies in
// [-pi, pi]. The final atan2 is NOT taken here: WGSL allows atan2 an error
// of 4096 ulp (llvmpipe's is ~4e-6 rad), so the kernels return (sin, cos)
// of the separation, each good to ~1e-7, and the host takes atan2 in f64,
// or compares against tan(radius) without any inverse trig.
// Why f64 (SHADER_F64): an f32 right ascension near 2 pi is 2.4e-7 rad
// (0.05") coarse before any arithmetic; the differences must be formed
// first. Error budget: one f32 rounding of dRA and of each declination
// (<= 1.2e-7 rad), the f32 sin/cos (~1e-7): separations within ~0.06"
// (0.056" measured on lavapipe), held to 0.1" (GPU vs CPU) in the tests.

const TWO_PI_F64: f64 = 6.283185307179586lf;
const INV_TWO_PI: f64 = 0.15915494309189535lf;

// An f64 angle (radians, any size) as f32 radians in [-pi, pi]: reduced in
// f64 turns (floor, which cannot saturate as an integer conversion can),
// back to radians in f64, rounded to f32 once.
fn reduce(x: f64) -> f32 {
    let turns = x * INV_TWO_PI;
    let r = turns - floor(turns + 0.5lf);
    return f32(TWO_PI_F64 * r);
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
