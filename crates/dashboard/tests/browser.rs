//! The pages as a real browser builds them: headless Chromium loads each page of the real
//! `dashboard` serving the small lab, the test reads the DOM it built, and a screenshot of
//! every page (1400×900, and the timeline at a phone's 390×844) is left in the artifacts
//! folder (`target/test-artifacts/`, or `$AIVC_ARTIFACTS`).

#[path = "../../../tests/support/browser.rs"]
mod browser;
mod common;

use std::path::Path;

use browser::Element;
use common::{Dashboard, Lab};

/// The width and height a PNG's header gives.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is no PNG",
        path.display()
    );
    let word = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (word(16), word(20))
}

/// The page at `path` as Chromium built it (kept as an artifact too), and its screenshot.
fn load(d: &Dashboard, path: &str, name: &str) -> String {
    let dom = browser::dump_dom(&d.url(path));
    browser::save_artifact(&format!("dashboard-{name}.html"), dom.as_bytes());
    let png = browser::screenshot_artifact(&d.url(path), &format!("dashboard-{name}"), 1400, 900);
    assert!(png.is_file(), "{} is missing", png.display());
    assert_eq!(png_size(&png), (1400, 900));
    dom
}

/// The descendants of `e` with tag `tag` and attribute `name` = `value`.
fn inside(e: &Element, tag: &str, name: &str, value: &str) -> Vec<Element> {
    e.descendants()
        .into_iter()
        .filter(|d| d.tag == tag && d.attr(name) == Some(value))
        .collect()
}

/// The single element of `found`, or a panic showing the page's outline.
fn one(found: Vec<Element>, what: &str, dom: &str) -> Element {
    assert_eq!(
        found.len(),
        1,
        "{} {what} in the page:\n{}",
        found.len(),
        browser::outline(dom)
    );
    found.into_iter().next().unwrap()
}

/// The frame every page has: the refresh every 30 s, the stylesheet, the title.
fn assert_frame(dom: &str, title: &str) {
    let metas = browser::by_tag(dom, "meta");
    assert!(
        metas
            .iter()
            .any(|m| m.attr("http-equiv") == Some("refresh") && m.attr("content") == Some("30")),
        "no refresh every 30 s: {metas:?}"
    );
    let h1 = browser::by_tag(dom, "h1");
    assert_eq!(h1.len(), 1);
    assert_eq!(h1[0].text(), title);
    assert!(browser::by_attr(dom, "role", "alert").is_empty());
    assert!(browser::by_tag(dom, "script").is_empty());
}

