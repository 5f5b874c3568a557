//! Errors in configuration files, located to file, line and column, with
//! the offending line quoted, so the operator can fix the file at once.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

/// A problem at a place in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The file, as the operator knows it (a path, or `built-in theme "x"`).
    pub file: String,
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub col: usize,
    /// What is wrong and what is expected.
    pub message: String,
    /// The text of the offending line.
    pub line_text: String,
}

impl Located {
    /// Locates byte offset `span.start` of `src` (or the end of the file).
    pub fn at(
        file: &str,
        src: &str,
        span: Option<Range<usize>>,
        message: impl Into<String>,
    ) -> Located {
        let offset = span.map_or(src.len(), |s| s.start.min(src.len()));
        let before = &src[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = src[line_start..offset].chars().count() + 1;
        let line_text = super::secret::mask_line(src[line_start..].lines().next().unwrap_or(""));
        Located {
            file: file.to_owned(),
            line,
            col,
            message: message.into().trim_end().to_owned(),
            line_text,
        }
    }

    /// The `file:line:col` prefix.
    pub fn position(&self) -> String {
        format!("{}:{}:{}", self.file, self.line, self.col)
    }
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}: {}", self.position(), self.message)?;
        let gutter = self.line.to_string().len();
        writeln!(f, "{:gutter$} |", "")?;
        writeln!(f, "{} | {}", self.line, self.line_text)?;
        write!(f, "{:gutter$} | {:>col$}", "", "^", col = self.col)
    }
}

/// Why configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file was read but is wrong.
    #[error("{0}")]
    Invalid(Box<Located>),
    /// A command-line option's value is wrong (no file to point into).
    #[error("{flag}: {message}")]
    Option {
        /// The option, e.g. `--theme`.
        flag: &'static str,
        /// What is wrong and what would be right.
        message: String,
    },
}

impl From<Located> for ConfigError {
    fn from(l: Located) -> ConfigError {
        ConfigError::Invalid(Box::new(l))
    }
}

/// Parses TOML into `T`, locating any syntax or shape error.
pub fn parse_toml<T: serde::de::DeserializeOwned>(file: &str, src: &str) -> Result<T, Located> {
    toml::from_str(src).map_err(|e| Located::at(file, src, e.span(), e.message()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_line_and_column_in_characters() {
        let src = "a = 1\n名前 = \"x\"\nb = 2\n";
        let offset = src.rfind("\"x\"").expect("in the source");
        let l = Located::at("f.toml", src, Some(offset..offset + 1), "bad");
        assert_eq!((l.line, l.col), (2, 6));
        assert_eq!(l.line_text, "名前 = \"x\"");
        assert_eq!(
            l.to_string(),
            "f.toml:2:6: bad\n  |\n2 | 名前 = \"x\"\n  |      ^"
        );
    }
}
