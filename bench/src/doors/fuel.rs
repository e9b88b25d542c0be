//! Section 1 of `doors`: argon2 evaluations per HTTP attempt, by kind and
//! door, counted with wasmtime fuel (one unit per wasm operator the
//! component executes, deterministic) summed over every component call the
//! shim made while answering the request.

use std::io::Write;
use std::sync::Arc;

use backup_codes_shim::config::Config;
use backup_codes_shim::plugin::{self, Plugin, Policy};

use super::client::{Answer, Client, Door, Flow, Secrets, TENANT, config_toml, with_typo};
use super::{DoorsArgs, Metered, median};
use crate::BoxResult;
use crate::raw::{self, RawHost};
use crate::stats::verdict;

/// The kinds of attempt counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Right,
    Wrong,
    Unknown,
    Replaced,
    Typo,
    Locked,
}

impl Kind {
    const ALL: [Self; 6] = [
        Self::Right,
        Self::Wrong,
        Self::Unknown,
        Self::Replaced,
        Self::Typo,
        Self::Locked,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::Right => "right code",
            Self::Wrong => "wrong code (a code of another subject's set)",
            Self::Unknown => "unknown subject (checked against a decoy credential)",
            Self::Replaced => "code of the set the active one replaced",
            Self::Typo => "typo (bad check symbol)",
            Self::Locked => "locked set",
        }
    }

    fn tag(self) -> &'static str {
        match self {
            Self::Right => "right",
            Self::Wrong => "wrong",
            Self::Unknown => "unknown",
            Self::Replaced => "replaced",
            Self::Typo => "typo",
            Self::Locked => "locked",
        }
    }

    /// Argon2 evaluations the engine promises for this kind.
    fn evaluations(self) -> f64 {
        match self {
            Self::Right | Self::Wrong | Self::Unknown | Self::Replaced => 1.0,
            Self::Typo | Self::Locked => 0.0,
        }
    }

    /// What the door must answer, so that the count is of this kind.
    fn expected(self, door: Door) -> Answer {
        match (self, door) {
            (Self::Right, _) => Answer::Accepted,
            (Self::Wrong, _) | (Self::Unknown | Self::Replaced, Door::Rest) => Answer::Rejected,
            (Self::Unknown, _) => Answer::NotEnrolled,
            (Self::Replaced, Door::Login) => Answer::ReplacedSet,
            (Self::Replaced, Door::Api) => Answer::Rejected,
            (Self::Typo, _) => Answer::Typo,
            (Self::Locked, _) => Answer::Locked,
        }
    }
}

/// One kind at one door: the subject, the codes typed, the login flows.
struct Case {
    door: Door,
    kind: Kind,
    subject: String,
    codes: Vec<String>,
    flows: Vec<Flow>,
    attempts: usize,
}

/// What a case's attempts used.
struct Counted {
    door: Door,
    kind: Kind,
    answers: Vec<Answer>,
    fuel: Vec<u64>,
}

impl Counted {
    fn evaluations(&self, per_evaluation: f64) -> Vec<f64> {
        #[allow(clippy::cast_precision_loss)]
        self.fuel
            .iter()
            .map(|f| *f as f64 / per_evaluation)
            .collect()
    }

    fn as_expected(&self, per_evaluation: f64) -> bool {
        let want = self.kind.evaluations();
        self.answers
            .iter()
            .all(|a| *a == self.kind.expected(self.door))
            && self
                .evaluations(per_evaluation)
                .iter()
                .all(|e| (e - want).abs() < 0.01)
    }
}

