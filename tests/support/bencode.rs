//! Bencode, the encoding of rtpengine's ng control protocol: integers,
//! byte strings, lists and dictionaries (keys sorted).

use std::collections::BTreeMap;

/// One bencoded value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Int(i64),
    Bytes(Vec<u8>),
    List(Vec<Value>),
    Dict(BTreeMap<Vec<u8>, Value>),
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Bytes(s.as_bytes().to_vec())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Bytes(s.into_bytes())
    }
}

impl<const N: usize> From<[&str; N]> for Value {
    fn from(items: [&str; N]) -> Self {
        Value::List(items.into_iter().map(Value::from).collect())
    }
}

impl Value {
    /// A dictionary from `(key, value)` pairs.
    pub fn dict<const N: usize>(pairs: [(&str, Value); N]) -> Self {
        Value::Dict(pairs.into_iter().map(|(k, v)| (k.as_bytes().to_vec(), v)).collect())
    }

    /// The entry `key` of a dictionary.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Dict(d) => d.get(key.as_bytes()),
            _ => None,
        }
    }

    /// A byte string as text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Bytes(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }

    /// An integer.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// A list's items.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Value::Int(i) => out.extend_from_slice(format!("i{i}e").as_bytes()),
            Value::Bytes(b) => {
                out.extend_from_slice(format!("{}:", b.len()).as_bytes());
                out.extend_from_slice(b);
            }
            Value::List(items) => {
                out.push(b'l');
                items.iter().for_each(|v| v.encode(out));
                out.push(b'e');
            }
            Value::Dict(d) => {
                out.push(b'd');
                for (k, v) in d {
                    Value::Bytes(k.clone()).encode(out);
                    v.encode(out);
                }
                out.push(b'e');
            }
        }
    }

    /// Decodes one value and returns it with the rest of the input.
    pub fn decode(input: &[u8]) -> Result<(Value, &[u8]), String> {
        let (&first, rest) = input.split_first().ok_or("bencode: unexpected end")?;
        match first {
            b'i' => {
                let end = rest.iter().position(|&b| b == b'e').ok_or("bencode: unterminated integer")?;
                let text = std::str::from_utf8(&rest[..end]).map_err(|_| "bencode: integer is not text")?;
                let i = text.parse().map_err(|_| format!("bencode: bad integer {text:?}"))?;
                Ok((Value::Int(i), &rest[end + 1..]))
            }
            b'l' => {
                let (mut items, mut rest) = (Vec::new(), rest);
                while rest.first() != Some(&b'e') {
                    let (v, r) = Value::decode(rest)?;
                    items.push(v);
                    rest = r;
                }
                Ok((Value::List(items), &rest[1..]))
            }
            b'd' => {
                let (mut dict, mut rest) = (BTreeMap::new(), rest);
                while rest.first() != Some(&b'e') {
                    let (Value::Bytes(k), r) = Value::decode(rest)? else {
                        return Err("bencode: dictionary key is not a string".into());
                    };
                    let (v, r) = Value::decode(r)?;
                    dict.insert(k, v);
                    rest = r;
                }
                Ok((Value::Dict(dict), &rest[1..]))
            }
            b'0'..=b'9' => {
                let colon = input.iter().position(|&b| b == b':').ok_or("bencode: string without length")?;
                let len: usize = std::str::from_utf8(&input[..colon])
                    .ok()
                    .and_then(|t| t.parse().ok())
                    .ok_or("bencode: bad string length")?;
                let body = &input[colon + 1..];
                if body.len() < len {
                    return Err("bencode: string runs past the end".into());
                }
                Ok((Value::Bytes(body[..len].to_vec()), &body[len..]))
            }
            other => Err(format!("bencode: unexpected byte {other:#04x}")),
        }
    }
}

#[test]
fn round_trip_and_truncation() {
    let v = Value::dict([("command", "offer".into()), ("flags", ["trust-address"].into()), ("n", Value::Int(-3))]);
    let mut out = Vec::new();
    v.encode(&mut out);
    assert_eq!(out, b"d7:command5:offer5:flagsl13:trust-addresse1:ni-3ee");
    assert_eq!(Value::decode(&out), Ok((v, &b""[..])));
    for cut in 0..out.len() {
        assert!(Value::decode(&out[..cut]).is_err(), "a truncated message is an error, not a panic ({cut})");
    }
}
