//! `gate service`: a systemd user unit that keeps `gate watch` running for this project, where
//! systemd exists; elsewhere, the exact steps to run instead.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use gate::repo::Repo;
use gate::service::{self, Systemctl, Unavailable};
use gate::watch::daemon;
use serde::Serialize;

use crate::ui::Ui;

/// Keep `gate watch` running for this repository as a systemd user service
/// (gate-watch-<hash>.service in $XDG_CONFIG_HOME/systemd/user): started now and at login,
/// restarted on failure. Without systemd, says what to run instead. install exits 1 when the
/// unit could not be enabled; status exits 1 unless the service is active.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Write the unit, then `systemctl --user daemon-reload` and `enable --now` it
    Install,
    /// Stop and disable the unit, then remove it
    Uninstall,
    /// Is the unit installed, enabled and active?
    Status {
        /// Print {unit, path, installed, systemd, enabled, active, watcher_running}
        #[arg(long)]
        json: bool,
    },
}

/// The project's unit: its name and file.
struct Unit {
    name: String,
    path: PathBuf,
}

pub fn run(args: &Args, ui: &Ui) -> anyhow::Result<ExitCode> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let repo = Repo::discover(&cwd)?;
    let name = service::unit_name(repo.root());
    let unit = Unit {
        path: service::unit_dir()?.join(&name),
        name,
    };
    match &args.action {
        Action::Install => install(ui, &repo, &unit),
        Action::Uninstall => uninstall(ui, &unit),
        Action::Status { json } => status(ui, &repo, &unit, *json),
    }
}

fn install(ui: &Ui, repo: &Repo, unit: &Unit) -> anyhow::Result<ExitCode> {
    let exe = std::env::current_exe().context("cannot find the gate binary")?;
    let gate = exe.canonicalize().unwrap_or(exe);
    let path_env = std::env::var_os("PATH");
    let text = service::render_unit(&gate, repo.root(), path_env.as_deref());
    service::write_unit(&unit.path, &text)?;
    ui.line(format!("{} wrote {}", ui.ok_mark(), unit.path.display()))?;
    let ctl = match Systemctl::connect() {
        Ok(ctl) => ctl,
        Err(why) => {
            manual_steps(ui, repo, unit, &gate, &why)?;
            return Ok(ExitCode::from(crate::exit::REFUSED));
        }
    };
    let paths = daemon::Paths::in_dir(&repo.state_dir());
    if daemon::is_running(&paths) {
        ui.warn(
            "a watcher started outside systemd is already running for this project; \
             stop it (`gate watch --stop`) so the service's watcher can take over",
        );
    }
    ctl.user_ok(&["daemon-reload"])?;
    ctl.user_ok(&["enable", "--now", &unit.name])?;
    ui.line(format!(
        "{} enabled and started {}: `gate watch` runs in {}, at login and after a failure",
        ui.ok_mark(),
        unit.name,
        repo.root().display()
    ))?;
    ui.line(format!(
        "  check: systemctl --user status {0}   logs: journalctl --user -u {0}",
        unit.name
    ))?;
    ui.line("  to keep it running while you are logged out: loginctl enable-linger \"$USER\"")?;
    Ok(ExitCode::SUCCESS)
}

/// What to do by hand where systemd cannot be asked.
fn manual_steps(
    ui: &Ui,
    repo: &Repo,
    unit: &Unit,
    gate: &Path,
    why: &Unavailable,
) -> std::io::Result<()> {
    ui.line(format!("{} not enabled: {why}", ui.fail_mark()))?;
    ui.line("  where systemd runs, enable the unit with:")?;
    ui.line("    systemctl --user daemon-reload")?;
    ui.line(format!("    systemctl --user enable --now {}", unit.name))?;
    ui.line("  without systemd, start the watcher from a login script (e.g. ~/.profile):")?;
    ui.line(format!(
        "    (cd {} && {} watch --daemon)",
        shell_word(&repo.root().to_string_lossy()),
        shell_word(&gate.to_string_lossy())
    ))?;
    ui.line(format!(
        "  or start it now, until the next reboot: {}",
        ui.bold("gate watch --daemon")
    ))
}