#[test]
fn the_timeline_shows_each_gpu_bobs_cells_with_his_times_the_legend_and_the_now_mark() {
    let lab = Lab::small();
    let d = Dashboard::start(lab.path());
    let dom = load(&d, "/", "timeline");
    assert_frame(&dom, "Timeline");
    let table = browser::by_id(&dom, "timeline").expect("table#timeline");
    assert_eq!(table.tag, "table");

    let rows: Vec<Element> = table
        .descendants()
        .into_iter()
        .filter(|e| e.tag == "tr" && e.attr("data-gpu").is_some())
        .collect();
    let gpus: Vec<&str> = rows.iter().filter_map(|r| r.attr("data-gpu")).collect();
    assert_eq!(gpus, ["0", "1", "2", "3"]);

    // Bob's booking, 08:00 to 13:00 on GPUs 1 and 2: one cell of ten slots in each row.
    for row in &rows {
        let bob = inside(row, "td", "data-user", "bob");
        match row.attr("data-gpu") {
            Some("1") | Some("2") => {
                assert_eq!(bob.len(), 1, "{}", row.outer_html);
                assert_eq!(bob[0].attr("colspan"), Some("10"));
                let titles: Vec<String> = std::iter::once(bob[0].clone())
                    .chain(bob[0].descendants())
                    .filter_map(|e| e.attr("title").map(str::to_string))
                    .collect();
                assert_eq!(titles.len(), 1, "{}", bob[0].outer_html);
                let title = &titles[0];
                assert!(
                    title.starts_with("bob:")
                        && title.contains("Mon 23 Nov 08:00–13:00")
                        && title.contains("GPU 1, 2"),
                    "bob's cell says {title:?}"
                );
            }
            _ => assert!(bob.is_empty(), "{}", row.outer_html),
        }
    }
    // The others where they booked: alice 4 h on GPU 0 yesterday, carol 6 h on GPU 0
    // tomorrow, dave 2 h on GPU 3.
    for (gpu, user, slots) in [(0, "alice", "8"), (0, "carol", "12"), (3, "dave", "4")] {
        let cell = one(inside(&rows[gpu], "td", "data-user", user), user, &dom);
        assert_eq!(cell.attr("colspan"), Some(slots), "{user}");
    }

    let legend = one(browser::by_class(&dom, "legend"), "legend", &dom);
    let names: Vec<String> = legend
        .descendants()
        .into_iter()
        .filter(|e| e.tag == "li")
        .map(|e| e.text())
        .collect();
    assert_eq!(names, ["alice", "bob", "carol", "dave"]);

    // The now mark: 10:10 on Monday is slot 116 counted from Saturday 00:00.
    let mark = one(browser::by_class(&dom, "nowmark"), "td.nowmark", &dom);
    assert_eq!(mark.tag, "td");
    let now_row = one(browser::by_class(&dom, "nowrow"), "tr.nowrow", &dom);
    let spans: Vec<String> = now_row
        .descendants()
        .iter()
        .filter(|e| e.tag == "td")
        .map(|e| match (e.has_class("nowmark"), e.attr("colspan")) {
            (true, _) => "mark".to_string(),
            (false, span) => span.unwrap_or("1").to_string(),
        })
        .collect();
    // 17 days of 48 slots: 116 before the mark, 699 after it.
    assert_eq!(spans, ["116", "mark", "699"]);
}

#[test]
fn the_timeline_at_a_phone_width_is_photographed_whole() {
    let lab = Lab::small();
    let d = Dashboard::start(lab.path());
    let dom = browser::dump_dom_sized(&d.url("/"), 390, 844);
    assert!(browser::by_id(&dom, "timeline").is_some());
    let png = browser::screenshot_artifact(&d.url("/"), "dashboard-timeline", 390, 844);
    assert!(png.is_file());
    assert_eq!(png_size(&png), (390, 844));
}

#[test]
fn the_now_page_flags_gpu_3_used_outside_bookings_and_shows_bobs_port_and_cpu() {
    let lab = Lab::small();
    let d = Dashboard::start(lab.path());
    let dom = load(&d, "/now", "now");
    assert_frame(&dom, "Now");
    let gpus = browser::by_id(&dom, "gpus").expect("table#gpus");
    for g in ["0", "1", "2", "3"] {
        let row = one(
            inside(&gpus, "tr", "data-gpu", g),
            &format!("GPU {g}"),
            &dom,
        );
        let flagged = inside(&row, "span", "data-unbooked", "true");
        assert_eq!(
            flagged.len(),
            usize::from(g == "3"),
            "GPU {g}: {}",
            row.text()
        );
        if g == "1" || g == "2" {
            assert!(
                row.text().contains("bob") && row.text().contains("13:00"),
                "{}",
                row.text()
            );
            assert!(row.text().contains("50%"), "{}", row.text());
        }
        if g == "3" {
            assert!(
                row.text().contains("90%") && row.text().contains("free"),
                "{}",
                row.text()
            );
        }
    }
    let running = browser::by_id(&dom, "running").expect("table#running");
    let bob = one(
        inside(&running, "tr", "data-user", "bob"),
        "bob's row",
        &dom,
    );
    let cells: Vec<String> = bob
        .descendants()
        .into_iter()
        .filter(|e| e.tag == "td")
        .map(|e| e.text())
        .collect();
    assert!(cells.iter().any(|c| c == "10002"), "{cells:?}");
    assert!(cells.iter().any(|c| c.contains("150%")), "{cells:?}");
    assert_eq!(
        inside(&running, "tr", "data-user", "alice").len(),
        0,
        "alice's booking ended yesterday"
    );
}

