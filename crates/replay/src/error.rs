//! The one error type of every parser.

/// Why an input could not be read. Every variant's message says what is
/// wrong in words a person fixing the file understands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// One line is wrong. `line` is 1-based, counted in the caller's text
    /// (after any byte-order mark); `message` names the field and the
    /// problem, e.g. `messages[1].at: missing`.
    #[error("line {line}: {message}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Chat export: the business name given in the options never sends a
    /// message. `senders` lists who does, in order of first appearance.
    #[error(
        "the business {name:?} never sends a message in this chat; senders are: {}",
        senders.join(", ")
    )]
    BusinessNotFound {
        /// The name asked for.
        name: String,
        /// The names that do send messages.
        senders: Vec<String>,
    },
    /// Chat export: which sender is the business cannot be decided from the
    /// chat alone. `reason` says why; `senders` lists every sender.
    #[error(
        "cannot tell which sender is the business ({reason}); pass --business NAME with one of: {}",
        senders.join(", ")
    )]
    BusinessAmbiguous {
        /// Why detection failed.
        reason: String,
        /// Every sender, in order of first appearance.
        senders: Vec<String>,
    },
    /// The input holds no conversation at all (empty file, or a text that is
    /// not in the expected format). The message says what was looked for.
    #[error("{0}")]
    Empty(String),
}

impl FormatError {
    /// Shorthand for [`FormatError::Line`].
    pub(crate) fn line(line: usize, message: impl Into<String>) -> Self {
        Self::Line {
            line,
            message: message.into(),
        }
    }
}
