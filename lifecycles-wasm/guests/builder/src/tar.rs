//! A minimal ustar writer (WASI has no file modes or owners to carry, so this is all a droplet
//! needs). Every file gets mode 0755 so Procfile scripts stay executable, since the copy through
//! WASI loses the app's modes.

use std::fs;
use std::io::Write;
use std::path::Path;

const BLOCK: usize = 512;

/// Packs the tree under `root` (paths relative to it) into the tar file `out`; returns the
/// tar's sha256 (hex), under which the file server will keep it.
pub fn pack(root: &Path, out: &Path) -> Result<String, String> {
    use sha2::Digest;
    let mut tar = Vec::new();
    append_dir(root, "", &mut tar)?;
    tar.extend_from_slice(&[0u8; BLOCK * 2]);
    write(out, &tar)?;
    let digest = sha2::Sha256::digest(&tar);
    Ok(digest.iter().map(|b| format!("{b:02x}")).collect())
}

/// A valid tar with no entries.
pub fn pack_empty(out: &Path) -> Result<(), String> {
    write(out, &[0u8; BLOCK * 2])
}

fn write(out: &Path, bytes: &[u8]) -> Result<(), String> {
    let mut file = fs::File::create(out).map_err(|e| format!("create {}: {e}", out.display()))?;
    file.write_all(bytes)
        .map_err(|e| format!("write {}: {e}", out.display()))
}

fn append_dir(dir: &Path, prefix: &str, tar: &mut Vec<u8>) -> Result<(), String> {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .map_err(|e| format!("read {}: {e}", dir.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("read {}: {e}", dir.display()))?;
    // Sorted, so the same app always gives the same droplet bytes (and digest).
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        let kind = entry.file_type().map_err(|e| format!("stat {name}: {e}"))?;
        if kind.is_dir() {
            tar.extend_from_slice(&header(&format!("{name}/"), 0, b'5')?);
            append_dir(&entry.path(), &format!("{name}/"), tar)?;
        } else {
            let data = fs::read(entry.path()).map_err(|e| format!("read {name}: {e}"))?;
            tar.extend_from_slice(&header(&name, data.len() as u64, b'0')?);
            tar.extend_from_slice(&data);
            let pad = (BLOCK - data.len() % BLOCK) % BLOCK;
            tar.extend(std::iter::repeat_n(0u8, pad));
        }
    }
    Ok(())
}

fn octal(field: &mut [u8], value: u64) {
    let digits = format!("{:0width$o}", value, width = field.len() - 1);
    let last = field.len() - 1;
    field[..last].copy_from_slice(digits.as_bytes());
    field[last] = 0;
}

fn header(path: &str, size: u64, typeflag: u8) -> Result<[u8; BLOCK], String> {
    let mut h = [0u8; BLOCK];
    // ustar splits long paths into prefix (155) + name (100) at a '/'.
    let (prefix, name) = if path.len() <= 100 {
        ("", path)
    } else {
        let split = path[..path.len().min(156)]
            .rfind('/')
            .filter(|&i| path.len() - i - 1 <= 100 && i <= 155)
            .ok_or_else(|| format!("path too long for the droplet: {path}"))?;
        (&path[..split], &path[split + 1..])
    };
    h[..name.len()].copy_from_slice(name.as_bytes());
    octal(&mut h[100..108], 0o755);
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], size);
    octal(&mut h[136..148], 0);
    h[156] = typeflag;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[345..345 + prefix.len()].copy_from_slice(prefix.as_bytes());
    // The checksum is computed with its own field as spaces.
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    let digits = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(digits.as_bytes());
    Ok(h)
}
