//! A real browser for the crates' tests (included with `#[path]`): Debian's headless
//! Chromium loads a page, runs its scripts, and hands back the DOM it built (`dump_dom`)
//! or a PNG of the page (`screenshot`). A test that needs Chromium and finds none fails
//! with what to install (scripts/test.sh installs it); nothing is skipped.
//!
//! Each run gets a throwaway profile and is killed, with every process it started, when it
//! outlives `TIMEOUT`. Chromium's stderr (dbus complaints and the like) is kept in a file
//! and shown, its tail only, when a run fails.
//!
//! `elements`, `by_id`, `by_attr`, `by_tag` and `by_class` find elements in the HTML that
//! `dump_dom` returns. That HTML is Chromium's own serialization (lowercase names, quoted
//! attributes, an end tag for every element that may have one), which a small scanner reads
//! faithfully; it is not a parser for HTML in general.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long one Chromium run may take before it is killed.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// How much virtual time a page gets to run its scripts (timers, fetches) before Chromium
/// dumps or photographs it. Virtual time runs as fast as the page lets it, so this costs
/// no wall time; a pending network request holds it until the request is answered.
pub const VIRTUAL_TIME_BUDGET_MS: u32 = 5_000;

const INSTALL: &str = "install Debian's `chromium` package \
     (apt-get install chromium; scripts/test.sh does it)";

/// The Chromium on PATH (`chromium`, or `chromium-browser` as some systems name it).
pub fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser"]
        .iter()
        .find_map(|name| find_program(name))
}

