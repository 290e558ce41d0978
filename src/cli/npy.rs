//! NumPy `.npy` files: the tensor format of `vectors --out DIR` and `check DIR DIR`.
//!
//! The format (NumPy's `format.py`, versions 1.0, 2.0 and 3.0): the magic `\x93NUMPY`,
//! a major and minor version byte, the header length (`u16` little-endian for 1.0,
//! `u32` for 2.0 and 3.0), then a header — a Python dict literal such as
//! `{'descr': '<f8', 'fortran_order': False, 'shape': (16, 32), }`, padded with spaces
//! and a final `\n` so that the data starts at a multiple of 64 bytes — and the data,
//! C order. [`write`] writes version 1.0, little-endian; [`read`] accepts the three
//! versions, both byte orders, and the element types the oracle's tensors use:
//! `f4`, `f8` (floats) and `i1`…`i8`, `u1`…`u8` (integers, for labels). Anything else
//! (Fortran order, object arrays, a truncated file, a header that is not such a dict)
//! is an error that says what is wrong.

use std::path::Path;

/// The magic string every `.npy` file starts with.
const MAGIC: &[u8] = b"\x93NUMPY";

/// The data of an array.
#[derive(Clone, Debug, PartialEq)]
pub enum Data {
    /// Binary64 (`<f8`).
    F64(Vec<f64>),
    /// Binary32 (`<f4`).
    F32(Vec<f32>),
    /// Signed integers (`<i8`; read from any signed or unsigned width that fits).
    I64(Vec<i64>),
}

/// An array: its shape (C order) and data.
#[derive(Clone, Debug, PartialEq)]
pub struct Array {
    /// The shape; `[]` for a 0-d array (one element).
    pub shape: Vec<usize>,
    /// The elements, row-major.
    pub data: Data,
}

impl Array {
    /// The number of elements the shape describes.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// `true` when the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The elements as `f64` (floats exactly; integers must be floats' then: an error).
    pub fn floats(&self) -> Result<Vec<f64>, String> {
        match &self.data {
            Data::F64(v) => Ok(v.clone()),
            Data::F32(v) => Ok(v.iter().map(|&x| f64::from(x)).collect()),
            Data::I64(_) => Err("expected a float array (f4 or f8), got integers".into()),
        }
    }

    /// The elements as non-negative indices (labels).
    pub fn indices(&self) -> Result<Vec<usize>, String> {
        match &self.data {
            Data::I64(v) => v
                .iter()
                .map(|&i| usize::try_from(i).map_err(|_| format!("negative label {i}")))
                .collect(),
            _ => Err("expected an integer array (labels), got floats".into()),
        }
    }

    /// The `descr` of the data (little-endian).
    fn descr(&self) -> &'static str {
        match self.data {
            Data::F64(_) => "<f8",
            Data::F32(_) => "<f4",
            Data::I64(_) => "<i8",
        }
    }
}

