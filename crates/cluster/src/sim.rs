//! An in-memory Slurm that takes [`Action`]s the way slurmctld takes our commands, for the
//! comparison's tests and its benchmark (which count the calls a change costs). It holds
//! only what mirroring reads; the real Slurm is what the tests in `tests/slurm.rs` drive.

use std::collections::BTreeSet;

use chrono::NaiveDateTime;

use crate::mirror::{Action, Plan};
use crate::slurm::{Job, JobState, Reservation};

#[derive(Debug, Clone, Default)]
pub struct Sim {
    pub reservations: Vec<Reservation>,
    pub jobs: Vec<Job>,
    /// (job id, begin) of each job, for [`Sim::advance`].
    begins: Vec<(u64, NaiveDateTime)>,
    next_id: u64,
    /// Commands run so far: one per action, plus the two listings of each [`Sim::list`].
    pub calls: usize,
    /// Every command refused, with why.
    pub refused: Vec<String>,
}

impl Sim {
    /// What a run of mirroring lists (two calls: reservations, jobs).
    pub fn list(&mut self) -> (Vec<Reservation>, Vec<Job>) {
        self.calls += 2;
        (self.reservations.clone(), self.jobs.clone())
    }

    /// Starts the jobs whose begin came, ends those past their limit or their
    /// reservation's end, and activates or ends reservations, as Slurm would by `now`.
    pub fn advance(&mut self, now: NaiveDateTime) {
        let ended: BTreeSet<String> = self
            .reservations
            .iter()
            .filter(|r| r.end <= now)
            .map(|r| r.name.clone())
            .collect();
        self.reservations.retain(|r| r.end > now);
        for r in &mut self.reservations {
            r.active = r.start <= now;
        }
        let begins = self.begins.clone();
        self.jobs.retain(|j| {
            let over = j.state == JobState::Running
                && j.start.zip(j.limit).is_some_and(|(s, l)| s + l <= now);
            !over && !ended.contains(&j.reservation)
        });
        for j in &mut self.jobs {
            if j.state == JobState::Pending && !j.held {
                if let Some((_, begin)) = begins.iter().find(|(id, _)| *id == j.id) {
                    if *begin <= now {
                        j.state = JobState::Running;
                        j.start = Some(now);
                    }
                }
            }
        }
    }

    /// Runs the actions of `plan` at `now`, in order, as [`crate::mirror::apply`] does.
    pub fn apply(&mut self, plan: &Plan, now: NaiveDateTime) {
        let mut release = Vec::new();
        for a in &plan.actions {
            self.calls += 1;
            match a {
                Action::CancelJob { id, name } => {
                    self.jobs.retain(|j| j.id != *id || j.name != *name)
                }
                Action::DeleteReservation { name } => {
                    if self
                        .jobs
                        .iter()
                        .any(|j| j.reservation == *name && j.state == JobState::Running)
                    {
                        self.refused.push(format!("{name} is in use"));
                    } else {
                        self.reservations.retain(|r| r.name != *name);
                        self.jobs.retain(|j| j.reservation != *name);
                    }
                }
                Action::UpdateReservation {
                    name,
                    start,
                    end,
                    users,
                } => {
                    let Some(i) = self.reservations.iter().position(|r| r.name == *name) else {
                        self.refused.push(format!("no reservation {name}"));
                        continue;
                    };
                    let mut r = self.reservations[i].clone();
                    if let Some(s) = start {
                        r.start = *s;
                    }
                    if let Some(e) = end {
                        r.end = *e;
                    }
                    if let Some(u) = users {
                        r.users = u.iter().cloned().collect();
                    }
                    if self.overlaps(&r, Some(i)) {
                        self.refused.push(format!("{name} would overlap"));
                    } else {
                        self.reservations[i] = r;
                    }
                }
                Action::CreateReservation { name, spec } => {
                    let r = Reservation {
                        name: name.clone(),
                        start: spec.start.max(now),
                        end: spec.end,
                        nodes: spec.node.clone(),
                        cores: spec.cores,
                        users: spec.users.iter().cloned().collect(),
                        licenses: spec
                            .license
                            .as_ref()
                            .map(|(l, n)| format!("{l}:{n}"))
                            .unwrap_or_default(),
                        active: spec.start <= now,
                    };
                    if self.overlaps(&r, None) {
                        self.refused.push(format!("{name} would overlap"));
                    } else {
                        self.reservations.push(r);
                    }
                }
                Action::SetLimit { id, limit } => {
                    if let Some(j) = self.jobs.iter_mut().find(|j| j.id == *id) {
                        j.limit = Some(crate::mirror::limit_for(*limit));
                    }
                }
                Action::Submit(spec) => {
                    if !self.reservations.iter().any(|r| r.name == spec.reservation) {
                        self.refused
                            .push(format!("no reservation {}", spec.reservation));
                        continue;
                    }
                    self.next_id += 1;
                    let begin = spec.start.max(now);
                    self.jobs.push(Job {
                        id: self.next_id,
                        state: JobState::Pending,
                        user: spec.unix_user.clone(),
                        reservation: spec.reservation.clone(),
                        held: true,
                        start: Some(begin),
                        limit: Some(crate::mirror::limit_for(spec.end - begin)),
                        nodes: String::new(),
                        name: spec.name.clone(),
                    });
                    self.begins.push((self.next_id, begin));
                    release.push(self.next_id);
                }
                Action::Release { id, .. } => {
                    self.calls -= 1;
                    release.push(*id);
                }
                Action::ReadGpus { .. } => {}
            }
        }
        for id in release {
            self.calls += 1;
            if let Some(j) = self.jobs.iter_mut().find(|j| j.id == id) {
                j.held = false;
            }
        }
    }

    /// Whether `r` shares time with another reservation on its node (Slurm refuses ours,
    /// which hold the node's bookable cores).
    fn overlaps(&self, r: &Reservation, skip: Option<usize>) -> bool {
        self.reservations.iter().enumerate().any(|(i, o)| {
            Some(i) != skip && o.nodes == r.nodes && o.start < r.end && r.start < o.end
        })
    }

    /// A job submitted as if by someone else (a name without our prefix, or a held one of
    /// ours a killed monitor left unrecorded).
    pub fn add_job(&mut self, job: Job) {
        self.next_id = self.next_id.max(job.id);
        if let Some(begin) = job.start {
            self.begins.push((job.id, begin));
        }
        self.jobs.push(job);
    }
}
