//! Booking from the browser as a student does it (issue 18): a real headless Chromium,
//! driven over W3C WebDriver by Debian's `chromedriver`, signs carol in through the form,
//! picks a free range in GPU 3's row of the timeline, books it with the filled form, finds
//! it with its `ssh` line on "My bookings", extends it by an hour and cancels it. Each step
//! leaves a screenshot (1400×900) in the artifacts folder (`target/test-artifacts/`, or
//! `$AIVC_ARTIFACTS`) as `web-*.png`.

#[path = "../../../tests/support/browser.rs"]
mod browser;
mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Dashboard, Lab, FAST_AUTH};
use serde_json::{json, Value};

const INSTALL: &str = "install Debian's `chromium-driver` package \
     (apt-get install chromium-driver; scripts/test.sh does it)";

/// The key of a web element reference in WebDriver's JSON.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The range carol picks: the day after tomorrow, 14:00 to 16:00, when every GPU is free
/// (her own booking is tomorrow 10:00 to 16:00).
const PICK: (&str, &str) = ("2026-11-25 14:00", "2026-11-25 16:00");
/// The end she moves it to: an hour later.
const LATER: &str = "2026-11-25 17:00";

/// The chromedriver on PATH; panics with the package to install when there is none.
fn require_chromedriver() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .map(|dir| dir.join("chromedriver"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("this test drives a real browser and no chromedriver is on PATH: {INSTALL}")
        })
}

/// A running chromedriver and one browser session of it; both end on drop.
struct Browser {
    driver: Child,
    base: String,
    session: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(60)))
        .http_status_as_error(false)
        .build()
        .into()
}

