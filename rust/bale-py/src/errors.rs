//! Engine errors become the exception classes of `bale.exceptions`, so the
//! family is defined once, in Python.

use bale_error::Error;
use pyo3::exceptions::{PyKeyboardInterrupt, PyRuntimeError};
use pyo3::prelude::*;

fn class_name(e: &Error) -> &'static str {
    match e {
        Error::NotFound { .. } => "TargetNotFoundError",
        Error::PermissionDenied { .. } => "PermissionDeniedError",
        Error::NoSpace { .. } => "NoSpaceError",
        Error::Io { .. } => "BaleError",
        Error::ChangedWhileHashing { .. } => "FileChangedError",
        Error::CorruptObject { .. } => "CorruptObjectError",
        Error::ObjectMissing { .. } => "ObjectMissingError",
        Error::InvalidOid { .. } => "InvalidOidError",
        Error::BadManifest { .. } => "CorruptObjectError",
        Error::NonUtf8Path { .. } => "TargetError",
        Error::BadIgnoreFile { .. } => "ConfigError",
        Error::CheckoutConflict { .. } => "CheckoutConflictError",
        Error::Unsupported(_) => "BaleError",
        Error::Interrupted => "KeyboardInterrupt",
    }
}

pub fn to_py(py: Python<'_>, e: Error) -> PyErr {
    let name = class_name(&e);
    if name == "KeyboardInterrupt" {
        return PyKeyboardInterrupt::new_err(());
    }
    let msg = e.to_string();
    let made = py.import("bale.exceptions").and_then(|m| m.getattr(name)).and_then(|cls| cls.call1((msg.clone(),)));
    match made {
        Ok(exc) => PyErr::from_value(exc),
        Err(_) => PyRuntimeError::new_err(msg),
    }
}

/// `?` on engine results inside a function holding `py`.
pub trait IntoPy<T> {
    fn py_err(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPy<T> for Result<T, Error> {
    fn py_err(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py(py, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A name the Python family lacks would turn that engine error into a
    /// bare RuntimeError that no `except BaleError` catches.
    #[test]
    fn every_engine_error_names_a_class_of_the_python_family() {
        let family = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../python/bale/exceptions.py"))
            .expect("python/bale/exceptions.py");
        let p = || PathBuf::from("x");
        let s = || "x".to_string();
        // Every variant but Interrupted, which is Python's own KeyboardInterrupt.
        let errors = [
            Error::NotFound { path: p() },
            Error::PermissionDenied { path: p() },
            Error::NoSpace { path: p() },
            Error::Io { path: p(), source: std::io::Error::other("x") },
            Error::ChangedWhileHashing { path: p() },
            Error::CorruptObject { path: p(), expected: s(), actual: s() },
            Error::ObjectMissing { path: p(), oid: s() },
            Error::InvalidOid { text: s(), what: "x" },
            Error::BadManifest { path: p(), reason: s() },
            Error::NonUtf8Path { path: p() },
            Error::BadIgnoreFile { path: p(), reason: s() },
            Error::CheckoutConflict { first: p(), count: 1 },
            Error::Unsupported(s()),
        ];
        for e in &errors {
            let name = class_name(e);
            assert!(family.contains(&format!("\nclass {name}(")), "{name} is not in bale.exceptions");
        }
    }
}
