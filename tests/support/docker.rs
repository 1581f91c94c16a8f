//! Test support shared by the crates whose tests need the real Docker engine (included with
//! `#[path]`): builds the stand-in image once, and checks that the engine answers. A test
//! that needs Docker fails loudly when it does not answer: CI runs these tests.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

/// The stand-in workspace image the tests run.
pub const IMAGE: &str = "aivc-test/sshd-standin:1";

/// Panics with a clear message when no Docker engine answers.
pub fn require_engine() {
    let out = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output();
    match out {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "these tests need a running Docker engine and none answers: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => panic!("these tests need the docker client and it cannot run: {e}"),
    }
}

/// Builds [`IMAGE`] from tests/fixtures/images/sshd-standin and the host's static busybox
/// (Debian's busybox-static, which .ci/run installs). Once per test process.
pub fn standin_image() -> &'static str {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        require_engine();
        let busybox = Path::new("/bin/busybox");
        let static_ok = Command::new("file").arg(busybox).output().map(|o| {
            let t = String::from_utf8_lossy(&o.stdout).to_string();
            !t.contains("dynamically linked")
        });
        assert!(
            busybox.exists() && static_ok.unwrap_or(true),
            "the test image needs a static /bin/busybox: apt-get install busybox-static"
        );
        let src =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/images/sshd-standin");
        let ctx = tempfile::tempdir().unwrap();
        for f in ["Dockerfile", "bash", "ssh_start.sh"] {
            std::fs::copy(src.join(f), ctx.path().join(f)).unwrap();
        }
        std::fs::copy(busybox, ctx.path().join("busybox")).unwrap();
        let out = Command::new("docker")
            .args(["build", "-q", "-t", IMAGE])
            .arg(ctx.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "docker build failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
    IMAGE
}

/// `docker inspect` of one container as JSON, or `None` when it does not exist.
pub fn inspect(name: &str) -> Option<serde_json::Value> {
    let out = Command::new("docker")
        .args(["inspect", "--type", "container", name])
        .output()
        .unwrap();
    if !out.status.success() {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    Some(v[0].clone())
}

/// Removes, when dropped and whatever the test did, the one container it guards — and only
/// a container this test created: the engine is shared with a lab's real containers and
/// with other test runs, so a name alone never decides what is removed.
pub struct Cleanup {
    target: Target,
}

enum Target {
    /// A container named this, if it did not exist (or was another container, `not`)
    /// when the guard was made.
    New { name: String, not: Option<String> },
    /// A container named this that carries this `aivc.installation` label: the test's root
    /// (with its own id) started it.
    Labelled { name: String, installation: String },
    /// A container the test created itself, by the id `docker run` printed.
    Id(String),
}

impl Cleanup {
    /// A guard for the container `name` the test is about to create: a container by that
    /// name that exists already is someone else's and is never removed.
    pub fn new(name: String) -> Cleanup {
        let not = container_id(&name);
        Cleanup {
            target: Target::New { name, not },
        }
    }

    /// A guard for the container `name` of the installation `installation`.
    pub fn labelled(name: &str, installation: &str) -> Cleanup {
        Cleanup {
            target: Target::Labelled {
                name: name.into(),
                installation: installation.into(),
            },
        }
    }

    /// A guard for the container with the full id `id`, which the test created.
    pub fn id(id: &str) -> Cleanup {
        Cleanup {
            target: Target::Id(id.trim().into()),
        }
    }
}

/// The full id of the container `name`, if there is one.
fn container_id(name: &str) -> Option<String> {
    let out = Command::new("docker")
        .args([
            "inspect",
            "--type",
            "container",
            "--format",
            "{{.Id}}",
            name,
        ])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let id = match &self.target {
            Target::New { name, not } => container_id(name).filter(|id| Some(id) != not.as_ref()),
            Target::Labelled { name, installation } => inspect(name)
                .filter(|c| c["Config"]["Labels"]["aivc.installation"] == installation.as_str())
                .and_then(|c| c["Id"].as_str().map(String::from)),
            Target::Id(id) => Some(id.clone()),
        };
        if let Some(id) = id {
            let _ = Command::new("docker").args(["rm", "-f", &id]).output();
        }
    }
}

