//! The `docker run` argument vector, built as a list of separate arguments: a
//! value a user typed is always one whole argument, never split, never seen by a shell.

use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;
use hostinfo::schedule::{format_time, GpuSet};

/// One container to start.
#[derive(Debug, Clone, PartialEq)]
pub struct Launch {
    pub user_id: String,
    /// The booking's window; `None` for a maintainer's run without a booking.
    pub window: Option<(NaiveDateTime, NaiveDateTime)>,
    pub cpus: f64,
    /// GB: RAM plus swap.
    pub memory: u32,
    pub gpus: GpuSet,
    pub forward_port: u16,
    pub image: String,
    pub extra_command: Option<String>,
}

/// Host folders mounted into the container.
#[derive(Debug, Clone, PartialEq)]
pub struct Volumes {
    pub work: PathBuf,
    pub backup: PathBuf,
    pub dataset: PathBuf,
    /// (kept slot on the host, absolute path in the container), already checked.
    pub backup_entries: Vec<(PathBuf, PathBuf)>,
    /// The login script that shows the student's notices (`<root>/cfg/container/
    /// aivc-notices.sh`, installed by setup.sh), when there is one.
    pub profile_script: Option<PathBuf>,
}

/// Where the notices' login script is mounted: login shells source /etc/profile.d/*.sh.
pub const PROFILE_SCRIPT: &str = "/etc/profile.d/aivc-notices.sh";

/// The banner the image shows at login.
pub const LOGO: &str = "AIVC";

/// GB of RAM for a booking of `memory` GB: `ceil(memory × shm_rate)`. The tolerance keeps
/// `10 × 0.8` (8.000000000000002 in floating point) at 8.
pub fn ram_gb(memory: u32, shm_rate: f64) -> u32 {
    ((f64::from(memory) * shm_rate) - 1e-9).ceil().max(0.0) as u32
}

/// `--cpus` as docker reads it: `4`, `1.5`.
fn cpus_text(cpus: f64) -> String {
    format!("{cpus}")
}

fn mount(host: &Path, container: &str, read_only: bool) -> String {
    let mut spec = format!("{}:{container}", host.display());
    if read_only {
        spec.push_str(":ro");
    }
    spec
}

/// Everything after `docker`: `run -dit ... <image> [bash -c <command>]`. The password is
/// not in it: `-e PASSWORD` takes its value from the docker client's environment, so it
/// never shows in a process list.
pub fn docker_run_args(
    launch: &Launch,
    volumes: &Volumes,
    shm_rate: f64,
    admin_args: &[String],
    installation: &str,
) -> Vec<String> {
    let id = &launch.user_id;
    let mut a: Vec<String> = vec![
        "run".into(),
        "-dit".into(),
        "--restart=always".into(),
        format!("--name={id}"),
        "--label".into(),
        format!("aivc.user={id}"),
        // Which installation this container belongs to: the only ones it ever touches.
        "--label".into(),
        format!("aivc.installation={installation}"),
    ];
    match launch.window {
        Some((start, end)) => {
            a.push("--label".into());
            a.push(format!("aivc.start={}", format_time(start)));
            a.push("--label".into());
            a.push(format!("aivc.end={}", format_time(end)));
        }
        None => {
            // A maintainer's run: the monitor's reconcile leaves it alone.
            a.push("--label".into());
            a.push("aivc.manual=true".into());
        }
    }
    a.push(format!("--cpus={}", cpus_text(launch.cpus)));
    let ram = ram_gb(launch.memory, shm_rate);
    if ram > 0 {
        a.push(format!("--memory={ram}g"));
        // docker refuses --memory-swap without --memory.
        if launch.memory > 0 {
            a.push(format!("--memory-swap={}g", launch.memory));
        }
        let shm = launch.memory.saturating_sub(ram);
        if shm > 0 {
            a.push(format!("--shm-size={shm}g"));
        }
    }
    if !launch.gpus.is_empty() {
        let ids: Vec<String> = launch.gpus.ids().iter().map(u32::to_string).collect();
        a.push("--gpus".into());
        // The inner quotes keep docker's CSV parser from splitting the list at the comma.
        a.push(format!("\"device={}\"", ids.join(",")));
    }
    a.push("-p".into());
    a.push(format!("{}:22", launch.forward_port));
    for (host, container, ro) in [
        (&volumes.work, "/root/Work", false),
        (&volumes.backup, "/root/Backup", false),
        (&volumes.dataset, "/root/Dataset", true),
    ] {
        a.push("-v".into());
        a.push(mount(host, container, ro));
    }
    for (host, container) in &volumes.backup_entries {
        a.push("-v".into());
        a.push(mount(host, &container.display().to_string(), false));
    }
    if let Some(script) = &volumes.profile_script {
        a.push("-v".into());
        a.push(mount(script, PROFILE_SCRIPT, true));
    }
    a.push("-e".into());
    a.push("PASSWORD".into());
    a.push("-e".into());
    a.push(format!("LOGO={LOGO}"));
    a.extend(admin_args.iter().cloned());
    a.push(launch.image.clone());
    if let Some(command) = &launch.extra_command {
        a.push("bash".into());
        a.push("-c".into());
        a.push(command.clone());
    }
    a
}

