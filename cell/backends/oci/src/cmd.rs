//! Running host tools (runc or crun, CNI plugins, nft) and reporting their stderr on failure.

use std::process::Stdio;

use tokio::process::Command;

use crate::error::{OciError, Result};

/// Runs `program args` to completion; Err carries stderr when it exits non-zero.
pub(crate) async fn run(program: &str, args: &[&str]) -> Result<String> {
    run_with_stdin(program, args, &[], None).await
}

pub(crate) async fn run_with_stdin(
    program: &str,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: Option<&[u8]>,
) -> Result<String> {
    let cmd_line = format!("{program} {}", args.join(" "));
    let mut cmd = Command::new(program);
    cmd.args(args)
        .envs(env.iter().copied())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(OciError::io(cmd_line.clone()))?;
    if let Some(input) = stdin {
        use tokio::io::AsyncWriteExt;
        let mut pipe = child.stdin.take().expect("stdin piped");
        pipe.write_all(input)
            .await
            .map_err(OciError::io(cmd_line.clone()))?;
        drop(pipe);
    }
    let out = child
        .wait_with_output()
        .await
        .map_err(OciError::io(cmd_line.clone()))?;
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() {
        let mut stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        if stderr.is_empty() {
            // CNI plugins report errors as JSON on stdout.
            stderr = stdout.trim().to_string();
        }
        return Err(OciError::Command {
            cmd: cmd_line,
            stderr,
        });
    }
    Ok(stdout)
}

/// For `<runtime> run -d`: the container's init inherits the runtime's stdio, so pipes would never
/// reach EOF; output goes to `log` instead and is read back on failure.
pub(crate) async fn run_detached(
    program: &str,
    args: &[&str],
    log: &std::path::Path,
) -> Result<()> {
    let cmd_line = format!("{program} {}", args.join(" "));
    let file =
        std::fs::File::create(log).map_err(OciError::io(format!("create {}", log.display())))?;
    let err_file = file.try_clone().map_err(OciError::io("clone log file"))?;
    let status = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(file))
        .stderr(Stdio::from(err_file))
        .status()
        .await
        .map_err(OciError::io(cmd_line.clone()))?;
    if !status.success() {
        let stderr = std::fs::read_to_string(log)
            .unwrap_or_default()
            .trim()
            .to_string();
        return Err(OciError::Command {
            cmd: cmd_line,
            stderr,
        });
    }
    Ok(())
}
