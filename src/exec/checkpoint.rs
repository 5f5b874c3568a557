//! Checkpoints: a job that changes a cluster leaves one file in the state
//! directory while it runs (`jobs/<session>-<id>.json`, 0600, in a 0700
//! directory). The file goes when the job succeeds, or when the operator
//! forgets it; a console that dies leaves it behind, and the next console
//! finds it at its start and offers the job for resume. Resuming converges
//! (each step checks whether its effect is already there), so a job found
//! again never doubles work.
//!
//! While its job runs, the console holds an exclusive lock on the file
//! (`flock`, released by the system when the process dies): a second
//! console started meanwhile on the same state directory leaves a running
//! job alone instead of offering it as interrupted.
//!
//! A checkpoint names the world it belongs to: the API server's URL and
//! the cluster's uid (the `kube-system` namespace's, the usual cluster
//! id). One from another world (a demo's, a rebuilt cluster's) is never
//! resumed against this one.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::step::Job;

/// Which cluster a checkpoint belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct World {
    /// The API server's URL, when the client knows it.
    pub server: Option<String>,
    /// The cluster's uid: the `kube-system` namespace's `metadata.uid`
    /// (unknown when the credentials may not read it).
    pub uid: Option<String>,
}

impl std::fmt::Display for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let uid = self.uid.as_deref().unwrap_or("unknown");
        match &self.server {
            Some(server) => write!(f, "{server} (cluster uid {uid})"),
            None => write!(f, "cluster uid {uid}"),
        }
    }
}

/// A job as it was confirmed, where it runs, and by whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The job's key (`session/id`): its Lease names it, so a resume takes
    /// back its own Lease at once.
    pub key: String,
    /// The operator who confirmed it.
    pub operator: String,
    /// When it started (RFC 3339, UTC).
    pub started: String,
    /// The target's world.
    pub world: World,
    /// The job: its plan (reason included) and its operations.
    pub job: Job,
}

/// The directory of checkpoints.
#[derive(Debug)]
pub struct Checkpoints {
    dir: PathBuf,
}

