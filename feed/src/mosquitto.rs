//! A Mosquitto broker of the twin's own, on a free loopback port, for the
//! tests and `twin bench loadgen`: started from Debian's package
//! (`scripts/mosquitto.sh` installs it), persistence on in a directory the
//! caller owns, stopped (and its state saved) or killed on demand.

use std::io;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running broker; killed when dropped.
pub struct Mosquitto {
    child: Option<Child>,
    pub port: u16,
    dir: PathBuf,
    /// PEM certificate and key of a TLS listener.
    tls: Option<(PathBuf, PathBuf)>,
}

/// The broker's binary: on the PATH, or where Debian puts it.
fn binary() -> io::Result<PathBuf> {
    for dir in std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .chain(["/usr/sbin"])
    {
        let p = Path::new(dir).join("mosquitto");
        if p.is_file() {
            return Ok(p);
        }
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        "mosquitto is not installed (scripts/mosquitto.sh installs it)",
    ))
}

/// Who runs this process: Mosquitto started as root would otherwise drop
/// to the `mosquitto` user and could not write its state into `dir`.
fn current_user() -> String {
    Command::new("id")
        .arg("-un")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "mosquitto".into())
}

/// A port nothing listens on now.
pub fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

impl Mosquitto {
    /// Starts a broker keeping its state in `dir`.
    pub fn start(dir: &Path) -> io::Result<Mosquitto> {
        Self::start_on(dir, None)
    }

    /// Starts a broker that speaks only TLS, with this certificate and key
    /// (its URL names `localhost`, as the certificate should).
    pub fn start_tls(dir: &Path, cert: &Path, key: &Path) -> io::Result<Mosquitto> {
        Self::start_on(dir, Some((cert.to_path_buf(), key.to_path_buf())))
    }

    fn start_on(dir: &Path, tls: Option<(PathBuf, PathBuf)>) -> io::Result<Mosquitto> {
        let mut m = Mosquitto {
            child: None,
            port: free_port()?,
            dir: dir.to_path_buf(),
            tls,
        };
        m.launch()?;
        Ok(m)
    }

    pub fn url(&self) -> String {
        match self.tls {
            Some(_) => format!("mqtts://localhost:{}", self.port),
            None => format!("mqtt://127.0.0.1:{}", self.port),
        }
    }

    fn launch(&mut self) -> io::Result<()> {
        let conf = self.dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\n\
                 {tls}\
                 user {user}\n\
                 allow_anonymous true\n\
                 persistence true\n\
                 persistence_location {dir}/\n\
                 max_inflight_messages 1000\n\
                 max_queued_messages 1000000\n\
                 log_type error\n\
                 log_type warning\n\
                 log_dest file {dir}/mosquitto.log\n",
                port = self.port,
                tls = match &self.tls {
                    Some((cert, key)) =>
                        format!("certfile {}\nkeyfile {}\n", cert.display(), key.display()),
                    None => String::new(),
                },
                user = current_user(),
                dir = self.dir.display()
            ),
        )?;
        let child = Command::new(binary()?)
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).is_err() {
            if let Some(Some(status)) = self.child.as_mut().map(|c| c.try_wait()).transpose()? {
                return Err(io::Error::other(format!(
                    "mosquitto exited ({status}); see {}/mosquitto.log",
                    self.dir.display()
                )));
            }
            if Instant::now() > deadline {
                return Err(io::Error::other("mosquitto did not listen within 10 s"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Stops the broker the polite way (SIGTERM: it saves its sessions and
    /// queued messages to disk) and waits for it.
    pub fn stop(&mut self) -> io::Result<()> {
        if let Some(mut child) = self.child.take() {
            Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status()?;
            child.wait()?;
        }
        Ok(())
    }

    /// Starts it again on the same port with the same state.
    pub fn restart(&mut self) -> io::Result<()> {
        self.stop()?;
        self.launch()
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