/// The Chromium on PATH; panics with what to install when there is none.
pub fn require_chromium() -> PathBuf {
    chromium().unwrap_or_else(|| {
        panic!("this test loads pages in a real browser and no Chromium is on PATH: {INSTALL}")
    })
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// What one finished Chromium run left behind.
#[derive(Debug)]
pub struct ChromiumRun {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl ChromiumRun {
    /// What Chromium said when it could not load the page at all ("Page load failed:
    /// net::ERR_CONNECTION_REFUSED"); it still exits 0 then, with nothing on stdout.
    pub fn load_failure(&self) -> Option<&str> {
        self.stderr
            .lines()
            .find_map(|l| l.find("Page load failed").map(|i| l[i..].trim()))
    }

    /// The last `lines` lines of Chromium's stderr, for a failure message.
    pub fn stderr_tail(&self, lines: usize) -> String {
        tail(&self.stderr, lines)
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Runs headless Chromium with `args` after the flags every run needs (headless, no GPU, no
/// sandbox since tests may run as root, a throwaway profile, a window of `width`×`height`).
/// Its stdout and stderr go to files, so a chatty browser never blocks on a full pipe.
/// Panics, with the tail of its stderr, when it does not finish within `timeout`.
pub fn run_chromium(args: &[String], width: u32, height: u32, timeout: Duration) -> ChromiumRun {
    let program = require_chromium();
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("stdout");
    let err_path = dir.path().join("stderr");
    let mut cmd = Command::new(&program);
    cmd.arg("--headless=new")
        .arg("--disable-gpu")
        .arg("--no-sandbox")
        // Docker gives /dev/shm 64 MiB; Debian's launcher means to add this flag then, but
        // its check of /dev/shm breaks where findmnt lists two mounts there.
        .arg("--disable-dev-shm-usage")
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ))
        .args([
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--mute-audio",
            "--hide-scrollbars",
        ])
        .arg(format!("--window-size={width},{height}"))
        .args(args)
        // Its own session: on a timeout the whole group (zygote, renderers) goes.
        .process_group(0)
        // Its temporary files (a singleton socket a killed run would leave, the shared
        // memory of --disable-dev-shm-usage) go with the throwaway folder.
        .env("TMPDIR", dir.path())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}; {INSTALL}", program.display()));
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > timeout {
            kill_group(child.id());
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = started.elapsed();
    let stdout =
        String::from_utf8_lossy(&std::fs::read(&out_path).unwrap_or_default()).into_owned();
    let stderr =
        String::from_utf8_lossy(&std::fs::read(&err_path).unwrap_or_default()).into_owned();
    match status {
        Some(status) => ChromiumRun {
            status,
            stdout,
            stderr,
            elapsed,
        },
        None => panic!(
            "chromium {args:?} did not finish within {timeout:?} and was killed; its stderr ends:\n{}",
            tail(&stderr, 30)
        ),
    }
}

/// SIGKILL to the process group `pgid` (this module starts Chromium as a group leader).
fn kill_group(pgid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stderr(Stdio::null())
        .status();
}

/// The DOM of `url` after the page loaded and its scripts ran, as Chromium serializes it
/// (`--dump-dom`), with a 1280×800 window. Panics, with the tail of Chromium's stderr, when
/// Chromium fails or dumps nothing.
pub fn dump_dom(url: &str) -> String {
    dump_dom_sized(url, 1280, 800)
}

/// `dump_dom` with a window of `width`×`height` (media queries, scripts that read the size).
pub fn dump_dom_sized(url: &str, width: u32, height: u32) -> String {
    let args = vec![
        format!("--virtual-time-budget={VIRTUAL_TIME_BUDGET_MS}"),
        "--dump-dom".to_string(),
        url.to_string(),
    ];
    let run = run_chromium(&args, width, height, TIMEOUT);
    assert!(
        run.status.success() && run.stdout.contains("<html"),
        "chromium --dump-dom {url} failed ({}{}), stdout {:?}; its stderr ends:\n{}",
        run.status,
        run.load_failure()
            .map(|f| format!(", {f}"))
            .unwrap_or_default(),
        truncate(&run.stdout, 500),
        run.stderr_tail(30)
    );
    run.stdout
}

/// A PNG of `url` at `out`, `width`×`height` pixels, taken after the page loaded and its
/// scripts ran. Panics unless the file exists afterwards and is a PNG of non-trivial size.
pub fn screenshot(url: &str, out: &Path, width: u32, height: u32) {
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    let _ = std::fs::remove_file(out);
    let args = vec![
        format!("--virtual-time-budget={VIRTUAL_TIME_BUDGET_MS}"),
        format!("--screenshot={}", out.display()),
        url.to_string(),
    ];
    let run = run_chromium(&args, width, height, TIMEOUT);
    let bytes = std::fs::read(out).unwrap_or_default();
    assert!(
        run.status.success() && bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 1000,
        "chromium --screenshot of {url} failed ({}{}): {} has {} bytes{}; its stderr ends:\n{}",
        run.status,
        run.load_failure()
            .map(|f| format!(", {f}"))
            .unwrap_or_default(),
        out.display(),
        bytes.len(),
        if bytes.is_empty() || bytes.starts_with(b"\x89PNG") {
            ""
        } else {
            " and is no PNG"
        },
        run.stderr_tail(30)
    );
}

/// `screenshot` into the artifacts folder as `<name>-<width>x<height>.png`; returns its path.
pub fn screenshot_artifact(url: &str, name: &str, width: u32, height: u32) -> PathBuf {
    let out = artifacts_dir().join(format!("{name}-{width}x{height}.png"));
    screenshot(url, &out, width, height);
    out
}

/// Where tests leave what a person may want to look at afterwards (screenshots, dumped
/// pages): `$AIVC_ARTIFACTS` when set, else `<workspace>/target/test-artifacts/`. Created.
pub fn artifacts_dir() -> PathBuf {
    let dir = match std::env::var_os("AIVC_ARTIFACTS") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => workspace_root().join("target/test-artifacts"),
    };
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create the artifacts folder {}: {e}", dir.display()));
    dir
}

/// Writes `contents` to `name` in the artifacts folder; returns its path.
pub fn save_artifact(name: &str, contents: &[u8]) -> PathBuf {
    let path = artifacts_dir().join(name);
    std::fs::write(&path, contents)
        .unwrap_or_else(|e| panic!("cannot write the artifact {}: {e}", path.display()));
    path
}

/// The workspace root: the nearest folder above the crate that holds Cargo.lock.
fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .find(|dir| dir.join("Cargo.lock").is_file())
        .unwrap_or(manifest)
        .to_path_buf()
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

// ---------------------------------------------------------------------------------------
// Finding elements in a dumped DOM.

/// One element of a dumped DOM: its tag, its attributes (values decoded) and the HTML
/// between its start and end tags.
#[derive(Debug, Clone, PartialEq)]
pub struct Element {
    pub tag: String,
    pub attrs: Vec<(String, String)>,
    pub inner_html: String,
    /// The whole element, start tag to end tag, as it stands in the page.
    pub outer_html: String,
}

impl Element {
    /// The value of attribute `name` (`Some("")` for a bare attribute such as `hidden`).
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn id(&self) -> Option<&str> {
        self.attr("id")
    }

    pub fn has_class(&self, class: &str) -> bool {
        self.attr("class")
            .is_some_and(|c| c.split_ascii_whitespace().any(|c| c == class))
    }

    /// The text inside, as a reader sees it: tags dropped (a tag other than an inline one
    /// such as `span` or `b` parts words), script and style contents dropped, character
    /// references decoded, runs of whitespace made one space, trimmed.
    pub fn text(&self) -> String {
        text_of(&self.inner_html)
    }

    /// The elements inside this one, at any depth, in document order.
    pub fn descendants(&self) -> Vec<Element> {
        elements(&self.inner_html)
    }
}

/// Every element of `html`, in document order (a parent before what it holds).
pub fn elements(html: &str) -> Vec<Element> {
    let tokens = tokenize(html);
    let mut out: Vec<Option<Element>> = Vec::new();
    // (index in `out`, tag, end of the start tag)
    let mut open: Vec<(usize, String, usize)> = Vec::new();
    let mut starts: Vec<usize> = Vec::new();
    for token in tokens {
        match token {
            Token::Start {
                name,
                attrs,
                from,
                to,
                self_closing,
            } => {
                let void = self_closing || VOID.contains(&name.as_str());
                out.push(Some(Element {
                    tag: name.clone(),
                    attrs,
                    inner_html: String::new(),
                    outer_html: html[from..to].to_string(),
                }));
                starts.push(from);
                if !void {
                    open.push((out.len() - 1, name, to));
                }
            }
            Token::End { name, from, to } => {
                // Close up to the nearest open element of that name; an end tag that opens
                // nothing is ignored.
                if let Some(pos) = open.iter().rposition(|(_, n, _)| *n == name) {
                    for (i, _, inner_from) in open.drain(pos..).rev() {
                        let e = out[i].as_mut().unwrap();
                        let (inner_to, outer_to) = if e.tag == name {
                            (from, to)
                        } else {
                            (from, from)
                        };
                        e.inner_html = html[inner_from..inner_to].to_string();
                        e.outer_html = html[starts[i]..outer_to].to_string();
                    }
                }
            }
        }
    }
    // Elements never closed run to the end.
    for (i, _, inner_from) in open {
        let e = out[i].as_mut().unwrap();
        e.inner_html = html[inner_from..].to_string();
        e.outer_html = html[starts[i]..].to_string();
    }
    out.into_iter().flatten().collect()
}

/// The element whose `id` is `id`.
pub fn by_id(html: &str, id: &str) -> Option<Element> {
    elements(html).into_iter().find(|e| e.id() == Some(id))
}

/// The elements whose attribute `name` is `value`.
pub fn by_attr(html: &str, name: &str, value: &str) -> Vec<Element> {
    elements(html)
        .into_iter()
        .filter(|e| e.attr(name) == Some(value))
        .collect()
}

/// The elements that have attribute `name`, whatever its value.
pub fn with_attr(html: &str, name: &str) -> Vec<Element> {
    elements(html)
        .into_iter()
        .filter(|e| e.attr(name).is_some())
        .collect()
}

/// The elements with tag `tag` (lowercase, as Chromium writes it).
pub fn by_tag(html: &str, tag: &str) -> Vec<Element> {
    elements(html)
        .into_iter()
        .filter(|e| e.tag.eq_ignore_ascii_case(tag))
        .collect()
}

/// The elements that have `class` among their classes.
pub fn by_class(html: &str, class: &str) -> Vec<Element> {
    elements(html)
        .into_iter()
        .filter(|e| e.has_class(class))
        .collect()
}

/// The text of an HTML fragment, as `Element::text` describes it.
pub fn text_of(html: &str) -> String {
    let mut raw = String::new();
    let mut pos = 0;
    let mut skip_until: Option<String> = None;
    for token in tokenize(html) {
        let (from, to) = match &token {
            Token::Start { from, to, .. } | Token::End { from, to, .. } => (*from, *to),
        };
        if skip_until.is_none() {
            raw.push_str(&html[pos..from]);
        }
        match &token {
            Token::Start { name, .. }
                if matches!(name.as_str(), "script" | "style" | "template") =>
            {
                skip_until.get_or_insert_with(|| name.clone());
            }
            Token::End { name, .. } if skip_until.as_deref() == Some(name.as_str()) => {
                skip_until = None;
            }
            // Inline elements join their text ("<b>12</b>%" is "12%"); any other tag
            // separates words ("<td>a</td><td>b</td>" is "a b").
            Token::Start { name, .. } | Token::End { name, .. }
                if INLINE.contains(&name.as_str()) => {}
            _ => raw.push(' '),
        }
        pos = to;
    }
    if skip_until.is_none() {
        raw.push_str(&html[pos..]);
    }
    decode_entities(&raw)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

const INLINE: &[&str] = &[
    "a", "abbr", "b", "bdi", "bdo", "cite", "code", "data", "dfn", "em", "i", "kbd", "mark", "q",
    "s", "samp", "small", "span", "strong", "sub", "sup", "time", "u", "var", "wbr",
];

const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
    "wbr",
];

/// Elements whose content is raw text, not markup.
const RAW_TEXT: &[&str] = &["script", "style", "textarea", "title", "xmp", "noscript"];

#[derive(Debug)]
enum Token {
    Start {
        name: String,
        attrs: Vec<(String, String)>,
        from: usize,
        to: usize,
        self_closing: bool,
    },
    End {
        name: String,
        from: usize,
        to: usize,
    },
}

/// Start and end tags of `html` with their byte ranges; comments, doctypes and the
/// contents of raw-text elements are passed over.
fn tokenize(html: &str) -> Vec<Token> {
    let b = html.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(off) = html[i..].find('<') {
        let from = i + off;
        let rest = &html[from..];
        if rest.starts_with("<!--") {
            i = rest.find("-->").map_or(b.len(), |e| from + e + 3);
            continue;
        }
        if rest.starts_with("<!") || rest.starts_with("<?") {
            i = rest.find('>').map_or(b.len(), |e| from + e + 1);
            continue;
        }
        let closing = rest.starts_with("</");
        let name_from = from + if closing { 2 } else { 1 };
        let name_len = html[name_from..]
            .find(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/')
            .unwrap_or(html.len() - name_from);
        let name = html[name_from..name_from + name_len].to_ascii_lowercase();
        if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
            i = from + 1;
            continue;
        }
        let (attrs, to, self_closing) = read_attrs(html, name_from + name_len);
        if closing {
            tokens.push(Token::End { name, from, to });
            i = to;
            continue;
        }
        let raw = RAW_TEXT.contains(&name.as_str());
        tokens.push(Token::Start {
            name: name.clone(),
            attrs,
            from,
            to,
            self_closing,
        });
        i = to;
        if raw {
            // Skip to its end tag, whatever the text holds.
            let end = format!("</{name}");
            let lower = html[i..].to_ascii_lowercase();
            match lower.find(&end) {
                Some(e) => i += e,
                None => i = b.len(),
            }
        }
    }
    tokens
}

/// Reads attributes from `pos` to the end of the tag: (attributes, end of tag, `/>`).
fn read_attrs(html: &str, mut pos: usize) -> (Vec<(String, String)>, usize, bool) {
    let b = html.as_bytes();
    let mut attrs = Vec::new();
    let mut self_closing = false;
    loop {
        while pos < b.len() && b[pos].is_ascii_whitespace() {
            pos += 1;
        }
        if pos >= b.len() {
            return (attrs, b.len(), self_closing);
        }
        match b[pos] {
            b'>' => return (attrs, pos + 1, self_closing),
            b'/' => {
                self_closing = true;
                pos += 1;
                continue;
            }
            _ => self_closing = false,
        }
        let name_from = pos;
        while pos < b.len() && !b[pos].is_ascii_whitespace() && !matches!(b[pos], b'=' | b'>') {
            pos += 1;
        }
        if pos == name_from {
            pos += 1; // a stray '=': pass over it
            continue;
        }
        let name = html[name_from..pos].to_ascii_lowercase();
        while pos < b.len() && b[pos].is_ascii_whitespace() {
            pos += 1;
        }
        let mut value = String::new();
        if pos < b.len() && b[pos] == b'=' {
            pos += 1;
            while pos < b.len() && b[pos].is_ascii_whitespace() {
                pos += 1;
            }
            if pos < b.len() && (b[pos] == b'"' || b[pos] == b'\'') {
                let quote = b[pos] as char;
                let vfrom = pos + 1;
                let vto = html[vfrom..].find(quote).map_or(b.len(), |e| vfrom + e);
                value = decode_entities(&html[vfrom..vto]);
                pos = (vto + 1).min(b.len());
            } else {
                let vfrom = pos;
                while pos < b.len() && !b[pos].is_ascii_whitespace() && b[pos] != b'>' {
                    pos += 1;
                }
                value = decode_entities(&html[vfrom..pos]);
            }
        }
        attrs.push((name, value));
    }
}

/// Decodes the character references Chromium writes (`&amp; &lt; &gt; &quot; &nbsp;`) and
/// numeric ones; others stay as they are.
pub fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let end = rest.find(';').filter(|&e| e <= 12);
        let decoded = end.and_then(|e| {
            let name = &rest[1..e];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some('\u{a0}'),
                _ => name.strip_prefix('#').and_then(|n| {
                    let code = match n.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok(),
                        None => n.parse().ok(),
                    };
                    code.and_then(char::from_u32)
                }),
            };
            c.map(|c| (c, e + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// A short outline of `html`'s elements with an id, for a failure message.
pub fn outline(html: &str) -> String {
    let mut s = String::new();
    for e in elements(html).iter().filter(|e| e.id().is_some()) {
        let _ = writeln!(
            s,
            "<{} id={:?}> {}",
            e.tag,
            e.id().unwrap(),
            truncate(&e.text(), 80)
        );
    }
    s
}
