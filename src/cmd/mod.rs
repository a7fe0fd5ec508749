//! One module per subcommand.

pub mod bench;
pub mod inspect;
pub mod replay;

/// Errors of the command line: a message for the user.
pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;
