//! `bale._core`: the Python face of the engine.
//!
//! This crate only converts: paths and ids in, typed results and
//! `bale.BaleError` subclasses out. Every call that touches the disk releases
//! the GIL and runs on bale's own rayon pool (see [`runtime`]).

mod by_path;
mod errors;
mod ignore;
mod landing;
mod layout;
mod packs;
mod plots;
mod progress;
mod reader;
mod runtime;
mod stream;
mod workspace;

use pyo3::prelude::*;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<progress::Progress>()?;
    m.add_class::<workspace::Workspace>()?;
    m.add_class::<workspace::Built>()?;
    m.add_class::<workspace::Status>()?;
    m.add_class::<workspace::CheckoutResult>()?;
    m.add_class::<workspace::GcResult>()?;
    m.add_class::<workspace::Transferred>()?;
    m.add_class::<landing::Landing>()?;
    m.add_class::<layout::PlannedObject>()?;
    m.add_class::<layout::PlannedDir>()?;
    m.add_class::<layout::StoreKey>()?;
    m.add("PACKS_DIR", bale_pack::PACKS_DIR)?;
    m.add_function(wrap_pyfunction!(layout::parse_key, m)?)?;
    m.add_function(wrap_pyfunction!(layout::is_tree, m)?)?;
    m.add_function(wrap_pyfunction!(layout::folder_objects, m)?)?;
    m.add_class::<reader::ObjectReader>()?;
    m.add_class::<stream::CachedChunks>()?;
    m.add_class::<stream::RemoteIndexes>()?;
    m.add_class::<stream::RemoteChunks>()?;
    m.add_class::<packs::PackPush>()?;
    m.add_class::<packs::FetchPlan>()?;
    m.add_class::<packs::ReadArrival>()?;
    m.add_function(wrap_pyfunction!(workspace::check_pack_index, m)?)?;
    m.add_function(wrap_pyfunction!(workspace::check_index_copies, m)?)?;
    m.add_function(wrap_pyfunction!(workspace::check_oid, m)?)?;
    m.add_function(wrap_pyfunction!(workspace::hash_file, m)?)?;
    m.add_class::<ignore::IgnoreCheck>()?;
    m.add_class::<plots::PlotTable>()?;
    m.add_function(wrap_pyfunction!(plots::read_tables, m)?)?;
    m.add_function(wrap_pyfunction!(plots::render_points, m)?)?;
    m.add_function(wrap_pyfunction!(ignore::check_ignore, m)?)?;
    m.add_function(wrap_pyfunction!(ignore::ignored_reason, m)?)?;
    m.add_function(wrap_pyfunction!(workspace::unprotect, m)?)?;
    m.add_function(wrap_pyfunction!(workspace::find_metafiles, m)?)?;
    m.add_function(wrap_pyfunction!(workspace::probe_links, m)?)?;
    m.add_function(wrap_pyfunction!(workspace::remote_temps, m)?)?;
    m.add_function(wrap_pyfunction!(workspace::temp_path, m)?)?;
    m.add_function(wrap_pyfunction!(workspace::failpoint, m)?)?;
    Ok(())
}
