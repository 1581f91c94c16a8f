//! GPU placement: a request gets fixed device ids, each free for the whole
//! window; among the free ones the tightest surrounding free gap wins (long free stretches
//! stay whole for long bookings), then the lower id.

use chrono::NaiveDateTime;
use hostinfo::schedule::{GpuSet, Row};

use crate::timeline::minutes;

/// For each GPU id below `gpu_count`: `None` when it is busy somewhere in `[start, end)`,
/// else the length in minutes of the free gap around the window (long when unbounded).
pub fn free_gaps<'a>(
    rows: impl IntoIterator<Item = &'a Row>,
    gpu_count: u32,
    start: NaiveDateTime,
    end: NaiveDateTime,
) -> Vec<Option<i64>> {
    const FAR: i64 = 100 * 365 * 24 * 60;
    let (s, e) = (minutes(start), minutes(end));
    let n = gpu_count as usize;
    let mut busy = vec![false; n];
    let mut prev_end = vec![s - FAR; n];
    let mut next_start = vec![e + FAR; n];
    for r in rows {
        if r.end <= r.start {
            continue;
        }
        let (rs, re) = (minutes(r.start), minutes(r.end));
        for &id in r.gpus.ids() {
            let Some(i) = usize::try_from(id).ok().filter(|i| *i < n) else {
                continue;
            };
            if rs < e && s < re {
                busy[i] = true;
            } else if re <= s {
                prev_end[i] = prev_end[i].max(re);
            } else {
                next_start[i] = next_start[i].min(rs);
            }
        }
    }
    (0..n)
        .map(|i| (!busy[i]).then(|| next_start[i] - prev_end[i]))
        .collect()
}

/// Picks `count` GPUs by best fit, or `None` when fewer are free for the whole window.
pub fn place(gaps: &[Option<i64>], count: u32) -> Option<GpuSet> {
    let mut free: Vec<(i64, u32)> = gaps
        .iter()
        .enumerate()
        .filter_map(|(id, gap)| gap.map(|g| (g, id as u32)))
        .collect();
    if free.len() < count as usize {
        return None;
    }
    free.sort_unstable();
    Some(GpuSet::new(
        free.iter()
            .take(count as usize)
            .map(|(_, id)| *id)
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: u32) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 11, 23)
            .unwrap()
            .and_hms_opt(h, 0, 0)
            .unwrap()
    }

    fn holds(user: &str, gpu: u32, from: u32, to: u32) -> Row {
        Row {
            start: t(from),
            end: t(to),
            user_id: user.into(),
            cpus: 1.0,
            memory: 1,
            gpus: GpuSet::new(vec![gpu]),
            forward_port: 10001,
            image: None,
            extra_command: None,
            node: None,
        }
    }

    /// Regression: the original checked slot by slot and handed out GPU 0 here. GPU 0 is
    /// busy 10–11 and GPU 1 is busy 11–12: each slot has a free GPU, but no single GPU is
    /// free for the whole 10–12 window.
    #[test]
    fn refuses_gpu_busy_for_part_of_window() {
        let rows = [holds("A", 0, 10, 11), holds("B", 1, 11, 12)];
        let gaps = free_gaps(&rows, 2, t(10), t(12));
        assert_eq!(gaps, [None, None]);
        assert_eq!(place(&gaps, 1), None);
    }

    #[test]
    fn best_fit_takes_the_gpu_whose_free_gap_is_tightest() {
        // GPU 0 is free all day; GPU 1 is busy until 10:00 and from 12:00.
        let rows = [holds("A", 1, 8, 10), holds("B", 1, 12, 14)];
        let gaps = free_gaps(&rows, 2, t(10), t(12));
        assert_eq!(place(&gaps, 1), Some(GpuSet::new(vec![1])));
        // Equal gaps: the lower id.
        let gaps = free_gaps(&[], 3, t(10), t(12));
        assert_eq!(place(&gaps, 2), Some(GpuSet::new(vec![0, 1])));
    }

    #[test]
    fn gpus_beyond_the_host_count_are_ignored() {
        let rows = [holds("A", 7, 10, 12)];
        assert_eq!(
            free_gaps(&rows, 2, t(10), t(12)).iter().flatten().count(),
            2
        );
    }
}
