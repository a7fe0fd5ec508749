//! The scenarios a remote client may load by name: the built-ins, and the
//! files of one directory the server was given (`--scenario-dir`).
//!
//! A name from a request is hostile: it may be an absolute path, climb out
//! with `..`, or go through a symbolic link. A file is loaded only when its
//! canonical path lies inside the canonical directory. What goes back to the
//! client never quotes a file: a file that does not parse is reported by
//! name and position, and the whole reason is kept for the server's log.

use std::path::{Component, Path, PathBuf};

use crate::spec::Scenario;

/// Longest scenario name a request may carry.
pub const MAX_NAME: usize = 256;

/// Where loadable scenario files live (none: built-ins only).
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    dir: Option<PathBuf>,
}

/// A refused load: what the client is told, and what only the log gets.
#[derive(Debug)]
pub struct Refused {
    pub reason: String,
    pub detail: Option<String>,
}

impl Refused {
    fn new(reason: impl Into<String>) -> Refused {
        Refused {
            reason: reason.into(),
            detail: None,
        }
    }
}

impl Catalog {
    /// A catalog of the built-ins and the `.toml` files under `dir`.
    pub fn new(dir: Option<&Path>) -> std::io::Result<Catalog> {
        let dir = dir.map(std::fs::canonicalize).transpose()?;
        if let Some(d) = &dir
            && !d.is_dir()
        {
            return Err(std::io::Error::other(format!(
                "{}: not a directory",
                d.display()
            )));
        }
        Ok(Catalog { dir })
    }

    /// Built-in names, then the directory's `.toml` files (sorted).
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = Scenario::builtin_names()
            .into_iter()
            .map(str::to_string)
            .collect();
        if let Some(dir) = &self.dir {
            let mut files: Vec<String> = std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.ends_with(".toml"))
                .collect();
            files.sort();
            names.extend(files);
        }
        names
    }

    /// The scenario `name` names: a built-in, or a file under the directory.
    pub fn load(&self, name: &str) -> Result<Scenario, Refused> {
        if name.is_empty() {
            return Err(Refused::new("no scenario given"));
        }
        if name.len() > MAX_NAME {
            return Err(Refused::new(format!(
                "a name of {} bytes; at most {MAX_NAME}",
                name.len()
            )));
        }
        if let Some(s) = Scenario::builtin(name) {
            return Ok(s);
        }
        let builtins = Scenario::builtin_names().join(", ");
        let Some(dir) = &self.dir else {
            return Err(Refused::new(format!(
                "`{name}` is not a built-in scenario ({builtins}); this server loads no \
                 scenario files (no --scenario-dir)"
            )));
        };
        let relative = Path::new(name);
        if !relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
        {
            return Err(Refused::new(format!(
                "`{name}`: a file name under the scenario directory is expected, not a path \
                 out of it"
            )));
        }
        let outside = || {
            Refused::new(format!(
                "`{name}` is neither a built-in scenario ({builtins}) nor a file of the \
                 scenario directory"
            ))
        };
        let path = std::fs::canonicalize(dir.join(relative)).map_err(|_| outside())?;
        if !path.starts_with(dir) || !path.is_file() {
            return Err(outside());
        }
        Scenario::load(&path).map_err(|e| Refused {
            reason: format!(
                "`{name}` is not a valid scenario{}; the server's log has the reason",
                position(&e.message)
            ),
            detail: Some(e.to_string()),
        })
    }
}

/// ", at line L, column C" when a parse error says where.
fn position(message: &str) -> String {
    let first = message.lines().next().unwrap_or("");
    match first.find("line ") {
        Some(i) => format!(", at {}", &first[i..]),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_built_ins_and_files_inside_the_directory_load() {
        let dir = tempfile::tempdir().unwrap();
        let none = Catalog::new(None).unwrap();
        assert!(none.load("factory").is_ok());
        let e = none.load("/etc/passwd").unwrap_err();
        assert!(e.reason.contains("no --scenario-dir"), "{}", e.reason);

        let inside = dir.path().join("scenarios");
        std::fs::create_dir(&inside).unwrap();
        std::fs::write(dir.path().join("secret.toml"), "password = \"hunter2\"\n").unwrap();
        std::fs::write(
            inside.join("broken.toml"),
            "name = \"x\"\npassword = \"hunter2\"\n",
        )
        .unwrap();
        // A scenario of its own (the factory names model files beside it).
        let text = std::fs::read_to_string("../data/scenarios/city.toml").unwrap();
        std::fs::write(inside.join("mine.toml"), &text).unwrap();
        let c = Catalog::new(Some(&inside)).unwrap();
        assert!(c.names().contains(&"mine.toml".to_string()));
        assert!(c.load("mine.toml").is_ok());
        for hostile in [
            "../secret.toml",
            "/etc/passwd",
            "sub/../../secret.toml",
            "nothing.toml",
        ] {
            let e = c.load(hostile).unwrap_err();
            assert!(!e.reason.contains("hunter2"), "{}", e.reason);
            assert!(e.detail.is_none(), "{hostile}");
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.path().join("secret.toml"), inside.join("link.toml"))
                .unwrap();
            assert!(c.load("link.toml").is_err());
        }
        let e = c.load("broken.toml").unwrap_err();
        assert!(!e.reason.contains("hunter2"), "{}", e.reason);
        assert!(e.reason.contains("line"), "{}", e.reason);
        assert!(e.detail.unwrap().contains("broken.toml"));
        let long = "a".repeat(MAX_NAME + 1);
        assert!(c.load(&long).unwrap_err().reason.contains("at most"));
    }
}
