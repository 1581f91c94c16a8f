//! Typed models of the files in `cfg/` (docs/file-formats.md): `host_deploy.yaml`,
//! `capability_config.yaml`, `users_config.yaml` and `backup.yaml`, parsed and written.

use std::path::{Path, PathBuf};

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::gpu::MAX_GPUS;
use crate::groups::{self, RawException, RawGroup};
pub use crate::groups::{Exception, Group, Policies, Total};
use crate::yaml::{self, line_of_key, OrderedMap, ScalarString};
use std::collections::HashMap;

/// `cfg/host_deploy.yaml`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HostDeploy {
    pub volume_work_dir: PathBuf,
    pub volume_dataset_dir: PathBuf,
    pub volume_backup_dir: PathBuf,
    pub users_config_yaml: PathBuf,
    pub capability_config_yaml: PathBuf,
    /// Allowed images; the first is the default.
    pub images: Vec<String>,
    /// IANA zone name; `None` means the host's zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Extra arguments the admin adds to every `docker run`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub docker_run_args: Vec<String>,
    /// GPU count to assume when NVML is unavailable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_count: Option<u32>,
    /// Where root keeps the entries of users' `backup.yaml` (default `./kept` in the root):
    /// a folder no container sees, so no user can re-point a mount source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_kept_dir: Option<PathBuf>,
    /// When true, an id signs up only with a one-time code the admin issued for it
    /// (`checker issue-signup-code`); off by default so that older labs keep working.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_signup_code: bool,
}

impl HostDeploy {
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let host: HostDeploy = yaml::parse(path, text)?
            .ok_or_else(|| Error::invalid(path, None, None, "the file is empty"))?;
        if host.images.is_empty() {
            return Err(Error::invalid(
                path,
                line_of_key(text, "", "images"),
                Some("images".into()),
                "needs at least one image (the first is the default)",
            ));
        }
        if let Some(count) = host.gpu_count.filter(|n| *n > MAX_GPUS) {
            // Every tool lists this many GPUs when NVML does not answer.
            return Err(Error::invalid(
                path,
                line_of_key(text, "", "gpu_count"),
                Some("gpu_count".into()),
                format!("{count} GPUs is more than the {MAX_GPUS} a host may have"),
            ));
        }
        if let Some(zone) = &host.timezone {
            if zone.parse::<chrono_tz::Tz>().is_err() {
                return Err(Error::invalid(
                    path,
                    line_of_key(text, "", "timezone"),
                    Some("timezone".into()),
                    format!("`{zone}` is not an IANA time zone name (like Asia/Taipei)"),
                ));
            }
        }
        Ok(host)
    }

    pub fn load(path: &Path) -> Result<Self> {
        Self::parse(path, &yaml::read(path)?)
    }

    /// The default image: the first of the list.
    pub fn default_image(&self) -> &str {
        &self.images[0]
    }
}

/// A per-user limit: a number, or the host maximum of that field.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limit {
    Value(f64),
    /// Written `max` (the original accepts any string here and means the same).
    HostMax,
}

