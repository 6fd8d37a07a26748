//! Plot data tables and their datapoints: [`bale_plots`], converted.
//! Keys and values cross as JSON text, so that a `str` Rust cannot hold (a
//! lone surrogate) crosses as its escape.

use std::sync::Arc;

use bale_plots::{Set, Table, Value};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use rayon::prelude::*;

use crate::runtime::pool;

/// A plot data file's records, each key and value written as `json.dumps`
/// writes it.
#[pyclass(frozen, module = "bale._core")]
pub struct PlotTable {
    inner: Arc<Table>,
}

#[pymethods]
impl PlotTable {
    fn __len__(&self) -> usize {
        self.inner.len()
    }

    /// The first record's keys, as JSON text.
    fn first_keys(&self) -> Vec<String> {
        self.inner.first_keys().into_iter().map(str::to_owned).collect()
    }

    /// The y field dvc infers for a plot of this file alone, as JSON text.
    #[getter]
    fn inferred_y(&self) -> Option<String> {
        self.inner.inferred_y().map(str::to_owned)
    }
}

/// Reads each `(kind, data)`, `kind` one of `csv`, `tsv`, `json`, in
/// parallel: a table, or None where Python must read the file (as
/// [`PlotTable::csv`] and [`PlotTable::json`]).
#[pyfunction]
pub fn read_tables(py: Python<'_>, jobs: Vec<(String, Bound<'_, PyBytes>)>) -> PyResult<Vec<Option<PlotTable>>> {
    let mut inputs: Vec<(Kind, &[u8])> = Vec::with_capacity(jobs.len());
    for (kind, data) in &jobs {
        let kind = match kind.as_str() {
            "csv" => Kind::Csv(b','),
            "tsv" => Kind::Csv(b'\t'),
            "json" => Kind::Json,
            other => return Err(PyValueError::new_err(format!("not a plot data kind: {other:?}"))),
        };
        inputs.push((kind, data.as_bytes()));
    }
    let pool = pool(None)?;
    let tables = py.detach(|| {
        pool.install(|| {
            inputs
                .par_iter()
                .map(|(kind, data)| match kind {
                    Kind::Csv(delimiter) => Table::csv(data, *delimiter),
                    Kind::Json => Table::json(data),
                })
                .collect::<Vec<_>>()
        })
    });
    Ok(tables.into_iter().map(|t| t.ok().map(|t| PlotTable { inner: Arc::new(t) })).collect())
}

#[derive(Clone, Copy)]
enum Kind {
    Csv(u8),
    Json,
}

/// One field set on every record: `(key, kind, text, table)`, `kind` one
/// of `const` (`text` is the value), `index`, `field` (`text` is the
/// record's key to copy) or `other` (`table`'s key `text` at the same
/// position).
type SetSpec = (String, String, Option<String>, Option<Py<PlotTable>>);

/// Renders each job, `(table, sets, removes)`, in parallel: the datapoints
/// as `json.dumps` writes the items of their list, and every key they have.
#[pyfunction]
pub fn render_points<'py>(
    py: Python<'py>,
    jobs: Vec<(Py<PlotTable>, Vec<SetSpec>, Vec<String>)>,
) -> PyResult<Vec<(Bound<'py, PyBytes>, Vec<String>)>> {
    let mut plans: Vec<Plan> = Vec::with_capacity(jobs.len());
    for (table, sets, removes) in jobs {
        let mut specs = Vec::with_capacity(sets.len());
        for (key, kind, text, other) in sets {
            let spec = match (kind.as_str(), text, other) {
                ("const", Some(text), None) => Spec::Const(text),
                ("index", None, None) => Spec::Index,
                ("field", Some(text), None) => Spec::Field(text),
                ("other", Some(text), Some(other)) => Spec::Other(other.get().inner.clone(), text),
                (kind, ..) => return Err(PyValueError::new_err(format!("not a field to set: {kind:?}"))),
            };
            specs.push((key, spec));
        }
        plans.push((table.get().inner.clone(), specs, removes));
    }
    let pool = pool(None)?;
    let rendered = py.detach(|| {
        pool.install(|| {
            plans
                .par_iter()
                .map(|(table, specs, removes)| {
                    let sets: Vec<Set<'_>> = specs
                        .iter()
                        .map(|(key, spec)| Set {
                            key: key.clone(),
                            value: match spec {
                                Spec::Const(t) => Value::Const(t.clone()),
                                Spec::Index => Value::Index,
                                Spec::Field(k) => Value::Field(k.clone()),
                                Spec::Other(t, k) => Value::Other(t, k.clone()),
                            },
                        })
                        .collect();
                    table.render(&sets, removes)
                })
                .collect::<Vec<_>>()
        })
    });
    Ok(rendered.into_iter().map(|r| (PyBytes::new(py, r.json.as_bytes()), r.keys)).collect())
}

/// A job with its tables shared: `(table, sets, removes)`.
type Plan = (Arc<Table>, Vec<(String, Spec)>, Vec<String>);

enum Spec {
    Const(String),
    Index,
    Field(String),
    Other(Arc<Table>, String),
}
