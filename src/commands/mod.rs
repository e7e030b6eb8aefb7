//! One file per subcommand; this is the list and the dispatch.

mod agent_hook;
mod agents;
mod artifact;
mod audit;
mod check;
mod completions;
mod config;
mod demo;
mod doctor;
mod finish;
mod guard;
mod hook;
mod hooks;
mod init;
mod learn;
mod log;
mod man;
mod restore;
mod schedule;
mod send;
mod service;
mod snapshot;
mod snapshots;
mod specify;
mod status;
mod team;
mod verify;
mod watch;

use std::process::ExitCode;

use clap::Subcommand;

use crate::ui::Ui;

#[derive(Debug, Subcommand)]
pub enum Command {
    Init(init::Args),
    Specify(specify::Args),
    /// Write plan.md from the template; refused while spec.md is incomplete
    Plan(artifact::Args),
    /// Write tasks.md from the template; refused while plan.md is incomplete
    Tasks(artifact::Args),
    Check(check::Args),
    Finish(finish::Args),
    Audit(audit::Args),
    Config(config::Args),
    Hooks(hooks::Args),
    Hook(hook::Args),
    Log(log::Args),
    Learn(learn::Args),
    Verify(verify::Args),
    Service(service::Args),
    Completions(completions::Args),
    Man(man::Args),
    Send(send::Args),
    Agents(agents::Args),
    AgentHook(agent_hook::Args),
    Schedule(schedule::Args),
    Guard(guard::Args),
    Snapshot(snapshot::Args),
    Snapshots(snapshots::Args),
    Restore(restore::Args),
    Status(status::Args),
    Team(team::Args),
    Demo(demo::Args),
    Doctor(doctor::Args),
    Watch(watch::Args),
}

pub fn run(command: Command, ui: &Ui) -> anyhow::Result<ExitCode> {
    match command {
        Command::Init(args) => init::run(&args, ui),
        Command::Specify(args) => specify::run(&args, ui),
        Command::Plan(args) => artifact::run(gate::spec::ArtifactKind::Plan, &args, ui),
        Command::Tasks(args) => artifact::run(gate::spec::ArtifactKind::Tasks, &args, ui),
        Command::Check(args) => check::run(&args, ui),
        Command::Finish(args) => finish::run(&args, ui),
        Command::Audit(args) => audit::run(&args, ui),
        Command::Config(args) => config::run(&args, ui),
        Command::Hooks(args) => hooks::run(&args, ui),
        Command::Hook(args) => hook::run(&args, ui),
        Command::Log(args) => log::run(&args, ui),
        Command::Learn(args) => learn::run(&args, ui),
        Command::Verify(args) => verify::run(&args, ui),
        Command::Service(args) => service::run(&args, ui),
        Command::Completions(args) => completions::run(&args, ui),
        Command::Man(args) => man::run(&args, ui),
        Command::Send(args) => send::run(&args, ui),
        Command::Agents(args) => agents::run(&args, ui),
        Command::AgentHook(args) => agent_hook::run(&args, ui),
        Command::Schedule(args) => schedule::run(&args, ui),
        Command::Guard(args) => guard::run(&args, ui),
        Command::Snapshot(args) => snapshot::run(&args, ui),
        Command::Snapshots(args) => snapshots::run(&args, ui),
        Command::Restore(args) => restore::run(&args, ui),
        Command::Status(args) => status::run(&args, ui),
        Command::Team(args) => team::run(&args, ui),
        Command::Demo(args) => demo::run(&args, ui),
        Command::Doctor(args) => doctor::run(&args, ui),
        Command::Watch(args) => watch::run(&args, ui),
    }
}