impl Limit {
    /// The number this limit stands for, given the host maximum of the same field.
    pub fn resolve(self, host_max: f64) -> f64 {
        match self {
            Limit::Value(v) => v,
            Limit::HostMax => host_max,
        }
    }
}

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Limit;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number or `max`")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Limit, E> {
                Ok(Limit::Value(v as f64))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Limit, E> {
                if v < 0 {
                    return Err(E::custom("a limit cannot be negative"));
                }
                Ok(Limit::Value(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Limit, E> {
                if !(v.is_finite() && v >= 0.0) {
                    return Err(E::custom("a limit must be a finite number ≥ 0"));
                }
                Ok(Limit::Value(v))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Limit, E> {
                Ok(Limit::HostMax)
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Limit {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Limit::Value(v) => s.serialize_f64(*v),
            Limit::HostMax => s.serialize_str("max"),
        }
    }
}

/// Per-user limits as written; a missing key falls back (custom → default → host max).
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub cpus: Option<Limit>,
    pub memory: Option<Limit>,
    pub gpus: Option<Limit>,
    pub backup_space: Option<Limit>,
    pub work_space: Option<Limit>,
}

/// The host's capacity (`max:`), expressions already evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HostMax {
    pub cpus: f64,
    /// GB of RAM.
    pub ram: f64,
    /// GB of swap.
    pub swap_size: f64,
    pub gpus: u32,
    /// The RAM share of a booked amount of memory.
    pub shm_rate: f64,
    /// Bookable memory in GB (RAM + swap).
    pub memory: f64,
    pub backup_space: f64,
    pub work_space: f64,
}

/// `cfg/capability_config.yaml`.
#[derive(Debug, Clone, PartialEq)]
pub struct CapabilityConfig {
    pub max: HostMax,
    /// Who may book; null entries of the original are dropped.
    pub allow_user_ids: Vec<String>,
    pub default_limits: Limits,
    /// `max_custom_capability`: per-user exceptions with their reasons.
    pub custom: OrderedMap<Exception>,
    /// `groups`, in file order; members files are read by `Root::load_config`.
    pub groups: OrderedMap<Group>,
    /// The lab-wide `policies`.
    pub policies: Policies,
    /// user id → index in `groups`.
    member_of: HashMap<String, usize>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumOrExpr {
    Num(f64),
    Expr(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMax {
    cpus: f64,
    ram: f64,
    swap_size: f64,
    gpus: u32,
    shm_rate: Option<NumOrExpr>,
    memory: Option<NumOrExpr>,
    backup_space: f64,
    work_space: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCapability {
    max: RawMax,
    #[serde(rename = "allow_userIDs", default)]
    allow_user_ids: Option<Vec<Option<ScalarString>>>,
    #[serde(default)]
    max_default_capability: Option<Limits>,
    #[serde(default)]
    max_custom_capability: Option<OrderedMap<Option<RawException>>>,
    #[serde(default)]
    groups: Option<OrderedMap<Option<RawGroup>>>,
    #[serde(default)]
    policies: Option<Policies>,
}

impl CapabilityConfig {
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let raw: RawCapability = yaml::parse(path, text)?
            .ok_or_else(|| Error::invalid(path, None, None, "the file is empty"))?;
        let m = raw.max;
        let eval = |value: Option<NumOrExpr>, key: &str, default: &str| -> Result<f64> {
            let text_value = match value {
                Some(NumOrExpr::Num(n)) => return Ok(n),
                Some(NumOrExpr::Expr(e)) => e,
                None => default.to_string(),
            };
            crate::expr::evaluate(&text_value, m.ram, m.swap_size).map_err(|message| {
                Error::invalid(
                    path,
                    line_of_key(text, "max", key),
                    Some(format!("max.{key}")),
                    message,
                )
            })
        };
        if m.gpus > MAX_GPUS {
            // Every tool keeps a list of this many GPUs (placement, the GPU listing).
            return Err(Error::invalid(
                path,
                line_of_key(text, "max", "gpus"),
                Some("max.gpus".into()),
                format!(
                    "{} GPUs is more than the {MAX_GPUS} a host may have",
                    m.gpus
                ),
            ));
        }
        let shm_rate = eval(m.shm_rate, "shm_rate", "ram / (ram + swap_size)")?;
        let memory = eval(m.memory, "memory", "ram + swap_size")?;
        let max = HostMax {
            cpus: m.cpus,
            ram: m.ram,
            swap_size: m.swap_size,
            gpus: m.gpus,
            shm_rate,
            memory,
            backup_space: m.backup_space,
            work_space: m.work_space,
        };
        for (key, value) in [
            ("cpus", max.cpus),
            ("ram", max.ram),
            ("swap_size", max.swap_size),
            ("memory", max.memory),
            ("backup_space", max.backup_space),
            ("work_space", max.work_space),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(Error::invalid(
                    path,
                    line_of_key(text, "max", key),
                    Some(format!("max.{key}")),
                    format!("must be a number ≥ 0, found {value}"),
                ));
            }
        }
        if !(0.0..=1.0).contains(&max.shm_rate) {
            return Err(Error::invalid(
                path,
                line_of_key(text, "max", "shm_rate"),
                Some("max.shm_rate".into()),
                format!("must lie between 0 and 1, found {}", max.shm_rate),
            ));
        }
        let allow_user_ids = raw
            .allow_user_ids
            .unwrap_or_default()
            .into_iter()
            .flatten()
            .map(|s| s.0)
            .filter(|s| !s.trim().is_empty())
            .collect();
        let custom = groups::exceptions(path, text, raw.max_custom_capability)?;
        let groups = groups::groups(path, text, raw.groups)?;
        let policies = groups::lab_policies(path, text, raw.policies)?;
        let member_of = groups::index_members(&groups).unwrap_or_default();
        Ok(CapabilityConfig {
            max,
            allow_user_ids,
            default_limits: raw.max_default_capability.unwrap_or_default(),
            custom,
            groups,
            policies,
            member_of,
        })
    }

    /// Reads each group's `members_file` (a path as written, turned into one to open by
    /// `resolve`) into its members; an id in two groups is an error naming file and line.
    pub fn read_member_files(
        &mut self,
        path: &Path,
        text: &str,
        resolve: impl Fn(&Path) -> PathBuf,
    ) -> Result<()> {
        self.member_of = groups::read_member_files(path, text, &mut self.groups, resolve)?;
        Ok(())
    }

    /// The group `id` belongs to, if any.
    pub fn group_of(&self, id: &str) -> Option<(&str, &Group)> {
        self.member_of
            .get(id)
            .map(|&i| (self.groups.0[i].0.as_str(), &self.groups.0[i].1))
    }

    /// `id`'s exception in `max_custom_capability`, if any.
    pub fn exception(&self, id: &str) -> Option<&Exception> {
        self.custom.get(id)
    }

    pub fn load(path: &Path) -> Result<Self> {
        Self::parse(path, &yaml::read(path)?)
    }
}

/// A password. It prints as `***` so that it cannot slip into a log or a debug dump;
/// only `expose` gives the text, for the container's environment and the users file.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(text: impl Into<String>) -> Self {
        Secret(text.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        ScalarString::deserialize(d).map(|s| Secret(s.0))
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// One entry of `cfg/users_config.yaml`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UserEntry {
    pub password: Secret,
    pub forward_port: u16,
    pub image: Option<String>,
    pub extra_command: Option<String>,
    pub volume_work_dir: PathBuf,
    pub volume_dataset_dir: PathBuf,
    pub volume_backup_dir: PathBuf,
    /// Where the user's notices are mailed, when the lab sends e-mail (optional; asked at
    /// sign-up and under `-use-opt`). Not written when unset, so older files stay as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

impl UserEntry {
    /// The entry a new user gets (docs/file-formats.md): work and backup dirs per user, dataset shared.
    pub fn new_user(id: &str, host: &HostDeploy, password: Secret, forward_port: u16) -> Self {
        UserEntry {
            password,
            forward_port,
            image: None,
            extra_command: None,
            volume_work_dir: host.volume_work_dir.join(id),
            volume_dataset_dir: host.volume_dataset_dir.clone(),
            volume_backup_dir: host.volume_backup_dir.join(id),
            email: None,
        }
    }
}

/// `cfg/users_config.yaml`: user id → entry, in file order.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct UsersConfig(pub OrderedMap<UserEntry>);

impl UsersConfig {
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        yaml::parse(path, text)
            .map(Option::unwrap_or_default)
            .map_err(redact_quoted)
    }

    pub fn load(path: &Path) -> Result<Self> {
        Self::parse(path, &yaml::read(path)?)
    }

    pub fn get(&self, id: &str) -> Option<&UserEntry> {
        self.0.get(id)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &UserEntry)> {
        self.0 .0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Adds or replaces a user's entry, keeping everyone else where they were.
    pub fn upsert(&mut self, id: &str, entry: UserEntry) {
        match self.0 .0.iter_mut().find(|(k, _)| k == id) {
            Some((_, slot)) => *slot = entry,
            None => self.0 .0.push((id.to_string(), entry)),
        }
    }

    /// The YAML text of the file.
    pub fn to_yaml(&self) -> String {
        if self.0 .0.is_empty() {
            return String::new();
        }
        serde_yaml::to_string(self).expect("a map of plain fields always serializes")
    }
}

/// The parser quotes the value it could not use, and in the users file that may be a
/// password: every `"…"` stretch of the message (how serde quotes a value) is blanked;
/// the line and the key are kept.
fn redact_quoted(e: Error) -> Error {
    match e {
        Error::Invalid { path, at, message } => {
            let mut out = String::with_capacity(message.len());
            let mut inside = false;
            for c in message.chars() {
                if c == '"' {
                    if inside {
                        out.push('…');
                    }
                    inside = !inside;
                    out.push(c);
                } else if !inside {
                    out.push(c);
                }
            }
            Error::Invalid {
                path,
                at,
                message: out,
            }
        }
        other => other,
    }
}

/// `backup.yaml`: what of a user's environment is kept across containers, as pairs of
/// (path relative to the backup dir, absolute path in the container).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BackupSpec {
    pub dirs: Vec<(PathBuf, PathBuf)>,
    pub files: Vec<(PathBuf, PathBuf)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBackup {
    #[serde(rename = "Dir", default)]
    dir: Option<Vec<(String, String)>>,
    #[serde(rename = "File", default)]
    file: Option<Vec<(String, String)>>,
}

impl BackupSpec {
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let raw: RawBackup = yaml::parse(path, text)?.unwrap_or(RawBackup {
            dir: None,
            file: None,
        });
        let pairs = |list: Option<Vec<(String, String)>>| {
            list.unwrap_or_default()
                .into_iter()
                .map(|(a, b)| (PathBuf::from(a), PathBuf::from(b)))
                .collect()
        };
        Ok(BackupSpec {
            dirs: pairs(raw.dir),
            files: pairs(raw.file),
        })
    }

    pub fn load(path: &Path) -> Result<Self> {
        Self::parse(path, &yaml::read(path)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPABILITY: &str = "max:\n  cpus: 62 # cores\n  ram: 30\n  swap_size: 10\n  gpus: 4\n\n  shm_rate: ram / (ram + swap_size)\n  memory: ram + swap_size\n  backup_space: 200\n  work_space: 500\nallow_userIDs:\n  - alice\n  -  # nobody\n  - 1234\nmax_default_capability:\n  cpus: 8\n  memory: 32\n  gpus: 1\nmax_custom_capability:\n  alice:\n    cpus: max\n    memory: 12\n  bob:\n";

    #[test]
    fn capability_evaluates_expressions_and_reads_max_and_nulls() {
        let c = CapabilityConfig::parse(Path::new("c.yaml"), CAPABILITY).unwrap();
        assert_eq!(c.max.shm_rate, 0.75);
        assert_eq!(c.max.memory, 40.0);
        assert_eq!(c.allow_user_ids, ["alice", "1234"]);
        let alice = &c.custom.get("alice").unwrap().limits;
        assert_eq!(alice.cpus, Some(Limit::HostMax));
        assert_eq!(alice.memory, Some(Limit::Value(12.0)));
        assert_eq!(alice.gpus, None);
        assert_eq!(c.custom.get("bob"), Some(&Exception::default()));
    }

    #[test]
    fn capability_expression_error_names_line_and_key() {
        let text = CAPABILITY.replace("ram + swap_size\n", "ram + swop\n");
        let e = CapabilityConfig::parse(Path::new("c.yaml"), &text).unwrap_err();
        assert_eq!(
            e.to_string(),
            "c.yaml:8: max.memory: unknown name `swop` in expression (only `ram` and `swap_size`)"
        );
    }

    #[test]
    fn users_config_keeps_order_and_never_debug_prints_a_password() {
        let text = "zed:\n  password: \"0000\"\n  forward_port: 10001\n  image: null\n  extra_command: null\n  volume_work_dir: /w/zed\n  volume_dataset_dir: /d\n  volume_backup_dir: /b/zed\namy:\n  password: 1234\n  forward_port: 10002\n  image: img\n  extra_command: echo hi\n  volume_work_dir: /w/amy\n  volume_dataset_dir: /d\n  volume_backup_dir: /b/amy\n";
        let users = UsersConfig::parse(Path::new("u.yaml"), text).unwrap();
        let ids: Vec<_> = users.iter().map(|(k, _)| k).collect();
        assert_eq!(ids, ["zed", "amy"]);
        assert_eq!(users.get("amy").unwrap().password.expose(), "1234");
        assert!(!format!("{users:?}").contains("0000"));
        let again = UsersConfig::parse(Path::new("u.yaml"), &users.to_yaml()).unwrap();
        assert_eq!(again, users);
    }

    /// Regression (review): an admin's slip (`eve: hunter22-secret`) made every tool, even
    /// `booking -ls` without a login, print the password in its error.
    #[test]
    fn a_broken_users_entry_is_reported_without_its_value() {
        let e = UsersConfig::parse(Path::new("u.yaml"), "eve: hunter22-secret\n")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("hunter22"), "{e}");
        assert!(e.starts_with("u.yaml"), "{e}");
    }

    #[test]
    fn empty_users_config_is_no_users() {
        let users = UsersConfig::parse(Path::new("u.yaml"), "").unwrap();
        assert_eq!(users.iter().count(), 0);
        assert_eq!(users.to_yaml(), "");
    }

    fn user_entry(id: &str) -> String {
        format!("{id}:\n  password: pw-{id}\n  forward_port: 10001\n  image: null\n  extra_command: null\n  volume_work_dir: /w\n  volume_dataset_dir: /d\n  volume_backup_dir: /b\n")
    }

    /// Regression: serde_yaml resolved these plain scalars to numbers, so `7.10` became the
    /// id `7.1`, `1e3` became `1000`, `0o17` became `15` and `0x1F` became `31`: other users.
    #[test]
    fn ids_that_look_like_numbers_are_read_as_written() {
        let written = ["7.10", "1e3", "0o17", "0x1F", "007", "+12", ".inf", "true"];
        let list: String = written.iter().map(|id| format!("  - {id}\n")).collect();
        let custom: String = written
            .iter()
            .map(|id| format!("  {id}:\n    cpus: 2\n"))
            .collect();
        let text = CAPABILITY
            .replace("  - 1234\n", &list)
            .replace("  bob:\n", &format!("  bob:\n{custom}"));
        let c = CapabilityConfig::parse(Path::new("c.yaml"), &text).unwrap();
        assert_eq!(c.allow_user_ids[1..], written);
        let keys: Vec<_> = c.custom.0.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys[2..], written);
        assert_eq!(
            c.custom.get("0x1F").unwrap().limits.cpus,
            Some(Limit::Value(2.0))
        );
        assert_eq!(c.custom.get("31"), None);

        let users_text: String = written.iter().map(|id| user_entry(id)).collect();
        let users = UsersConfig::parse(Path::new("u.yaml"), &users_text).unwrap();
        let ids: Vec<_> = users.iter().map(|(k, _)| k).collect();
        assert_eq!(ids, written);
        assert_eq!(users.get("1e3").unwrap().password.expose(), "pw-1e3");
        // Written back, each id reads as itself again.
        let again = UsersConfig::parse(Path::new("u.yaml"), &users.to_yaml()).unwrap();
        assert_eq!(again, users);
    }

    #[test]
    fn null_entries_of_the_allow_list_are_still_dropped() {
        let text = CAPABILITY.replace("  - 1234\n", "  - ~\n  - null\n  - ''\n");
        let c = CapabilityConfig::parse(Path::new("c.yaml"), &text).unwrap();
        assert_eq!(c.allow_user_ids, ["alice"]);
    }

    /// Regression: `gpus: 1000000000` was read, and the first tool that listed the host's
    /// GPUs (placement, the GPU inventory) aborted allocating a billion of them.
    #[test]
    fn a_gpu_count_over_64_is_refused_naming_the_key() {
        let text = CAPABILITY.replace("gpus: 4\n", "gpus: 1000000000\n");
        let e = CapabilityConfig::parse(Path::new("c.yaml"), &text).unwrap_err();
        assert_eq!(
            e.to_string(),
            "c.yaml:5: max.gpus: 1000000000 GPUs is more than the 64 a host may have"
        );
        let ok = CAPABILITY.replace("gpus: 4\n", "gpus: 64\n");
        assert_eq!(
            CapabilityConfig::parse(Path::new("c.yaml"), &ok)
                .unwrap()
                .max
                .gpus,
            64
        );

        let host = "volume_work_dir: /w\nvolume_dataset_dir: /d\nvolume_backup_dir: /b\nusers_config_yaml: u\ncapability_config_yaml: c\nimages: [a]\ngpu_count: 1000000000\n";
        let e = HostDeploy::parse(Path::new("h.yaml"), host).unwrap_err();
        assert_eq!(
            e.to_string(),
            "h.yaml:7: gpu_count: 1000000000 GPUs is more than the 64 a host may have"
        );
    }

    /// Regression: a megabyte of `[` took libyaml minutes (its time grows with the square
    /// of the depth) before serde_yaml said "recursion limit exceeded".
    #[test]
    fn deep_nesting_in_any_cfg_file_is_refused_at_once_naming_file_and_line() {
        let deep = format!(
            "max:\n  cpus: {}\n",
            "[".repeat(super::yaml::MAX_YAML_BYTES - 20)
        );
        let started = std::time::Instant::now();
        let e = CapabilityConfig::parse(Path::new("c.yaml"), &deep).unwrap_err();
        assert_eq!(
            e.to_string(),
            "c.yaml:2: nests deeper than 64 levels (indentation and `[`/`{` together); a configuration file needs a handful"
        );
        let block: String = (0..100)
            .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
            .collect();
        for result in [
            UsersConfig::parse(Path::new("u.yaml"), &block).map(|_| ()),
            HostDeploy::parse(Path::new("h.yaml"), &block).map(|_| ()),
            BackupSpec::parse(Path::new("b.yaml"), &block).map(|_| ()),
        ] {
            let e = result.unwrap_err().to_string();
            assert!(e.contains(":65: nests deeper than 64 levels"), "{e}");
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn a_cfg_file_over_1_mib_is_refused_before_it_is_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users_config.yaml");
        let entry = user_entry("u1");
        let big = entry.repeat(super::yaml::MAX_YAML_BYTES / entry.len() + 1);
        std::fs::write(&path, &big).unwrap();
        let e = UsersConfig::load(&path).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{}: is {} bytes, more than the 1048576 (1 MiB) a configuration file may hold",
                path.display(),
                big.len()
            )
        );
        assert!(UsersConfig::parse(&path, &big).is_err());
        std::fs::write(&path, &entry).unwrap();
        assert_eq!(UsersConfig::load(&path).unwrap().iter().count(), 1);
    }
}
