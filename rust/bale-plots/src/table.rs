//! A plot data file's records, and the datapoints dvc makes of them.
//!
//! A [`Table`] holds what dvc's plots read from one file: the records of a
//! CSV/TSV file (`csv.DictReader`'s dicts: every value a string), or the
//! datapoints of a JSON document (dvc's `get_datapoints`: the lists of
//! records in it, merged by position), each key and value already written
//! as `json.dumps` writes it. [`Table::render`] writes the datapoints of
//! one y source: every record with dvc's converter's fields set on it
//! (`rev`, `step`, `filename`, ...) and dvc-render's removed, joined with
//! `", "`, the text `json.dumps` would write inside the list's brackets.

use std::fmt::Write as _;

use crate::pyjson::{self, Keys, Node, Refused, Span, Text};

/// A data file's records. Keys and values are spans of `text`; each
/// distinct key is written once, and fields name it by its index in `keys`.
#[derive(Debug, Default)]
pub struct Table {
    text: Text,
    /// The distinct keys, in first-seen order.
    keys: Vec<Span>,
    /// Every record's fields, `(key, value)`, one record after the other.
    fields: Vec<(u32, Span)>,
    /// Record `i` is `fields[starts[i]..starts[i + 1]]`.
    starts: Vec<u32>,
    /// The y field dvc infers for a plot of this file alone (the last key
    /// of the first record of the first list of records), as JSON.
    inferred_y: Option<Span>,
}

/// Where a field set on each record takes its value from.
#[derive(Debug, Clone)]
pub enum Value<'a> {
    /// This JSON text, for every record (`rev`, `filename`, ...).
    Const(String),
    /// The record's position, from 0 (dvc's `step` when no x is given).
    Index,
    /// The record's own field of this key (JSON text), if it has one, as
    /// the fields set before this one left it.
    Field(String),
    /// The field of this key of the other table's record at the same
    /// position (x from another file), if it has one.
    Other(&'a Table, String),
}

/// One field set on every record: its key (JSON text) and value.
#[derive(Debug, Clone)]
pub struct Set<'a> {
    pub key: String,
    pub value: Value<'a>,
}

/// What [`Table::render`] wrote.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Rendered {
    /// The datapoints, `{...}, {...}`: no brackets.
    pub json: String,
    /// Every key some datapoint has (JSON text), in first-seen order,
    /// those removed included (dvc-render checks x and y before it removes).
    pub keys: Vec<String>,
}

impl Table {
    /// A CSV (`delimiter` `,`) or TSV (`\t`) file with a header line, read
    /// as dvc reads it: lines split at the delimiter (after `\r\n` and `\r`
    /// become `\n`), blank lines skipped, each row a record of the
    /// header's names (a repeated name keeps its first place and takes the
    /// last column's value). Files Python's `csv` module would read
    /// differently from that (quotes, NUL, a blank first line) or whose
    /// rows are not all as long as the header are [`Refused`].
    pub fn csv(data: &[u8], delimiter: u8) -> Result<Table, Refused> {
        let src = std::str::from_utf8(data).map_err(|_| Refused)?;
        if src.bytes().any(|b| b == b'"' || b == 0) || src.starts_with(['\n', '\r']) {
            return Err(Refused);
        }
        let delimiter = char::from(delimiter);
        let mut lines = src.split(['\n', '\r']).filter(|l| !l.is_empty());
        let mut table = Table::with_capacity(src.len());
        let Some(header) = lines.next() else {
            return Ok(table);
        };
        let names: Vec<&str> = header.split(delimiter).collect();
        // the dict's keys: each name once, at its first column, with the
        // value of its last column
        let mut columns: Vec<usize> = Vec::new();
        let mut key_names: Vec<&str> = Vec::new();
        for (col, name) in names.iter().enumerate() {
            match key_names.iter().position(|k| k == name) {
                Some(at) => columns[at] = col,
                None => {
                    key_names.push(name);
                    columns.push(col);
                    let key = table.text.span(|b| pyjson::write_str(name, b))?;
                    table.keys.push(key);
                }
            }
        }
        let mut row: Vec<&str> = Vec::with_capacity(names.len());
        for line in lines {
            row.clear();
            row.extend(line.split(delimiter));
            if row.len() != names.len() {
                return Err(Refused); // DictReader's None key or None values: Python's
            }
            for (id, &col) in columns.iter().enumerate() {
                let value = table.text.span(|b| pyjson::write_str(row[col], b))?;
                table.fields.push((id as u32, value));
            }
            table.starts.push(u32::try_from(table.fields.len()).map_err(|_| Refused)?);
        }
        if !table.is_empty() {
            table.inferred_y = table.keys.last().copied();
        }
        Ok(table)
    }

