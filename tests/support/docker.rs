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

/// Removes a container when dropped, whatever the test did.
pub struct Cleanup(pub String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "-f", &self.0]).output();
    }
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
    BUILT.get_or_init(|| {
        require_engine();
        let have = Command::new("docker")
            .args(["image", "inspect", DEBIAN_BASE])
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
                "--include=openssh-server,sudo",
                "bookworm",
            ])
            .arg(&rootfs)
            .arg("http://deb.debian.org/debian")
            .output()
            .expect("debootstrap is needed for the booking container test (.ci/run installs it)");
        assert!(
            out.status.success(),
            "debootstrap failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let status = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "tar -C '{}' -c . | docker import - {DEBIAN_BASE}",
                rootfs.display()
            ))
            .status()
            .unwrap();
        assert!(
            status.success(),
            "docker import of the debootstrap tree failed"
        );
    });
    DEBIAN_BASE
}