impl Browser {
    fn start() -> Browser {
        let chromedriver = require_chromedriver();
        let chromium = browser::require_chromium();
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("chromedriver.log");
        let port = common::free_port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let mut b = Browser {
            driver,
            base,
            session: String::new(),
            log,
            _dir: dir,
        };
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = agent()
                .get(format!("{}/status", b.base))
                .call()
                .ok()
                .and_then(|mut r| r.body_mut().read_to_string().ok())
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .is_some_and(|v| v["value"]["ready"] == true);
            if ready {
                break;
            }
            assert!(
                Instant::now() < until,
                "chromedriver did not answer within 30 s: {}",
                b.log_tail()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = b._dir.path().join("profile");
        let caps = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {
                        "binary": chromium,
                        "args": [
                            "--headless=new",
                            "--no-sandbox",
                            "--disable-gpu",
                            "--disable-dev-shm-usage",
                            "--window-size=1400,900",
                            "--hide-scrollbars",
                            format!("--user-data-dir={}", profile.display()),
                        ],
                    },
                },
            },
        });
        let v = b.call("POST", "/session", Some(caps));
        b.session = v["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session in {v}"))
            .to_string();
        b
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// One WebDriver command; its `value`, or a panic with WebDriver's error.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.try_call(method, path, body)
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}\n{}", self.log_tail()))
    }

    fn try_call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("{}{path}", self.base);
        let a = agent();
        let sent = match (method, body) {
            ("GET", _) => a.get(&url).call(),
            ("DELETE", _) => a.delete(&url).call(),
            ("POST", body) => a
                .post(&url)
                .header("content-type", "application/json")
                .send(body.unwrap_or_else(|| json!({})).to_string()),
            (m, _) => panic!("no such WebDriver method here: {m}"),
        };
        let mut r = sent.map_err(|e| e.to_string())?;
        let status = r.status().as_u16();
        let text = r.body_mut().read_to_string().map_err(|e| e.to_string())?;
        let v: Value = serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))?;
        if status == 200 {
            Ok(v["value"].clone())
        } else {
            Err(format!(
                "{status} {}: {}",
                v["value"]["error"],
                v["value"]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .lines()
                    .next()
                    .unwrap_or_default()
            ))
        }
    }

    fn path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    fn go(&self, url: &str) {
        self.call("POST", &self.path("/url"), Some(json!({ "url": url })));
    }

    /// Waits (5 s at most) until the page's address satisfies `done`; the address. On a
    /// timeout, the page is left as a screenshot `web-failed-<what>.png`.
    fn wait_url(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        // Generous: a debug build on a loaded CI machine.
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            let url = self.url();
            if done(&url) {
                return url;
            }
            if Instant::now() >= until {
                let shot = self.screenshot(&format!("failed-{}", what.replace(' ', "-")));
                panic!(
                    "{what}: still at {url} (screenshot {}): {}",
                    shot.display(),
                    browser::text_of(&self.source())
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn url(&self) -> String {
        self.call("GET", &self.path("/url"), None)
            .as_str()
            .unwrap()
            .to_string()
    }

    fn title(&self) -> String {
        self.call("GET", &self.path("/title"), None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    fn source(&self) -> String {
        self.call("GET", &self.path("/source"), None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Every element `css` finds in the page.
    fn all(&self, css: &str) -> Vec<String> {
        let found = self.call(
            "POST",
            &self.path("/elements"),
            Some(json!({ "using": "css selector", "value": css })),
        );
        found
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e[ELEMENT].as_str().unwrap().to_string())
            .collect()
    }

    /// The one element `css` finds, or a panic showing the page's outline.
    fn one(&self, css: &str) -> String {
        let found = self.all(css);
        if found.len() != 1 {
            let source = self.source();
            panic!(
                "{} elements match `{css}` at {} ({}):\n{}",
                found.len(),
                self.url(),
                self.title(),
                browser::outline(&source)
            );
        }
        found.into_iter().next().unwrap()
    }

    /// The one element `css` finds inside `parent`.
    fn inside(&self, parent: &str, css: &str) -> String {
        let found = self.call(
            "POST",
            &self.path(&format!("/element/{parent}/elements")),
            Some(json!({ "using": "css selector", "value": css })),
        );
        let found = found.as_array().unwrap();
        assert_eq!(
            found.len(),
            1,
            "{} elements match `{css}` in its row",
            found.len()
        );
        found[0][ELEMENT].as_str().unwrap().to_string()
    }

    fn click(&self, element: &str) {
        self.call(
            "POST",
            &self.path(&format!("/element/{element}/click")),
            None,
        );
    }

    fn clear(&self, element: &str) {
        self.call(
            "POST",
            &self.path(&format!("/element/{element}/clear")),
            None,
        );
    }

    fn type_in(&self, element: &str, text: &str) {
        self.call(
            "POST",
            &self.path(&format!("/element/{element}/value")),
            Some(json!({ "text": text })),
        );
    }

    fn text(&self, element: &str) -> String {
        self.call("GET", &self.path(&format!("/element/{element}/text")), None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    fn value(&self, element: &str) -> String {
        self.call(
            "GET",
            &self.path(&format!("/element/{element}/property/value")),
            None,
        )
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// The window as a PNG in the artifacts folder, `web-<name>.png`; its path.
    fn screenshot(&self, name: &str) -> PathBuf {
        let b64 = self.call("GET", &self.path("/screenshot"), None);
        let png = base64_decode(b64.as_str().unwrap());
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{name}: no PNG");
        browser::save_artifact(&format!("web-{name}.png"), &png)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.try_call("DELETE", &format!("/session/{}", self.session), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Standard base64 (WebDriver's screenshots), padding and line breaks allowed.
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {:?}", c as char),
        }
    };
    let digits: Vec<u8> = text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= value(*c) << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

/// The width and height a PNG's header gives.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    let word = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (word(16), word(20))
}

/// carol's rows in the files (booked or running) that start at `start` (`YYYY-MM-DD HH:MM`).
fn carols_rows_at(root: &Path, start: &str) -> Vec<hostinfo::schedule::Row> {
    let root = hostinfo::Root::at(root);
    let lock = root.lock_shared().unwrap();
    let mut rows = Vec::new();
    for table in [hostinfo::Table::Using, hostinfo::Table::Booking] {
        rows.extend(
            root.read_schedule(table, &lock)
                .unwrap()
                .rows
                .into_iter()
                .filter(|r| {
                    r.user_id == "carol" && r.start.format("%Y-%m-%d %H:%M").to_string() == start
                }),
        );
    }
    rows
}

/// Signs carol in through the form; she lands on her bookings.
fn sign_in(b: &Browser, d: &Dashboard) {
    b.go(&d.url("/signin"));
    let user = b.one("#signin #user");
    b.type_in(&user, "carol");
    let password = b.one("#signin #password");
    b.type_in(&password, "pw-carol");
    b.click(&b.one("#signin button[type=submit]"));
    b.wait_url("after sign-in", |u| u.ends_with("/my"));
    assert_eq!(b.text(&b.one("h1")), "My bookings");
}

/// From the filled booking form on: check it holds the picked range, book, see the
/// booking with its ssh line, extend it by an hour, cancel it.
fn book_extend_and_cancel(b: &Browser, root: &Path) {
    assert!(
        b.url().contains("/book?"),
        "not the booking form: {}",
        b.url()
    );
    assert_eq!(b.value(&b.one("#book #start")), PICK.0);
    assert_eq!(b.value(&b.one("#book #end")), PICK.1);
    assert_eq!(b.value(&b.one("#book #gpus")), "1");
    let shot = b.screenshot("2-book-form");
    // --window-size is the window's; the page gets what the (headless) frame leaves.
    assert_eq!(png_size(&shot).0, 1400);
    b.click(&b.one("#book button[type=submit]"));
    b.wait_url("after booking", |u| u.ends_with("/my?done=booked"));

    let row_css = format!("#my-bookings tr[data-start=\"{}:00\"]", PICK.0);
    let row = b.one(&row_css);
    let ssh = b.text(&b.inside(&row, "code.ssh"));
    assert!(ssh.starts_with("ssh -p 10003 root@"), "{ssh}");
    assert!(b.text(&row).contains("16:00"), "{}", b.text(&row));
    let booked = carols_rows_at(root, PICK.0);
    assert_eq!(booked.len(), 1, "{booked:#?}");
    assert_eq!(booked[0].gpus.ids().len(), 1, "{booked:#?}");
    b.screenshot("3-my-bookings-booked");

    // Extend by an hour: 16:00 → 17:00.
    let end = b.inside(&row, "input[name=end]");
    b.clear(&end);
    b.type_in(&end, LATER);
    b.click(&b.inside(&row, "button[value=move]"));
    // The click navigates: wait for the answer's page rather than read the old one.
    b.wait_url("after the new end", |u| u.ends_with("/my?done=changed"));
    let row = b.one(&row_css);
    assert!(b.text(&row).contains("17:00"), "{}", b.text(&row));
    assert_eq!(
        carols_rows_at(root, PICK.0)[0]
            .end
            .format("%H:%M")
            .to_string(),
        "17:00"
    );
    b.screenshot("4-my-bookings-extended");

    b.click(&b.inside(&row, "button[value=cancel]"));
    b.wait_url("after cancel", |u| u.ends_with("/my?done=cancelled"));
    assert!(
        b.all(&row_css).is_empty(),
        "the cancelled booking is still listed"
    );
    assert!(carols_rows_at(root, PICK.0).is_empty());
    b.screenshot("5-my-bookings-cancelled");
}

#[test]
fn carol_signs_in_picks_a_range_on_gpu_3s_row_books_it_extends_it_and_cancels_it() {
    let lab = Lab::small();
    let d = Dashboard::start_with(lab.path(), &[FAST_AUTH]);
    let b = Browser::start();
    sign_in(&b, &d);

    b.go(&d.url("/"));
    let start_link = format!(
        "tr[data-gpu=\"3\"] td.pick a[href=\"/?pick={}#now\"]",
        PICK.0.replace(' ', "+")
    );
    b.click(&b.one(&start_link));
    let picked = format!("pick={}", PICK.0.replace(' ', "+"));
    b.wait_url("after picking the start", |u| u.contains(&picked));
    let shot = b.screenshot("1-timeline-pick");
    assert_eq!(png_size(&shot).0, 1400);
    // The picked slot is marked, and a later free slot now ends the range.
    b.one("tr[data-gpu=\"3\"] td.picked");
    let end_link = format!(
        "tr[data-gpu=\"3\"] td.pick a[href=\"/book?start={}&end={}&gpus=1\"]",
        PICK.0.replace(' ', "+"),
        PICK.1.replace(' ', "+")
    );
    b.click(&b.one(&end_link));
    b.wait_url("after picking the end", |u| u.contains("/book?"));
    book_extend_and_cancel(&b, lab.path());
}

/// The rest of the flow from the link the timeline gives after a pick (the form filled
/// with the range), so it is proven even while picking on the timeline fails.
#[test]
fn from_the_filled_form_carol_books_sees_the_ssh_line_extends_and_cancels() {
    let lab = Lab::small();
    let d = Dashboard::start_with(lab.path(), &[FAST_AUTH]);
    let b = Browser::start();
    sign_in(&b, &d);
    b.go(&d.url(&format!(
        "/book?start={}&end={}&gpus=1",
        PICK.0.replace(' ', "+"),
        PICK.1.replace(' ', "+")
    )));
    book_extend_and_cancel(&b, lab.path());
}

// ---- The same steps over plain HTTP ----------------------------------------------------
// Each pins one step of the flow to its cause, with no browser in between; the requests
// carry this site's `Origin`, so the origin check does not stand in their way.

/// The values a browser sends for `form`: each named input as the page fills it, then
/// `typed` over them, then the button pressed.
fn fields_of(
    form: &browser::Element,
    typed: &[(&str, &str)],
    button: (&str, &str),
) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = form
        .descendants()
        .into_iter()
        .filter(|e| e.tag == "input")
        .filter_map(|e| {
            Some((
                e.attr("name")?.to_string(),
                e.attr("value").unwrap_or("").to_string(),
            ))
        })
        .collect();
    for (name, value) in typed {
        for f in fields.iter_mut().filter(|f| f.0 == *name) {
            f.1 = value.to_string();
        }
    }
    fields.push((button.0.to_string(), button.1.to_string()));
    fields
}

/// The form of "My bookings" in the row of the booking starting at `start` (`YYYY-MM-DD
/// HH:MM`) whose button has `action`.
fn my_form(page: &str, start: &str, action: &str) -> browser::Element {
    let row = browser::by_tag(page, "tr")
        .into_iter()
        .find(|r| r.attr("data-start").is_some_and(|s| s.starts_with(start)))
        .unwrap_or_else(|| panic!("no row of {start} in:\n{}", browser::outline(page)));
    row.descendants()
        .into_iter()
        .filter(|e| e.tag == "form")
        .find(|f| {
            f.descendants()
                .iter()
                .any(|b| b.tag == "button" && b.attr("value") == Some(action))
        })
        .unwrap_or_else(|| {
            panic!(
                "no {action} button in the row of {start}: {}",
                row.outer_html
            )
        })
}

fn post_form(c: &common::Client, fields: &[(String, String)]) -> common::Answer {
    let fields: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    c.form("/my", &fields)
}

#[test]
fn the_forms_of_my_bookings_move_cancel_and_end_with_the_values_the_page_holds() {
    let lab = Lab::small();
    let d = Dashboard::start_with(lab.path(), &[FAST_AUTH]);
    let carol = common::Client::sign_in(&d, "carol", "pw-carol");
    carol
        .api(
            "POST",
            "/api/v1/bookings",
            Some(&common::booking_body(1, PICK.0, PICK.1)),
        )
        .expect_status(201);

    let page = carol.get("/my");
    page.expect_status(200);
    let move_end = fields_of(
        &my_form(&page.body, PICK.0, "move"),
        &[("end", LATER)],
        ("action", "move"),
    );
    let a = post_form(&carol, &move_end);
    assert_eq!(
        (a.status, a.header("location")),
        (303, Some("/my?done=changed")),
        "Change the end, sending {move_end:?}: {}",
        browser::text_of(&a.body)
    );

    let page = carol.get("/my");
    let cancel = fields_of(
        &my_form(&page.body, PICK.0, "cancel"),
        &[],
        ("action", "cancel"),
    );
    let a = post_form(&carol, &cancel);
    assert_eq!(
        (a.status, a.header("location")),
        (303, Some("/my?done=cancelled")),
        "Cancel, sending {cancel:?}: {}",
        browser::text_of(&a.body)
    );

    // bob's booking runs: his row offers "End now".
    let bob = common::Client::sign_in(&d, "bob", "pw-bob");
    let page = bob.get("/my");
    let end = fields_of(
        &my_form(&page.body, "2026-11-23 08:00", "end"),
        &[],
        ("action", "end"),
    );
    let a = post_form(&bob, &end);
    assert_eq!(
        (a.status, a.header("location")),
        (303, Some("/my?done=ended")),
        "End now, sending {end:?}: {}",
        browser::text_of(&a.body)
    );
}

#[test]
fn a_start_picked_on_the_timeline_is_marked_and_a_later_slot_links_to_the_filled_form() {
    let lab = Lab::small();
    let d = Dashboard::start_with(lab.path(), &[FAST_AUTH]);
    let carol = common::Client::sign_in(&d, "carol", "pw-carol");
    let row_of_gpu_3 = |page: &str| {
        browser::by_attr(page, "data-gpu", "3")
            .into_iter()
            .next()
            .expect("GPU 3's row")
    };
    let page = carol.get("/");
    page.expect_status(200);
    let start_href = format!("/?pick={}#now", PICK.0.replace(' ', "+"));
    let link = row_of_gpu_3(&page.body)
        .descendants()
        .into_iter()
        .find(|a| a.tag == "a" && a.attr("href") == Some(start_href.as_str()))
        .unwrap_or_else(|| panic!("no link {start_href} in GPU 3's row"));
    let href = link
        .attr("href")
        .unwrap()
        .trim_end_matches("#now")
        .to_string();

    let picked = carol.get(&href);
    picked.expect_status(200);
    let row = row_of_gpu_3(&picked.body);
    let marked = row
        .descendants()
        .into_iter()
        .filter(|e| e.has_class("picked"))
        .count();
    let end_href = format!(
        "/book?start={}&end={}&gpus=1",
        PICK.0.replace(' ', "+"),
        PICK.1.replace(' ', "+")
    );
    let ends = row
        .descendants()
        .into_iter()
        .any(|a| a.tag == "a" && a.attr("href") == Some(end_href.as_str()));
    assert!(
        marked == 1 && ends,
        "GET {href}: {marked} slots marked picked in GPU 3's row, and {} link to {end_href}; the slot after the pick links to {:?}",
        if ends { "a" } else { "no" },
        row.descendants()
            .into_iter()
            .filter(|a| a.tag == "a")
            .filter_map(|a| a.attr("href").map(str::to_string))
            .find(|h| h.contains("2026-11-25+15:30"))
    );
}
