//! Does a restored workload carry on from where it stopped? Progress is a count that only grows
//! while the workload runs (a counter, lines received over TCP) and the token the workload drew
//! once at its start. Restored, it must keep its token (a restarted workload draws a new one,
//! however far it counted), be at least at the count seen before the checkpoint, and still move.

use super::Finding;
use crate::workload::Progress;

/// `mark`: progress read just before the checkpoint; `after_restore`: read right after the restore
/// (`None`: unreadable, the workload is not running); `later`: the first reading that moved on (a
/// higher count or another token) while waiting a few seconds.
pub fn check_continues(
    container: &str,
    mark: &Progress,
    after_restore: Option<&Progress>,
    later: Option<&Progress>,
) -> Vec<Finding> {
    let Some(now) = after_restore else {
        return vec![format!(
            "the workload of {container} is not running after restore"
        )];
    };
    if let Some(f) = [Some(now), later]
        .into_iter()
        .flatten()
        .find_map(|p| started_again(container, mark, p))
    {
        return vec![f];
    }
    if now.count < mark.count {
        return vec![format!(
            "the workload of {container} started again: progress {} after restore, {} before the checkpoint",
            now.count, mark.count
        )];
    }
    match later {
        Some(l) if l.count > now.count => vec![],
        _ => vec![format!(
            "the workload of {container} stopped at {} after restore",
            now.count
        )],
    }
}

/// A container that a command must leave running: `before` read before the command (`None`:
/// unreadable then), `later` the first reading after it that moved on.
pub fn check_moves_on(
    container: &str,
    before: Option<&Progress>,
    later: Option<&Progress>,
) -> Vec<Finding> {
    let from = before.map_or(0, |b| b.count);
    if let Some(f) = before
        .zip(later)
        .and_then(|(b, l)| started_again(container, b, l))
    {
        return vec![f];
    }
    match later {
        Some(l) if l.count > from => vec![],
        _ => vec![format!(
            "the workload of {container} stopped moving (at {from})"
        )],
    }
}

fn started_again(container: &str, before: &Progress, seen: &Progress) -> Option<Finding> {
    (seen.boot != before.boot).then(|| {
        format!(
            "the workload of {container} started again: its start token was {}, now {} (at {})",
            before.boot, seen.boot, seen.count
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(count: u64, boot: &str) -> Progress {
        Progress {
            count,
            boot: boot.into(),
        }
    }

    #[test]
    fn carrying_on_passes() {
        let mark = p(25, "a");
        assert!(check_continues("c", &mark, Some(&p(27, "a")), Some(&p(31, "a"))).is_empty());
        assert!(check_continues("c", &mark, Some(&p(25, "a")), Some(&p(26, "a"))).is_empty());
    }

    #[test]
    fn a_restarted_counter_fails() {
        let f = check_continues("c", &p(25, "a"), Some(&p(2, "a")), Some(&p(9, "a")));
        assert_eq!(f.len(), 1);
        assert!(f[0].contains("started again"), "{f:?}");
    }

    #[test]
    fn a_new_token_fails_whatever_the_count() {
        // Restarted, then counted past the mark before the first reading.
        let f = check_continues("c", &p(2, "a"), Some(&p(3, "b")), Some(&p(4, "b")));
        assert_eq!(f.len(), 1);
        assert!(f[0].contains("start token was a, now b"), "{f:?}");
        // The first reading still saw the old file; the restarted workload then overwrote it.
        let f = check_continues("c", &p(2, "a"), Some(&p(2, "a")), Some(&p(1, "b")));
        assert!(f[0].contains("started again"), "{f:?}");
    }

    #[test]
    fn a_frozen_workload_fails() {
        let mark = p(25, "a");
        let f = check_continues("c", &mark, Some(&p(27, "a")), Some(&p(27, "a")));
        assert!(f[0].contains("stopped at 27"), "{f:?}");
        assert!(!check_continues("c", &mark, Some(&p(27, "a")), None).is_empty());
    }

    #[test]
    fn a_dead_workload_fails() {
        let f = check_continues("c", &p(25, "a"), None, None);
        assert!(f[0].contains("not running"), "{f:?}");
    }

    #[test]
    fn an_untouched_workload_moves_on() {
        assert!(check_moves_on("c", Some(&p(5, "a")), Some(&p(6, "a"))).is_empty());
        assert!(check_moves_on("c", None, Some(&p(1, "a"))).is_empty());
    }

    #[test]
    fn a_touched_workload_fails() {
        let f = check_moves_on("c", Some(&p(5, "a")), Some(&p(6, "b")));
        assert!(f[0].contains("started again"), "{f:?}");
        let f = check_moves_on("c", Some(&p(5, "a")), None);
        assert!(f[0].contains("stopped moving (at 5)"), "{f:?}");
        let f = check_moves_on("c", Some(&p(5, "a")), Some(&p(5, "a")));
        assert!(f[0].contains("stopped moving"), "{f:?}");
    }
}
