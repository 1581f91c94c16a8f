//! What is wrong with an installation's state as it stands (`problems` in docs/file-formats.md): each
//! problem has a severity, a stable code, a message, and the file and line it is about.

use std::collections::HashMap;
use std::path::Path;

use hostinfo::schedule::{self, Row};
use serde::{Deserialize, Serialize};

use crate::limits::user_max;
use crate::rules::{self, PORT_RANGE};
use crate::snapshot::{Snapshot, TableRow};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub severity: Severity,
    /// Stable, for scripts: see docs/file-formats.md.
    pub code: String,
    pub message: String,
    pub file: String,
    pub line: Option<u64>,
}

struct Found<'s> {
    snapshot: &'s Snapshot,
    problems: Vec<Problem>,
}

impl Found<'_> {
    fn add(
        &mut self,
        severity: Severity,
        code: &str,
        file: &Path,
        line: Option<u64>,
        message: String,
    ) {
        self.problems.push(Problem {
            severity,
            code: code.into(),
            message,
            file: self.snapshot.display_path(file),
            line,
        });
    }

    fn on_row(&mut self, severity: Severity, code: &str, row: &TableRow, message: String) {
        let file = self.snapshot.root.schedule_path(row.table);
        self.add(severity, code, &file, Some(row.line), message);
    }
}

