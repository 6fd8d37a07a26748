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
