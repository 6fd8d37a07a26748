//! Object keys: where an object lies in a store with the cache's layout
//! (a folder remote, S3, HTTP: DVC's remote layout is the cache layout),
//! and back from a key to the object it names.
//!
//! [`object_key`] spells a key from the store's own layout
//! ([`Odb::object_path`]); [`parse_object_key`] is its exact inverse, so the
//! two can never disagree: a key parses only if it is the key of what it
//! parses to (lower-case hex, the algorithm's area and fan-out).

use std::path::PathBuf;

use bale_error::Result;
use bale_hash::{Algo, Oid};
use bale_odb::Odb;

/// Every algorithm, each with its own area of a store.
const ALGOS: [Algo; 3] = [Algo::Md5, Algo::Md5Dos2Unix, Algo::Blake3];

/// The key of an object in a store with the cache's layout.
pub fn object_key(odb: &Odb, oid: &Oid) -> String {
    let path = odb.object_path(oid);
    let rel = path.strip_prefix(odb.root()).expect("object paths are under the store root");
    rel.to_str().expect("object paths are ASCII").to_owned()
}

/// The object `key` names in a store with the cache's layout: an md5
/// object (`files/md5/`), a DVC 2.x one (`<2 hex>/<30 hex>`, md5-dos2unix)
/// or a bale-native one (`bale/blake3/`), a tree with its suffix; `None`
/// for any other key.
pub fn parse_object_key(key: &str) -> Option<Oid> {
    let layout = Odb::new(PathBuf::new());
    let (dir, name) = key.rsplit_once('/')?;
    let fanout = dir.rsplit_once('/').map_or(dir, |(_, f)| f);
    ALGOS.iter().find_map(|&algo| {
        let oid = Oid::parse(algo, &format!("{fanout}{name}")).ok()?;
        (object_key(&layout, &oid) == key).then_some(oid)
    })
}

/// Whether the text of an id names a tree (a directory): it ends with an
/// algorithm's tree suffix (`.dir`, `.tree`). Only the suffix is read, so an
/// id that does not parse is still told apart the way its text says.
pub fn names_tree(text: &str) -> bool {
    ALGOS.iter().any(|a| text.ends_with(a.tree_suffix()))
}

/// `(key, size)` of every object in DVC's layouts (md5 and the DVC 2.x
/// md5-dos2unix) in `odb`: the regular files the store's walk finds with the
/// names it would give them. Nothing else in the store is listed (temp
/// files, bale's own areas, symlinks, stray names), so nothing else is ever
/// taken for an object, nor deleted as one.
pub fn dvc_objects(odb: &Odb) -> Result<Vec<(String, u64)>> {
    let mut found = Vec::new();
    for algo in [Algo::Md5, Algo::Md5Dos2Unix] {
        for (oid, size) in odb.list(algo)? {
            // The walk reads names case-blind and does not look at the
            // file's kind: only a regular file at the object's own path is
            // the object.
            if std::fs::symlink_metadata(odb.object_path(&oid)).is_ok_and(|m| m.is_file()) {
                found.push((object_key(odb, &oid), size));
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bale_hash::hash_bytes;
    use std::fs;

    #[test]
    fn every_object_key_parses_back_to_its_object() {
        let odb = Odb::new("/somewhere/cache");
        for algo in ALGOS {
            for tree in [false, true] {
                let oid = hash_bytes(algo, b"x", tree);
                let key = object_key(&odb, &oid);
                assert_eq!(parse_object_key(&key), Some(oid), "{key}");
                assert_eq!(names_tree(&oid.to_string()), tree);
            }
        }
        let md5 = hash_bytes(Algo::Md5, b"x", true);
        assert_eq!(
            object_key(&odb, &md5),
            format!("files/md5/{}/{}.dir", &md5.hex_digest()[..2], &md5.hex_digest()[2..])
        );
    }

    #[test]
    fn other_keys_name_no_object() {
        let hex = "9dd4e461268c8034f5c8564e155c67a6";
        for key in [format!("files/md5/{}/{}", &hex[..2], &hex[2..]), format!("{}/{}.dir", &hex[..2], &hex[2..])] {
            assert!(parse_object_key(&key).is_some(), "{key}");
        }
        for key in [
            format!("files/md5/{}/{}", &hex[..2], hex[2..].to_uppercase()),
            format!("files/md5/{}", hex),
            format!("files/md5/{}/{}", &hex[..3], &hex[3..]),
            format!("files/sha/{}/{}", &hex[..2], &hex[2..]),
            format!("x/files/md5/{}/{}", &hex[..2], &hex[2..]),
            format!("bale/blake3/{}/{}", &hex[..2], &hex[2..]),
            format!("files/md5/{}/{}.tree", &hex[..2], &hex[2..]),
            format!("runs/{}/{}", &hex[..2], &hex[2..]),
            hex.to_owned(),
            String::new(),
        ] {
            assert_eq!(parse_object_key(&key), None, "{key}");
        }
        assert!(!names_tree(hex) && names_tree("garbage.dir"));
    }

    #[test]
    fn dvc_objects_lists_regular_object_files_only() {
        let d = tempfile::tempdir().unwrap();
        let odb = Odb::new(d.path());
        let md5 = hash_bytes(Algo::Md5, b"one", false);
        let legacy = hash_bytes(Algo::Md5Dos2Unix, b"two", true);
        let native = hash_bytes(Algo::Blake3, b"three", false);
        for (oid, body) in [(md5, "one"), (legacy, "two!"), (native, "three")] {
            let p = odb.object_path(&oid);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, body).unwrap();
        }
        let stray = hash_bytes(Algo::Md5, b"stray", false);
        let upper = odb.object_path(&stray).with_file_name(stray.hex_digest()[2..].to_uppercase());
        fs::create_dir_all(upper.parent().unwrap()).unwrap();
        fs::write(&upper, "stray").unwrap();
        let linked = hash_bytes(Algo::Md5, b"linked", false);
        let link = odb.object_path(&linked);
        fs::create_dir_all(link.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(odb.object_path(&md5), &link).unwrap();
        fs::write(link.with_file_name("not-an-object"), "x").unwrap();
        let mut got = dvc_objects(&odb).unwrap();
        got.sort();
        let mut want = vec![(object_key(&odb, &md5), 3), (object_key(&odb, &legacy), 4)];
        want.sort();
        assert_eq!(got, want);
    }
}
