//! Packing: the app's files and the builder component into tars the executor can extract.

use std::path::Path;

use crate::PushError;

/// Packs the files under `dir` (paths relative to it, modes kept, symlinks refused so an app
/// cannot smuggle a link to the host's files into the cell).
pub fn app_tar(dir: &Path) -> Result<Vec<u8>, PushError> {
    let fail = |reason: String| PushError::App {
        path: dir.display().to_string(),
        reason,
    };
    let meta = std::fs::metadata(dir).map_err(|e| fail(e.to_string()))?;
    if !meta.is_dir() {
        return Err(fail("not a directory".into()));
    }
    let mut builder = tar::Builder::new(Vec::new());
    builder.mode(tar::HeaderMode::Deterministic);
    append(&mut builder, dir, Path::new("")).map_err(fail)?;
    builder.into_inner().map_err(|e| fail(e.to_string()))
}

fn append(builder: &mut tar::Builder<Vec<u8>>, dir: &Path, rel: &Path) -> Result<(), String> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("read {}: {e}", dir.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("read {}: {e}", dir.display()))?;
    // Sorted, so the same files give the same tar and the same digest.
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = rel.join(entry.file_name());
        let kind = entry
            .file_type()
            .map_err(|e| format!("stat {}: {e}", path.display()))?;
        if kind.is_symlink() {
            return Err(format!("{} is a symlink; push real files", name.display()));
        } else if kind.is_dir() {
            builder
                .append_dir(&name, &path)
                .map_err(|e| format!("pack {}: {e}", name.display()))?;
            append(builder, &path, &name)?;
        } else if kind.is_file() {
            builder
                .append_path_with_name(&path, &name)
                .map_err(|e| format!("pack {}: {e}", name.display()))?;
        }
    }
    Ok(())
}

/// The builder command in a tar, as `builder.wasm` (Download actions extract archives).
pub fn lifecycle_tar(builder_wasm: &[u8]) -> Result<Vec<u8>, PushError> {
    let mut header = tar::Header::new_ustar();
    header.set_size(builder_wasm.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_cksum();
    let mut builder = tar::Builder::new(Vec::new());
    builder
        .append_data(&mut header, "builder.wasm", builder_wasm)
        .and_then(|()| builder.into_inner())
        .map_err(|e| PushError::Lifecycle {
            what: "builder".into(),
            reason: format!("pack: {e}"),
        })
}

/// A process guid from an app name: lower-case letters, digits and `-` (Diego's guid rule is
/// `^[a-zA-Z0-9_-]+$`; other characters become `-`).
pub fn process_guid(name: &str) -> Result<String, PushError> {
    let guid: String = name
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let guid = guid.trim_matches('-').to_string();
    if guid.is_empty() {
        return Err(PushError::Invalid {
            field: "name",
            reason: format!("{name:?} has no letters or digits"),
        });
    }
    Ok(guid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_guids() {
        assert_eq!(process_guid("My App.v2").unwrap(), "my-app-v2");
        assert_eq!(process_guid("static_site").unwrap(), "static_site");
        assert!(process_guid(" ..").is_err());
    }

    #[test]
    fn the_same_files_pack_to_the_same_tar() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.html"), "hi").unwrap();
        std::fs::create_dir(dir.path().join("css")).unwrap();
        std::fs::write(dir.path().join("css/a.css"), "a{}").unwrap();
        let (a, b) = (app_tar(dir.path()).unwrap(), app_tar(dir.path()).unwrap());
        assert_eq!(a, b);
        let mut names: Vec<String> = tar::Archive::new(&a[..])
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        names.sort();
        assert_eq!(names, ["css", "css/a.css", "index.html"]);
    }

    #[test]
    fn symlinks_and_missing_dirs_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("passwd")).unwrap();
        let err = app_tar(dir.path()).unwrap_err().to_string();
        assert!(
            err.ends_with("passwd is a symlink; push real files"),
            "{err}"
        );
        let err = app_tar(&dir.path().join("nope")).unwrap_err().to_string();
        assert!(err.contains("No such file"), "{err}");
    }
}