/// A checkpoint being written by a running job: its file, locked until
/// this is dropped.
#[derive(Debug)]
pub struct Held(#[allow(dead_code)] std::fs::File);

/// A checkpoint that could not be read, and why.
#[derive(Debug)]
pub struct Unreadable {
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub why: String,
}

impl Checkpoints {
    /// Checkpoints kept in `dir` (created 0700 when first written).
    pub fn new(dir: impl Into<PathBuf>) -> Checkpoints {
        Checkpoints { dir: dir.into() }
    }

    /// Where they are kept.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, key: &str) -> PathBuf {
        let file: String = key
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        self.dir.join(format!("{file}.json"))
    }

    /// Writes (or replaces) the checkpoint of its job, flushed to disk (a
    /// console killed right after finds it), and locks it for as long as
    /// the job holds what is returned. A checkpoint another console holds
    /// locked is not replaced: that console runs the job now.
    pub fn save(&self, checkpoint: &Checkpoint) -> io::Result<Held> {
        crate::logging::private_dir(&self.dir)?;
        let text = serde_json::to_vec_pretty(checkpoint).map_err(io::Error::other)?;
        let path = self.path(&checkpoint.key);
        if let Ok(existing) = std::fs::File::open(&path)
            && let Err(std::fs::TryLockError::WouldBlock) = existing.try_lock()
        {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "another console on this machine runs this job now",
            ));
        }
        let partial = path.with_extension("json.partial");
        let mut file = crate::logging::private_file(&partial)?;
        file.set_len(0)?;
        file.write_all(&text)?;
        file.sync_data()?;
        // A rename replaces it whole: a crash mid-write leaves the old one.
        std::fs::rename(&partial, &path)?;
        let held = std::fs::File::open(&path)?;
        held.try_lock().map_err(|e| match e {
            std::fs::TryLockError::WouldBlock => io::Error::new(
                io::ErrorKind::WouldBlock,
                "another console on this machine took this job just now",
            ),
            std::fs::TryLockError::Error(e) => e,
        })?;
        Ok(Held(held))
    }

    /// Removes the checkpoint of the job `key`, if there is one.
    pub fn remove(&self, key: &str) -> io::Result<()> {
        match std::fs::remove_file(self.path(key)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Every checkpoint left, oldest first, and the files that are not
    /// checkpoints (cut by a full disk, written by another version).
    pub fn load(&self) -> (Vec<Checkpoint>, Vec<Unreadable>) {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return (Vec::new(), Vec::new()),
            Err(e) => {
                return (
                    Vec::new(),
                    vec![Unreadable {
                        path: self.dir.clone(),
                        why: e.to_string(),
                    }],
                );
            }
        };
        let mut found = Vec::new();
        let mut unreadable = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "partial") {
                // Cut by a crash before its rename: the whole one stands.
                let _ = std::fs::remove_file(&path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            // Locked: a console running now holds it.
            let busy = std::fs::File::open(&path)
                .is_ok_and(|f| matches!(f.try_lock(), Err(std::fs::TryLockError::WouldBlock)));
            if busy {
                continue;
            }
            let read = std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice::<Checkpoint>(&b).map_err(|e| e.to_string()));
            match read {
                Ok(c) => found.push(c),
                Err(why) => unreadable.push(Unreadable { path, why }),
            }
        }
        found.sort_by(|a, b| a.started.cmp(&b.started).then_with(|| a.key.cmp(&b.key)));
        (found, unreadable)
    }
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::exec::step::Op;
    use crate::model::action::{ActionKind, ActionRequest, ObjectKind, Target};
    use crate::model::plan::Plan;

    fn checkpoint(key: &str) -> Checkpoint {
        let request = ActionRequest {
            kind: ActionKind::Scale { replicas: 10 },
            target: Target {
                region: "tokyo".into(),
                cluster: "eks-tokyo".into(),
                namespace: "iworkz-production".into(),
                kind: ObjectKind::Deployment,
                name: "web-frontend-blue".into(),
            },
            dry_run: false,
        };
        Checkpoint {
            key: key.into(),
            operator: "aiko@bastion-1".into(),
            started: jiff::Timestamp::now().to_string(),
            world: World {
                server: Some("https://127.0.0.1:6443".into()),
                uid: Some("0a1b".into()),
            },
            job: Job {
                plan: Plan {
                    request,
                    title: "scale web-frontend-blue from 4 to 10".into(),
                    steps: Vec::new(),
                    confirm_text: None,
                    undo: Some("scale back to 4".into()),
                    reason: Some("INC-42 load".into()),
                    changes: vec!["web-frontend-blue: spec.replicas 4 → 10".into()],
                    dry_run: None,
                    undo_request: None,
                    reverts: None,
                    lease: None,
                    lease_override: None,
                },
                ops: vec![
                    Op::ExpectReplicas { replicas: 4 },
                    Op::Scale {
                        replicas: 10,
                        from: 4,
                    },
                ],
                access: Vec::new(),
            },
        }
    }

    #[test]
    fn a_checkpoint_is_found_again_whole_and_private_until_removed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Checkpoints::new(dir.path().join("jobs"));
        let c = checkpoint("20261202T100000Z-41/3");
        let held = store.save(&c).expect("save");
        assert!(
            store.save(&c).is_err(),
            "held by a running job: not replaced"
        );
        assert!(store.load().0.is_empty(), "a running job is not found");
        drop(held);
        drop(store.save(&c).expect("saved again once given back"));
        std::fs::write(dir.path().join("jobs/cut.json"), b"{\"key\": ").expect("write");
        std::fs::write(dir.path().join("jobs/x.json.partial"), b"{").expect("write");
        let (found, unreadable) = store.load();
        assert_eq!(found, vec![c.clone()]);
        assert_eq!(unreadable.len(), 1, "{unreadable:?}");
        assert!(!dir.path().join("jobs/x.json.partial").exists(), "cleared");
        let path = store.path(&c.key);
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{path:?}");
        let mode = std::fs::metadata(store.dir())
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        store.remove(&c.key).expect("remove");
        store.remove(&c.key).expect("removing twice is no error");
        assert!(store.load().0.is_empty());
    }
}
