//! The Rollouts pane's state: the revision chosen in the selected
//! deployment's revision list, what `u` rolls it back to.

use crate::model::rollout::{self, SHOWN_REVISIONS};
use crate::model::{Command, Pane};

use super::super::App;

/// What the Rollouts pane remembers.
#[derive(Debug, Default)]
pub struct RolloutsPane {
    /// The revision chosen, with the deployment it is of
    /// (`cluster/namespace/name`): another selection forgets it.
    revision: Option<(String, u32)>,
}

impl App {
    /// The Rollouts pane's own commands; whether `command` was one.
    pub(in crate::app) fn rollouts_command(&mut self, command: &Command) -> bool {
        let older = match command {
            Command::OlderRevision => true,
            Command::NewerRevision => false,
            _ => return false,
        };
        if self.focus == Pane::Rollouts {
            self.pick_revision(older);
        }
        true
    }

    /// The selected deployment's key and its revisions shown, newest
    /// first, with the current one.
    fn shown_revisions(&self) -> Option<(String, Vec<u32>, Option<u32>)> {
        let rows = self.rollout_rows();
        let (cluster, d) = rows.get(self.cursor(Pane::Rollouts))?;
        let state = self.store.cluster(cluster)?;
        let revisions = rollout::revisions(state, d)
            .into_iter()
            .filter_map(|r| r.revision)
            .take(SHOWN_REVISIONS)
            .collect();
        Some((
            format!("{cluster}/{}/{}", d.namespace, d.name),
            revisions,
            d.revision,
        ))
    }

    /// Moves the choice one revision older or newer (from the current one
    /// when none is chosen), within the revisions shown.
    fn pick_revision(&mut self, older: bool) {
        let Some((key, revisions, current)) = self.shown_revisions() else {
            return;
        };
        let from = self
            .picked_revision()
            .or(current)
            .and_then(|r| revisions.iter().position(|x| *x == r));
        let at = match (from, older) {
            (None, _) => 0,
            (Some(i), true) => (i + 1).min(revisions.len().saturating_sub(1)),
            (Some(i), false) => i.saturating_sub(1),
        };
        self.panes.rollouts.revision = revisions.get(at).map(|r| (key, *r));
    }

    /// The revision chosen for the selected deployment, if one is.
    pub fn picked_revision(&self) -> Option<u32> {
        let rows = self.rollout_rows();
        let (cluster, d) = rows.get(self.cursor(Pane::Rollouts))?;
        self.picked_revision_of(cluster, d)
    }

    /// The revision chosen for `d` of `cluster`, if it is the one chosen
    /// for (what the pane draws, without listing its rows again).
    pub fn picked_revision_of(
        &self,
        cluster: &str,
        d: &crate::model::cluster::DeploymentRow,
    ) -> Option<u32> {
        let (key, revision) = self.panes.rollouts.revision.as_ref()?;
        (*key == format!("{cluster}/{}/{}", d.namespace, d.name)).then_some(*revision)
    }
}
