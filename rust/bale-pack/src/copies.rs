//! The local copies of a remote's pack indexes: a cache of the remote,
//! checked before it is trusted.

use std::path::Path;

use bale_error::{Error, Result};
use rayon::prelude::*;

use crate::PackIndex;

/// Checks every local index copy in `index_dir` (they are a cache of the
/// remote's indexes: a damaged one must be fetched again, not trusted or
/// fatal) and removes those that do not read as the index of the pack
/// their name says. Returns the names removed.
pub fn check_copies(index_dir: &Path) -> Result<Vec<String>> {
    let listing = match std::fs::read_dir(index_dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        other => other.map_err(|e| Error::io(index_dir, e))?,
    };
    let names: Vec<String> = listing.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect();
    // A copy a killed command was writing: left long enough, it goes (the
    // refresh that calls this holds no lock).
    for name in &names {
        let path = index_dir.join(name);
        if bale_odb::fs::sweepable(&path, name, bale_odb::fs::QUIET_FOR) {
            let _ = std::fs::remove_file(&path);
        }
    }
    let names: Vec<String> = names.into_iter().filter(|n| n.ends_with(".idx")).collect();
    let bad: Vec<String> = names
        .into_par_iter()
        .filter(|name| {
            let path = index_dir.join(name);
            check_index(&path, name.trim_end_matches(".idx")).is_err() && std::fs::remove_file(&path).is_ok()
        })
        .collect();
    Ok(bad)
}

/// Checks a downloaded index before it joins the local copies: well formed,
/// and the index of the pack its name says.
pub fn check_index(path: &Path, pack_hex: &str) -> Result<()> {
    let index = PackIndex::read(path)?;
    if index.pack().hex() != pack_hex {
        return Err(Error::BadManifest {
            path: path.to_path_buf(),
            reason: format!("index of pack {} stored under the name of pack {pack_hex}", index.pack().hex()),
        });
    }
    Ok(())
}