    /// A JSON document's datapoints, as dvc finds them: the lists at the
    /// top or under objects (recursively) whose items are all objects with
    /// no key the first one lacks; one such list is the records, several
    /// are merged by position (later lists' fields update earlier ones').
    pub fn json(data: &[u8]) -> Result<Table, Refused> {
        let src = std::str::from_utf8(data).map_err(|_| Refused)?;
        let mut table = Table::with_capacity(src.len());
        let mut keys = Keys::default();
        let root = pyjson::parse(src, &mut table.text, &mut keys)?;
        table.keys = keys.spans;
        let mut lists = Vec::new();
        collect_lists(&root, &mut lists);
        table.inferred_y = lists
            .iter()
            .find(|l| !l.is_empty() && l.iter().all(|n| matches!(n, Node::Object(_))))
            .and_then(|l| match &l[0] {
                Node::Object(fields) => fields.last().map(|f| table.keys[f.0 as usize]),
                _ => None,
            });
        let found: Vec<&Vec<Node>> = lists.into_iter().filter(|l| is_datapoints(l)).collect();
        let mut merged: Vec<Vec<(u32, &Node)>> = Vec::new();
        if found.len() > 1 {
            for list in &found {
                for (i, item) in list.iter().enumerate() {
                    let Node::Object(fields) = item else { continue };
                    if merged.len() <= i {
                        merged.push(Vec::new());
                    }
                    for (key, value) in fields {
                        match merged[i].iter_mut().find(|(k, _)| k == key) {
                            Some(field) => field.1 = value,
                            None => merged[i].push((*key, value)),
                        }
                    }
                }
            }
        }
        // One list (the usual file) is the records as they are.
        let one: &[Node] = match found.as_slice() {
            [list] => list.as_slice(),
            _ => &[],
        };
        let objects = one.iter().filter_map(|n| match n {
            Node::Object(fields) => Some(fields),
            _ => None,
        });
        // The records' values become text: scalars already are; a nested
        // array or object is written out once, here.
        let mut scratch = String::new();
        let mut add = |table: &mut Table, key: u32, value: &Node| -> Result<(), Refused> {
            let span = match value {
                Node::Scalar(span) => *span,
                nested => {
                    scratch.clear();
                    pyjson::write_node(nested, &table.text, &table.keys, &mut scratch);
                    table.text.span(|b| b.push_str(&scratch))?
                }
            };
            table.fields.push((key, span));
            Ok(())
        };
        for fields in objects {
            for (key, value) in fields {
                add(&mut table, *key, value)?;
            }
            table.starts.push(u32::try_from(table.fields.len()).map_err(|_| Refused)?);
        }
        for record in merged {
            for (key, value) in record {
                add(&mut table, key, value)?;
            }
            table.starts.push(u32::try_from(table.fields.len()).map_err(|_| Refused)?);
        }
        Ok(table)
    }

    /// An empty table for a file of `bytes`: its text takes about as many.
    fn with_capacity(bytes: usize) -> Table {
        let mut table = Table { text: Text { buf: String::with_capacity(bytes + bytes / 4) }, ..Table::default() };
        table.starts.push(0);
        table
    }