fn short(t: chrono::NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

/// Every problem of the snapshot, errors first, then by file and line.
pub fn find(snapshot: &Snapshot) -> Vec<Problem> {
    let mut f = Found {
        snapshot,
        problems: Vec::new(),
    };
    config_problems(&mut f);
    template_problems(&mut f);
    row_problems(&mut f);
    overcommit(&mut f);
    policy_breaks(&mut f);
    gpu_double_booking(&mut f);
    user_overlaps(&mut f);
    shared_ports(&mut f);
    failing_starts(&mut f);
    waitlist_problems(&mut f);
    slurm_jobs_problems(&mut f);
    read_unlocked(&mut f);
    let mut problems = f.problems;
    problems.sort_by(|a, b| (a.severity, &a.file, a.line).cmp(&(b.severity, &b.file, b.line)));
    problems
}

/// How far the configured memory may pass what `/proc/meminfo` counts: the kernel keeps a
/// part of the installed RAM out of `MemTotal`, so a host described by its installed GB
/// is not flagged.
const MEMORY_SLACK: f64 = 0.05;

/// The host capacity of `capability_config.yaml` held against what this machine has:
/// its CPUs, its RAM and swap, and — when NVML answers (`nvml_gpus`) — its GPUs. More
/// configured than there is lets students book what cannot run.
pub fn beyond_machine(
    snapshot: &Snapshot,
    machine: &hostinfo::machine::Machine,
    nvml_gpus: Option<u32>,
) -> Vec<Problem> {
    let mut f = Found {
        snapshot,
        problems: Vec::new(),
    };
    let max = &snapshot.config.capability.max;
    let path = snapshot.config.capability_path.clone();
    let gb = |x: f64| format!("{:.1}", x).trim_end_matches(".0").to_string();
    let mut beyond = |what: String| {
        f.add(
            Severity::Warning,
            "capacity_beyond_machine",
            &path,
            None,
            format!("{what}: bookings can be accepted that this machine cannot run"),
        )
    };
    if max.cpus > f64::from(machine.cpus) + 1e-9 {
        beyond(format!(
            "max.cpus is {}, but this machine has {} CPUs",
            max.cpus, machine.cpus
        ));
    }
    let over = |configured: f64, has: f64| configured > has * (1.0 + MEMORY_SLACK) + 1e-9;
    if let Some(ram) = machine.ram_gb.filter(|&ram| over(max.ram, ram)) {
        beyond(format!(
            "max.ram is {} GB, but this machine has {} GB of RAM (/proc/meminfo)",
            max.ram,
            gb(ram)
        ));
    }
    if let Some(memory) = machine.memory_gb().filter(|&m| over(max.memory, m)) {
        beyond(format!(
            "max.memory is {} GB, but this machine has {} GB of RAM and swap (/proc/meminfo)",
            max.memory,
            gb(memory)
        ));
    }
    if let Some(gpus) = nvml_gpus.filter(|&n| max.gpus > n) {
        beyond(format!(
            "max.gpus is {}, but NVML finds {gpus} GPUs on this machine",
            max.gpus
        ));
    }
    f.problems
}

/// A report read without the lock may have caught a booking half-written.
fn read_unlocked(f: &mut Found) {
    if let Some(why) = f.snapshot.unlocked.clone() {
        let lock = f.snapshot.root.lock_path();
        f.add(
            Severity::Warning,
            "read_without_lock",
            &lock,
            None,
            format!("{why}; the schedule was read without it and may be a moment out of date"),
        );
    }
}

fn config_problems(f: &mut Found) {
    let config = &f.snapshot.config;
    let cap = &config.capability;
    // What the limits are held against: the host, or on a cluster the whole cluster for a
    // group's total and the largest node for one booking (a booking lies on one node).
    let (whole, one, against) = match &config.cluster {
        None => {
            let host = [cap.max.cpus, cap.max.memory, f64::from(cap.max.gpus)];
            (host, host, ("the host's", "the host's"))
        }
        Some(cluster) => {
            let mut sum = [0.0; 3];
            let mut largest = [0.0f64; 3];
            for (_, n) in &cluster.nodes {
                let amounts = [f64::from(n.cpus), f64::from(n.memory), f64::from(n.gpus)];
                for k in 0..3 {
                    sum[k] += amounts[k];
                    largest[k] = largest[k].max(amounts[k]);
                }
            }
            (sum, largest, ("the cluster's", "the largest node's"))
        }
    };
    let cap_path = config.capability_path.clone();
    let users_path = config.users_path.clone();
    for id in &cap.allow_user_ids {
        if let Some(why) = rules::user_id_problem(id) {
            f.add(
                Severity::Error,
                "bad_user_id",
                &cap_path,
                None,
                format!("allow_userIDs: user id `{id}` {why}"),
            );
        }
    }
    for (id, _) in &cap.custom.0 {
        if !cap.allow_user_ids.contains(id) {
            f.add(
                Severity::Warning,
                "config",
                &cap_path,
                None,
                format!("max_custom_capability names `{id}`, who is not in allow_userIDs"),
            );
        }
    }
    for (name, group) in &cap.groups.0 {
        for id in group
            .members
            .iter()
            .filter(|id| !cap.allow_user_ids.contains(id))
        {
            f.add(
                Severity::Warning,
                "config",
                &cap_path,
                None,
                format!("group {name} lists `{id}`, who is not in allow_userIDs"),
            );
        }
        let total = group.total;
        for (field, value, host) in [
            ("cpus", total.cpus, whole[0]),
            ("memory", total.memory, whole[1]),
            ("gpus", total.gpus.map(f64::from), whole[2]),
        ] {
            if let Some(value) = value.filter(|v| *v > host + 1e-9) {
                let of = against.0;
                f.add(
                    Severity::Warning,
                    "config",
                    &cap_path,
                    None,
                    format!("group {name}'s total {field} is {value}, more than {of} {host}; {of} capacity binds first"),
                );
            }
        }
    }
    for id in cap
        .allow_user_ids
        .iter()
        .chain(cap.custom.0.iter().map(|(k, _)| k))
    {
        let max = user_max(cap, id);
        for (field, value, host) in [
            ("cpus", max.cpus, one[0]),
            ("memory", max.memory, one[1]),
            ("gpus", f64::from(max.gpus), one[2]),
        ] {
            if value > host + 1e-9 {
                let of = against.1;
                f.add(
                    Severity::Warning,
                    "config",
                    &cap_path,
                    None,
                    format!("`{id}` may book {field} {value}, more than {of} {host}"),
                );
            }
        }
    }
    // The users file holds every password: only its owner may read it.
    if let Ok(meta) = std::fs::metadata(&users_path) {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            f.add(
                Severity::Warning,
                "users_config_readable",
                &users_path,
                None,
                format!(
                    "is mode {mode:04o}: others can read the users' secrets in it (chmod 0600; scripts/setup.sh does)"
                ),
            );
        }
    }
    let mut port_owner: HashMap<u16, &str> = HashMap::new();
    for (id, user) in config.users.iter() {
        if let Some(why) = rules::user_id_problem(id) {
            f.add(
                Severity::Error,
                "bad_user_id",
                &users_path,
                None,
                format!("user id `{id}` {why}"),
            );
        }
        if !PORT_RANGE.contains(&user.forward_port) {
            f.add(
                Severity::Error,
                "bad_port",
                &users_path,
                None,
                format!(
                    "`{id}` forwards port {}, outside {}..{}",
                    user.forward_port,
                    PORT_RANGE.start(),
                    PORT_RANGE.end()
                ),
            );
        }
        if let Some(other) = port_owner.insert(user.forward_port, id) {
            f.add(
                Severity::Error,
                "port_shared",
                &users_path,
                None,
                format!(
                    "`{other}` and `{id}` both forward port {}",
                    user.forward_port
                ),
            );
        }
        if !rules::image_allowed(&config.host, user.image.as_deref()) {
            f.add(
                Severity::Warning,
                "image_not_allowed",
                &users_path,
                None,
                format!(
                    "`{id}` defaults to image `{}`, which is not in host_deploy.yaml",
                    user.image.as_deref().unwrap_or("")
                ),
            );
        }
    }
}