/// The bytes of an `.npy` file (version 1.0) holding `a`.
pub fn to_bytes(a: &Array) -> Vec<u8> {
    let shape = match a.shape.as_slice() {
        [] => "()".to_string(),
        [n] => format!("({n},)"),
        dims => format!(
            "({})",
            dims.iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {shape}, }}",
        a.descr()
    );
    // Pad so that magic (6) + version (2) + length (2) + header ends on a 64-byte line.
    let total = MAGIC.len() + 4 + header.len() + 1;
    header.push_str(&" ".repeat(total.next_multiple_of(64) - total));
    header.push('\n');
    let mut out = Vec::with_capacity(total + 64 + 8 * a.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    match &a.data {
        Data::F64(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        Data::F32(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        Data::I64(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
    }
    out
}

/// Writes `a` to `path` as an `.npy` file.
pub fn write(path: &Path, a: &Array) -> Result<(), String> {
    std::fs::write(path, to_bytes(a)).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Reads an `.npy` file; errors name the file.
pub fn read(path: &Path) -> Result<Array, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    from_bytes(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses the bytes of an `.npy` file.
pub fn from_bytes(bytes: &[u8]) -> Result<Array, String> {
    if !bytes.starts_with(MAGIC) {
        return Err("not a NumPy .npy file (no \\x93NUMPY magic)".into());
    }
    let rest = &bytes[MAGIC.len()..];
    let (major, minor) = match rest {
        [a, b, ..] => (*a, *b),
        _ => return Err("truncated .npy header".into()),
    };
    let (len_bytes, utf8) = match major {
        1 => (2, false),
        2 => (4, false),
        3 => (4, true),
        _ => {
            return Err(format!(
                "unsupported .npy version {major}.{minor} (1.0, 2.0 and 3.0 are read)"
            ));
        }
    };
    let start = MAGIC.len() + 2 + len_bytes;
    if bytes.len() < start {
        return Err("truncated .npy header".into());
    }
    let mut len = [0u8; 4];
    len[..len_bytes].copy_from_slice(&bytes[MAGIC.len() + 2..start]);
    let header_len = u32::from_le_bytes(len) as usize;
    let header = bytes
        .get(start..start + header_len)
        .ok_or("truncated .npy header (the file ends inside it)")?;
    let header = if utf8 {
        std::str::from_utf8(header).map_err(|_| "the .npy header is not UTF-8".to_string())?
    } else {
        std::str::from_utf8(header)
            .ok()
            .filter(|h| h.is_ascii())
            .ok_or("the .npy header is not ASCII (version 1.0/2.0)")?
    };
    let h = Header::parse(header)?;
    decode(&h, &bytes[start + header_len..])
}

/// The three keys of an `.npy` header.
struct Header {
    descr: String,
    fortran_order: bool,
    shape: Vec<usize>,
}

impl Header {
    /// Parses `{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }` (any key
    /// order, single or double quotes, trailing commas, spaces).
    fn parse(text: &str) -> Result<Header, String> {
        let bad = |what: &str| format!("malformed .npy header ({what}): {}", text.trim_end());
        let body = text
            .trim()
            .strip_prefix('{')
            .and_then(|b| b.strip_suffix('}'))
            .ok_or_else(|| bad("not a dict"))?;
        let (mut descr, mut fortran, mut shape) = (None, None, None);
        let mut rest = body.trim_start();
        while !rest.is_empty() {
            let (key, after) = quoted(rest).ok_or_else(|| bad("expected a quoted key"))?;
            let after = after
                .trim_start()
                .strip_prefix(':')
                .ok_or_else(|| bad("expected ':' after a key"))?
                .trim_start();
            let after = match key {
                "descr" => {
                    let (d, a) = quoted(after).ok_or_else(|| bad("descr must be a string"))?;
                    descr = Some(d.to_string());
                    a
                }
                "fortran_order" => {
                    let (v, a) = if let Some(a) = after.strip_prefix("True") {
                        (true, a)
                    } else if let Some(a) = after.strip_prefix("False") {
                        (false, a)
                    } else {
                        return Err(bad("fortran_order must be True or False"));
                    };
                    fortran = Some(v);
                    a
                }
                "shape" => {
                    let inner = after
                        .strip_prefix('(')
                        .ok_or_else(|| bad("shape must be a tuple"))?;
                    let close = inner.find(')').ok_or_else(|| bad("unclosed shape tuple"))?;
                    let dims = inner[..close]
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| s.trim_end_matches('L').parse::<usize>())
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|_| bad("shape entries must be non-negative integers"))?;
                    shape = Some(dims);
                    &inner[close + 1..]
                }
                other => return Err(bad(&format!("unknown key '{other}'"))),
            };
            let after = after.trim_start();
            rest = after.strip_prefix(',').unwrap_or(after).trim_start();
            if !after.starts_with(',') && !rest.is_empty() {
                return Err(bad("expected ',' between entries"));
            }
        }
        match (descr, fortran, shape) {
            (Some(descr), Some(fortran_order), Some(shape)) => Ok(Header {
                descr,
                fortran_order,
                shape,
            }),
            _ => Err(bad("descr, fortran_order and shape are all required")),
        }
    }
}

/// A leading `'…'` or `"…"` string and what follows it.
fn quoted(s: &str) -> Option<(&str, &str)> {
    let q = s.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let end = s[1..].find(q)? + 1;
    Some((&s[1..end], &s[end + 1..]))
}

/// The data of an array described by `h`.
fn decode(h: &Header, data: &[u8]) -> Result<Array, String> {
    if h.fortran_order {
        return Err("Fortran-order arrays are not read: save a C-order array \
                    (numpy.ascontiguousarray)"
            .into());
    }
    let (order, kind) = h.descr.split_at(h.descr.len().min(1));
    let little = match order {
        "<" | "|" | "=" => true,
        ">" => false,
        _ => {
            return Err(format!(
                "unsupported dtype '{}' (expected e.g. '<f8')",
                h.descr
            ));
        }
    };
    let count = h
        .shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or("the shape's element count overflows")?;
    let width = match kind {
        "f4" | "i4" | "u4" => 4,
        "f8" | "i8" | "u8" => 8,
        "i2" | "u2" => 2,
        "i1" | "u1" => 1,
        _ => {
            return Err(format!(
                "unsupported dtype '{}' (floats f4, f8 and integers i1…i8, u1…u8 are read)",
                h.descr
            ));
        }
    };
    let need = count.checked_mul(width).ok_or("the data size overflows")?;
    if data.len() != need {
        return Err(format!(
            "the data is {} bytes, the header ({} of shape {:?}) says {need}",
            data.len(),
            h.descr,
            h.shape
        ));
    }
    let words = data.chunks_exact(width).map(|c| {
        let mut b = [0u8; 8];
        if little {
            b[..width].copy_from_slice(c);
        } else {
            b[..width]
                .iter_mut()
                .zip(c.iter().rev())
                .for_each(|(d, s)| *d = *s);
        }
        u64::from_le_bytes(b)
    });
    let sign_extend = |w: u64| {
        let shift = 64 - 8 * width as u32;
        ((w << shift) as i64) >> shift
    };
    let data = match kind {
        "f8" => Data::F64(words.map(f64::from_bits).collect()),
        "f4" => Data::F32(words.map(|w| f32::from_bits(w as u32)).collect()),
        "u8" => Data::I64(
            words
                .map(|w| i64::try_from(w).map_err(|_| format!("label {w} is too large")))
                .collect::<Result<_, _>>()?,
        ),
        k if k.starts_with('u') => Data::I64(words.map(|w| w as i64).collect()),
        _ => Data::I64(words.map(sign_extend).collect()),
    };
    Ok(Array {
        shape: h.shape.clone(),
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A version-1.0 file's header text and data start.
    fn header_of(bytes: &[u8]) -> (String, usize) {
        let end = 10 + usize::from(u16::from_le_bytes([bytes[8], bytes[9]]));
        (String::from_utf8_lossy(&bytes[10..end]).to_string(), end)
    }

    #[test]
    fn round_trips_and_is_aligned() {
        for a in [
            Array {
                shape: vec![2, 3],
                data: Data::F64(vec![0.5, -1.0, f64::MIN_POSITIVE, 3.0, -0.0, 1e300]),
            },
            Array {
                shape: vec![3],
                data: Data::F32(vec![1.5, f32::NAN, -2.0]),
            },
            Array {
                shape: vec![],
                data: Data::I64(vec![-7]),
            },
        ] {
            let bytes = to_bytes(&a);
            let header_end =
                bytes.len() - 8 * a.len() / if matches!(a.data, Data::F32(_)) { 2 } else { 1 };
            assert_eq!(header_end % 64, 0);
            let b = from_bytes(&bytes).unwrap();
            assert_eq!(b.shape, a.shape);
            assert_eq!(format!("{:?}", b.data), format!("{:?}", a.data));
        }
        let hdr = &to_bytes(&Array {
            shape: vec![16, 32],
            data: Data::F64(vec![0.0; 512]),
        })[10..];
        assert!(hdr.starts_with(b"{'descr': '<f8', 'fortran_order': False, 'shape': (16, 32), }"));
    }

    #[test]
    fn reads_other_versions_orders_and_widths() {
        // Version 2.0, big-endian f8, double quotes, keys in another order.
        let header = "{\"shape\": (2,), \"fortran_order\": False, \"descr\": \">f8\"}\n";
        let mut b = b"\x93NUMPY\x02\x00".to_vec();
        b.extend_from_slice(&(header.len() as u32).to_le_bytes());
        b.extend_from_slice(header.as_bytes());
        b.extend_from_slice(&1.5f64.to_be_bytes());
        b.extend_from_slice(&(-2.0f64).to_be_bytes());
        assert_eq!(from_bytes(&b).unwrap().floats().unwrap(), vec![1.5, -2.0]);
        // Labels as i4 and u1.
        let a = Array {
            shape: vec![2],
            data: Data::I64(vec![3, 0]),
        };
        let i4 = to_bytes(&a);
        let text = header_of(&i4).0.replace("<i8", "<i4");
        let mut b = i4[..10].to_vec();
        b.extend_from_slice(text.as_bytes());
        b.extend_from_slice(&[3, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(from_bytes(&b).unwrap().indices().unwrap(), vec![3, 0]);
    }

    #[test]
    fn malformed_files_give_clear_errors() {
        let good = to_bytes(&Array {
            shape: vec![2],
            data: Data::F64(vec![1.0, 2.0]),
        });
        let (header, data) = header_of(&good);
        let with_header = |h: &str| {
            let mut b = good[..10].to_vec();
            b.extend_from_slice(h.as_bytes());
            b.extend_from_slice(&good[data..]);
            b
        };
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"PK\x03\x04".to_vec(), "magic"),
            (good[..9].to_vec(), "truncated"),
            (good[..good.len() - 3].to_vec(), "the data is 13 bytes"),
            (
                with_header(&header.replace("False", "True ")),
                "Fortran-order",
            ),
            (
                with_header(&header.replace("<f8", "<c8")),
                "unsupported dtype '<c8'",
            ),
            (
                with_header(&header.replace("<f8", "|O8")),
                "unsupported dtype",
            ),
            (
                with_header(&header.replace("'shape'", "'shapf'")),
                "unknown key 'shapf'",
            ),
            (
                with_header(&header.replace("(2,)", "(x,)")),
                "shape entries",
            ),
            (
                {
                    let mut b = good.clone();
                    b[6] = 9;
                    b
                },
                "unsupported .npy version 9.0",
            ),
        ];
        for (bytes, want) in cases {
            let e = from_bytes(&bytes).unwrap_err();
            assert!(e.contains(want), "{want}: {e}");
        }
        assert!(
            Array {
                shape: vec![1],
                data: Data::F64(vec![1.0])
            }
            .indices()
            .is_err()
        );
    }
}