fn uninstall(ui: &Ui, unit: &Unit) -> anyhow::Result<ExitCode> {
    let installed = unit.path.exists();
    match Systemctl::connect() {
        Ok(ctl) => {
            if installed {
                let out = ctl.user(&["disable", "--now", &unit.name])?;
                if !out.success {
                    ui.warn(format!(
                        "systemctl --user disable --now {}: {}",
                        unit.name, out.stderr
                    ));
                }
            }
            let removed = service::remove_unit(&unit.path)?;
            ctl.user_ok(&["daemon-reload"])?;
            report_removed(ui, unit, removed)?;
        }
        Err(why) => {
            let removed = service::remove_unit(&unit.path)?;
            report_removed(ui, unit, removed)?;
            if removed {
                ui.line(ui.dim(format!(
                    "  {why}: if this unit runs on another session's manager, stop it there with \
                     `systemctl --user disable --now {}`",
                    unit.name
                )))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn report_removed(ui: &Ui, unit: &Unit, removed: bool) -> std::io::Result<()> {
    if removed {
        ui.line(format!(
            "{} stopped, disabled and removed {}",
            ui.ok_mark(),
            unit.path.display()
        ))
    } else {
        ui.line(format!(
            "{} no service installed for this project ({} does not exist)",
            ui.ok_mark(),
            unit.path.display()
        ))
    }
}

/// The `status --json` document. Field names are a public interface: add, never rename.
#[derive(Serialize)]
struct StatusReport<'a> {
    unit: &'a str,
    path: &'a Path,
    installed: bool,
    /// Whether a systemd user manager answered.
    systemd: bool,
    /// `systemctl --user is-enabled` / `is-active`; null without systemd.
    enabled: Option<String>,
    active: Option<String>,
    /// Whether a watcher is running for this project, however it was started.
    watcher_running: bool,
}

fn status(ui: &Ui, repo: &Repo, unit: &Unit, json: bool) -> anyhow::Result<ExitCode> {
    let installed = unit.path.exists();
    let ctl = Systemctl::connect();
    let (enabled, active) = match &ctl {
        Ok(ctl) => (
            Some(ctl.state("is-enabled", &unit.name)),
            Some(ctl.state("is-active", &unit.name)),
        ),
        Err(_) => (None, None),
    };
    let report = StatusReport {
        unit: &unit.name,
        path: &unit.path,
        installed,
        systemd: ctl.is_ok(),
        enabled,
        active,
        watcher_running: daemon::is_running(&daemon::Paths::in_dir(&repo.state_dir())),
    };
    let ok = installed && report.active.as_deref() == Some("active");
    if json {
        ui.json(&report)?;
    } else {
        let mark = if ok { ui.ok_mark() } else { ui.fail_mark() };
        let state = if installed {
            "installed"
        } else {
            "not installed"
        };
        ui.line(format!(
            "{mark} {} {state} ({})",
            unit.name,
            unit.path.display()
        ))?;
        match (&ctl, &report.enabled, &report.active) {
            (Ok(_), Some(enabled), Some(active)) => {
                ui.line(format!("  systemd: {enabled}, {active}"))?
            }
            (Err(why), _, _) => ui.line(format!("  systemd: {why}"))?,
            _ => {}
        }
        let watcher = if report.watcher_running {
            "running"
        } else {
            "not running"
        };
        ui.line(format!("  watcher for this project: {watcher}"))?;
        if !installed {
            ui.line(format!("  install it: {}", ui.bold("gate service install")))?;
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::exit::REFUSED)
    })
}

/// `text` as one POSIX shell word, for commands printed for the user to paste.
fn shell_word(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c))
    {
        return text.to_owned();
    }
    format!("'{}'", text.replace('\'', "'\\''"))
}