#[test]
fn the_waitlist_page_shows_erin_waiting() {
    let lab = Lab::small();
    let d = Dashboard::start(lab.path());
    let dom = load(&d, "/waitlist", "waitlist");
    assert_frame(&dom, "Waitlist");
    let table = browser::by_id(&dom, "waitlist").expect("table#waitlist");
    let rows: Vec<Element> = table
        .descendants()
        .into_iter()
        .filter(|e| e.tag == "tr" && e.attr("data-user").is_some())
        .collect();
    assert_eq!(rows.len(), 1, "{}", table.text());
    assert_eq!(rows[0].attr("data-user"), Some("erin"));
    let text = rows[0].text();
    assert!(text.contains("erin") && text.contains("waiting"), "{text}");
}

#[test]
fn the_problems_page_lists_what_the_checker_finds() {
    let lab = Lab::small();
    let d = Dashboard::start(lab.path());
    let dom = load(&d, "/problems", "problems");
    assert_frame(&dom, "Problems");
    let state: checker::report::Report =
        serde_json::from_str(&d.get("/api/v1/state").body).unwrap();
    let shown: Vec<String> = browser::with_attr(&dom, "data-code")
        .into_iter()
        .filter_map(|e| e.attr("data-code").map(str::to_string))
        .collect();
    let found: Vec<String> = state.problems.iter().map(|p| p.code.clone()).collect();
    assert_eq!(shown, found);
    if found.is_empty() {
        assert!(browser::by_id(&dom, "no-problems").is_some());
    } else {
        assert!(browser::by_id(&dom, "problems").is_some_and(|t| t.tag == "table"));
    }
    // The lab's users file is readable by all: a problem on every machine.
    assert!(
        found.iter().any(|c| c == "users_config_readable"),
        "{found:?}"
    );
}

#[test]
fn the_usage_page_charts_each_user_and_reads_4_0_used_hours_for_alice_over_7_days() {
    let lab = Lab::small();
    let d = Dashboard::start(lab.path());
    let dom = load(&d, "/usage?days=7", "usage");
    assert_frame(&dom, "Usage");
    let chart = browser::by_id(&dom, "usage-chart").expect("svg#usage-chart");
    assert_eq!(chart.tag, "svg");
    for user in ["alice", "bob"] {
        one(inside(&chart, "g", "data-user", user), user, &dom);
    }
    assert!(inside(&chart, "g", "data-user", "carol").is_empty());

    let table = browser::by_id(&dom, "usage-users").expect("table#usage-users");
    let cell = |user: &str, window: &str, kind: &str| -> String {
        let row = one(inside(&table, "tr", "data-user", user), user, &dom);
        let cells: Vec<Element> = inside(&row, "td", "data-window", window)
            .into_iter()
            .filter(|e| e.attr("data-kind") == Some(kind))
            .collect();
        one(cells, &format!("{user} {window} {kind}"), &dom).text()
    };
    assert_eq!(cell("alice", "7", "used"), "4.0");
    assert_eq!(cell("alice", "7", "booked"), "4.0");
    // bob: 250 minutes used of 260 booked.
    assert_eq!(cell("bob", "7", "used"), "4.2");
    assert_eq!(cell("bob", "7", "booked"), "4.3");
    assert_eq!(cell("alice", "90", "used"), "4.0");
    let unbooked = browser::by_id(&dom, "unbooked").expect("#unbooked");
    assert_eq!(unbooked.text(), "1.0 GPU-hours");
}
