//! Does a restored workload carry on from where it stopped? Progress is a number that only grows
//! while the workload runs (a counter, lines received over TCP). Restored, it must be at least what
//! was seen before the checkpoint (not started again from 1), and it must still move.

use super::Finding;

/// `mark`: progress read just before the checkpoint; `after_restore`: read right after the restore
/// (`None`: unreadable, the workload is not running); `later`: the highest value seen while waiting
/// a few seconds for it to move on.
pub fn check_continues(
    container: &str,
    mark: u64,
    after_restore: Option<u64>,
    later: Option<u64>,
) -> Vec<Finding> {
    let Some(now) = after_restore else {
        return vec![format!(
            "the workload of {container} is not running after restore"
        )];
    };
    if now < mark {
        return vec![format!(
            "the workload of {container} started again: progress {now} after restore, {mark} before the checkpoint"
        )];
    }
    match later {
        Some(l) if l > now => vec![],
        _ => vec![format!(
            "the workload of {container} stopped at {now} after restore"
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carrying_on_passes() {
        assert!(check_continues("c", 25, Some(27), Some(31)).is_empty());
        assert!(check_continues("c", 25, Some(25), Some(26)).is_empty());
    }

    #[test]
    fn a_restarted_counter_fails() {
        let f = check_continues("c", 25, Some(2), Some(9));
        assert_eq!(f.len(), 1);
        assert!(f[0].contains("started again"), "{f:?}");
    }

    #[test]
    fn a_frozen_workload_fails() {
        let f = check_continues("c", 25, Some(27), Some(27));
        assert!(f[0].contains("stopped at 27"), "{f:?}");
        assert!(!check_continues("c", 25, Some(27), None).is_empty());
    }

    #[test]
    fn a_dead_workload_fails() {
        let f = check_continues("c", 25, None, None);
        assert!(f[0].contains("not running"), "{f:?}");
    }
}
