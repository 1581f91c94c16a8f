//! Real servers on loopback for the notice tests (included with `#[path]`), none of them
//! ours: Debian's aiosmtpd (python3-aiosmtpd) delivering into a Maildir, and busybox httpd
//! running a CGI that keeps each POST body. A server that cannot start fails the test with
//! what to install (scripts/test.sh installs both); nothing is skipped.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A loopback port nothing listens on now (the kernel's pick).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits up to 20 s for something to accept on `port`; panics with `what` and its stderr.
fn wait_listening(port: u16, child: &mut Child, what: &str) {
    let until = Instant::now() + Duration::from_secs(20);
    while Instant::now() < until {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            panic!("{what} exited ({status}) instead of listening on 127.0.0.1:{port}: {err}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} did not listen on 127.0.0.1:{port} within 20 s");
}

/// Debian's aiosmtpd on `127.0.0.1:port`, keeping every mail in a Maildir.
pub struct Smtp {
    child: Child,
    pub port: u16,
    pub maildir: PathBuf,
    _dir: tempfile::TempDir,
}

/// One mail as the server stored it: its headers (names lowercased, folded lines joined)
/// and its body.
#[derive(Debug, Clone)]
pub struct Mail {
    pub headers: BTreeMap<String, Vec<String>>,
    pub body: String,
}

impl Mail {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(&name.to_lowercase())
            .and_then(|v| v.first())
            .map_or("", String::as_str)
    }
}

impl Smtp {
    pub fn start(port: u16) -> Smtp {
        let dir = tempfile::tempdir().unwrap();
        let maildir = dir.path().join("Maildir");
        // Debian's python3-aiosmtpd is for Debian's python3, whatever else is on PATH.
        let python = if Path::new("/usr/bin/python3").exists() {
            "/usr/bin/python3"
        } else {
            "python3"
        };
        let mut child = Command::new(python)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
        wait_listening(
            port,
            &mut child,
            "aiosmtpd (apt-get install python3-aiosmtpd; scripts/test.sh does)",
        );
        Smtp {
            child,
            port,
            maildir,
            _dir: dir,
        }
    }

    /// Every mail received so far, in the order of their file names.
    pub fn mails(&self) -> Vec<Mail> {
        let mut paths: Vec<PathBuf> = ["new", "cur"]
            .iter()
            .filter_map(|d| std::fs::read_dir(self.maildir.join(d)).ok())
            .flatten()
            .map(|e| e.unwrap().path())
            .collect();
        paths.sort();
        paths
            .iter()
            .map(|p| parse_mail(&std::fs::read_to_string(p).unwrap()))
            .collect()
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn parse_mail(text: &str) -> Mail {
    let text = text.replace("\r\n", "\n");
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut last: Option<String> = None;
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(name) = &last {
                let v = headers.get_mut(name).unwrap().last_mut().unwrap();
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            let name = name.trim().to_lowercase();
            headers
                .entry(name.clone())
                .or_default()
                .push(value.trim().to_string());
            last = Some(name);
        }
    }
    Mail {
        headers,
        body: body.to_string(),
    }
}

/// busybox httpd on `127.0.0.1:port` whose `/cgi-bin/hook` keeps each request body in a
/// file of its own (and answers 200); any other path answers 404.
pub struct Http {
    child: Child,
    pub port: u16,
    got: PathBuf,
    _dir: tempfile::TempDir,
}

impl Http {
    pub fn start(port: u16) -> Http {
        Http::start_with(port, "")
    }

    /// Like [`Http::start`], the hook also running the shell command `then` after it kept
    /// the body (a test's way to act while a delivery runs).
    pub fn start_with(port: u16, then: &str) -> Http {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let www = dir.path().join("www");
        let got = dir.path().join("got");
        std::fs::create_dir_all(www.join("cgi-bin")).unwrap();
        std::fs::create_dir_all(&got).unwrap();
        let cgi = www.join("cgi-bin/hook");
        std::fs::write(
            &cgi,
            format!(
                "#!/bin/sh\nf={}/$(date +%s%N)-$$\nhead -c \"${{CONTENT_LENGTH:-0}}\" > \"$f.tmp\" && mv \"$f.tmp\" \"$f.json\"\n{then}\nprintf 'Content-Type: text/plain\\r\\n\\r\\nok\\n'\n",
                got.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&cgi, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut child = Command::new("busybox")
            .args(["httpd", "-f", "-p"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-h")
            .arg(&www)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run busybox (apt-get install busybox-static): {e}"));
        wait_listening(port, &mut child, "busybox httpd");
        Http {
            child,
            port,
            got,
            _dir: dir,
        }
    }

    /// The URL of the hook, with a query that stands for a webhook's secret token.
    pub fn hook_url(&self, token: &str) -> String {
        format!("http://127.0.0.1:{}/cgi-bin/hook?token={token}", self.port)
    }

    /// Every body received so far, oldest first.
    pub fn bodies(&self) -> Vec<String> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&self.got)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        paths.sort();
        paths
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    }
}

impl Drop for Http {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
