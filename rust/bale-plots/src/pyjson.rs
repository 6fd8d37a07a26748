//! JSON as Python's `json` module reads it and `json.dumps` writes it.
//!
//! dvc prints plot data by `json.dumps` of what `json.loads` (or its CSV
//! reader) made of a file, so the text a value comes out as depends on
//! Python's types: `1.50` becomes `1.5`, `1E5` becomes `100000.0`, `-0`
//! becomes `0`, `1e400` becomes `Infinity`, `é` becomes `\u00e9`. This
//! module parses a document straight into that text: every scalar is
//! written once, as `json.dumps` would write the Python value
//! `json.loads` reads from it, into a [`Text`] buffer, and only arrays and
//! objects stay as a tree ([`Node`]).
//!
//! Anything Python's reader would refuse or read differently (invalid
//! UTF-8 was already refused by the caller, a raw control character in a
//! string, an integer of more than 4,300 digits, deeper nesting than
//! Python recurses) is a [`Refused`]: the caller then lets Python read the
//! file, so its error, word for word, is what the user sees.

use std::fmt::Write as _;

/// A byte range of a [`Text`] buffer: one value's JSON, or a key's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub start: u32,
    pub len: u32,
}

/// The buffer spans point into.
#[derive(Default, Debug)]
pub struct Text {
    pub buf: String,
}

impl Text {
    pub fn get(&self, span: Span) -> &str {
        &self.buf[span.start as usize..(span.start + span.len) as usize]
    }

    /// Runs `write` and returns the span of what it appended.
    pub fn span(&mut self, write: impl FnOnce(&mut String)) -> Result<Span, Refused> {
        let start = self.buf.len();
        write(&mut self.buf);
        let end = self.buf.len();
        // u32 spans: a plot data file of over 4 GiB is left to Python
        let start32 = u32::try_from(start).map_err(|_| Refused)?;
        let len = u32::try_from(end - start).map_err(|_| Refused)?;
        start32.checked_add(len).ok_or(Refused)?;
        Ok(Span { start: start32, len })
    }
}

/// A parsed value: scalars already written as text, containers as a tree.
#[derive(Debug)]
pub enum Node {
    Scalar(Span),
    Array(Vec<Node>),
    /// Keys (numbers of [`Keys`]) in first-seen order; a repeated key
    /// keeps its first place and takes the last value, as a dict does.
    Object(Vec<(u32, Node)>),
}

/// A document's distinct object keys, each written once (as a JSON
/// string) and known by its number. Records mostly repeat the keys of the
/// one before in the same order, so the key at the same place is tried
/// first; a key's text is compared, never hashed, in that case.
#[derive(Default, Debug)]
pub struct Keys {
    pub spans: Vec<Span>,
    by_text: std::collections::HashMap<String, u32>,
    last: Vec<u32>,
}

impl Keys {
    /// The number of the key just written at the end of `text` (at
    /// `key`), which is taken back out of `text` if the key is known.
    fn intern(&mut self, text: &mut Text, pos: usize, key: Span) -> u32 {
        let wanted = text.get(key);
        let known = match self.last.get(pos) {
            Some(&id) if text.get(self.spans[id as usize]) == wanted => Some(id),
            _ => self.by_text.get(wanted).copied(),
        };
        let id = match known {
            Some(id) => {
                text.buf.truncate(key.start as usize);
                id
            }
            None => {
                let id = self.spans.len() as u32;
                self.spans.push(key);
                self.by_text.insert(wanted.to_owned(), id);
                id
            }
        };
        if pos >= self.last.len() {
            self.last.resize(pos + 1, 0);
        }
        self.last[pos] = id;
        id
    }
}

/// Not read here: Python reads it (and says what is wrong, if anything).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refused;

/// Python's recursion stops `json.loads` near 1,000 levels; deeper
/// documents are left to it, and this parser's stack stays small.
const MAX_DEPTH: usize = 500;

/// Python 3.11's limit on the digits of an int read from text.
const MAX_INT_DIGITS: usize = 4300;

