//! Which CPU `qt bench` pins its core thread to: `--core`, else the configuration's
//! `[engine] cpu`, else the first CPU the kernel isolates (`isolcpus=`, listed in
//! `/sys/devices/system/cpu/isolated`), else none (the thread floats; the report says so).

use std::path::Path;

/// Where the isolated CPUs are listed on Linux.
const ISOLATED: &str = "/sys/devices/system/cpu/isolated";

/// The CPU to pin to and why it was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoreChoice {
    /// The CPU, if any.
    pub cpu: Option<usize>,
    /// `--core`, `config`, `isolated` or `none`.
    pub source: &'static str,
}

/// The choice from `--core`, the configuration's cpu and the isolated list at `isolated`.
pub fn choose(flag: Option<usize>, configured: Option<usize>, isolated: &Path) -> CoreChoice {
    if let Some(cpu) = flag {
        return CoreChoice { cpu: Some(cpu), source: "--core" };
    }
    if let Some(cpu) = configured {
        return CoreChoice { cpu: Some(cpu), source: "config" };
    }
    match std::fs::read_to_string(isolated).ok().as_deref().and_then(first_in_list) {
        Some(cpu) => CoreChoice { cpu: Some(cpu), source: "isolated" },
        None => CoreChoice { cpu: None, source: "none" },
    }
}

/// [`choose`] with this machine's isolated list.
pub fn choose_here(flag: Option<usize>, configured: Option<usize>) -> CoreChoice {
    choose(flag, configured, Path::new(ISOLATED))
}

/// The first CPU of a kernel CPU list (`"2-3,6"` → 2); `None` for an empty or unreadable list.
pub fn first_in_list(list: &str) -> Option<usize> {
    let first = list.trim().split(',').next()?;
    first.split('-').next()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_give_their_first_cpu() {
        assert_eq!(first_in_list("2-3,6\n"), Some(2));
        assert_eq!(first_in_list("5"), Some(5));
        assert_eq!(first_in_list("\n"), None);
        assert_eq!(first_in_list("x"), None);
    }

    #[test]
    fn the_flag_wins_then_the_configuration_then_the_isolated_list() {
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("isolated");
        std::fs::write(&list, "3-4\n").unwrap();
        assert_eq!(choose(Some(1), Some(2), &list), CoreChoice { cpu: Some(1), source: "--core" });
        assert_eq!(choose(None, Some(2), &list), CoreChoice { cpu: Some(2), source: "config" });
        assert_eq!(choose(None, None, &list), CoreChoice { cpu: Some(3), source: "isolated" });
        std::fs::write(&list, "\n").unwrap();
        assert_eq!(choose(None, None, &list), CoreChoice { cpu: None, source: "none" });
        assert_eq!(choose(None, None, &dir.path().join("absent")), CoreChoice { cpu: None, source: "none" });
    }
}
