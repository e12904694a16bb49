//! Reader for numpy's `.npy` format (versions 1–3): little and big endian, C and Fortran order,
//! floats (f2/f4/f8), integers, booleans, and unicode/byte strings.

use std::fmt;

/// An array's values, converted to the types attrclust works in.
#[derive(Clone, Debug, PartialEq)]
pub enum Values {
    Float(Vec<f64>),
    Int(Vec<i64>),
    Str(Vec<String>),
}

/// A decoded array in C (row-major) order.
#[derive(Clone, Debug, PartialEq)]
pub struct Array {
    pub shape: Vec<usize>,
    pub values: Values,
    /// The numpy dtype string, e.g. `<f4`, for messages.
    pub dtype: String,
}

impl Array {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug, PartialEq)]
pub struct NpyError(pub String);

impl fmt::Display for NpyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn err<T>(msg: impl Into<String>) -> Result<T, NpyError> {
    Err(NpyError(msg.into()))
}

/// Parses a whole `.npy` file.
pub fn parse(bytes: &[u8]) -> Result<Array, NpyError> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return err("not a .npy file (missing the \\x93NUMPY magic)");
    }
    let major = bytes[6];
    let (header_len, start) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return err("truncated .npy header");
            }
            (
                u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize,
                12,
            )
        }
        v => return err(format!("unsupported .npy version {v}")),
    };
    let Some(header) = bytes.get(start..start + header_len) else {
        return err("truncated .npy header");
    };
    let header = std::str::from_utf8(header).map_err(|_| NpyError("header is not text".into()))?;
    let descr =
        dict_value(header, "descr").ok_or_else(|| NpyError("header has no 'descr'".into()))?;
    let descr = descr
        .trim()
        .trim_matches(|c| c == '\'' || c == '"')
        .to_string();
    let fortran = dict_value(header, "fortran_order")
        .map(|v| v.trim().starts_with("True"))
        .unwrap_or(false);
    let shape = parse_shape(
        &dict_value(header, "shape").ok_or_else(|| NpyError("header has no 'shape'".into()))?,
    )?;
    let data = &bytes[start + header_len..];
    let count: usize = shape.iter().product();
    let mut values = decode(&descr, data, count)?;
    if fortran && shape.len() > 1 {
        values = to_c_order(values, &shape);
    }
    Ok(Array {
        shape,
        values,
        dtype: descr,
    })
}

/// The text after `'key':` up to the next top-level comma or closing brace.
fn dict_value(header: &str, key: &str) -> Option<String> {
    let at = header.find(&format!("'{key}'"))?;
    let rest = &header[at + key.len() + 2..];
    let rest = rest.trim_start().strip_prefix(':')?;
    let mut depth = 0;
    let mut end = rest.len();
    for (i, c) in rest.char_indices() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ',' | '}' if depth == 0 => {
                end = i;
                break;
            }
            _ => {}
        }
    }
    Some(rest[..end].to_string())
}

fn parse_shape(text: &str) -> Result<Vec<usize>, NpyError> {
    let inner = text
        .trim()
        .strip_prefix('(')
        .and_then(|t| t.strip_suffix(')'))
        .ok_or_else(|| NpyError(format!("bad shape {text}")))?;
    inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| NpyError(format!("bad shape {text}")))
        })
        .collect()
}

fn decode(descr: &str, data: &[u8], count: usize) -> Result<Values, NpyError> {
    let (order, rest) = descr.split_at(1);
    let big = match order {
        "<" | "|" | "=" => false,
        ">" => true,
        _ => return err(format!("unsupported dtype {descr}")),
    };
    let (kind, size) = rest.split_at(1);
    let size: usize = size
        .parse()
        .map_err(|_| NpyError(format!("unsupported dtype {descr}")))?;
    let item = if kind == "U" { size * 4 } else { size };
    let needed = count
        .checked_mul(item)
        .ok_or_else(|| NpyError("array too large".into()))?;
    if data.len() < needed {
        return err(format!(
            "truncated data: {} bytes for {count} values of {descr} (need {needed})",
            data.len()
        ));
    }
    let chunks = data[..needed].chunks_exact(item.max(1));
    let word = |c: &[u8]| -> [u8; 8] {
        let mut b = [0u8; 8];
        if big {
            for (k, &v) in c.iter().rev().enumerate() {
                b[k] = v;
            }
        } else {
            b[..c.len()].copy_from_slice(c);
        }
        b
    };
    Ok(match (kind, size) {
        ("f", 8) => Values::Float(chunks.map(|c| f64::from_le_bytes(word(c))).collect()),
        ("f", 4) => Values::Float(
            chunks
                .map(|c| f32::from_le_bytes(word(c)[..4].try_into().unwrap()) as f64)
                .collect(),
        ),
        ("f", 2) => Values::Float(
            chunks
                .map(|c| f16_to_f64(u16::from_le_bytes(word(c)[..2].try_into().unwrap())))
                .collect(),
        ),
        ("i", 1 | 2 | 4 | 8) => Values::Int(
            chunks
                .map(|c| {
                    let shift = 64 - 8 * size as u32;
                    (i64::from_le_bytes(word(c)) << shift) >> shift
                })
                .collect(),
        ),
        ("u", 1 | 2 | 4) => Values::Int(chunks.map(|c| i64::from_le_bytes(word(c))).collect()),
        ("u", 8) => {
            let v: Vec<u64> = chunks.map(|c| u64::from_le_bytes(word(c))).collect();
            if v.iter().any(|&x| x > i64::MAX as u64) {
                return err("uint64 values too large for integer labels");
            }
            Values::Int(v.into_iter().map(|x| x as i64).collect())
        }
        ("b", 1) => Values::Int(chunks.map(|c| i64::from(c[0] != 0)).collect()),
        ("U", _) => Values::Str(
            chunks
                .map(|c| {
                    c.chunks_exact(4)
                        .map(|u| {
                            let b: [u8; 4] = u.try_into().unwrap();
                            if big {
                                u32::from_be_bytes(b)
                            } else {
                                u32::from_le_bytes(b)
                            }
                        })
                        .take_while(|&u| u != 0)
                        .map(|u| char::from_u32(u).unwrap_or('\u{fffd}'))
                        .collect()
                })
                .collect(),
        ),
        ("S", _) => Values::Str(
            chunks
                .map(|c| {
                    let end = c.iter().position(|&b| b == 0).unwrap_or(c.len());
                    String::from_utf8_lossy(&c[..end]).into_owned()
                })
                .collect(),
        ),
        _ => {
            return err(format!(
                "unsupported dtype {descr} (use float32/float64 for attributions, integers for labels)"
            ));
        }
    })
}

