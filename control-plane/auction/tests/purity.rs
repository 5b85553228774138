//! Architecture invariant 1: the auction does no IO. Its normal dependencies are limited to
//! this list (no tokio, tonic, prost, store or clock can sneak in through a new dependency).

const ALLOWED: [&str; 4] = ["thiserror", "serde", "rand", "rand_chacha"];

#[test]
fn only_pure_dependencies() {
    let manifest = include_str!("../Cargo.toml");
    let mut in_dependencies = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_dependencies = line == "[dependencies]";
            continue;
        }
        if !in_dependencies || line.is_empty() || line.starts_with('#') {
            continue;
        }
        let name = line.split(['=', '.', ' ']).next().unwrap_or("");
        assert!(
            ALLOWED.contains(&name),
            "impure dependency in the auction: {name}"
        );
    }
    // std's clock is not used either.
    for source in [
        include_str!("../src/auction.rs"),
        include_str!("../src/schedule.rs"),
    ] {
        assert!(!source.contains("Instant::") && !source.contains("SystemTime"));
    }
}