/// A template `backup.yaml` that does not load (found where either layout keeps it) is
/// copied into every new user's backup folder, whose start then mounts none of it.
fn template_problems(f: &mut Found) {
    let Some(template) = f.snapshot.root.backup_template() else {
        return;
    };
    if let Err(e) = hostinfo::config::BackupSpec::load(&template) {
        f.add(
            Severity::Warning,
            "backup_template",
            &template,
            None,
            format!("{e}; new users' backup folders get this file, and their containers start without its entries"),
        );
    }
}

fn row_problems(f: &mut Found) {
    let s = f.snapshot;
    let config = &s.config;
    let gpu_count = config.capability.max.gpus;
    // Looked up once per user rather than once per row.
    let allowed: std::collections::HashSet<&str> = config
        .capability
        .allow_user_ids
        .iter()
        .map(String::as_str)
        .collect();
    let configured: std::collections::HashSet<&str> =
        config.users.iter().map(|(id, _)| id).collect();
    let mut maxes: HashMap<&str, crate::limits::UserMax> = HashMap::new();
    for tr in &s.rows {
        let r = &tr.row;
        if let Some(why) = rules::user_id_problem(&r.user_id) {
            f.on_row(
                Severity::Error,
                "bad_user_id",
                tr,
                format!("user id `{}` {why}", r.user_id),
            );
        }
        // What the monitor refuses to start (off the grid, backwards, over 14 days, below
        // the minimums): one problem per code, so an off-grid start and end are one.
        let mut seen: Vec<&str> = Vec::new();
        for p in schedule::row_problems(r) {
            if !seen.contains(&p.code()) {
                seen.push(p.code());
                f.on_row(
                    Severity::Error,
                    p.code(),
                    tr,
                    format!("{}: {p}", p.column()),
                );
            }
        }
        if !allowed.contains(r.user_id.as_str()) {
            f.on_row(
                Severity::Warning,
                "user_not_allowed",
                tr,
                format!("`{}` is not in allow_userIDs", r.user_id),
            );
        }
        if !configured.contains(r.user_id.as_str()) {
            f.on_row(Severity::Error, "unknown_user", tr, format!("`{}` has no entry in users_config.yaml; the monitor cannot start the container", r.user_id));
        }
        if !PORT_RANGE.contains(&r.forward_port) {
            f.on_row(
                Severity::Error,
                "bad_port",
                tr,
                format!(
                    "forward port {} is outside {}..{}",
                    r.forward_port,
                    PORT_RANGE.start(),
                    PORT_RANGE.end()
                ),
            );
        }
        if !rules::image_allowed(&config.host, r.image.as_deref()) {
            f.on_row(
                Severity::Error,
                "image_not_allowed",
                tr,
                format!(
                    "image `{}` is not in host_deploy.yaml",
                    r.image.as_deref().unwrap_or("")
                ),
            );
        }
        match &config.cluster {
            None => {
                if let Some(id) = r.gpus.ids().iter().find(|id| **id >= gpu_count) {
                    f.on_row(
                        Severity::Error,
                        "gpu_out_of_range",
                        tr,
                        format!("GPU {id} does not exist (the host has {gpu_count})"),
                    );
                }
            }
            Some(cluster) => match r.node.as_deref().map(|n| (n, cluster.node(n))) {
                Some((n, Some(node))) => {
                    if let Some(id) = r.gpus.ids().iter().find(|id| **id >= node.gpus) {
                        f.on_row(
                            Severity::Error,
                            "gpu_out_of_range",
                            tr,
                            format!("GPU {id} does not exist on {n} (it has {})", node.gpus),
                        );
                    }
                }
                // Counted on no node: the capacity checks cannot see it.
                Some((n, None)) => f.on_row(
                    Severity::Error,
                    "unknown_node",
                    tr,
                    format!(
                        "node: `{n}` is not in cfg/cluster.yaml (its nodes are {})",
                        cluster.node_names().collect::<Vec<_>>().join(", ")
                    ),
                ),
                None => f.on_row(
                    Severity::Error,
                    "unknown_node",
                    tr,
                    "node: the row names no node, and cfg/cluster.yaml makes this a cluster; it runs nowhere and counts against no node".to_string(),
                ),
            },
        }
        let max = *maxes
            .entry(r.user_id.as_str())
            .or_insert_with(|| user_max(&config.capability, &r.user_id));
        if r.cpus > max.cpus + 1e-9
            || f64::from(r.memory) > max.memory + 1e-9
            || r.gpus.len() as u32 > max.gpus
        {
            f.on_row(
                Severity::Warning,
                "over_user_max",
                tr,
                format!(
                    "`{}` books more than their maximum (cpus {} memory {} gpus {})",
                    r.user_id, max.cpus, max.memory, max.gpus
                ),
            );
        }
    }
}

