//! The primary beam of a uniformly illuminated circular dish (Airy pattern).
//!
//! Power response at angle theta from the pointing centre:
//! `P = (2 J1(x) / x)^2`, `x = pi D sin(theta) / lambda`, with D the dish
//! diameter (4.65 m for DSA-110) and lambda = c / f at the band centre.
//! The first null is at `sin(theta) = 1.2197 lambda / D` (3.2 deg at
//! 1.405 GHz). Real DSA-110 dishes are not uniformly illuminated (their
//! half-power width is wider than the Airy model's 2.7 deg); the model ranks
//! sources and picks their peak field, which only needs the shape.

use crate::compute::SPEED_OF_LIGHT_M_S;

/// First zero of J1 divided by pi.
const FIRST_NULL_FACTOR: f64 = 1.219_669_891_266_504_5;

/// Airy power response (1 at the centre), for `theta_rad` from the centre.
pub fn airy_power(theta_rad: f64, dish_diameter_m: f64, freq_hz: f64) -> f64 {
    let lambda = SPEED_OF_LIGHT_M_S / freq_hz;
    let x = std::f64::consts::PI * dish_diameter_m * theta_rad.sin() / lambda;
    if x.abs() < 1e-8 {
        return 1.0;
    }
    let a = 2.0 * libm::j1(x) / x;
    a * a
}

/// Radius of the first null, radians.
pub fn first_null_rad(dish_diameter_m: f64, freq_hz: f64) -> f64 {
    let lambda = SPEED_OF_LIGHT_M_S / freq_hz;
    (FIRST_NULL_FACTOR * lambda / dish_diameter_m)
        .min(1.0)
        .asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn airy_half_power_and_null() {
        let (d, f) = (4.65, 1.405e9);
        let lambda = SPEED_OF_LIGHT_M_S / f;
        // Half power at x = 1.6163 (the Airy pattern's known half-power point).
        let theta_half = (1.616_339_9 * lambda / (std::f64::consts::PI * d)).asin();
        assert!((airy_power(theta_half, d, f) - 0.5).abs() < 1e-6);
        assert!(airy_power(first_null_rad(d, f), d, f) < 1e-12);
        assert_eq!(airy_power(0.0, d, f), 1.0);
        assert!((first_null_rad(d, f).to_degrees() - 3.21).abs() < 0.01);
    }
}
