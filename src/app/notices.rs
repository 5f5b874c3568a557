//! Notices: the session's messages (warnings at start, failures of what
//! the operator asked for) and the one shown in the footer until the next
//! key. Each is logged once, as it is said.

/// How serious a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// For information.
    Info,
    /// Something is wrong but touban carries on.
    Warn,
    /// Something the operator asked for failed.
    Error,
}

/// A message for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// How serious.
    pub level: Level,
    /// What happened.
    pub text: String,
}

/// Words for the operator in English, for the log, and in the console's
/// language, shown: a message of the catalogues, or a phrase of one that
/// another message takes as an argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Said {
    /// In English.
    pub english: String,
    /// In the console's language.
    pub shown: String,
}

/// Every message of the session, and the footer's.
#[derive(Debug, Default)]
pub struct Notices {
    messages: Vec<Message>,
    status: Option<Message>,
}

impl Notices {
    /// Says something: logged, kept, and shown in the footer.
    pub fn say(&mut self, level: Level, text: String) {
        let logged = text.clone();
        self.say_shown(level, &logged, text);
    }

    /// Says something in two languages: `logged` (English) goes to the
    /// log, `shown` (the console's language) is kept and shown in the
    /// footer.
    pub fn say_shown(&mut self, level: Level, logged: &str, shown: String) {
        match level {
            Level::Info => tracing::info!("{logged}"),
            Level::Warn => tracing::warn!("{logged}"),
            Level::Error => tracing::error!("{logged}"),
        }
        let message = Message { level, text: shown };
        self.messages.push(message.clone());
        self.status = Some(message);
    }

    /// Keeps a message without showing it in the footer (start-up warnings).
    pub fn keep(&mut self, level: Level, text: String) {
        self.messages.push(Message { level, text });
    }

    /// Shows a message in the footer only.
    pub fn show(&mut self, level: Level, text: String) {
        self.status = Some(Message { level, text });
    }

    /// Clears the footer's message (a key was pressed).
    pub fn clear_status(&mut self) {
        self.status = None;
    }

    /// Every message, oldest first.
    pub fn messages(&self) -> &[Message] {
        &self.messages
    }

    /// The footer's message.
    pub fn status(&self) -> Option<&Message> {
        self.status.as_ref()
    }
}
