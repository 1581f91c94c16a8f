//! Resource use over time as a step function: one sweep over the change points of the
//! rows (half-open intervals, so a row ending at t and one starting at t never add up).

use chrono::NaiveDateTime;
use hostinfo::schedule::Row;

/// Minutes since the epoch: the unit the sweeps work in.
pub(crate) fn minutes(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp().div_euclid(60)
}

/// Use on `[points[i], points[i + 1])`; before the first point and after the last, nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timeline {
    pub points: Vec<NaiveDateTime>,
    pub cpus: Vec<f64>,
    pub memory: Vec<u64>,
    pub gpus: Vec<u32>,
}

impl Timeline {
    /// Builds the step function of `rows` in O(n log n).
    pub fn build<'a>(rows: impl IntoIterator<Item = &'a Row>) -> Self {
        Self::build_clipped(rows, None)
    }

    /// The same, counting each row only inside `window`.
    pub(crate) fn build_clipped<'a>(
        rows: impl IntoIterator<Item = &'a Row>,
        window: Option<(NaiveDateTime, NaiveDateTime)>,
    ) -> Self {
        let mut events: Vec<(NaiveDateTime, f64, i64, i32)> = Vec::new();
        for r in rows {
            let (start, end) = match window {
                Some((s, e)) => (r.start.max(s), r.end.min(e)),
                None => (r.start, r.end),
            };
            if end <= start {
                continue;
            }
            let g = r.gpus.len() as i32;
            events.push((start, r.cpus, i64::from(r.memory), g));
            events.push((end, -r.cpus, -i64::from(r.memory), -g));
        }
        events.sort_unstable_by_key(|e| e.0);
        let mut t = Timeline::default();
        let (mut cpus, mut memory, mut gpus) = (0.0f64, 0i64, 0i32);
        let mut i = 0;
        while i < events.len() {
            let at = events[i].0;
            while i < events.len() && events[i].0 == at {
                cpus += events[i].1;
                memory += events[i].2;
                gpus += events[i].3;
                i += 1;
            }
            // Float sums of tenths drift; nothing booked is exactly nothing.
            if cpus.abs() < 1e-9 {
                cpus = 0.0;
            }
            t.points.push(at);
            t.cpus.push(cpus);
            t.memory.push(memory.max(0) as u64);
            t.gpus.push(gpus.max(0) as u32);
        }
        t
    }

    /// The indices of the steps that overlap `[start, end)`.
    pub fn steps_within(&self, start: NaiveDateTime, end: NaiveDateTime) -> std::ops::Range<usize> {
        let lo = self
            .points
            .partition_point(|p| *p <= start)
            .saturating_sub(1);
        let hi = self.points.partition_point(|p| *p < end);
        lo..hi.max(lo)
    }
}

/// Sliding maximum over a sequence whose window only moves forward (a monotonic deque).
#[derive(Debug)]
pub(crate) struct SlidingMax<T: PartialOrd + Copy> {
    values: Vec<T>,
    deque: std::collections::VecDeque<usize>,
    next: usize,
}

impl<T: PartialOrd + Copy> SlidingMax<T> {
    pub(crate) fn new(values: Vec<T>) -> Self {
        SlidingMax {
            values,
            deque: Default::default(),
            next: 0,
        }
    }

    /// The max of `values[lo..hi]`; `lo` and `hi` never decrease between calls.
    pub(crate) fn max(&mut self, lo: usize, hi: usize) -> Option<T> {
        while self.next < hi {
            while let Some(&back) = self.deque.back() {
                if self.values[back] <= self.values[self.next] {
                    self.deque.pop_back();
                } else {
                    break;
                }
            }
            self.deque.push_back(self.next);
            self.next += 1;
        }
        while let Some(&front) = self.deque.front() {
            if front < lo {
                self.deque.pop_front();
            } else {
                break;
            }
        }
        self.deque.front().map(|&i| self.values[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hostinfo::schedule::GpuSet;

    fn t(h: u32, m: u32) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 11, 23)
            .unwrap()
            .and_hms_opt(h, m, 0)
            .unwrap()
    }

    fn row(start: NaiveDateTime, end: NaiveDateTime, cpus: f64, gpus: Vec<u32>) -> Row {
        Row {
            start,
            end,
            user_id: "u".into(),
            cpus,
            memory: 1,
            gpus: GpuSet::new(gpus),
            forward_port: 10001,
            image: None,
            extra_command: None,
            node: None,
        }
    }

    /// The largest cpus and GPU count over `[start, end)`.
    fn peak(rows: &[Row], start: NaiveDateTime, end: NaiveDateTime) -> (f64, u32) {
        let t = Timeline::build_clipped(rows, Some((start, end)));
        let cpus = t.cpus.iter().copied().fold(0.0, f64::max);
        (cpus, t.gpus.iter().copied().max().unwrap_or(0))
    }

    #[test]
    fn touching_rows_do_not_add_up() {
        let rows = [
            row(t(10, 0), t(11, 0), 4.0, vec![0]),
            row(t(11, 0), t(12, 0), 4.0, vec![0]),
        ];
        assert_eq!(peak(&rows, t(9, 0), t(13, 0)), (4.0, 1));
    }

    #[test]
    fn overlapping_rows_add_up_only_where_they_overlap() {
        let rows = [
            row(t(10, 0), t(12, 0), 4.0, vec![]),
            row(t(11, 0), t(13, 0), 2.5, vec![]),
        ];
        let all = Timeline::build(&rows);
        assert_eq!(all.points, [t(10, 0), t(11, 0), t(12, 0), t(13, 0)]);
        assert_eq!(all.cpus, [4.0, 6.5, 2.5, 0.0]);
        assert_eq!(peak(&rows, t(12, 0), t(14, 0)).0, 2.5);
        assert_eq!(peak(&rows, t(13, 0), t(14, 0)).0, 0.0);
    }

    #[test]
    fn sliding_max_matches_a_plain_scan() {
        let values = vec![3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5];
        let mut s = SlidingMax::new(values.clone());
        for lo in 0..values.len() {
            let hi = (lo + 3).min(values.len());
            assert_eq!(s.max(lo, hi), values[lo..hi].iter().max().copied());
        }
    }
}
