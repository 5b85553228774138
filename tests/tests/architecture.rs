//! Architecture invariant 1: the pure crates do no IO. `cargo tree` shows
//! their whole normal dependency tree; none of the IO crates may appear.

use std::process::Command;

const PURE: [&str; 3] = ["diego-model", "diego-auction", "diego-convergence"];
const FORBIDDEN: [&str; 8] = [
    "tokio",
    "tonic",
    "prost",
    "redb",
    "hyper",
    "mio",
    "diego-store",
    "reqwest",
];

#[test]
fn pure_crates_have_no_io_in_their_dependency_tree() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    for krate in PURE {
        let out = Command::new(&cargo)
            .args([
                "tree",
                "--offline",
                "-e",
                "normal",
                "--prefix",
                "none",
                "-p",
                krate,
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("cargo runs");
        assert!(
            out.status.success(),
            "cargo tree -p {krate} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let tree = String::from_utf8_lossy(&out.stdout);
        assert!(
            tree.contains(krate),
            "cargo tree printed nothing for {krate}"
        );
        for line in tree.lines() {
            let name = line.split_whitespace().next().unwrap_or("");
            assert!(
                !FORBIDDEN.contains(&name),
                "{krate} depends on {name}, which does io"
            );
        }
    }
}
