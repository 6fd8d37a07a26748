//! Plot data, read as dvc reads it and written as dvc prints it.
//!
//! `plots show/diff` spend their time on the datapoints: every row of every
//! plot file at every revision becomes a dict, then JSON text. Here a file
//! becomes a [`Table`] of records whose keys and values are already the
//! JSON text Python's `json.dumps` would write for them ([`pyjson`] reads
//! JSON as Python's `json.loads` does), and [`Table::render`] writes a
//! plot's datapoints straight from it: no Python object per row.
//!
//! What Python would read differently (quoted CSV, YAML, malformed JSON) is
//! [`Refused`]; the caller reads it with Python and hands the result over
//! as JSON text.

pub mod pyjson;
mod table;

pub use pyjson::Refused;
pub use table::{Rendered, Set, Table, Value};
