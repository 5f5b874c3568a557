//! Each pane's `/` filter: the text as typed and, once it is one, the
//! case-insensitive regex it compiles to (while it is not one yet, as it is
//! typed, the text is matched literally).

use std::collections::BTreeMap;

use crate::model::Pane;

/// The filters of every pane.
#[derive(Debug, Default)]
pub struct Filters {
    text: BTreeMap<Pane, String>,
    compiled: BTreeMap<Pane, regex::Regex>,
}

impl Filters {
    /// Sets a pane's filter; empty clears it.
    pub fn set(&mut self, pane: Pane, text: String) {
        if text.is_empty() {
            self.text.remove(&pane);
            self.compiled.remove(&pane);
            return;
        }
        let regex = regex::RegexBuilder::new(&text)
            .case_insensitive(true)
            .build()
            .or_else(|_| {
                regex::RegexBuilder::new(&regex::escape(&text))
                    .case_insensitive(true)
                    .build()
            });
        match regex {
            Ok(r) => {
                self.compiled.insert(pane, r);
            }
            Err(_) => {
                self.compiled.remove(&pane);
            }
        }
        self.text.insert(pane, text);
    }

    /// A pane's filter, as typed.
    pub fn get(&self, pane: Pane) -> Option<&str> {
        self.text.get(&pane).map(String::as_str)
    }

    /// Whether `text` passes the pane's filter.
    pub fn matches(&self, pane: Pane, text: &str) -> bool {
        match (self.text.get(&pane), self.compiled.get(&pane)) {
            (None, _) => true,
            (Some(_), Some(r)) => r.is_match(text),
            (Some(f), None) => text.contains(f.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_is_a_case_insensitive_regex_or_literal_text() {
        let mut f = Filters::default();
        assert!(f.matches(Pane::Cluster, "anything"));
        f.set(Pane::Cluster, "BACKEND-.*-blue".into());
        assert!(f.matches(Pane::Cluster, "backend-api-blue"));
        assert!(!f.matches(Pane::Cluster, "backend-api-green"));
        assert!(f.matches(Pane::Alerts, "other panes are unfiltered"));
        f.set(Pane::Cluster, "api(".into());
        assert!(f.matches(Pane::Cluster, "x-api(y"), "not a regex: literal");
        f.set(Pane::Cluster, String::new());
        assert_eq!(f.get(Pane::Cluster), None);
    }
}
