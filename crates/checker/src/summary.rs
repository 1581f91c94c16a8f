//! The readable form of the report (`checker` without `--json`): the same facts, for a
//! person at a terminal. It reads well without colour; colour only marks severity.

use std::io;

use termcolor::{Color, ColorSpec, WriteColor};

use crate::problems::Severity;
use crate::report::{Report, State};

fn paint(out: &mut dyn WriteColor, color: Color, text: &str) -> io::Result<()> {
    out.set_color(ColorSpec::new().set_fg(Some(color)).set_bold(true))?;
    write!(out, "{text}")?;
    out.reset()
}

/// Writes the summary of `report` to `out`.
pub fn write(report: &Report, out: &mut dyn WriteColor) -> io::Result<()> {
    let h = &report.host;
    writeln!(
        out,
        "Host: {} cpus, {} GB memory ({} GB RAM + {} GB swap), {} GPUs",
        h.cpus, h.memory, h.ram, h.swap_size, h.gpus
    )?;
    match &report.gpus.note {
        Some(note) => writeln!(
            out,
            "GPUs: {} from the configuration ({note})",
            report.gpus.devices.len()
        )?,
        None => {
            for d in &report.gpus.devices {
                writeln!(
                    out,
                    "GPU {}: {} {} MiB of {} MiB used, {}% busy, {} processes",
                    d.index,
                    d.name.as_deref().unwrap_or("?"),
                    d.memory_used_mib.unwrap_or(0),
                    d.memory_total_mib.unwrap_or(0),
                    d.utilization_percent.unwrap_or(0),
                    d.processes.len()
                )?;
            }
        }
    }
    writeln!(
        out,
        "Time: {} {}{}",
        &report.now[..16],
        report.timezone,
        if report.clock_fixed {
            " (fixed by AIVC_NOW)"
        } else {
            ""
        }
    )?;
    let allowed = report.users.iter().filter(|u| u.allowed).count();
    let configured = report.users.iter().filter(|u| u.configured).count();
    writeln!(out, "Users: {allowed} may book, {configured} signed up")?;
    for g in &report.groups {
        // What the members hold at the report's time: the last point at or before it.
        let now = g
            .usage
            .iter()
            .take_while(|u| u.at <= report.now)
            .last()
            .map_or((0.0, 0, 0), |u| (u.cpus, u.memory, u.gpus));
        let of = |held: String, total: Option<String>| match total {
            Some(t) => format!("{held} of {t}"),
            None => held,
        };
        writeln!(
            out,
            "Group {}: {} members; holds {} cpus, {} GB, {} GPUs now",
            g.name,
            g.members.len(),
            of(now.0.to_string(), g.total.cpus.map(|v| v.to_string())),
            of(now.1.to_string(), g.total.memory.map(|v| v.to_string())),
            of(now.2.to_string(), g.total.gpus.map(|v| v.to_string())),
        )?;
    }

    for n in &report.nodes {
        let now = n
            .usage
            .iter()
            .take_while(|u| u.at <= report.now)
            .last()
            .map_or((0.0, 0, 0), |u| (u.cpus, u.memory, u.gpus));
        writeln!(
            out,
            "Node {}: {} cpus, {} GB, {} GPUs (license {}); holds {} cpus, {} GB, {} GPUs now",
            n.name, n.cpus, n.memory, n.gpus, n.license, now.0, now.1, now.2
        )?;
    }
    let count = |s: State| report.rows.iter().filter(|r| r.state == s).count();
    writeln!(
        out,
        "Schedule: {} running, {} waiting, {} due to start, {} due to close, {} missed",
        count(State::Running),
        count(State::Waiting),
        count(State::Due),
        count(State::Ended),
        count(State::Missed)
    )?;
    if !report.rows.is_empty() {
        let mut rows: Vec<_> = report.rows.iter().collect();
        rows.sort_by(|a, b| (&a.start, &a.user_id).cmp(&(&b.start, &b.user_id)));
        // On a cluster, one more column: the node, and the GPU ids Slurm bound once known.
        let cluster = !report.nodes.is_empty();
        write!(
            out,
            "  {:<8} {:<16} {:<16} {:<16} {:>6} {:>6} {:<10} {:>5}",
            "STATE", "USER", "START", "END", "CPUS", "MEM", "GPUS", "PORT"
        )?;
        writeln!(out, "{}", if cluster { "  NODE" } else { "" })?;
        for r in rows {
            let gpus = format!("{:?}", r.gpus);
            write!(
                out,
                "  {:<8} {:<16} {:<16} {:<16} {:>6} {:>6} {:<10} {:>5}",
                format!("{:?}", r.state).to_lowercase(),
                r.user_id,
                &r.start[..16],
                &r.end[..16],
                r.cpus,
                r.memory,
                gpus,
                r.forward_port
            )?;
            if cluster {
                write!(out, "  {}", r.node.as_deref().unwrap_or("-"))?;
                if let Some(bound) = &r.bound_gpus {
                    write!(out, " (Slurm bound GPUs {bound:?})")?;
                }
            }
            writeln!(out)?;
        }
    }
    let expiring = report
        .waitlist
        .iter()
        .filter(|e| e.state == "expiring")
        .count();
    writeln!(
        out,
        "Waitlist: {} waiting{}",
        report.waitlist.len() - expiring,
        match expiring {
            0 => String::new(),
            n => format!(", {n} past their latest start (the next tick expires them)"),
        }
    )?;
    if report.problems.is_empty() {
        writeln!(out, "Problems: none")?;
    } else {
        writeln!(out, "Problems: {}", report.problems.len())?;
        for p in &report.problems {
            write!(out, "  ")?;
            match p.severity {
                Severity::Error => paint(out, Color::Red, "error  ")?,
                Severity::Warning => paint(out, Color::Yellow, "warning")?,
            }
            let at = match p.line {
                Some(line) => format!("{}:{line}", p.file),
                None => p.file.clone(),
            };
            writeln!(out, " {} {at}: {}", p.code, p.message)?;
        }
    }
    Ok(())
}
