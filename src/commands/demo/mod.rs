//! `gate demo`: the built-in tour. A throwaway repository, a private tmux server with a fake
//! agent pane, and every moment that matters, narrated with what each command printed.

mod sandbox;

use std::process::{ExitCode, Output};
use std::time::Duration;

use anyhow::Context;
use sandbox::Sandbox;

use crate::ui::Ui;

/// Tour gate in under a minute: refusals, the spec gate, an auto-commit, a nudge and a
/// check-in arriving in an agent's tmux pane, a finished feature, a team of a PM and two
/// engineers in worktrees of their own, and the status view. Needs
/// only git and tmux; everything happens in a throwaway directory and a private tmux server.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Keep the sandbox (repository and tmux server) and print how to look around
    #[arg(long)]
    pub keep: bool,
}

pub fn run(args: &Args, ui: &Ui) -> anyhow::Result<ExitCode> {
    let gate = std::env::current_exe().context("cannot find the gate binary")?;
    for tool in ["git", "tmux"] {
        let found = std::process::Command::new(tool).arg("-V").output().is_ok()
            || std::process::Command::new(tool)
                .arg("--version")
                .output()
                .is_ok();
        anyhow::ensure!(
            found,
            "the demo needs {tool}; install it (e.g. apt-get install {tool}) and run `gate demo` again"
        );
    }
    let sb = Sandbox::create(gate)?;
    let tour = Tour {
        ui,
        sb: &sb,
        step: 0,
    };
    let result = tour.run();
    let watcher_log =
        std::fs::read_to_string(sb.repo.join(".git/gate/watch.log")).unwrap_or_default();
    if args.keep {
        ui.line("")?;
        ui.line(format!("sandbox kept at {}", sb.path().display()))?;
        ui.line(format!("  the repository:   cd {}", sb.repo.display()))?;
        ui.line(format!(
            "  the agent pane:   tmux -S {} attach -t agent",
            sb.socket.display()
        ))?;
        ui.line(format!(
            "  the team:         gate team up again in {}, then tmux -S {} attach -t shop",
            sb.repo.display(),
            sb.socket.display()
        ))?;
        ui.line(format!(
            "  clean up:         tmux -S {} kill-server; rm -rf {}",
            sb.socket.display(),
            sb.path().display()
        ))?;
    } else {
        sb.remove();
    }
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            ui.warn(format!("the watcher logged:\n{watcher_log}"));
            Err(e.context("the demo stopped"))
        }
    }
}

struct Tour<'a> {
    ui: &'a Ui,
    sb: &'a Sandbox,
    step: usize,
}

