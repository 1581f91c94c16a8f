//! Writes the tests' small lab into DIR (a throwaway installation to look at the dashboard
//! with): `cargo run -p dashboard --example small_lab -- DIR`, then
//! `dashboard --root DIR`.
#![allow(clippy::print_stderr)]

#[path = "../../../tests/support/dashboard_lab.rs"]
mod dashboard_lab;

fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: small_lab DIR");
        std::process::exit(2);
    };
    let now = hostinfo::clock::floor_slot(chrono::Utc::now().naive_utc());
    dashboard_lab::write_small_lab(std::path::Path::new(&dir), now, 3);
}