/// The section: start a metered shim, set up each case, count, print.
pub(super) async fn run(args: &DoorsArgs, out: &mut impl Write) -> BoxResult<()> {
    let dir = tempfile::tempdir()?;
    let secrets = Secrets::random();
    let path = dir.path().join("shim.toml");
    std::fs::write(
        &path,
        config_toml(dir.path(), &secrets, &args.hash_lines(), ""),
    )?;
    let config = Config::load(Some(&path))?;
    let shim = Metered::start(&config).await?;
    let client = Client::new(&shim.url, &secrets)?;
    let policy = shim.state.service.tenant(TENANT)?.policy;
    let plugin = Arc::clone(shim.state.service.plugin());
    let memory_limit = plugin.config().memory_limit;
    let (per_evaluation, per_evaluation_raw) = tokio::task::spawn_blocking(move || {
        fuel_per_evaluation(&plugin, &policy, memory_limit).map_err(|e| e.to_string())
    })
    .await??;
    let repeats = args.repeats.max(1);
    let mut entry_fuel = Vec::new();
    let cases = set_up(&client, &shim, repeats, &mut entry_fuel).await?;
    let mut counted = Vec::new();
    for case in &cases {
        counted.push(count(&client, &shim, case).await?);
    }
    let before = shim.fuel();
    let never = client.enter_answer("step-never-enrolled").await?;
    let never_fuel = shim.fuel() - before;
    shim.stop().await;

    let h = policy.hash;
    writeln!(
        out,
        "## 1. Argon2 evaluations per HTTP attempt, by kind and door (issue 25)"
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "The shim runs in this process with fuel metering on (`PluginConfig::meter_fuel`; \
         one unit per wasm operator the component executes, deterministic); each attempt is \
         one HTTP request on 127.0.0.1, one at a time, and its count is the fuel of every \
         component call the shim made while answering it, divided by the fuel of one argon2 \
         evaluation. Tenant policy: argon2id m={} KiB, t={}, p={}, {} codes, free failures {}. \
         One evaluation = (issue N=64 - issue N=1) / 63 through the shim's own metered `Plugin` \
         = {per_evaluation:.0} fuel (the bench host's counter, `bench/src/raw.rs`, on the same \
         component: {per_evaluation_raw:.0}); it includes drawing and encoding one code, a few \
         thousand operators. {repeats} attempt(s) of each kind at each door.",
        h.memory_kib, h.iterations, h.parallelism, policy.count, policy.free_failures
    )?;
    writeln!(out)?;
    write_matrix(out, &counted, per_evaluation)?;
    write_details(out, &counted, per_evaluation)?;
    #[allow(clippy::cast_precision_loss)]
    let (entry, never_fuel) = (
        median(&entry_fuel.iter().map(|f| *f as f64).collect::<Vec<_>>()),
        never_fuel as f64,
    );
    writeln!(
        out,
        "Not attempts, for reference: opening a login flow (`GET /step/{{t}}/login`, the code \
         page; a `status` call) used {entry:.0} fuel (median) = {:.4} evaluations; for a \
         subject that never had codes the login step refuses at that entry, before a code is \
         typed ({never:?}): {never_fuel:.0} fuel = {:.4} evaluations.",
        entry / per_evaluation,
        never_fuel / per_evaluation
    )?;
    writeln!(out)?;
    let all = counted.iter().all(|c| c.as_expected(per_evaluation));
    writeln!(out, "| target | measured | goal | |")?;
    writeln!(out, "|---|---:|---:|---|")?;
    writeln!(
        out,
        "| evaluations per attempt at every door (hashing kinds / typo, locked) | {} | 1 / 0 | {} |",
        if all {
            "as promised in every cell"
        } else {
            "see the cells marked (!)"
        },
        verdict(all)
    )?;
    writeln!(out)?;
    Ok(())
}

/// Fuel of one argon2 evaluation: issue N=64 minus issue N=1, over 63,
/// through the shim's metered plugin, and the same through the bench host.
fn fuel_per_evaluation(
    plugin: &Plugin,
    policy: &Policy,
    memory_limit: usize,
) -> BoxResult<(f64, f64)> {
    let with = |count: u8| Policy {
        count,
        low_water: policy.low_water.min(count),
        ..*policy
    };
    let f0 = plugin.fuel_used();
    plugin.issue(None, &with(1), None)?;
    let f1 = plugin.fuel_used();
    plugin.issue(None, &with(64), None)?;
    let f2 = plugin.fuel_used();
    #[allow(clippy::cast_precision_loss)]
    let shim = ((f2 - f1) as f64 - (f1 - f0) as f64) / 63.0;
    let counter = RawHost::with_component(
        raw::Options {
            fuel: true,
            ..raw::Options::production(memory_limit)
        },
        plugin::EMBEDDED_COMPONENT,
    )?;
    let (n1, fuel1) = counter.issue(&raw::policy(&with(1)))?;
    let (n64, fuel64) = counter.issue(&raw::policy(&with(64)))?;
    if n1 != 1 || n64 != 64 {
        return Err("issue returned the wrong number of codes".into());
    }
    #[allow(clippy::cast_precision_loss)]
    let bench = (fuel64 - fuel1) as f64 / 63.0;
    Ok((shim, bench))
}