impl Tour<'_> {
    fn run(mut self) -> anyhow::Result<()> {
        let (ui, sb) = (self.ui, self.sb);
        ui.line(ui.bold("gate demo"))?;
        ui.line(format!(
            "A throwaway repository ({}) and a private tmux server with a fake agent pane.",
            sb.repo.display()
        ))?;

        self.section("A project under gate")?;
        sb.git(&["init", "-q", "-b", "main"])?;
        sb.write(".gate.toml", "[commit]\ninterval = \"3s\"   # 30m in real life\nquiet = \"1s\"\n\n[agent]\nnudge_cooldown = \"1s\"\n")?;
        sb.write("README.md", "# Shop\n")?;
        self.gate(&["init"])?;
        self.git_shown(&["add", "-A"])?;
        self.git_shown(&["commit", "-q", "-m", "Start the shop"])?;
        sb.start_agent()?;
        self.say("tmux: session `agent` runs a fake agent in the repository, marked with `gate agents mark` (plain shells never get nudges); it records every line it receives.")?;

        self.section("An agent commits straight to main: refused")?;
        sb.write("src/cart.rs", "pub struct Cart;\n")?;
        self.git_shown(&["add", "src/cart.rs"])?;
        self.git_shown(&["commit", "-q", "-m", "Add a cart"])?;

        self.section("Start a feature: branch + spec, the staged work comes along")?;
        self.gate(&["specify", "Shopping cart"])?;
        self.say("Committing the code now is still refused: the spec is not written yet.")?;
        self.git_shown(&["commit", "-q", "-m", "Add a cart"])?;

        self.section("The spec gate: plan is refused while the spec has blanks")?;
        self.gate_head(&["plan"], 6)?;
        self.say("The agent fills in the spec (every {{...}} blank, the review checklist)...")?;
        let dir = "specs/001-shopping-cart";
        self.fill(&format!("{dir}/spec.md"))?;
        self.gate(&["plan"])?;
        self.fill(&format!("{dir}/plan.md"))?;
        self.gate(&["tasks"])?;
        self.fill(&format!("{dir}/tasks.md"))?;
        self.gate(&["check"])?;

        self.section("Implementation may begin: the same commit now passes")?;
        self.git_shown(&["add", "-A"])?;
        self.git_shown(&[
            "commit",
            "-q",
            "-m",
            "Add a cart, with its spec, plan and tasks",
        ])?;

        self.section("The watcher: auto-commit, and a nudge in the agent's pane")?;
        self.gate(&["watch", "--daemon"])?;
        sb.wait_for(Duration::from_secs(10), || {
            sb.gate(&["watch", "--status", "--json"])
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("\"mode\": \"events\""))
        });
        sb.write("src/checkout.rs", "pub fn checkout() {}\n")?;
        self.say("The agent writes src/checkout.rs and forgets to commit. 3 s later (30 min in real life):")?;
        let committed = sb.wait_for(Duration::from_secs(20), || {
            sb.git(&["log", "-1", "--format=%s"])
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).starts_with("Progress:"))
        });
        anyhow::ensure!(committed, "the watcher made no auto-commit");
        self.git_shown(&["log", "-1", "--format=%h %s%n%b"])?;
        let nudged = sb.wait_for(Duration::from_secs(15), || {
            sb.agent_lines().iter().any(|l| l.contains("gate"))
        });
        self.agent_received(nudged, "a nudge", 0)?;

        self.section("A check-in, delivered by the watcher to the agent's pane")?;
        let before = sb.agent_lines().len();
        self.gate(&[
            "schedule",
            "2s",
            "Review the cart tests, then run gate finish",
            "--target",
            "agent",
        ])?;
        let delivered = sb.wait_for(Duration::from_secs(20), || {
            sb.agent_lines()[before.min(sb.agent_lines().len())..]
                .iter()
                .any(|l| l.contains("Review the cart tests"))
        });
        self.agent_received(delivered, "the check-in", before)?;

        self.section("Finish the feature: stable tag, merge into main")?;
        self.gate(&["watch", "--stop"])?;
        self.gate(&["finish"])?;
        self.git_shown(&["tag", "--list"])?;

        self.team()?;

        self.section("Where everything stands")?;
        self.gate(&["status"])?;
        self.gate_head(&["log", "-n", "8"], 8)?;
        ui.line("")?;
        ui.line(format!(
            "{} that is gate: specs first, work never lost, agents kept on track.",
            ui.ok_mark()
        ))?;
        ui.line("  Next: `gate init` in your own repository (README: \"Walkthrough\").")?;
        Ok(())
    }

    /// A PM and two engineers (fake agents), each engineer in a worktree of its own: up, what
    /// an engineer was told, the team's status (also in `status --all`), down.
    fn team(&mut self) -> anyhow::Result<()> {
        let sb = self.sb;
        self.section("A team: a PM and two engineers, each engineer in its own worktree")?;
        let fake = sb.fake_agent()?;
        let agent = |name: &str| format!("{} {}", fake.display(), sb.team_received(name).display());
        let file = format!(
            "session = \"shop\"\n\n\
             [[agent]]\nname = \"pm\"\nrole = \"pm\"\ncommand = \"{}\"\nready = \"ready\"\n\n\
             [[agent]]\nname = \"ann\"\nrole = \"engineer\"\ncommand = \"{}\"\nready = \"ready\"\nfeature = \"Search box\"\n\n\
             [[agent]]\nname = \"bob\"\nrole = \"engineer\"\ncommand = \"{}\"\nready = \"ready\"\nfeature = \"Wish list\"\n",
            agent("pm"),
            agent("ann"),
            agent("bob"),
        );
        sb.write("team.toml", &file)?;
        // The team file stays out of the commits (a local ignore), like a person's own notes.
        let exclude = sb.repo.join(".git/info/exclude");
        let mut ignored = std::fs::read_to_string(&exclude).unwrap_or_default();
        ignored.push_str("team.toml\n");
        std::fs::write(&exclude, ignored)?;
        self.say("team.toml names each agent, its role and its command (fake agents here; claude, codex or any CLI in real life):")?;
        self.shown(
            "cat team.toml",
            &file.replace(&format!("{} ", fake.display()), "fake-agent "),
        )?;
        self.gate(&["team", "up"])?;
        let briefed = sb.wait_for(Duration::from_secs(10), || {
            std::fs::read_to_string(sb.team_received("ann"))
                .is_ok_and(|t| t.contains("gate finish"))
        });
        if briefed {
            self.say("Each agent was briefed once its program was ready; ann's pane received:")?;
            let text = std::fs::read_to_string(sb.team_received("ann")).unwrap_or_default();
            for line in text.lines().take(5) {
                self.ui.line(format!("   ▶ {line}"))?;
            }
            self.ui.line("   ▶ ...")?;
        } else {
            self.say("(ann's brief did not arrive in its pane)")?;
        }
        self.gate(&["team", "status"])?;
        self.say("The wall screen shows the team under its project:")?;
        self.gate(&["status", "--all"])?;
        self.gate(&["team", "down"])?;
        Ok(())
    }

    fn section(&mut self, title: &str) -> std::io::Result<()> {
        self.step += 1;
        self.ui.line("")?;
        self.ui
            .line(self.ui.bold(format!("── {}. {title} ", self.step)))
    }

    fn say(&self, text: &str) -> std::io::Result<()> {
        self.ui.line(format!("   {}", self.ui.dim(text)))
    }

    fn shown(&self, command: &str, output: &str) -> std::io::Result<()> {
        self.ui.line(format!("   $ {}", self.ui.code(command)))?;
        for line in output.lines() {
            self.ui.line(format!("   │ {line}"))?;
        }
        Ok(())
    }

    fn show_output(&self, command: &str, out: &Output, max: usize) -> std::io::Result<()> {
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        let lines: Vec<&str> = text.lines().collect();
        let mut shown = lines
            .iter()
            .take(max)
            .copied()
            .collect::<Vec<_>>()
            .join("\n");
        if lines.len() > max {
            shown.push_str(&format!("\n... ({} more lines)", lines.len() - max));
        }
        match out.status.code() {
            Some(0) | None => {}
            Some(code) => shown.push_str(&format!("\n(exit {code})")),
        }
        self.shown(command, &shown)
    }

    fn gate(&self, args: &[&str]) -> anyhow::Result<Output> {
        self.gate_head(args, 40)
    }

    fn gate_head(&self, args: &[&str], max: usize) -> anyhow::Result<Output> {
        let out = self.sb.gate(args)?;
        self.show_output(&format!("gate {}", shell_words(args)), &out, max)?;
        Ok(out)
    }

    fn git_shown(&self, args: &[&str]) -> anyhow::Result<Output> {
        let out = self.sb.git(args)?;
        self.show_output(&format!("git {}", shell_words(args)), &out, 20)?;
        Ok(out)
    }

    /// Shows what the fake agent received after its first `since` lines.
    /// Shows what the agent's pane received since line `since`; a delivery that did not arrive
    /// stops the demo (it is the moment the tour exists to show), with the watcher's log.
    fn agent_received(&self, arrived: bool, what: &str, since: usize) -> anyhow::Result<()> {
        anyhow::ensure!(
            arrived,
            "{what} did not arrive in the agent's pane (`gate send` presses Enter only once it \
             sees the text in the pane's input; the watcher's log says what it tried)"
        );
        self.say(&format!("The agent's pane received {what}:"))?;
        for line in self.sb.agent_lines().iter().skip(since) {
            self.ui.line(format!("   ▶ {line}"))?;
        }
        Ok(())
    }

    /// What an agent does with an artifact: every blank filled, every box ticked.
    fn fill(&self, rel: &str) -> anyhow::Result<()> {
        let text = self.sb.read(rel);
        let mut out = String::with_capacity(text.len());
        let mut rest = text.as_str();
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            match rest[start..].find("}}") {
                Some(end) => {
                    out.push_str("the cart keeps items between visits");
                    rest = &rest[start + end + 2..];
                }
                None => {
                    rest = &rest[start..];
                    break;
                }
            }
        }
        out.push_str(rest);
        self.sb.write(rel, &out.replace("- [ ]", "- [x]"))
    }
}

fn shell_words(args: &[&str]) -> String {
    args.iter()
        .map(|a| {
            if a.contains(' ') || a.contains('%') {
                format!("\"{a}\"")
            } else {
                a.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