pub(crate) fn f16_to_f64(h: u16) -> f64 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = ((h >> 10) & 0x1f) as i32;
    let frac = (h & 0x3ff) as f64;
    sign * match exp {
        0 => frac * 2f64.powi(-24),
        31 if frac == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        e => (1.0 + frac / 1024.0) * 2f64.powi(e - 15),
    }
}

/// Reorders Fortran-order (column-major) values into C order.
fn to_c_order(values: Values, shape: &[usize]) -> Values {
    let n: usize = shape.iter().product();
    // Fortran strides: the first axis varies fastest.
    let mut f_strides = vec![1usize; shape.len()];
    for k in 1..shape.len() {
        f_strides[k] = f_strides[k - 1] * shape[k - 1];
    }
    let source_index = |c_index: usize| {
        let mut rem = c_index;
        let mut src = 0;
        for k in (0..shape.len()).rev() {
            let i = rem % shape[k];
            rem /= shape[k];
            src += i * f_strides[k];
        }
        src
    };
    fn reorder<T: Clone>(v: &[T], n: usize, f: impl Fn(usize) -> usize) -> Vec<T> {
        (0..n).map(|i| v[f(i)].clone()).collect()
    }
    match values {
        Values::Float(v) => Values::Float(reorder(&v, n, source_index)),
        Values::Int(v) => Values::Int(reorder(&v, n, source_index)),
        Values::Str(v) => Values::Str(reorder(&v, n, source_index)),
    }
}

/// Writes a `.npy` (version 1, little endian, C order). Used by tests and fixtures.
pub fn write_f64(shape: &[usize], values: &[f64]) -> Vec<u8> {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    write_raw("<f8", shape, false, &bytes)
}

/// Writes a `.npy` with a given dtype descriptor and raw data bytes. Used by tests.
pub fn write_raw(descr: &str, shape: &[usize], fortran: bool, data: &[u8]) -> Vec<u8> {
    let shape_text = match shape.len() {
        1 => format!("({},)", shape[0]),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!(
        "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape_text}, }}",
        if fortran { "True" } else { "False" }
    );
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_f64_c_order() {
        let a = parse(&write_f64(&[2, 3], &[1., 2., 3., 4., 5., 6.])).unwrap();
        assert_eq!(a.shape, vec![2, 3]);
        assert_eq!(a.values, Values::Float(vec![1., 2., 3., 4., 5., 6.]));
    }

    #[test]
    fn big_endian_f4_fortran_order() {
        // Logical [[1, 2, 3], [4, 5, 6]] stored column-major: 1 4 2 5 3 6.
        let data: Vec<u8> = [1f32, 4., 2., 5., 3., 6.]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect();
        let a = parse(&write_raw(">f4", &[2, 3], true, &data)).unwrap();
        assert_eq!(a.values, Values::Float(vec![1., 2., 3., 4., 5., 6.]));
    }

    #[test]
    fn integers_strings_and_half_floats() {
        let data: Vec<u8> = [-3i32, 7].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(
            parse(&write_raw("<i4", &[2], false, &data)).unwrap().values,
            Values::Int(vec![-3, 7])
        );
        // Two 'U4' items: "ab" (zero-padded) and "wxyz".
        let data: Vec<u8> = "ab\0\0wxyz"
            .chars()
            .flat_map(|c| (c as u32).to_le_bytes())
            .collect();
        let a = parse(&write_raw("<U4", &[2], false, &data)).unwrap();
        assert_eq!(a.values, Values::Str(vec!["ab".into(), "wxyz".into()]));
        let h: Vec<u8> = [0x3c00u16, 0xc000]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        assert_eq!(
            parse(&write_raw("<f2", &[2], false, &h)).unwrap().values,
            Values::Float(vec![1.0, -2.0])
        );
    }

    #[test]
    fn truncated_and_foreign_files_are_errors() {
        let full = write_f64(&[4], &[1., 2., 3., 4.]);
        let e = parse(&full[..full.len() - 8]).unwrap_err();
        assert!(e.0.contains("truncated"), "{e}");
        assert!(
            parse(b"PK\x03\x04 not npy")
                .unwrap_err()
                .0
                .contains("magic")
        );
        let e = parse(&write_raw("<c16", &[1], false, &[0; 16])).unwrap_err();
        assert!(e.0.contains("unsupported dtype"), "{e}");
    }
}
