//! A small seedable random generator for simulations and samples.
//!
//! Replays and transcript samples must give the same result for the same
//! seed on every machine and every version of Switchboard, so they use this
//! fixed algorithm (SplitMix64, Steele, Lea and Flood 2014) rather than a
//! library generator whose stream may change between releases.

/// SplitMix64: 64-bit state, one multiply-xorshift chain per output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub const fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in the open interval (0, 1).
    #[expect(clippy::cast_precision_loss, reason = "53-bit mantissa")]
    pub fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Uniform in `0..n` (`0` when `n` is 0); the modulo bias is below
    /// 2^-40 for the sizes samples use.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// Log-normal with the given median and 90th percentile (same unit as
    /// the inputs; the median is at least 1).
    pub fn lognormal(&mut self, median: f64, p90: f64) -> f64 {
        // Box-Muller; the standard normal's 90th percentile is 1.28155.
        let z = (-2.0 * self.unit().ln()).sqrt() * (std::f64::consts::TAU * self.unit()).cos();
        let sigma = (p90.max(median) / median.max(1.0)).ln() / 1.281_551_6;
        median.max(1.0) * (sigma * z).exp()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_stream_and_lognormal_quantiles() {
        // The reference stream of SplitMix64 seeded with 1234567.
        let mut r = SplitMix64::new(1_234_567);
        assert_eq!(r.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(r.next_u64(), 3_203_168_211_198_807_973);
        let mut r = SplitMix64::new(7);
        let mut v: Vec<f64> = (0..20_000).map(|_| r.lognormal(180.0, 900.0)).collect();
        v.sort_by(f64::total_cmp);
        let (median, p90) = (v[10_000], v[18_000]);
        assert!((median - 180.0).abs() < 15.0, "{median}");
        assert!((p90 - 900.0).abs() < 90.0, "{p90}");
    }
}
