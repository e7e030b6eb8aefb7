//! `gate init`: config, templates and registration, idempotently.

use std::process::ExitCode;

use anyhow::Context;
use gate::agents::state::Cli;
use gate::config::{self, Config};
use gate::hooks::install::Action;
use gate::layout;
use gate::registry::Registry;
use gate::repo::Repo;
use gate::scaffold::{self, Written};
use gate::spec::{ArtifactKind, templates};

use crate::ui::Ui;

/// Set up this repository: write .gate.toml and the spec-kit templates where absent, install
/// the git hooks, and register the project for `gate status --all`. Safe to run again:
/// existing files are kept.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Do not install the git hooks
    #[arg(long)]
    pub no_hooks: bool,
    /// Also install a PreToolUse guard for Claude Code (.claude/settings.json) and Codex
    /// (.codex/hooks.json) that refuses `--no-verify`, `GATE_SKIP` and hook removal
    #[arg(long)]
    pub agent_hooks: bool,
    /// Also start the watcher in the background (`gate watch --daemon`)
    #[arg(long)]
    pub start: bool,
    /// Commit gate's own files (.gate.toml, the templates, the agent guards) on the current
    /// branch, the trunk included, and nothing else: whatever else is staged stays staged.
    /// Recorded in `gate log`; the audit accepts it as adopting gate
    #[arg(long)]
    pub commit: bool,
}