    /// How many records.
    pub fn len(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The keys of the first record (JSON text), in order; none when empty.
    pub fn first_keys(&self) -> Vec<&str> {
        if self.is_empty() {
            return Vec::new();
        }
        self.record(0).iter().map(|(k, _)| self.key(*k)).collect()
    }

    /// The y field dvc infers for a plot of this file alone (JSON text).
    pub fn inferred_y(&self) -> Option<&str> {
        self.inferred_y.map(|s| self.text.get(s))
    }

    fn record(&self, i: usize) -> &[(u32, Span)] {
        &self.fields[self.starts[i] as usize..self.starts[i + 1] as usize]
    }

    fn key(&self, id: u32) -> &str {
        self.text.get(self.keys[id as usize])
    }

    fn key_id(&self, key: &str) -> Option<u32> {
        self.keys.iter().position(|k| self.text.get(*k) == key).map(|id| id as u32)
    }

    /// Record `i`'s value of key `id`, if it has that key.
    fn value(&self, i: usize, id: u32) -> Option<&str> {
        if i >= self.len() {
            return None;
        }
        self.record(i).iter().find(|(k, _)| *k == id).map(|(_, v)| self.text.get(*v))
    }

    /// Every record with `sets` applied in order (a key it has keeps its
    /// place and takes the new value; a new key goes last), then the keys
    /// in `removes` taken out: what dvc's converter and then dvc-render
    /// do to each dict, written as `json.dumps` writes the list's items.
    pub fn render(&self, sets: &[Set<'_>], removes: &[String]) -> Rendered {
        // Keys by number: the table's, then the new ones the sets add.
        fn id_of<'k>(names: &mut Vec<&'k str>, key: &'k str) -> u32 {
            let id = names.iter().position(|n| *n == key).unwrap_or_else(|| {
                names.push(key);
                names.len() - 1
            });
            id as u32
        }
        let mut names: Vec<&str> = self.keys.iter().map(|k| self.text.get(*k)).collect();
        let mut plan: Vec<(u32, Source<'_>)> = Vec::with_capacity(sets.len());
        for set in sets {
            let source = match &set.value {
                Value::Const(text) => Source::Field(Field::Text(text)),
                Value::Index => Source::Field(Field::Index),
                Value::Field(key) => Source::Own(id_of(&mut names, key)),
                Value::Other(table, key) => Source::Other(table, table.key_id(key)),
            };
            plan.push((id_of(&mut names, &set.key), source));
        }
        let removed: Vec<u32> = removes.iter().map(|k| id_of(&mut names, k)).collect();
        let mut seen = vec![false; names.len()];
        // the records' text, and per record its braces, separators and
        // what the sets add
        let added: usize = plan.len() * 8
            + plan.iter().map(|(_, s)| if let Source::Field(Field::Text(t)) = s { t.len() } else { 8 }).sum::<usize>();
        let mut out = Rendered {
            json: String::with_capacity(self.text.buf.len() + self.len() * (added + 4 + 4 * self.keys.len())),
            keys: Vec::new(),
        };
        let mut order: Vec<u32> = Vec::new();
        let mut record: Vec<(u32, Field<'_>)> = Vec::new();
        for i in 0..self.len() {
            record.clear();
            record.extend(self.record(i).iter().map(|(k, v)| (*k, Field::Text(self.text.get(*v)))));
            for (id, source) in &plan {
                let value = match source {
                    Source::Field(field) => Some(*field),
                    Source::Own(key) => record.iter().find(|(k, _)| k == key).map(|f| f.1),
                    Source::Other(table, key) => key.and_then(|key| table.value(i, key)).map(Field::Text),
                };
                let Some(value) = value else { continue };
                match record.iter_mut().find(|(k, _)| k == id) {
                    Some(field) => field.1 = value,
                    None => record.push((*id, value)),
                }
            }
            // the keys dvc-render checks the plot's x and y against: before
            // it takes any out
            for (id, _) in &record {
                if !seen[*id as usize] {
                    seen[*id as usize] = true;
                    order.push(*id);
                }
            }
            if !removed.is_empty() {
                record.retain(|(k, _)| !removed.contains(k));
            }
            if i > 0 {
                out.json.push_str(", ");
            }
            out.json.push('{');
            for (n, (id, value)) in record.iter().enumerate() {
                if n > 0 {
                    out.json.push_str(", ");
                }
                out.json.push_str(names[*id as usize]);
                out.json.push_str(": ");
                match value {
                    Field::Text(text) => out.json.push_str(text),
                    Field::Index => {
                        let _ = write!(out.json, "{i}");
                    }
                }
            }
            out.json.push('}');
        }
        out.keys = order.iter().map(|id| names[*id as usize].to_owned()).collect();
        out
    }
}

/// Where a set field's value comes from, keys by number.
enum Source<'a> {
    Field(Field<'a>),
    Own(u32),
    Other(&'a Table, Option<u32>),
}

#[derive(Clone, Copy)]
enum Field<'a> {
    Text(&'a str),
    Index,
}

/// dvc's `_lists`: a list at the top, or every list that is a value of an
/// object (objects under objects searched too, lists in lists not).
fn collect_lists<'n>(node: &'n Node, out: &mut Vec<&'n Vec<Node>>) {
    match node {
        Node::Array(items) => out.push(items),
        Node::Object(fields) => {
            for (_, value) in fields {
                match value {
                    Node::Object(_) => collect_lists(value, out),
                    Node::Array(items) => out.push(items),
                    Node::Scalar(_) => {}
                }
            }
        }
        Node::Scalar(_) => {}
    }
}

/// dvc's `_is_datapoints`: a non-empty list of objects, none with a key
/// the first one lacks.
fn is_datapoints(list: &[Node]) -> bool {
    let Some(Node::Object(first)) = list.first() else { return false };
    list.iter().all(|item| match item {
        Node::Object(fields) => fields.iter().all(|(k, _)| first.iter().any(|(f, _)| f == k)),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set<'a>(key: &str, value: Value<'a>) -> Set<'a> {
        Set { key: format!("\"{key}\""), value }
    }

    #[test]
    fn csv_rows_become_records_of_strings() {
        let t = Table::csv(b"step,loss\r\n0,1.0\n\n1,0.5\r", b',').unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t.first_keys(), ["\"step\"", "\"loss\""]);
        assert_eq!(t.inferred_y(), Some("\"loss\""));
        let r = t.render(&[set("rev", Value::Const("\"HEAD\"".into()))], &[]);
        assert_eq!(
            r.json,
            r#"{"step": "0", "loss": "1.0", "rev": "HEAD"}, {"step": "1", "loss": "0.5", "rev": "HEAD"}"#
        );
        assert_eq!(r.keys, ["\"step\"", "\"loss\"", "\"rev\""]);
    }

    #[test]
    fn a_repeated_csv_name_keeps_its_first_place_and_last_value() {
        let t = Table::csv(b"a\tb\ta\n1\t2\t3\n", b'\t').unwrap();
        assert_eq!(t.render(&[], &[]).json, r#"{"a": "3", "b": "2"}"#);
        assert_eq!(t.inferred_y(), Some("\"b\""));
    }

    #[test]
    fn csv_that_pythons_reader_reads_otherwise_is_refused() {
        for data in [&b"a,b\n1\n"[..], b"a,b\n1,2,3\n", b"a\n\"q\"\n", b"\na,b\n", b"a\n\xff\n", b"a\n\0\n"] {
            assert!(Table::csv(data, b',').is_err(), "{data:?}");
        }
        let empty = Table::csv(b"", b',').unwrap();
        assert_eq!((empty.len(), empty.inferred_y()), (0, None));
        let header_only = Table::csv(b"a,b\n", b',').unwrap();
        assert_eq!((header_only.len(), header_only.inferred_y()), (0, None));
    }

    #[test]
    fn json_datapoints_are_found_and_merged_as_dvc_finds_them() {
        let t = Table::json(
            br#"{"train": [{"a": 1}, {"a": 2}], "test": [{"b": 3.0}], "m": {"n": [{"c": [1, {"d": null}]}]}}"#,
        )
        .unwrap();
        assert_eq!(t.render(&[], &[]).json, r#"{"a": 1, "b": 3.0, "c": [1, {"d": null}]}, {"a": 2}"#);
        assert_eq!(t.inferred_y(), Some("\"a\""));
        // not datapoints: a key the first item lacks; items not objects
        let t = Table::json(br#"{"x": [{"a": 1}, {"b": 2}], "y": [1, 2], "z": [{"k": 1, "l": 2}, {"k": 3}]}"#).unwrap();
        assert_eq!(t.render(&[], &[]).json, r#"{"k": 1, "l": 2}, {"k": 3}"#);
        assert_eq!(t.inferred_y(), Some("\"a\""), "the first list of objects, datapoints or not");
        assert_eq!(Table::json(b"[]").unwrap().len(), 0);
        assert_eq!(Table::json(b"3").unwrap().inferred_y(), None);
    }

    #[test]
    fn sets_and_removes_are_applied_as_dict_updates_and_pops() {
        let x = Table::json(br#"[{"t": 10}, {"t": 20}]"#).unwrap();
        let y = Table::json(br#"[{"v": 1, "rev": "own", "filename": "f"}, {"v": 2}]"#).unwrap();
        let sets = [
            set("dvc_inferred_y_value", Value::Field("\"v\"".into())),
            set("x", Value::Other(&x, "\"t\"".into())),
            set("step", Value::Index),
            set("rev", Value::Const("\"HEAD\"".into())),
            set("filename", Value::Const("\"y.json\"".into())),
        ];
        let r = y.render(&sets, &["\"filename\"".to_owned()]);
        assert_eq!(
            r.json,
            concat!(
                r#"{"v": 1, "rev": "HEAD", "dvc_inferred_y_value": 1, "x": 10, "step": 0}, "#,
                r#"{"v": 2, "dvc_inferred_y_value": 2, "x": 20, "step": 1, "rev": "HEAD"}"#
            )
        );
        assert_eq!(r.keys, ["\"v\"", "\"rev\"", "\"filename\"", "\"dvc_inferred_y_value\"", "\"x\"", "\"step\""]);
        assert_eq!(Table::default().render(&sets, &[]), Rendered::default());
    }
}