/// Where the host, or a group's total, is over as the schedule stands: an admin who
/// lowered a capacity or a total leaves accepted bookings that no longer fit. The monitor
/// still starts them; the report says so.
fn overcommit(f: &mut Found) {
    let s = f.snapshot;
    let cap = &s.config.capability;
    let jobs = s.root.jobs_dir();
    let rows = s.rows.iter().map(|tr| &tr.row);
    for over in crate::capacity::all_over(cap, s.config.cluster.as_ref(), rows) {
        let name = over.resource;
        let (code, whose) = match &over.scope {
            crate::capacity::ScopeName::Host => (format!("overcommit_{name}"), String::new()),
            crate::capacity::ScopeName::Node(n) => {
                (format!("node_overcommit_{name}"), format!("node {n}'s "))
            }
            crate::capacity::ScopeName::Group(g) => {
                (format!("group_overcommit_{name}"), format!("group {g}'s "))
            }
        };
        f.add(
            Severity::Error,
            &code,
            &jobs,
            None,
            format!(
                "{whose}{name} over capacity from {} to {}: up to {} booked of {}",
                short(over.from),
                short(over.until),
                over.booked,
                over.capacity
            ),
        );
    }
}

/// Bookings that break a policy as it is now written (it was tightened after they were
/// accepted): warnings, since the monitor honours accepted bookings.
fn policy_breaks(f: &mut Found) {
    use crate::policies;
    let s = f.snapshot;
    let cap = &s.config.capability;
    let now_slot = hostinfo::clock::floor_slot(s.now);
    let mut users: Vec<&str> = s.rows.iter().map(|tr| tr.row.user_id.as_str()).collect();
    users.sort_unstable();
    users.dedup();
    for user in users {
        let p = crate::limits::user_policies(cap, user);
        if p == hostinfo::config::Policies::default() {
            continue;
        }
        let mine: Vec<&TableRow> = s.rows.iter().filter(|tr| tr.row.user_id == user).collect();
        let from = |key| crate::limits::source_text(cap, user, key);
        for tr in &mine {
            let r = &tr.row;
            let length = policies::hours(r.start, r.end);
            if let Some(max) = p.max_hours_per_booking.filter(|m| length > m + 1e-9) {
                f.on_row(
                    Severity::Warning,
                    "breaks_max_hours_per_booking",
                    tr,
                    format!(
                        "`{user}`'s booking is {length} hours long, more than {max} ({}: max_hours_per_booking)",
                        from("max_hours_per_booking")
                    ),
                );
            }
            if let Some(days) = p.max_days_ahead {
                let latest = now_slot + chrono::Duration::days(i64::from(days));
                if r.start > latest {
                    f.on_row(
                        Severity::Warning,
                        "breaks_max_days_ahead",
                        tr,
                        format!(
                            "`{user}`'s booking starts {}, more than {days} days ahead ({}: max_days_ahead)",
                            short(r.start),
                            from("max_days_ahead")
                        ),
                    );
                }
            }
        }
        let (active, ahead) = policies::held_by(mine.iter().map(|tr| &tr.row), user, now_slot);
        let last = mine.last().copied();
        if let (Some(max), Some(tr)) = (p.max_active_bookings.filter(|m| active > *m), last) {
            f.on_row(
                Severity::Warning,
                "breaks_max_active_bookings",
                tr,
                format!(
                    "`{user}` holds {active} bookings that have not ended, more than {max} ({}: max_active_bookings)",
                    from("max_active_bookings")
                ),
            );
        }
        if let (Some(max), Some(tr)) = (p.max_gpu_hours_ahead.filter(|m| ahead > m + 1e-9), last) {
            f.on_row(
                Severity::Warning,
                "breaks_max_gpu_hours_ahead",
                tr,
                format!(
                    "`{user}` holds {ahead} GPU-hours in bookings not yet started, more than {max} ({}: max_gpu_hours_ahead)",
                    from("max_gpu_hours_ahead")
                ),
            );
        }
    }
}

