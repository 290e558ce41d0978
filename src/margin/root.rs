//! Certified root enclosure: one routine for every root of this module (module docs,
//! "Root enclosure").

use crate::Error;
use crate::arith::Ival;
use rug::Float;
use std::cmp::Ordering;

pub(super) fn internal(what: &'static str, detail: String) -> Error {
    Error::Domain {
        arg: what,
        value: detail,
        expected: "a sign change of the (strictly monotone) difference function; this is an internal consistency failure",
    }
}

/// Encloses the unique root of a continuous, strictly monotone `f` on `[a, b]`.
///
/// `f(p)` encloses `f` at an exact point, `df(X)` encloses `f′` over an interval
/// (`None` when undefined there). The signs of `f(a)` and `f(b)` must be certified
/// opposite: `Ok(None)` when `wp` is too low to certify them (the Ziv loop retries),
/// an error when they are certified equal (no root: an internal inconsistency).
pub(super) fn enclose_root<F, D>(
    what: &'static str,
    a: Float,
    b: Float,
    wp: u32,
    f: F,
    df: D,
) -> Result<Option<Ival>, Error>
where
    F: Fn(&Float) -> Result<Ival, Error>,
    D: Fn(&Ival) -> Result<Option<Ival>, Error>,
{
    let Some(sa) = f(&a)?.sign_certain() else {
        return Ok(None);
    };
    if sa == Ordering::Equal {
        return Ok(Some(Ival::point(a)));
    }
    let Some(sb) = f(&b)?.sign_certain() else {
        return Ok(None);
    };
    if sb == Ordering::Equal {
        return Ok(Some(Ival::point(b)));
    }
    if sa == sb {
        return Err(internal(
            what,
            format!("f({a}) and f({b}) have the same sign"),
        ));
    }
    let mut x = Ival::new(a, b).expect("a <= b");
    // `p` strictly inside `x`, so that a step at `p` shrinks the bracket.
    let inside = |x: &Ival, p: &Float| p > x.lo() && p < x.hi();
    // Bisection gains a bit per step, Newton doubles the bits; this cap is generous.
    let max_steps = 4 * wp as usize + 256;
    for _ in 0..max_steps {
        let width = x.width();
        let c = x.mid_at(wp);
        if !inside(&x, &c) {
            break; // no representable point strictly inside
        }
        // Interval Newton: every root in X lies in c − f(c)/f′(X) when 0 ∉ f′(X).
        let mut shrunk = false;
        if let Some(d) = df(&x)? {
            if !d.contains_zero() {
                let fc = f(&c)?;
                if fc.sign_certain() == Some(Ordering::Equal) {
                    return Ok(Some(Ival::point(c)));
                }
                let step = fc.div(&d).expect("0 is not in f'(X)");
                let n = Ival::point(c.clone()).sub(&step);
                let Some(nx) = x.clamp_to(n.lo(), n.hi()) else {
                    return Err(internal(
                        what,
                        format!(
                            "the Newton image of [{}, {}] misses the bracket",
                            x.lo(),
                            x.hi()
                        ),
                    ));
                };
                let new_width = nx.width();
                if new_width < width {
                    x = nx;
                    shrunk = true;
                    if new_width <= Float::with_val(wp, &width >> 1u32) {
                        continue;
                    }
                }
            }
        }
        // Bisection at a certified sign (the root is unique, so the sign tells the side).
        let c = x.mid_at(wp);
        if !inside(&x, &c) {
            break;
        }
        let halves = [
            Ival::new(x.lo().clone(), c.clone()).expect("lo < c"),
            Ival::new(c.clone(), x.hi().clone()).expect("c < hi"),
        ];
        match f(&c)?.sign_certain() {
            Some(Ordering::Equal) => return Ok(Some(Ival::point(c))),
            Some(s) if s == sa => x = halves[1].clone(),
            Some(_) => x = halves[0].clone(),
            None => {
                // c is within the evaluation error of the root: close in from both
                // sides with the quarter points instead (each certified).
                let mut moved = shrunk;
                for p in halves.map(|h| h.mid_at(wp)) {
                    if !inside(&x, &p) {
                        continue;
                    }
                    match f(&p)?.sign_certain() {
                        Some(Ordering::Equal) => return Ok(Some(Ival::point(p))),
                        Some(s) if s == sa => x = Ival::new(p, x.hi().clone()).expect("p < hi"),
                        Some(_) => x = Ival::new(x.lo().clone(), p).expect("lo < p"),
                        None => continue,
                    }
                    moved = true;
                }
                if !moved {
                    break;
                }
            }
        }
    }
    Ok(Some(x))
}
