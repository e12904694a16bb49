//! One error type for the whole tool. Every error says what went wrong, where (file, line and
//! column, step, row or key) and, when we know it, how to fix it.

use std::fmt;

/// Whether the user can fix the error by changing their input (exit code 2) or the run itself
/// failed (exit code 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad manifest, data file, parameter or command line: exit code 2.
    Input,
    /// The input was fine but the run failed (I/O, numerical breakdown, internal error): exit 1.
    Run,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Error {
    pub kind: ErrorKind,
    /// Where: `file:line:col`, `file`, `step \`kmeans\``, … Empty when it adds nothing.
    pub location: Option<String>,
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn input(message: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::Input,
            location: None,
            message: message.into(),
            hint: None,
        }
    }

    pub fn run(message: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::Run,
            location: None,
            message: message.into(),
            hint: None,
        }
    }

    /// Sets the location unless a more precise one is already known.
    pub fn at(mut self, location: impl Into<String>) -> Self {
        if self.location.is_none() {
            self.location = Some(location.into());
        }
        self
    }

    /// Prefixes the location with an outer context, e.g. the step that ran the failing code.
    pub fn within(mut self, outer: impl Into<String>) -> Self {
        let outer = outer.into();
        self.location = Some(match self.location.take() {
            Some(inner) => format!("{outer}: {inner}"),
            None => outer,
        });
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self.kind {
            ErrorKind::Input => 2,
            ErrorKind::Run => 1,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(location) = &self.location {
            write!(f, "{location}: ")?;
        }
        write!(f, "{}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  help: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}