/// Indices of rows grouped by a key, each group sorted by start.
fn grouped<'a, K: std::hash::Hash + Eq>(
    rows: &'a [TableRow],
    keys: impl Fn(&'a Row) -> Vec<K>,
) -> HashMap<K, Vec<usize>> {
    let mut groups: HashMap<K, Vec<usize>> = HashMap::new();
    for (i, tr) in rows.iter().enumerate() {
        for k in keys(&tr.row) {
            groups.entry(k).or_default().push(i);
        }
    }
    for v in groups.values_mut() {
        v.sort_by_key(|&i| rows[i].row.start);
    }
    groups
}

/// For each row of each group, the earlier row still running when it starts (the one
/// that ends last), if `conflicts` says the two clash.
fn clashes(
    rows: &[TableRow],
    group: &[usize],
    conflicts: impl Fn(&Row, &Row) -> bool,
    mut report: impl FnMut(usize, usize),
) {
    let mut longest: Option<usize> = None;
    for &i in group {
        if let Some(j) = longest {
            if rows[j].row.end > rows[i].row.start && conflicts(&rows[j].row, &rows[i].row) {
                report(j, i);
            }
        }
        if longest.is_none_or(|j| rows[i].row.end > rows[j].row.end) {
            longest = Some(i);
        }
    }
}

