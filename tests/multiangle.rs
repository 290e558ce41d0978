use asoftmax_spec::multiangle::*;
use rug::{Rational, Float};
use asoftmax_spec::arith::round_f64;

#[test]
fn explore() {
    let mut s: u64 = 0x9e3779b97f4a7c15;
    for m in 1..=16u32 {
        let mut worst = [0f64; 4];
        let coeffs = chebyshev_t_coefficients(m);
        for i in 0..20000 {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            let c = if i % 4 == 0 { 1.0 - (s % 1000) as f64 * f64::EPSILON } else if i%4==1 { -1.0 + (s % 1000) as f64 * f64::EPSILON } else { (s >> 11) as f64 / (1u64 << 52) as f64 - 1.0 };
            let exact = cos_m_recurrence(m, &Rational::from_f64(c).unwrap());
            let ex = Float::with_val(200, &exact);
            let vals = [cos_m_recurrence(m, &c), cos_m_binomial(m, &c), cos_m_de_moivre(m, &c), horner(&coeffs, &c)];
            for (k, v) in vals.iter().enumerate() {
                let e = (Float::with_val(200, *v) - &ex).abs().to_f64() / f64::EPSILON / (m * m) as f64;
                if e > worst[k] { worst[k] = e; }
            }
            let _ = round_f64(&ex);
        }
        println!("m={m} rec={:.3} bin={:.3} dm={:.3} horner={:.3}", worst[0], worst[1], worst[2], worst[3]);
    }
}
