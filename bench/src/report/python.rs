//! Cells measured in a Python child process, one evaluation per request, so
//! they interleave with the in-process cells.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use backup_codes_shim::plugin::HashParams;
use secrecy::ExposeSecret;

use super::fixture::Fixture;
use crate::BoxResult;
use crate::stats::Sample;

/// A cell measured in a Python child process, one evaluation per request, so it
/// can be interleaved with the in-process cells: C libargon2 (`argon2_c.py`,
/// via `argon2-cffi`) or verify through the wasmtime-py host (`wasmtime_py.py`).
pub(super) struct PythonCell {
    pub(super) python: String,
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl PythonCell {
    /// Start `script` under `python` with `args`, send `setup` as the first
    /// line, and wait for its "ready".
    fn start(python: &str, script: &str, args: &[String], setup: Option<&str>) -> Option<Self> {
        use std::io::BufRead;
        let mut child = Command::new(python)
            .arg("-c")
            .arg(script)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()?;
        let mut stdin = child.stdin.take()?;
        if let Some(line) = setup {
            writeln!(stdin, "{line}").ok()?;
            stdin.flush().ok()?;
        }
        let mut stdout = std::io::BufReader::new(child.stdout.take()?);
        let mut line = String::new();
        stdout.read_line(&mut line).ok()?;
        if line.trim() != "ready" {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        Some(Self {
            python: python.to_owned(),
            child,
            stdin,
            stdout,
        })
    }

    /// C libargon2 in `python`.
    pub(super) fn c_reference(python: &str, hash: HashParams) -> Option<Self> {
        let args = [hash.memory_kib, hash.iterations, hash.parallelism].map(|v| v.to_string());
        Self::start(python, include_str!("../../argon2_c.py"), &args, None)
    }

    /// `backup_codes.Host.verify` of the fixture's right code, in `python`.
    pub(super) fn wasmtime_py(python: &str, component: &Path, fixture: &Fixture) -> Option<Self> {
        let h = fixture.policy.hash;
        let args = [
            component.display().to_string(),
            h.memory_kib.to_string(),
            h.iterations.to_string(),
            h.parallelism.to_string(),
            fixture.policy.count.to_string(),
        ];
        let setup = format!(
            "{} {} {}",
            hex::encode(&fixture.credential),
            fixture.right.expose_secret(),
            fixture.right_number
        );
        Self::start(
            python,
            include_str!("../../wasmtime_py.py"),
            &args,
            Some(&setup),
        )
    }

    /// One evaluation: wall-clock seconds as the child measured them (and its
    /// thread CPU seconds, when it reports them).
    pub(super) fn measure(&mut self) -> BoxResult<Sample> {
        self.request("")
    }

    /// One trivial call (wasmtime-py cells only).
    pub(super) fn trivial(&mut self) -> BoxResult<Sample> {
        self.request("trivial")
    }

    fn request(&mut self, what: &str) -> BoxResult<Sample> {
        use std::io::BufRead;
        writeln!(self.stdin, "{what}")?;
        self.stdin.flush()?;
        let mut line = String::new();
        self.stdout.read_line(&mut line)?;
        let mut parts = line.split_whitespace();
        let wall = parts.next().ok_or("child gave no time")?.parse::<f64>()?;
        let cpu = parts
            .next()
            .map(str::parse::<f64>)
            .transpose()?
            .unwrap_or(f64::NAN);
        Ok(Sample { wall, cpu })
    }
}

impl Drop for PythonCell {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