/// Parses `src` (one JSON document) into `text`, its object keys into `keys`.
pub fn parse(src: &str, text: &mut Text, keys: &mut Keys) -> Result<Node, Refused> {
    let mut p = Parser { s: src.as_bytes(), src, pos: 0, text, keys, depth: 0 };
    p.ws();
    let node = p.value()?;
    p.ws();
    if p.pos != p.s.len() {
        return Err(Refused);
    }
    Ok(node)
}

struct Parser<'a> {
    s: &'a [u8],
    src: &'a str,
    pos: usize,
    text: &'a mut Text,
    keys: &'a mut Keys,
    depth: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.pos) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, word: &str) -> bool {
        if self.s[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            true
        } else {
            false
        }
    }

    fn scalar(&mut self, word: &'static str) -> Result<Node, Refused> {
        Ok(Node::Scalar(self.text.span(|b| b.push_str(word))?))
    }

    fn value(&mut self) -> Result<Node, Refused> {
        match self.s.get(self.pos) {
            Some(b'{') => self.nested(Self::object),
            Some(b'[') => self.nested(Self::array),
            Some(b'"') => {
                self.pos += 1;
                Ok(Node::Scalar(self.string()?))
            }
            Some(b'n') if self.eat("null") => self.scalar("null"),
            Some(b't') if self.eat("true") => self.scalar("true"),
            Some(b'f') if self.eat("false") => self.scalar("false"),
            Some(b'N') if self.eat("NaN") => self.scalar("NaN"),
            Some(b'I') if self.eat("Infinity") => self.scalar("Infinity"),
            Some(b'-') if self.s[self.pos + 1..].starts_with(b"Infinity") => {
                self.pos += "-Infinity".len();
                self.scalar("-Infinity")
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(Refused),
        }
    }

    fn nested(&mut self, f: fn(&mut Self) -> Result<Node, Refused>) -> Result<Node, Refused> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Refused);
        }
        self.pos += 1;
        let node = f(self);
        self.depth -= 1;
        node
    }

    fn array(&mut self) -> Result<Node, Refused> {
        let mut items = Vec::new();
        self.ws();
        if self.s.get(self.pos) == Some(&b']') {
            self.pos += 1;
            return Ok(Node::Array(items));
        }
        loop {
            self.ws();
            items.push(self.value()?);
            self.ws();
            match self.s.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Node::Array(items));
                }
                _ => return Err(Refused),
            }
        }
    }

    fn object(&mut self) -> Result<Node, Refused> {
        let mut fields: Vec<(u32, Node)> = Vec::new();
        self.ws();
        if self.s.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Ok(Node::Object(fields));
        }
        loop {
            self.ws();
            if self.s.get(self.pos) != Some(&b'"') {
                return Err(Refused);
            }
            self.pos += 1;
            let key = self.string()?;
            let key = self.keys.intern(self.text, fields.len(), key);
            self.ws();
            if self.s.get(self.pos) != Some(&b':') {
                return Err(Refused);
            }
            self.pos += 1;
            self.ws();
            let value = self.value()?;
            match fields.iter_mut().find(|(k, _)| *k == key) {
                Some(field) => field.1 = value,
                None => fields.push((key, value)),
            }
            self.ws();
            match self.s.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Node::Object(fields));
                }
                _ => return Err(Refused),
            }
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?`, Python's number:
    /// an int without a fraction or exponent, else a float.
    fn number(&mut self) -> Result<Node, Refused> {
        let start = self.pos;
        let digits = |p: &mut Self| {
            let from = p.pos;
            while p.s.get(p.pos).is_some_and(u8::is_ascii_digit) {
                p.pos += 1;
            }
            p.pos - from
        };
        if self.s[self.pos] == b'-' {
            self.pos += 1;
        }
        match self.s.get(self.pos) {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return Err(Refused),
        }
        let int_end = self.pos;
        let mut float = false;
        if self.s.get(self.pos) == Some(&b'.') && self.s.get(self.pos + 1).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
            digits(self);
            float = true;
        }
        if let Some(b'e' | b'E') = self.s.get(self.pos) {
            let mark = self.pos;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.s.get(self.pos) {
                self.pos += 1;
            }
            if digits(self) == 0 {
                self.pos = mark; // not an exponent: the number ends before it
            } else {
                float = true;
            }
        }
        let token = &self.src[start..self.pos];
        if float {
            if is_float_repr(token) {
                return Ok(Node::Scalar(self.text.span(|b| b.push_str(token))?));
            }
            let value: f64 = token.parse().map_err(|_| Refused)?;
            return Ok(Node::Scalar(self.text.span(|b| write_float(value, b))?));
        }
        if int_end - start > MAX_INT_DIGITS {
            return Err(Refused);
        }
        let int = if token == "-0" { "0" } else { token };
        Ok(Node::Scalar(self.text.span(|b| b.push_str(int))?))
    }

    /// A string's rest (after its opening quote), written as `json.dumps`
    /// writes the `str` Python reads from it.
    fn string(&mut self) -> Result<Span, Refused> {
        let start = self.text.buf.len();
        self.text.buf.push('"');
        loop {
            // the run of characters that need no escaping, copied at once
            let run = self.pos;
            while let Some(&b) = self.s.get(self.pos) {
                if !(b' '..=b'~').contains(&b) || b == b'"' || b == b'\\' {
                    break;
                }
                self.pos += 1;
            }
            self.text.buf.push_str(&self.src[run..self.pos]);
            match self.s.get(self.pos) {
                None => return Err(Refused),
                Some(b'"') => {
                    self.pos += 1;
                    break;
                }
                Some(b'\\') => {
                    let esc = *self.s.get(self.pos + 1).ok_or(Refused)?;
                    self.pos += 2;
                    let c = match esc {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hex = self.src.get(self.pos..self.pos + 4).ok_or(Refused)?;
                            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                                return Err(Refused);
                            }
                            let unit = u32::from_str_radix(hex, 16).map_err(|_| Refused)?;
                            self.pos += 4;
                            match char::from_u32(unit) {
                                Some(c) => c,
                                None => {
                                    // A surrogate, paired or lone: either way
                                    // json.dumps writes it back as this escape.
                                    let _ = write!(self.text.buf, "\\u{unit:04x}");
                                    continue;
                                }
                            }
                        }
                        _ => return Err(Refused),
                    };
                    write_char(c, &mut self.text.buf);
                }
                Some(&b) if b < b' ' => return Err(Refused), // Python's strict reader refuses it
                Some(_) => {
                    let c = self.src[self.pos..].chars().next().ok_or(Refused)?;
                    self.pos += c.len_utf8();
                    write_char(c, &mut self.text.buf);
                }
            }
        }
        self.text.buf.push('"');
        let end = self.text.buf.len();
        let start32 = u32::try_from(start).map_err(|_| Refused)?;
        let len = u32::try_from(end - start).map_err(|_| Refused)?;
        Ok(Span { start: start32, len })
    }
}

/// One character as `json.dumps` (`ensure_ascii`) writes it in a string.
pub fn write_char(c: char, out: &mut String) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        ' '..='~' => out.push(c),
        _ => {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        }
    }
}

/// `s` as `json.dumps` writes a `str`.
pub fn write_str(s: &str, out: &mut String) {
    out.push('"');
    let mut run = 0;
    for (i, b) in s.bytes().enumerate() {
        if (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\' {
            continue;
        }
        if b & 0xC0 == 0x80 {
            continue; // inside a character already written
        }
        out.push_str(&s[run..i]);
        let c = s[i..].chars().next().unwrap_or('\u{fffd}');
        write_char(c, out);
        run = i + c.len_utf8();
    }
    out.push_str(&s[run..]);
    out.push('"');
}

/// A float as `json.dumps` writes it: Python's `repr` (the shortest digits
/// that read back as the same float; positional from 1e-4 up to 1e16,
/// else with a two-digit-or-more exponent), `NaN`, `Infinity`, `-Infinity`.
pub fn write_float(x: f64, out: &mut String) {
    if x.is_nan() {
        out.push_str("NaN");
        return;
    }
    if x.is_infinite() {
        out.push_str(if x > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    // Rust's `{:e}` is the shortest round-trip form too: `d[.ddd]e[-]N`.
    let sci = format!("{x:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let mut digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    break_tie_to_even(x.abs(), &mut digits, exp);
    if negative {
        out.push('-');
    }
    let point = exp + 1; // where the decimal point goes, counted from the first digit
    if -4 < point && point <= 16 {
        if point <= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-point) as usize));
            out.push_str(&digits);
        } else if point as usize >= digits.len() {
            out.push_str(&digits);
            out.extend(std::iter::repeat_n('0', point as usize - digits.len()));
            out.push_str(".0");
        } else {
            let (whole, frac) = digits.split_at(point as usize);
            out.push_str(whole);
            out.push('.');
            out.push_str(frac);
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(out, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    }
}

/// Whether a float token is already what `repr` writes for its value, so
/// it can be copied as it is (most data files' floats are): positional,
/// `d.d` with no redundant zero, at most 15 significant digits (every such
/// decimal is the shortest that reads back as its double: doubles keep 15
/// digits apart), between 1e-4 and 1e16 where `repr` writes positions.
fn is_float_repr(token: &str) -> bool {
    let unsigned = token.strip_prefix('-').unwrap_or(token);
    let Some((int, frac)) = unsigned.split_once('.') else { return false };
    if frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) || int.len() > 16 {
        return false;
    }
    if frac.len() > 1 && frac.ends_with('0') {
        return false;
    }
    let significant = if int == "0" {
        let zeros = frac.len() - frac.trim_start_matches('0').len();
        if zeros > 3 && frac != "0" {
            return false; // below 1e-4: repr writes an exponent
        }
        frac.len() - zeros
    } else if frac == "0" {
        int.len()
    } else {
        int.len() + frac.len()
    };
    significant <= 15
}

/// Where two shortest digit strings read back as `x` and `x` lies exactly
/// halfway between them, Python's `repr` (David Gay's `dtoa`) takes the one
/// ending in an even digit; Rust's takes the upper one. `x` is positive.
fn break_tie_to_even(x: f64, digits: &mut String, exp: i32) {
    let n = digits.len();
    let last = digits.as_bytes()[n - 1] - b'0';
    if last.is_multiple_of(2) {
        return;
    }
    let reads_back = |d: &str| format!("{}.{}e{exp}", &d[..1], &d[1..]).parse::<f64>() == Ok(x);
    for other in [last.wrapping_sub(1), last + 1] {
        if other > 9 {
            continue;
        }
        let mut candidate = digits[..n - 1].to_owned();
        candidate.push(char::from(b'0' + other));
        if !reads_back(&candidate) {
            continue;
        }
        // Halfway: x's exact decimal (at most 767 significant digits) is
        // the lower string followed by a 5 and nothing else.
        let lower = if other < last { &candidate } else { &*digits };
        let exact = format!("{x:.800e}");
        let exact_digits: String = exact.split('e').next().unwrap_or("").chars().filter(|c| *c != '.').collect();
        let halfway = exact_digits.starts_with(lower.as_str())
            && exact_digits[n..].starts_with('5')
            && exact_digits[n + 1..].bytes().all(|b| b == b'0');
        if halfway {
            *digits = candidate;
        }
        return;
    }
}

/// A parsed value as `json.dumps` writes it (`keys`: the spans of [`Keys`]).
pub fn write_node(node: &Node, text: &Text, keys: &[Span], out: &mut String) {
    match node {
        Node::Scalar(span) => out.push_str(text.get(*span)),
        Node::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_node(item, text, keys, out);
            }
            out.push(']');
        }
        Node::Object(fields) => {
            out.push('{');
            for (i, (key, value)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(text.get(keys[*key as usize]));
                out.push_str(": ");
                write_node(value, text, keys, out);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dumps(src: &str) -> Result<String, Refused> {
        let mut text = Text::default();
        let mut keys = Keys::default();
        let node = parse(src, &mut text, &mut keys)?;
        let mut out = String::new();
        write_node(&node, &text, &keys.spans, &mut out);
        Ok(out)
    }

    fn float(x: f64) -> String {
        let mut s = String::new();
        write_float(x, &mut s);
        s
    }

    #[test]
    fn floats_are_written_as_python_repr_writes_them() {
        // each pair checked against CPython 3.11's repr
        for (x, py) in [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (0.1, "0.1"),
            (1.5, "1.5"),
            (100000.0, "100000.0"),
            (1e-4, "0.0001"),
            (1e-5, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1e15, "1000000000000000.0"),
            (1234567890123456.0, "1234567890123456.0"),
            (1e16, "1e+16"),
            (1.2345e16, "1.2345e+16"),
            (1e300, "1e+300"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (0.30000000000000004, "0.30000000000000004"),
            (-2.5e-10, "-2.5e-10"),
            // halfway between two shortest strings: the even one
            (-1113178120592002.25, "-1113178120592002.2"),
            (233891771783429.625, "233891771783429.62"),
            (0.5, "0.5"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
            (f64::NAN, "NaN"),
        ] {
            assert_eq!(float(x), py, "{x:e}");
        }
    }

    #[test]
    fn float_tokens_copied_as_they_are_are_what_repr_writes() {
        for token in
            ["0.0", "-0.0", "1.0", "10.0", "0.5", "1.097673", "0.0001", "123456789012345.0", "0.123456789012345"]
        {
            assert!(is_float_repr(token), "{token}");
            assert_eq!(float(token.parse().unwrap()), token);
        }
        for token in
            ["1.50", "0.00001", "1.0000000000000001", "12345678901234567.0", "0.1234567890123456", "1e5", "1.", "0.00"]
        {
            assert!(!is_float_repr(token), "{token}");
        }
    }

    #[test]
    fn documents_read_back_as_python_writes_them() {
        let cases = [
            (r#"[{"a": 1, "b": 1.50}]"#, r#"[{"a": 1, "b": 1.5}]"#),
            ("{\"x\":1E5,\"y\":-0,\"z\":-0.0}", r#"{"x": 100000.0, "y": 0, "z": -0.0}"#),
            ("[1e400, -1e400, NaN, Infinity, -Infinity]", "[Infinity, -Infinity, NaN, Infinity, -Infinity]"),
            (r#"{"a": 1, "b": 2, "a": 3}"#, r#"{"a": 3, "b": 2}"#),
            ("\"caf\u{e9} \u{1f600}\"", r#""caf\u00e9 \ud83d\ude00""#),
            (r#""\u0041\/\ud800x\ud83d\ude00\u007f""#, r#""A/\ud800x\ud83d\ude00\u007f""#),
            (" [ ] ", "[]"),
            ("{}", "{}"),
            ("[true,false,null]", "[true, false, null]"),
            ("123456789012345678901234567890", "123456789012345678901234567890"),
        ];
        for (src, py) in cases {
            assert_eq!(dumps(src).as_deref(), Ok(py), "{src}");
        }
    }

    #[test]
    fn what_python_refuses_or_reads_otherwise_is_left_to_it() {
        for src in [
            "",
            "[1,]",
            "{\"a\":1,}",
            "01",
            "1.",
            "1e",
            "-",
            "[1 2]",
            "\"a\nb\"",
            "\"\\x\"",
            "\u{feff}[]",
            "{1: 2}",
            "[1] x",
            "\"\\u12\"",
            "nul",
        ] {
            assert_eq!(dumps(src), Err(Refused), "{src:?}");
        }
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert_eq!(dumps(&deep), Err(Refused));
        let long_int = "1".repeat(MAX_INT_DIGITS + 1);
        assert_eq!(dumps(&long_int), Err(Refused));
    }

    #[test]
    fn strings_are_escaped_as_json_dumps_escapes_them() {
        let mut out = String::new();
        write_str("a\"b\\c\n\u{1}\u{7f}é\u{10000}", &mut out);
        assert_eq!(out, r#""a\"b\\c\n\u0001\u007f\u00e9\ud800\udc00""#);
    }
}