pub fn run(args: &Args, ui: &Ui) -> anyhow::Result<ExitCode> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let repo = Repo::discover(&cwd)?;
    let root = repo.root();
    // An existing config must be valid before anything is added beside it.
    Config::load(root)?;

    gate::confine::check_inside(root, &root.join(config::FILE_NAME))?;
    // The implementation globs follow the code this repository has (a Python package, a Go
    // module, ...), not a `src/**` that may match nothing.
    let tracked = gate::repo::status::tracked(root).unwrap_or_default();
    let layout = layout::detect(root, &tracked);
    let text = scaffold::DEFAULT_CONFIG.replace(
        scaffold::DEFAULT_IMPLEMENTATION,
        &layout::config_lines(&layout),
    );
    let written = scaffold::create_or_keep(&root.join(config::FILE_NAME), &text)?;
    report(ui, &written, config::FILE_NAME)?;
    if matches!(written, Written::Created) {
        ui.line(format!(
            "  implementation paths: {} ({})",
            layout.globs.join(", "),
            layout.reasons.join("; ")
        ))?;
    }
    let config = Config::load(root)?;
    warn_if_unenforced(ui, &config, &tracked);
    for kind in ArtifactKind::ALL {
        let rel = format!("{}/{}", config.spec.templates, kind.template_name());
        gate::confine::check_inside(root, &root.join(&rel))?;
        let written = scaffold::create_or_keep(&root.join(&rel), templates::builtin(kind))?;
        report(ui, &written, &rel)?;
    }

    if !args.no_hooks {
        let installed = super::hooks::install_into(&repo, false)?;
        let changed = installed
            .iter()
            .filter(|(_, a)| *a != Action::Unchanged)
            .count();
        ui.line(format!(
            "{} git hooks: {} installed or updated, {} already current (`gate hooks status`)",
            ui.ok_mark(),
            changed,
            installed.len() - changed
        ))?;
    }
    if args.agent_hooks {
        // Committed settings name no machine-specific path: `gate` is found on each
        // teammate's PATH (the README's install puts it in ~/.cargo/bin).
        if !gate::doctor::on_path("gate") {
            ui.warn(
                "`gate` is not on PATH: the agents' hooks (`gate guard`, `gate agent-hook`) cannot run until it is \
                 (cargo install --path <gate checkout>, or put the binary in a directory on PATH)",
            );
        }
        for cli in [Cli::Claude, Cli::Codex, Cli::Gemini] {
            let (file, added) = gate::hooks::settings::install(root, cli)?;
            let verb = if added {
                "added gate's hooks (guard, agent state) to"
            } else {
                "gate's hooks already in"
            };
            ui.line(format!("{} {verb} {file}", ui.ok_mark()))?;
        }
        codex_review(ui, root)?;
        ui.line("  Claude Code and Gemini CLI: the hooks run `gate` from PATH; `gate doctor` checks it.")?;
    }
    match Registry::open_default().and_then(|r| r.add(root).map(|added| (r, added))) {
        Ok((registry, true)) => ui.line(format!(
            "{} registered {} in {}",
            ui.ok_mark(),
            root.display(),
            registry.path().display()
        ))?,
        Ok((_, false)) => ui.line(format!("{} already registered", ui.ok_mark()))?,
        Err(e) => ui.warn(format!(
            "could not register the project for `gate status --all`: {e}"
        )),
    }
    if repo.would_ignore(&config.spec.dir) {
        ui.warn(format!(
            "{}/ is ignored by git: specs written there would never be committed; remove it from .gitignore",
            config.spec.dir
        ));
    }
    if args.commit {
        let mut files: Vec<String> = vec![config::FILE_NAME.to_owned()];
        files.extend(
            ArtifactKind::ALL
                .iter()
                .map(|k| format!("{}/{}", config.spec.templates, k.template_name())),
        );
        if args.agent_hooks {
            files.extend(
                [Cli::Claude, Cli::Codex, Cli::Gemini]
                    .map(|c| gate::hooks::settings::settings_file(c).to_owned()),
            );
        }
        commit_setup(ui, &repo, &files)?;
    }
    if args.start {
        let paths = gate::watch::daemon::Paths::in_dir(&repo.state_dir());
        super::watch::start_daemon(ui, &repo, &paths)?;
    }
    ui.line(format!(
        "next: {}",
        ui.bold("gate specify \"<feature name>\"")
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// Codex runs a project hook only once its user trusted it ("Hooks need review"): gate asks
/// Codex's app-server to trust gate's own hooks (only those) and says what Codex still asks.
fn codex_review(ui: &Ui, root: &std::path::Path) -> anyhow::Result<()> {
    let folder_note = "Codex loads project hooks only in a folder it trusts (its trust prompt, or \
                       [projects.\"<this folder>\"] trust_level = \"trusted\" in ~/.codex/config.toml); \
                       `gate doctor` checks it";
    if !gate::doctor::on_path("codex") {
        ui.line(format!(
            "  Codex: not on PATH here, so gate could not have it trust gate's hooks: {}. {folder_note}.",
            gate::cli_trust::codex::HOOK_REVIEW
        ))?;
        return Ok(());
    }
    match gate::cli_trust::codex_hooks::trust_gates("codex", root) {
        Ok(review) => {
            let outcome = review.outcome(root);
            for change in &outcome.changed {
                ui.line(format!("{} {change}", ui.ok_mark()))?;
            }
            if outcome.changed.is_empty() && outcome.notes.is_empty() {
                ui.line(format!(
                    "{} Codex already trusts gate's hooks here",
                    ui.ok_mark()
                ))?;
            }
            for note in &outcome.notes {
                ui.warn(note);
            }
        }
        Err(e) => ui.warn(format!(
            "could not have Codex trust gate's hooks ({e}): {}",
            gate::cli_trust::codex::HOOK_REVIEW
        )),
    }
    ui.line(format!("  {folder_note}."))?;
    Ok(())
}

/// `gate init --commit`: one commit of gate's own files, recorded as an event.
fn commit_setup(ui: &Ui, repo: &Repo, files: &[String]) -> anyhow::Result<()> {
    let paths: Vec<Vec<u8>> = files.iter().map(|f| f.as_bytes().to_vec()).collect();
    let message = format!(
        "Set up gate ({})\n\nGate-Setup: gate init --commit (gate's own files only)\n",
        files.join(", ")
    );
    match gate::snapshot::commit_only(repo, &paths, &message)? {
        Some(id) => {
            let mut e = gate::events::Event::now("commit");
            e.commit = Some(id.to_string());
            e.branch = repo.head().ok().and_then(|h| h.branch().map(str::to_owned));
            e.paths = files.to_vec();
            e.detail = "gate init --commit: gate's own files".into();
            if let Err(err) = gate::events::EventLog::in_dir(&repo.state_dir()).append(&e) {
                ui.warn(format!("could not record the commit: {err}"));
            }
            ui.line(format!(
                "{} committed gate's set-up as {} ({} files; nothing else)",
                ui.ok_mark(),
                gate::repo::short_id(&id.to_string()),
                files.len()
            ))?;
        }
        None => ui.line(format!(
            "{} gate's set-up is already committed",
            ui.ok_mark()
        ))?,
    }
    Ok(())
}

/// Implementation globs that match none of the tracked files enforce nothing: say so.
fn warn_if_unenforced(ui: &Ui, config: &Config, tracked: &[String]) {
    let code = layout::code_files(tracked, &config.spec.dir.to_string());
    let globs: Vec<String> = config
        .spec
        .implementation
        .iter()
        .map(|g| g.0.clone())
        .collect();
    if !code.is_empty() && layout::count_matching(&globs, &code) == 0 {
        ui.warn(format!(
            "spec.implementation ({}) matches none of the {} tracked files: the spec gate enforces nothing; \
             set it in .gate.toml to where the code is (e.g. {})",
            globs.join(", "),
            code.len(),
            layout::detect(std::path::Path::new("."), &code).globs.join(", ")
        ));
    }
}

fn report(ui: &Ui, written: &Written, path: &str) -> std::io::Result<()> {
    match written {
        Written::Created => ui.line(format!("{} created {path}", ui.ok_mark())),
        Written::Kept => ui.line(format!("{} kept {path} (exists)", ui.ok_mark())),
        Written::Replaced { backup } => ui.line(format!(
            "{} replaced {path} (backup {})",
            ui.ok_mark(),
            backup.display()
        )),
    }
}
