//! `gate service`: the systemd user unit for `gate watch`. The test machine's own systemd is
//! never touched: either `PATH` has no `systemctl` at all, or it holds a fake one (the only way
//! to make "systemd present" and "user manager unreachable" happen on demand).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::env::{TestEnv, all, assert_contains, assert_exit, assert_lacks, stdout};

/// A directory for `PATH` holding git and, when given, a `systemctl` script.
fn bin_dir(env: &TestEnv, systemctl: Option<&str>) -> PathBuf {
    let dir = env.base_dir().join("bin");
    std::fs::create_dir_all(&dir).unwrap();
    let git = std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|d| d.join("git"))
        .find(|p| p.is_file())
        .expect("git on PATH");
    let link = dir.join("git");
    if !link.exists() {
        std::os::unix::fs::symlink(git, link).unwrap();
    }
    if let Some(script) = systemctl {
        let path = dir.join("systemctl");
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir
}

/// A systemctl that answers like a healthy user manager and logs every call.
fn fake_systemctl(log: &Path) -> String {
    format!(
        "#!/bin/sh\necho \"$*\" >> '{}'\ncase \"$*\" in\n  *is-active*) echo active ;;\n  *is-enabled*) echo enabled ;;\nesac\nexit 0\n",
        log.display()
    )
}

/// The unit files under the test's `$XDG_CONFIG_HOME/systemd/user`.
fn units(env: &TestEnv) -> Vec<PathBuf> {
    let dir = env.base_dir().join("config/systemd/user");
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    read.map(|e| e.unwrap().path()).collect()
}

fn path_var(dir: &Path) -> (&'static str, String) {
    ("PATH", dir.display().to_string())
}

#[test]
fn without_systemctl_install_writes_the_unit_and_prints_the_manual_steps() {
    let env = TestEnv::new();
    let (name, value) = path_var(&bin_dir(&env, None));
    let out = env.gate_with(&["service", "install"], &[(name, &value)]);
    assert_exit(&out, 1);
    let units = units(&env);
    assert_eq!(units.len(), 1, "{units:?}");
    let file = units[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        file.starts_with("gate-watch-") && file.ends_with(".service"),
        "{file}"
    );
    let unit = std::fs::read_to_string(&units[0]).unwrap();
    let gate = assert_cmd::cargo::cargo_bin("gate").canonicalize().unwrap();
    assert_contains(
        &unit,
        &[
            &format!("\nExecStart={} watch\n", gate.display()),
            &format!("\nWorkingDirectory={}\n", env.root.display()),
            "\nRestart=on-failure\n",
            "\nWantedBy=default.target\n",
        ],
    );
    assert_contains(
        &stdout(&out),
        &[
            &units[0].display().to_string(),
            "systemctl is not on PATH",
            "systemctl --user daemon-reload",
            &format!("systemctl --user enable --now {file}"),
            &format!("(cd {} && ", env.root.display()),
            "watch --daemon)",
        ],
    );

    let out = env.gate_with(&["service", "uninstall"], &[(name, &value)]);
    assert_exit(&out, 0);
    assert!(self::units(&env).is_empty(), "unit not removed");
    let again = env.gate_with(&["service", "uninstall"], &[(name, &value)]);
    assert_exit(&again, 0);
    assert_contains(&stdout(&again), &["no service installed"]);
}

#[test]
fn an_unreachable_user_manager_is_reported_with_what_it_said() {
    let env = TestEnv::new();
    let script = "#!/bin/sh\necho 'Failed to connect to bus: No medium found' >&2\nexit 1\n";
    let (name, value) = path_var(&bin_dir(&env, Some(script)));
    let out = env.gate_with(&["service", "install"], &[(name, &value)]);
    assert_exit(&out, 1);
    assert_contains(
        &stdout(&out),
        &[
            "no systemd user manager is reachable (Failed to connect to bus",
            "systemctl --user enable --now gate-watch-",
            "watch --daemon",
        ],
    );
    let status = env.gate_with(&["service", "status", "--json"], &[(name, &value)]);
    assert_exit(&status, 1);
    let v: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(v["installed"], true);
    assert_eq!(v["systemd"], false);
    assert_eq!(v["active"], serde_json::Value::Null);
}

#[test]
fn with_systemd_install_enables_the_unit_and_uninstall_disables_it() {
    let env = TestEnv::new();
    let calls = env.base_dir().join("systemctl.log");
    let (name, value) = path_var(&bin_dir(&env, Some(&fake_systemctl(&calls))));
    let out = env.gate_with(&["service", "install"], &[(name, &value)]);
    assert_exit(&out, 0);
    let file = units(&env)[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert_contains(&stdout(&out), &["enabled and started", &file]);
    let log = std::fs::read_to_string(&calls).unwrap();
    assert_contains(
        &log,
        &[
            "--user --no-pager show-environment\n",
            "--user --no-pager daemon-reload\n",
            &format!("--user --no-pager enable --now {file}\n"),
        ],
    );

    let status = env.gate_with(&["service", "status"], &[(name, &value)]);
    assert_exit(&status, 0);
    assert_contains(&stdout(&status), &["installed", "systemd: enabled, active"]);

    let out = env.gate_with(&["service", "uninstall"], &[(name, &value)]);
    assert_exit(&out, 0);
    assert!(units(&env).is_empty());
    let log = std::fs::read_to_string(&calls).unwrap();
    assert_contains(&log, &[&format!("disable --now {file}\n")]);
    assert_lacks(&all(&out), &["warning"]);
}

#[test]
fn each_repository_gets_its_own_unit() {
    let a = TestEnv::new();
    let b = TestEnv::new();
    let name_of = |env: &TestEnv| {
        let (name, value) = path_var(&bin_dir(env, None));
        env.gate_with(&["service", "install"], &[(name, &value)]);
        units(env)[0].file_name().unwrap().to_owned()
    };
    assert_ne!(name_of(&a), name_of(&b));
}