/// One argument as a POSIX shell would need it quoted, for `--dry-run` output only.
pub fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_=./:,@%+".contains(&b));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn launch() -> Launch {
        let t = |s| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        Launch {
            user_id: "u001".into(),
            window: Some((t("2026-11-23 09:00"), t("2026-11-23 11:00"))),
            cpus: 4.0,
            memory: 10,
            gpus: GpuSet::new(vec![3, 0]),
            forward_port: 10001,
            image: "aivc/workspace:latest".into(),
            extra_command: Some("echo a; echo $(id)".into()),
        }
    }

    fn volumes() -> Volumes {
        Volumes {
            work: "/srv/w/u001".into(),
            backup: "/srv/b/u001".into(),
            dataset: "/srv/d".into(),
            backup_entries: vec![("/srv/kept/u001/.home%2F.ssh".into(), "/root/.ssh".into())],
            profile_script: None,
        }
    }

    #[test]
    fn builds_the_spec_command_line_exactly() {
        let args = docker_run_args(
            &launch(),
            &volumes(),
            0.8,
            &["--pids-limit=512".into()],
            "0123abcd",
        );
        let expected = [
            "run",
            "-dit",
            "--restart=always",
            "--name=u001",
            "--label",
            "aivc.user=u001",
            "--label",
            "aivc.installation=0123abcd",
            "--label",
            "aivc.start=2026-11-23 09:00:00",
            "--label",
            "aivc.end=2026-11-23 11:00:00",
            "--cpus=4",
            "--memory=8g",
            "--memory-swap=10g",
            "--shm-size=2g",
            "--gpus",
            "\"device=0,3\"",
            "-p",
            "10001:22",
            "-v",
            "/srv/w/u001:/root/Work",
            "-v",
            "/srv/b/u001:/root/Backup",
            "-v",
            "/srv/d:/root/Dataset:ro",
            "-v",
            "/srv/kept/u001/.home%2F.ssh:/root/.ssh",
            "-e",
            "PASSWORD",
            "-e",
            "LOGO=AIVC",
            "--pids-limit=512",
            "aivc/workspace:latest",
            "bash",
            "-c",
            "echo a; echo $(id)",
        ];
        assert_eq!(args, expected);
    }

    #[test]
    fn leaves_out_gpus_shm_and_command_when_there_are_none() {
        let mut l = launch();
        l.gpus = GpuSet::default();
        l.extra_command = None;
        l.memory = 4;
        let args = docker_run_args(&l, &volumes(), 1.0, &[], "0123abcd");
        assert!(!args
            .iter()
            .any(|a| a == "--gpus" || a.starts_with("--shm-size")));
        assert!(args.contains(&"--memory=4g".to_string()));
        assert_eq!(args.last().unwrap(), "aivc/workspace:latest");
    }

    #[test]
    fn a_maintainer_run_is_labelled_manual() {
        let mut l = launch();
        l.window = None;
        let args = docker_run_args(&l, &volumes(), 0.8, &[], "0123abcd");
        assert!(args.contains(&"aivc.manual=true".to_string()));
        assert!(!args.iter().any(|a| a.starts_with("aivc.start")));
    }

    #[test]
    fn the_notices_login_script_is_mounted_read_only_after_the_backup_entries() {
        let mut v = volumes();
        v.profile_script = Some("/srv/aivc/cfg/container/aivc-notices.sh".into());
        let args = docker_run_args(&launch(), &v, 0.8, &[], "0123abcd");
        let at = args
            .iter()
            .position(|a| a == "/srv/kept/u001/.home%2F.ssh:/root/.ssh")
            .unwrap();
        assert_eq!(
            args[at + 1..at + 5],
            [
                "-v",
                "/srv/aivc/cfg/container/aivc-notices.sh:/etc/profile.d/aivc-notices.sh:ro",
                "-e",
                "PASSWORD"
            ]
        );
    }

    #[test]
    fn ram_is_the_ceiling_of_the_shm_share() {
        assert_eq!(ram_gb(10, 0.8), 8);
        assert_eq!(ram_gb(4, 0.75), 3);
        assert_eq!(ram_gb(5, 0.75), 4);
        assert_eq!(ram_gb(1, 0.1), 1);
        assert_eq!(ram_gb(7, 1.0), 7);
    }

    #[test]
    fn shell_quoting_is_only_for_display_and_round_trips_in_sh() {
        assert_eq!(shell_quote("--cpus=4"), "--cpus=4");
        assert_eq!(shell_quote("it's $x"), r"'it'\''s $x'");
        assert_eq!(shell_quote(""), "''");
    }
}