fn sorted_keys<K: Ord + Copy, V>(groups: &HashMap<K, V>) -> Vec<K> {
    let mut keys: Vec<K> = groups.keys().copied().collect();
    keys.sort_unstable();
    keys
}

/// A GPU id held by two rows at once; on a cluster ids are per node, so the same id on two
/// nodes is two GPUs.
fn gpu_double_booking(f: &mut Found) {
    let rows = &f.snapshot.rows;
    let cluster = f.snapshot.config.cluster.is_some();
    let groups = grouped(rows, |r| {
        let node = r.node.as_deref().filter(|_| cluster);
        r.gpus.ids().iter().map(|&id| (node, id)).collect()
    });
    for key in sorted_keys(&groups) {
        let (node, gpu) = key;
        let mut found = Vec::new();
        clashes(rows, &groups[&key], |_, _| true, |a, b| found.push((a, b)));
        let on = node.map(|n| format!(" on {n}")).unwrap_or_default();
        for (a, b) in found {
            let (ra, rb) = (&rows[a].row, &rows[b].row);
            f.on_row(
                Severity::Error,
                "gpu_double_booked",
                &rows[b],
                format!(
                    "GPU {gpu}{on} is held by `{}` ({} to {}) and `{}` ({} to {}) at once",
                    ra.user_id,
                    short(ra.start),
                    short(ra.end),
                    rb.user_id,
                    short(rb.start),
                    short(rb.end)
                ),
            );
        }
    }
}

fn user_overlaps(f: &mut Found) {
    let rows = &f.snapshot.rows;
    let groups = grouped(rows, |r| vec![r.user_id.as_str()]);
    let mut users: Vec<&str> = groups.keys().copied().collect();
    users.sort_unstable();
    for user in users {
        let mut found = Vec::new();
        clashes(rows, &groups[user], |_, _| true, |a, b| found.push((a, b)));
        for (a, b) in found {
            let ra = &rows[a].row;
            f.on_row(
                Severity::Error,
                "user_overlap",
                &rows[b],
                format!(
                    "`{user}` has another booking at the same time ({} to {})",
                    short(ra.start),
                    short(ra.end)
                ),
            );
        }
    }
}

fn shared_ports(f: &mut Found) {
    let rows = &f.snapshot.rows;
    let groups = grouped(rows, |r| vec![r.forward_port]);
    for port in sorted_keys(&groups) {
        let mut found = Vec::new();
        clashes(
            rows,
            &groups[&port],
            |a, b| a.user_id != b.user_id,
            |a, b| found.push((a, b)),
        );
        for (a, b) in found {
            let (ra, rb) = (&rows[a].row, &rows[b].row);
            f.on_row(
                Severity::Error,
                "port_shared",
                &rows[b],
                format!(
                    "port {port} is forwarded for `{}` and `{}` at the same time",
                    ra.user_id, rb.user_id
                ),
            );
        }
    }
}

/// The line a file error names, and its message without the file (the problem names it).
fn where_and_why(e: &hostinfo::Error) -> (Option<u64>, String) {
    let line = e.location().and_then(|at| at.line).map(|l| l as u64);
    let why = match e {
        hostinfo::Error::Invalid { at, message, .. } => match &at.field {
            Some(field) => format!("{field}: {message}"),
            None => message.clone(),
        },
        other => other.to_string(),
    };
    (line, why)
}

