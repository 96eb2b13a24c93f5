//! The files a configuration names, checked at start-up: a secret file must be readable by its
//! owner alone, and the control socket's path must be a path of its own — no other configured
//! file, and nothing but a (stale) socket already there. The engine creates and removes the
//! socket; a path that named the reset secret or any other file would let it delete that file.

use super::Problems;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Permission bits that must be clear on a secret file: any access by group or others.
const GROUP_OTHER_BITS: u32 = 0o077;

/// Reads a secret from `path`, refusing a file that group or others may read or write (the
/// message names the file, its mode and the fix). Never puts the file's content in a message.
pub(super) fn read_secret_file(path: &Path) -> Result<Vec<u8>, String> {
    check_secret_file(path)?;
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Checks that `path` is a regular file only its owner may access (`qt preflight` and
/// [`read_secret_file`]); the message names the file, its mode and the fix.
pub(crate) fn check_secret_file(path: &Path) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!("{} is not a regular file", path.display()));
    }
    let mode = meta.mode() & 0o7777;
    if mode & GROUP_OTHER_BITS != 0 {
        return Err(format!(
            "{} is accessible by group or others (mode {mode:04o}); a secret file must be readable by its owner \
             only: run `chmod 600 {}`",
            path.display(),
            path.display()
        ));
    }
    Ok(())
}

/// Whether `a` and `b` name the same file: the same inode where both exist, else the same
/// absolute path.
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => match (std::path::absolute(a), std::path::absolute(b)) {
            (Ok(x), Ok(y)) => x == y,
            _ => a == b,
        },
    }
}

/// Checks the control socket path against every other configured file (`(field, path)`) and
/// against what already sits at it.
pub(super) fn check_control_socket(p: &mut Problems, socket: &Path, others: &[(String, &Path)]) {
    const FIELD: &str = "ess.control_socket";
    for (field, other) in others {
        if same_file(socket, other) {
            p.add(
                FIELD,
                format!(
                    "{} is also {field}; the control socket needs a path of its own (the engine creates and \
                     removes it)",
                    socket.display()
                ),
            );
            return;
        }
    }
    let Ok(meta) = std::fs::symlink_metadata(socket) else { return };
    // A socket, stale or served, is the control thread's to judge when it binds.
    let Some(what) = crate::control::server::not_a_socket(meta.file_type()) else { return };
    p.add(
        FIELD,
        format!(
            "{} exists and is {what}; the engine only replaces a stale socket and never deletes other files: \
             choose another path or move it away",
            socket.display()
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("qt-config-files-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_secret_file_others_can_read_is_refused_with_the_fix() {
        let dir = temp_dir("perm");
        let file = dir.join("ess.secret");
        std::fs::write(&file, "0123456789abcdef-very-secret\n").unwrap();
        for mode in [0o644, 0o640, 0o604, 0o620] {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
            let err = read_secret_file(&file).unwrap_err();
            assert!(err.contains(&format!("{mode:04o}")) && err.contains("chmod 600"), "{err}");
            assert!(err.contains(&file.display().to_string()) && !err.contains("very-secret"), "{err}");
        }
        for mode in [0o600, 0o400] {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
            assert!(read_secret_file(&file).is_ok(), "mode {mode:o}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_control_socket_may_not_be_another_file_or_sit_on_one() {
        let dir = temp_dir("sock");
        let secret = dir.join("ess.secret");
        std::fs::write(&secret, "x").unwrap();
        let problems = |socket: &Path| {
            let mut p = Problems(Vec::new());
            check_control_socket(&mut p, socket, &[("ess.reset_secret_file".into(), secret.as_path())]);
            p.0
        };
        let same = problems(&secret);
        assert!(same[0].message.contains("is also ess.reset_secret_file"), "{same:?}");
        // The same file by another spelling.
        let spelled = dir.join(".").join("ess.secret");
        assert!(problems(&spelled)[0].message.contains("is also"), "{spelled:?}");
        let regular = dir.join("not-a-socket");
        std::fs::write(&regular, "keep me").unwrap();
        let on_file = problems(&regular);
        assert!(on_file[0].message.contains("is a regular file"), "{on_file:?}");
        assert!(problems(&dir)[0].message.contains("a directory"));
        let listener = std::os::unix::net::UnixListener::bind(dir.join("ctl.sock")).unwrap();
        assert!(problems(&dir.join("ctl.sock")).is_empty(), "a socket is the control thread's to judge");
        drop(listener);
        assert!(problems(&dir.join("fresh.sock")).is_empty());
        assert_eq!(std::fs::read_to_string(&regular).unwrap(), "keep me");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
