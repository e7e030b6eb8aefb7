//! `gate init`: config and templates where absent, registration, refusals.

use crate::env::{TestEnv, all, assert_contains, assert_exit, assert_lacks, stderr, stdout};

const FILES: [&str; 4] = [
    ".gate.toml",
    "spec-kit/templates/spec-template.md",
    "spec-kit/templates/plan-template.md",
    "spec-kit/templates/tasks-template.md",
];

/// The template shipped in the binary (gate embeds this file from its own repository).
fn builtin_template(name: &str) -> Vec<u8> {
    let path = format!("{}/spec-kit/templates/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

#[test]
fn init_writes_config_and_the_three_templates() {
    let env = TestEnv::new();
    let out = env.gate(&["init"]);
    assert_exit(&out, 0);
    for file in FILES {
        assert!(env.exists(file), "{file} not created");
        assert_contains(&stdout(&out), &[&format!("created {file}")]);
    }
    for name in ["spec-template.md", "plan-template.md", "tasks-template.md"] {
        assert_eq!(
            env.read_bytes(&format!("spec-kit/templates/{name}")),
            builtin_template(name),
            "{name} differs from the built-in template"
        );
    }
    // The written config is valid and is the defaults.
    let config = env.read(".gate.toml");
    assert_contains(
        &config,
        &[
            "[branches]",
            "feature_prefix = \"feature/\"",
            "interval = \"30m\"",
        ],
    );
    let shown = env.gate(&["config"]);
    assert_exit(&shown, 0);
    assert_contains(&stdout(&shown), &[".gate.toml"]);
    assert_lacks(&stderr(&out), &["warning"]);
}

#[test]
fn init_works_in_a_repository_without_commits_and_from_a_subdirectory() {
    let env = TestEnv::unborn();
    std::fs::create_dir_all(env.path("docs/deep")).unwrap();
    let out = env.gate_in(&env.path("docs/deep"), &["init"]);
    assert_exit(&out, 0);
    for file in FILES {
        assert!(
            env.exists(file),
            "{file} not created at the repository root"
        );
    }
    assert!(!env.exists("docs/deep/.gate.toml"));
}

#[test]
fn second_init_keeps_every_file_byte_for_byte() {
    let env = TestEnv::new();
    assert_exit(&env.gate(&["init"]), 0);
    // A team edits its template and its config; gate must keep both.
    let spec_template = "spec-kit/templates/spec-template.md";
    let edited = format!(
        "{}\n## Team section *(mandatory)*\n\nOurs.\n",
        env.read(spec_template)
    );
    env.write(spec_template, &edited);
    env.write(
        ".gate.toml",
        "# ours\n[branches]\nfeature_prefix = \"feature/\"\n",
    );
    let before: Vec<Vec<u8>> = FILES.iter().map(|f| env.read_bytes(f)).collect();

    let out = env.gate(&["init"]);
    assert_exit(&out, 0);
    let after: Vec<Vec<u8>> = FILES.iter().map(|f| env.read_bytes(f)).collect();
    assert_eq!(before, after, "a second `gate init` changed a file");
    for file in FILES {
        assert_contains(&stdout(&out), &[&format!("kept {file}")]);
    }
    assert_lacks(&stdout(&out), &["created"]);
    assert!(!env.exists(".gate.toml.bak") && !env.exists(&format!("{spec_template}.bak")));
}

#[test]
fn deleted_template_is_restored_others_kept() {
    let env = TestEnv::new();
    assert_exit(&env.gate(&["init"]), 0);
    std::fs::remove_file(env.path("spec-kit/templates/plan-template.md")).unwrap();
    let out = env.gate(&["init"]);
    assert_exit(&out, 0);
    assert_contains(
        &stdout(&out),
        &[
            "created spec-kit/templates/plan-template.md",
            "kept spec-kit/templates/spec-template.md",
        ],
    );
    assert_eq!(
        env.read_bytes("spec-kit/templates/plan-template.md"),
        builtin_template("plan-template.md")
    );
}

#[test]
fn init_registers_the_repository_exactly_once() {
    let env = TestEnv::new();
    let registry = env.state_home().join("gate/projects.json");
    let first = env.gate(&["init"]);
    assert_exit(&first, 0);
    assert_contains(
        &stdout(&first),
        &["registered", &registry.display().to_string()],
    );

    std::fs::create_dir_all(env.path("sub")).unwrap();
    let second = env.gate(&["init"]);
    assert_exit(&second, 0);
    assert_contains(&stdout(&second), &["already registered"]);
    let third = env.gate_in(&env.path("sub"), &["init"]);
    assert_exit(&third, 0);
    assert_contains(&stdout(&third), &["already registered"]);

    let text = std::fs::read_to_string(&registry)
        .expect("projects.json written under $XDG_STATE_HOME/gate");
    let doc = serde_json::from_str::<serde_json::Value>(&text).expect("projects.json is JSON");
    let root = env.root.display().to_string();
    let entries: Vec<&str> = doc
        .as_array()
        .expect("a JSON array")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(entries, [root.as_str()], "registry: {text}");
    // Nothing was written to the real home.
    assert!(!env.base_dir().join("home/.local/state/gate").exists());
}

#[test]
fn two_repositories_are_both_registered() {
    let env = TestEnv::new();
    assert_exit(&env.gate(&["init"]), 0);
    let other = env.base_dir().join("other");
    std::fs::create_dir_all(&other).unwrap();
    env.git_in(&other, &["init", "-q", "-b", "main"]);
    assert_exit(&env.gate_in(&other, &["init"]), 0);
    let text = std::fs::read_to_string(env.state_home().join("gate/projects.json")).unwrap();
    let doc = serde_json::from_str::<serde_json::Value>(&text).unwrap();
    let entries: Vec<&str> = doc
        .as_array()
        .expect("a JSON array")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(
        entries,
        [env.root.display().to_string(), other.display().to_string()]
    );
}

#[test]
fn init_outside_a_repository_is_a_usage_error() {
    let env = TestEnv::outside_any_repo();
    let out = env.gate(&["init"]);
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(err.starts_with("error: "), "{err}");
    assert_contains(&err, &["not inside a git repository", "git init"]);
    assert!(
        !env.exists(".gate.toml"),
        "init wrote a config outside a repository"
    );
    assert!(!env.exists("spec-kit"));
    assert!(!env.state_home().join("gate/projects.json").exists());
}

#[test]
fn init_refuses_an_invalid_existing_config_and_leaves_it_alone() {
    let env = TestEnv::new();
    let bad = "[branches]\nprotected = 3\n";
    env.write(".gate.toml", bad);
    let out = env.gate(&["init"]);
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(err.starts_with("error: "), "{err}");
    assert_contains(&err, &[".gate.toml:2:13:"]);
    assert_eq!(env.read(".gate.toml"), bad);
    assert!(
        !env.exists("spec-kit/templates"),
        "templates written beside an invalid config"
    );
    assert!(!env.state_home().join("gate/projects.json").exists());
}

#[test]
fn init_warns_when_the_spec_dir_is_ignored_by_name() {
    let env = TestEnv::new();
    env.write(".gitignore", "specs\n");
    let out = env.gate(&["init"]);
    assert_exit(&out, 0);
    assert_contains(
        &stderr(&out),
        &["warning:", "specs/ is ignored by git", ".gitignore"],
    );
}

#[test]

fn init_warns_when_the_spec_dir_is_ignored_as_a_directory() {
    for pattern in ["specs/", "/specs/", "specs/*"] {
        let env = TestEnv::new();
        env.write(".gitignore", &format!("{pattern}\n"));
        let out = env.gate(&["init"]);
        assert_exit(&out, 0);
        assert_contains(&stderr(&out), &["warning:", "specs/ is ignored by git"]);
    }
}

#[test]
fn init_warns_for_an_ignored_spec_dir_that_already_exists() {
    let env = TestEnv::new();
    env.write(".gitignore", "specs/\n");
    env.write("specs/README.md", "features live here\n");
    let out = env.gate(&["init"]);
    assert_exit(&out, 0);
    assert_contains(&stderr(&out), &["warning:", "specs/ is ignored by git"]);
}

#[test]
fn no_warning_when_the_spec_dir_is_not_ignored() {
    let env = TestEnv::new();
    env.write(".gitignore", "target/\nspecs.bak\n");
    let out = env.gate(&["init"]);
    assert_exit(&out, 0);
    assert_lacks(&all(&out), &["warning", "ignored"]);
}

#[test]
fn registry_defaults_to_home_local_state_without_xdg_state_home() {
    let env = TestEnv::new();
    let out = env
        .gate_command(&env.root)
        .arg("init")
        .env_remove("XDG_STATE_HOME")
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let registry = env.base_dir().join("home/.local/state/gate/projects.json");
    let text =
        std::fs::read_to_string(&registry).expect("projects.json under $HOME/.local/state/gate");
    assert_contains(&text, &[&env.root.display().to_string()]);
}

#[test]
fn concurrent_inits_keep_every_registration() {
    let env = TestEnv::new();
    let repos: Vec<std::path::PathBuf> = (0..8)
        .map(|i| {
            let dir = env.base_dir().join(format!("repo-{i}"));
            std::fs::create_dir_all(&dir).unwrap();
            env.git_in(&dir, &["init", "-q", "-b", "main"]);
            dir
        })
        .collect();
    let children: Vec<std::process::Child> = repos
        .iter()
        .map(|dir| {
            env.gate_command(dir)
                .arg("init")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = std::fs::read_to_string(env.state_home().join("gate/projects.json")).unwrap();
    let doc =
        serde_json::from_str::<serde_json::Value>(&text).expect("projects.json is whole JSON");
    let mut entries: Vec<String> = doc
        .as_array()
        .expect("a JSON array")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    entries.sort();
    let mut expected: Vec<String> = repos.iter().map(|p| p.display().to_string()).collect();
    expected.sort();
    assert_eq!(entries, expected);
}
