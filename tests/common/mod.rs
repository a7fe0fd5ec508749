//! What the tests that start `twin run` as a child process share.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use tonic::Request;

/// A `twin run` child, killed when dropped.
pub struct Run(pub Child);

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Run {
    /// Stops the run as Ctrl-C does (it checkpoints and flushes) and waits
    /// for it to exit.
    #[allow(dead_code)]
    pub fn interrupt(mut self) {
        let pid = self.0.id().to_string();
        let sent = Command::new("kill").args(["-INT", &pid]).status().unwrap();
        assert!(sent.success());
        let status = self.0.wait().unwrap();
        assert!(status.success(), "twin run exited with {status}");
    }
}

/// Starts `twin run ARGS --forever --listen 127.0.0.1:0 --token tok` and
/// returns it with the gRPC address it printed.
pub fn spawn_run(args: &[&std::ffi::OsStr]) -> (Run, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_twin"))
        .arg("run")
        .args(args)
        .args(["--forever", "--listen", "127.0.0.1:0", "--token", "tok"])
        .env("RUST_LOG", "warn")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut said = Vec::new();
    let addr = loop {
        let Some(line) = lines.next() else {
            panic!("twin run ended without listening: {}", said.join("\n"));
        };
        let line = line.unwrap();
        if let Some(a) = line.strip_prefix("gRPC listening on ") {
            break a.to_string();
        }
        said.push(line);
    };
    // Keep draining stderr so the child never blocks on it.
    std::thread::spawn(move || for _ in lines {});
    (Run(child), addr)
}

/// Runs `twin ARGS` to its end and returns what it printed; fails the
/// test, with its stderr, if it fails.
#[allow(dead_code)]
pub fn twin<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Vec<u8> {
    let out = Command::new(env!("CARGO_BIN_EXE_twin"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "twin {:?}: {}",
        args.iter()
            .map(|a| a.as_ref().to_string_lossy())
            .collect::<Vec<_>>(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `m` with the tests' token.
pub fn req<T>(m: T) -> Request<T> {
    let mut r = Request::new(m);
    r.metadata_mut()
        .insert("authorization", "Bearer tok".parse().unwrap());
    r
}