/// Bookings due to start whose container the monitor could not start, with docker's reason
/// for the latest failure (the monitor keeps trying every tick), and those it holds back
/// because their user is over the disk quota.
fn failing_starts(f: &mut Found) {
    let s = f.snapshot;
    let failures = match &s.start_failures {
        Ok(failures) => failures,
        Err(e) => {
            let (line, why) = where_and_why(e);
            f.add(
                Severity::Error,
                "start_failures_unreadable",
                e.path(),
                line,
                format!("the monitor's record of failed starts cannot be read: {why}"),
            );
            return;
        }
    };
    for failure in failures {
        // The monitor drops a record once its booking leaves booking.csv; until its next
        // tick, a record without a waiting row is old news.
        let Some(row) = s.rows.iter().find(|tr| {
            tr.table == hostinfo::Table::Booking
                && (tr.row.user_id.as_str(), tr.row.start) == failure.key()
        }) else {
            continue;
        };
        if failure.is_quota_wait() {
            // Not docker's failure: the monitor holds the booking back until the user frees
            // space, and it expires if they never do.
            f.on_row(
                Severity::Warning,
                "waiting_on_quota",
                row,
                format!(
                    "`{}`'s booking from {} waits since {}: {}",
                    failure.user_id,
                    short(failure.start),
                    short(failure.since),
                    failure.reason
                ),
            );
            continue;
        }
        let attempts = match failure.attempts {
            1 => "1 attempt".to_string(),
            n => format!("{n} attempts"),
        };
        f.on_row(
            Severity::Error,
            "start_failing",
            row,
            format!(
                "`{}`'s container could not start since {} ({attempts}): {}",
                failure.user_id,
                short(failure.since),
                failure.reason
            ),
        );
    }
}

/// On a cluster: the monitor's record of its Slurm jobs, when it cannot be read (the bound
/// GPU ids are not shown then).
fn slurm_jobs_problems(f: &mut Found) {
    if let Err(e) = &f.snapshot.slurm_jobs {
        let (line, why) = where_and_why(e);
        f.add(
            Severity::Error,
            "slurm_jobs_unreadable",
            e.path(),
            line,
            format!("the monitor's record of Slurm jobs cannot be read: {why}"),
        );
    }
}

/// A waitlist that cannot be read (every booking that would join it or serve it stops with
/// that error), and entries whose user may not book any more: they wait until they expire.
fn waitlist_problems(f: &mut Found) {
    let s = f.snapshot;
    let entries = match &s.waitlist {
        Ok(entries) => entries,
        Err(e) => {
            let (line, why) = where_and_why(e);
            f.add(
                Severity::Error,
                "waitlist_unreadable",
                e.path(),
                line,
                format!("the waitlist cannot be read: {why}"),
            );
            return;
        }
    };
    let path = s.root.waitlist_path();
    for e in entries {
        if !s.config.capability.allow_user_ids.contains(&e.user_id) {
            f.add(
                Severity::Warning,
                "waitlist_user_not_allowed",
                &path,
                None,
                format!(
                    "waitlist entry #{} is `{}`'s, who is not in allow_userIDs: it is never booked and expires after {}",
                    e.id,
                    e.user_id,
                    short(e.latest_start)
                ),
            );
        }
    }
}

#[cfg(test)]
mod unlocked_tests {
    use super::*;

    #[test]
    fn a_report_read_without_the_lock_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/roots/lab");
        let options = fs_extra::dir::CopyOptions::new().content_only(true);
        fs_extra::dir::copy(fixtures, dir.path(), &options).unwrap();
        let mut snapshot = Snapshot::load(hostinfo::Root::at(dir.path())).unwrap();
        assert!(find(&snapshot)
            .iter()
            .all(|p| p.code != "read_without_lock"));
        snapshot.unlocked = Some("jobs/.lock: missing and jobs/ is read-only".into());
        let found = find(&snapshot);
        let p = found
            .iter()
            .find(|p| p.code == "read_without_lock")
            .unwrap();
        assert_eq!(p.file, "jobs/.lock");
        assert!(
            p.message.starts_with("jobs/.lock: missing"),
            "{}",
            p.message
        );
    }
}