/// Every case at every door: subjects enrolled, login flows opened (before a
/// subject's codes are deleted or locked, as a user already on the page), then
/// the deletions and lockouts.
async fn set_up(
    client: &Client,
    shim: &Metered,
    repeats: usize,
    entry_fuel: &mut Vec<u64>,
) -> BoxResult<Vec<Case>> {
    let donor = client.issue("donor").await?;
    let mut cases = Vec::new();
    for door in Door::ALL {
        for kind in Kind::ALL {
            let subject = format!("{}-{}", door.tag(), kind.tag());
            let codes = match kind {
                Kind::Right => client.issue(&subject).await?,
                Kind::Wrong | Kind::Locked => {
                    client.issue(&subject).await?;
                    donor.clone()
                }
                Kind::Unknown => {
                    if door == Door::Login {
                        client.issue(&subject).await?;
                    }
                    donor.clone()
                }
                Kind::Replaced => {
                    let first = client.issue(&subject).await?;
                    client.issue(&subject).await?;
                    first
                }
                Kind::Typo => client
                    .issue(&subject)
                    .await?
                    .iter()
                    .map(|c| with_typo(c))
                    .collect(),
            };
            let mut flows = Vec::new();
            if door == Door::Login {
                for _ in 0..repeats {
                    let before = shim.fuel();
                    flows.push(client.open_flow(&subject).await?);
                    entry_fuel.push(shim.fuel() - before);
                }
            }
            cases.push(Case {
                door,
                kind,
                subject,
                codes,
                flows,
                attempts: repeats,
            });
        }
    }
    for case in &cases {
        match case.kind {
            Kind::Unknown if case.door == Door::Login => client.delete(&case.subject).await?,
            Kind::Locked => lock(client, &case.subject, &donor).await?,
            _ => {}
        }
    }
    Ok(cases)
}

/// Type wrong codes at the JSON API until the set is locked.
async fn lock(client: &Client, subject: &str, wrong: &[String]) -> BoxResult<()> {
    for i in 0..30 {
        let code = &wrong[i % wrong.len().max(1)];
        let (answer, _) = client.attempt(Door::Api, subject, code, None).await?;
        if answer == Answer::Locked {
            return Ok(());
        }
    }
    Err(format!("{subject} was not locked after 30 wrong codes").into())
}

/// Make the case's attempts, one at a time, reading the fuel around each.
async fn count(client: &Client, shim: &Metered, case: &Case) -> BoxResult<Counted> {
    let mut counted = Counted {
        door: case.door,
        kind: case.kind,
        answers: Vec::new(),
        fuel: Vec::new(),
    };
    for i in 0..case.attempts {
        let code = case
            .codes
            .get(i % case.codes.len().max(1))
            .ok_or("no code to type")?;
        let before = shim.fuel();
        let (answer, _) = client
            .attempt(case.door, &case.subject, code, case.flows.get(i))
            .await?;
        counted.fuel.push(shim.fuel() - before);
        counted.answers.push(answer);
    }
    Ok(counted)
}

/// Evaluations of a case's attempts: one value, or the range.
fn cell(c: &Counted, per_evaluation: f64) -> String {
    let e = c.evaluations(per_evaluation);
    let lo = e.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = e.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let text = if format!("{lo:.4}") == format!("{hi:.4}") {
        format!("{lo:.4}")
    } else {
        format!("{lo:.4}–{hi:.4}")
    };
    if c.as_expected(per_evaluation) {
        text
    } else {
        format!("{text} (!)")
    }
}

/// Kinds down, doors across.
fn write_matrix(out: &mut impl Write, counted: &[Counted], per_evaluation: f64) -> BoxResult<()> {
    writeln!(
        out,
        "| attempt | promised | {} | {} | {} | |",
        Door::ALL[0].name(),
        Door::ALL[1].name(),
        Door::ALL[2].name()
    )?;
    writeln!(out, "|---|---:|---:|---:|---:|---|")?;
    for kind in Kind::ALL {
        let row: Vec<&Counted> = Door::ALL
            .iter()
            .filter_map(|d| counted.iter().find(|c| c.kind == kind && c.door == *d))
            .collect();
        let cells: Vec<String> = row.iter().map(|c| cell(c, per_evaluation)).collect();
        let ok = row.iter().all(|c| c.as_expected(per_evaluation));
        writeln!(
            out,
            "| {} | {:.2} | {} | {} |",
            kind.name(),
            kind.evaluations(),
            cells.join(" | "),
            verdict(ok)
        )?;
    }
    writeln!(out)?;
    Ok(())
}

/// Each case's answers and raw fuel.
fn write_details(out: &mut impl Write, counted: &[Counted], per_evaluation: f64) -> BoxResult<()> {
    writeln!(
        out,
        "| door | attempt | answer (expected) | fuel of each attempt | evaluations |"
    )?;
    writeln!(out, "|---|---|---|---:|---:|")?;
    for c in counted {
        let answers_text = answers(&c.answers);
        let fuel: Vec<String> = c.fuel.iter().map(u64::to_string).collect();
        writeln!(
            out,
            "| {} | {} | {answers_text} ({:?}) | {} | {} |",
            c.door.name(),
            c.kind.tag(),
            c.kind.expected(c.door),
            fuel.join(", "),
            cell(c, per_evaluation)
        )?;
    }
    writeln!(out)?;
    Ok(())
}

/// The answers, "A x3" when all alike.
fn answers(all: &[Answer]) -> String {
    match all.first() {
        Some(first) if all.iter().all(|a| a == first) => format!("{first:?} x{}", all.len()),
        _ => all
            .iter()
            .map(|a| format!("{a:?}"))
            .collect::<Vec<_>>()
            .join(", "),
    }
}