/// The ids of every container, running or not, labelled with `installation`.
pub fn containers_of(installation: &str) -> Vec<String> {
    labelled_ids(installation).unwrap_or_else(|e| panic!("docker ps: {e}"))
}

fn labelled_ids(installation: &str) -> Result<Vec<String>, String> {
    // An empty id would ask for every container with an empty label.
    assert!(
        !installation.is_empty() && installation.bytes().all(|b| b.is_ascii_hexdigit()),
        "`{installation}` is not an installation id"
    );
    let out = Command::new("docker")
        .args([
            "ps",
            "-a",
            "-q",
            "--no-trunc",
            "--filter",
            &format!("label=aivc.installation={installation}"),
        ])
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect())
}

/// Removes, when dropped, every container labelled with the installation id it holds: a
/// test's root, whose id is its own, never labels anyone else's.
pub struct InstallationCleanup(pub String);

impl Drop for InstallationCleanup {
    fn drop(&mut self) {
        if self.0.is_empty() || !self.0.bytes().all(|b| b.is_ascii_hexdigit()) {
            return;
        }
        for id in labelled_ids(&self.0).unwrap_or_default() {
            let _ = Command::new("docker").args(["rm", "-f", &id]).output();
        }
    }
}

/// Removes, when dropped, the image tag it holds: a tag the test built under a name of its
/// own (`docker rmi` of a tag leaves the image to any other tag it has).
pub struct ImageCleanup(pub String);

impl Drop for ImageCleanup {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rmi", &self.0]).output();
    }
}

/// A name no other test run uses: `prefix`, this process's id and a per-process count.
pub fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{prefix}-{}-{}-{nanos:x}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

/// A host port in 10001..11000 that nothing listens on now, different for each caller.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = 10001 + (std::process::id() % 400) as u16;
    loop {
        let port = base + NEXT.fetch_add(1, Ordering::SeqCst) % 590;
        if std::net::TcpListener::bind(("0.0.0.0", port)).is_ok() {
            return port;
        }
    }
}

/// A Debian bookworm base image with sshd and sudo, made here from Debian's packages with
/// debootstrap (nothing can be pulled) and imported once; about a minute the first time.
pub const DEBIAN_BASE: &str = "aivc-test/debian-base:bookworm";

pub fn debian_base() -> &'static str {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| debootstrap_image(DEBIAN_BASE, "openssh-server,sudo"));
    DEBIAN_BASE
}

/// A Debian bookworm image whose /sbin/init is systemd, made like [`DEBIAN_BASE`]: for
/// booting systemd as PID 1 in a container.
pub const DEBIAN_SYSTEMD: &str = "aivc-test/debian-systemd:bookworm";

pub fn debian_systemd() -> &'static str {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| debootstrap_image(DEBIAN_SYSTEMD, "systemd,systemd-sysv,dbus"));
    DEBIAN_SYSTEMD
}

/// Imports a minimal bookworm with the packages `include` (comma-separated) as `tag`, unless
/// the engine has that tag already.
fn debootstrap_image(tag: &str, include: &str) {
    require_engine();
    let have = Command::new("docker")
        .args(["image", "inspect", tag])
        .output()
        .unwrap();
    if have.status.success() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rootfs = dir.path().join("rootfs");
    let out = Command::new("debootstrap")
        .args([
            "--variant=minbase",
            &format!("--include={include}"),
            "bookworm",
        ])
        .arg(&rootfs)
        .arg("http://deb.debian.org/debian")
        .output()
        .expect("debootstrap is needed for the Debian test images (.ci/run installs it)");
    assert!(
        out.status.success(),
        "debootstrap failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "tar -C '{}' -c . | docker import - {tag}",
            rootfs.display()
        ))
        .status()
        .unwrap();
    assert!(
        status.success(),
        "docker import of the debootstrap tree failed"
    );
}
