//! budgie's one error type and the exit codes of DESIGN.md.
//!
//! Every failure a user can cause ends here as one message (what went wrong,
//! where), an optional hint (the next command to run), and an exit code.
//! Nothing in budgie panics on user input.

use std::fmt;

/// Exit codes, as the design contract fixes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Something failed.
    Error = 1,
    /// The command line was wrong.
    Usage = 2,
    /// Not confirmed, or refused (no terminal and no `--yes`).
    Refused = 3,
    /// A safety backup failed; nothing was deleted.
    BackupFailed = 4,
    /// Interrupted (Ctrl-C).
    Interrupted = 130,
}

/// A failure with a message for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub exit: Exit,
    pub message: String,
    pub hint: Option<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A general failure (exit 1).
    pub fn new(message: impl Into<String>) -> Self {
        Error {
            exit: Exit::Error,
            message: message.into(),
            hint: None,
        }
    }

    /// A usage error (exit 2): an unknown service, a bad option value.
    pub fn usage(message: impl Into<String>) -> Self {
        Error {
            exit: Exit::Usage,
            ..Error::new(message)
        }
    }

    /// Not confirmed or refused (exit 3).
    pub fn refused(message: impl Into<String>) -> Self {
        Error {
            exit: Exit::Refused,
            ..Error::new(message)
        }
    }

    /// Interrupted by the user (exit 130).
    pub fn interrupted() -> Self {
        Error {
            exit: Exit::Interrupted,
            ..Error::new("interrupted")
        }
    }

    /// Adds the next command the user could run.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Prefixes the message with where it happened.
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::new(e.to_string())
    }
}
