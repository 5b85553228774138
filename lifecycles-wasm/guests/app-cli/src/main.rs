//! A `wasi:cli/run` command app, told what to do by its first argument:
//!
//! - `echo WORD...`: each word on its own stdout line, then `done` on stderr; exits with
//!   `$EXIT_CODE` (default 0).
//! - `cat PATH`: prints a file of the instance directory (preopened as `/`).
//! - `hog`: allocates and touches memory 1 MiB at a time until it is refused.
//! - `loop`: spins forever without a system call (only an epoch interrupt stops it).
//! - `sleep MS`: sleeps, then exits 0.

use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let what = args.get(1).map(String::as_str).unwrap_or("echo");
    match what {
        "echo" => {
            let mut out = std::io::stdout().lock();
            for word in &args[2..] {
                let _ = writeln!(out, "{word}");
            }
            let _ = out.flush();
            eprintln!("done");
            let code = std::env::var("EXIT_CODE")
                .ok()
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            std::process::exit(code);
        }
        "cat" => {
            let path = args.get(2).map(String::as_str).unwrap_or("/");
            match std::fs::read_to_string(path) {
                Ok(text) => print!("{text}"),
                Err(e) => {
                    eprintln!("cannot read {path}: {e}");
                    std::process::exit(2);
                }
            }
        }
        "hog" => {
            let mut chunks: Vec<Vec<u8>> = Vec::new();
            loop {
                let mut chunk = vec![0u8; 1 << 20];
                for i in (0..chunk.len()).step_by(4096) {
                    chunk[i] = 1;
                }
                chunks.push(chunk);
                if chunks.len().is_multiple_of(16) {
                    println!("holding {} MiB", chunks.len());
                }
            }
        }
        "loop" => {
            let mut x: u64 = 1;
            loop {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
        }
        "sleep" => {
            let ms: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(1000);
            std::thread::sleep(std::time::Duration::from_millis(ms));
        }
        other => {
            eprintln!("unknown command {other:?}");
            std::process::exit(64);
        }
    }
}
