//! Section 2 of `doors`: whether a wrong code, an unknown subject and a code
//! of a replaced set take the same time at each door (issue 25), and at the
//! REST door an enrolled user's wrong code vs an unknown user (issue 24).
//!
//! One process of the real shim binary; one request at a time over loopback.
//! Every round makes one attempt of each kind at each door, starting at a
//! different cell each round, so load that comes and goes on a shared machine
//! touches every cell alike. Login flows are opened before the rounds (as a
//! user already on the page), so a timed login attempt is the `POST` alone;
//! the unknown subjects of the login step had codes when their flows were
//! opened and were deleted before the rounds (a subject that never had codes
//! is refused at the entry, before a code is typed). At the JSON API and the
//! REST door an unknown subject is timed twice: one of a few subjects tried
//! again and again (its decoy state is kept, updated in place), and a new
//! subject every try (its state is created), as someone probing many names
//! would.

use std::io::Write;

use backup_codes_harness::shim::ShimProcess;

use super::client::{Answer, Client, Door, Flow, Secrets, config_toml};
use super::{DoorsArgs, median};
use crate::BoxResult;
use crate::stats::{ms, summarize, verdict};

/// The largest relative difference of medians allowed between kinds at a door.
const TARGET: f64 = 0.05;
/// Attempts per subject, far below the tenant's 100 free failures.
const PER_SUBJECT: usize = 40;

/// The kinds timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Wrong,
    Unknown,
    Replaced,
    /// An unknown subject tried for the first time (JSON API and REST door).
    Fresh,
}

impl Kind {
    const ALL: [Self; 4] = [Self::Wrong, Self::Unknown, Self::Replaced, Self::Fresh];
    /// The kinds issue 25 compares at every door.
    const COMPARED: [Self; 3] = [Self::Wrong, Self::Unknown, Self::Replaced];

    fn name(self) -> &'static str {
        match self {
            Self::Wrong => "wrong code",
            Self::Unknown => "unknown subject",
            Self::Replaced => "replaced-set code",
            Self::Fresh => "unknown subject, a new one every try",
        }
    }

    fn tag(self) -> &'static str {
        match self {
            Self::Wrong => "w",
            Self::Unknown => "u",
            Self::Replaced => "r",
            Self::Fresh => "n",
        }
    }

    /// Whether this kind is timed at `door`.
    fn at(self, door: Door) -> bool {
        self != Self::Fresh || door != Door::Login
    }

    /// Attempts each subject takes.
    fn per_subject(self) -> usize {
        if self == Self::Fresh { 1 } else { PER_SUBJECT }
    }

    fn expected(self, door: Door) -> Answer {
        match (self, door) {
            (Self::Wrong, _) | (Self::Unknown | Self::Replaced | Self::Fresh, Door::Rest) => {
                Answer::Rejected
            }
            (Self::Unknown | Self::Fresh, _) => Answer::NotEnrolled,
            (Self::Replaced, Door::Login) => Answer::ReplacedSet,
            (Self::Replaced, Door::Api) => Answer::Rejected,
        }
    }
}

/// A subject and the codes typed for it.
struct Subject {
    id: String,
    codes: Vec<String>,
}

/// One kind at one door: its subjects (each takes [`Kind::per_subject`]
/// attempts), the login flows, and the times measured.
struct Cell {
    door: Door,
    kind: Kind,
    subjects: Vec<Subject>,
    flows: Vec<Flow>,
    times: Vec<f64>,
}

impl Cell {
    /// The subject and the code of attempt `attempt`.
    fn attempt(&self, attempt: usize) -> BoxResult<(&str, &str)> {
        let i = (attempt / self.kind.per_subject()).min(self.subjects.len().saturating_sub(1));
        let subject = self.subjects.get(i).ok_or("no subject")?;
        let code = subject
            .codes
            .get(attempt % subject.codes.len().max(1))
            .ok_or("no code")?;
        Ok((&subject.id, code))
    }
}

/// The section: start the shim, set up, time the rounds, print.
pub(super) async fn run(args: &DoorsArgs, out: &mut impl Write) -> BoxResult<()> {
    let (tries, warmup) = if args.quick {
        (3, 1)
    } else {
        (args.tries.max(1), args.warmup)
    };
    let dir = tempfile::tempdir()?;
    let secrets = Secrets::random();
    let policy = format!(
        "free_failures = 100\nmax_failures = 100\n{}",
        args.hash_lines()
    );
    let bin = crate::load::shim_binary(args.shim.as_deref())?;
    let config = config_toml(dir.path(), &secrets, &policy, "");
    let shim = ShimProcess::start_binary(&bin, dir.path(), "shim", &config).await?;
    let client = Client::new(&shim.url, &secrets)?;
    let mut cells = set_up(&client, warmup + tries).await?;
    let started = crate::stats::load_average();
    let n = cells.len();
    for round in 0..warmup + tries {
        for step in 0..n {
            let k = (round + step) % n;
            let cell = &mut cells[k];
            let (subject, code) = cell.attempt(round)?;
            let (answer, took) = client
                .attempt(cell.door, subject, code, cell.flows.get(round))
                .await?;
            if answer != cell.kind.expected(cell.door) {
                return Err(format!(
                    "{} at the {}: expected {:?}, got {answer:?}",
                    cell.kind.name(),
                    cell.door.name(),
                    cell.kind.expected(cell.door)
                )
                .into());
            }
            if round >= warmup {
                cell.times.push(took);
            }
        }
    }
    drop(shim);
    write(out, &cells, tries, &started, args.hash_lines().is_empty())
}

/// Subjects for each kind at each door: wrong-code subjects enrolled,
/// replaced-set subjects enrolled twice (their first set's codes typed),
/// unknown subjects never enrolled (at the login step: enrolled, their flows
/// opened, then deleted); `attempts` login flows per kind.
async fn set_up(client: &Client, attempts: usize) -> BoxResult<Vec<Cell>> {
    let donor = client.issue("donor").await?;
    let mut cells = Vec::new();
    for door in Door::ALL {
        for kind in Kind::ALL.into_iter().filter(|k| k.at(door)) {
            let pool = attempts.div_ceil(kind.per_subject()).max(1);
            let mut subjects = Vec::new();
            for i in 0..pool {
                let id = format!("{}-{}{i}", door.tag(), kind.tag());
                let codes = match kind {
                    Kind::Wrong => {
                        client.issue(&id).await?;
                        donor.clone()
                    }
                    Kind::Replaced => {
                        let first = client.issue(&id).await?;
                        client.issue(&id).await?;
                        first
                    }
                    Kind::Unknown | Kind::Fresh => {
                        if door == Door::Login {
                            client.issue(&id).await?;
                        }
                        donor.clone()
                    }
                };
                subjects.push(Subject { id, codes });
            }
            let mut cell = Cell {
                door,
                kind,
                subjects,
                flows: Vec::new(),
                times: Vec::new(),
            };
            if door == Door::Login {
                for attempt in 0..attempts {
                    let (subject, _) = cell.attempt(attempt)?;
                    let flow = client.open_flow(subject).await?;
                    cell.flows.push(flow);
                }
            }
            cells.push(cell);
        }
    }
    for cell in &cells {
        if cell.door == Door::Login && cell.kind == Kind::Unknown {
            for subject in &cell.subjects {
                client.delete(&subject.id).await?;
            }
        }
    }
    Ok(cells)
}

/// One table per door: each kind's median, p10-p90 and its difference to
/// the wrong code's, of medians and per round.
fn write(
    out: &mut impl Write,
    cells: &[Cell],
    tries: usize,
    load_at_start: &str,
    default_policy: bool,
) -> BoxResult<()> {
    writeln!(out, "## 2. Timing at each door (issues 24 and 25)")?;
    writeln!(out)?;
    writeln!(
        out,
        "A process of the real shim binary (SQLite), one request at a time over loopback; {tries} \
         timed tries of each kind at each door, interleaved round by round (the first cell \
         rotating), after the warm-up rounds; {}. Time: from sending the request to the whole \
         answer read (the bearer token is minted before). Load average when the rounds began: \
         {load_at_start}.",
        if default_policy {
            "default policy (argon2id m=19456 KiB, t=2, p=1)"
        } else {
            "argon2 parameters as given"
        }
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "| door | attempt | median ms | p10-p90 ms | / wrong code, of medians | / wrong code, per round (median) |"
    )?;
    writeln!(out, "|---|---|---:|---:|---:|---:|")?;
    let mut worst: Vec<(Door, f64)> = Vec::new();
    for door in Door::ALL {
        let of = |kind: Kind| cells.iter().find(|c| c.door == door && c.kind == kind);
        let Some(wrong) = of(Kind::Wrong) else {
            continue;
        };
        let base = median(&wrong.times);
        let mut spread: f64 = 0.0;
        for kind in Kind::ALL {
            let Some(cell) = of(kind) else { continue };
            let s = summarize(&cell.times);
            let per_round: Vec<f64> = cell
                .times
                .iter()
                .zip(&wrong.times)
                .map(|(a, b)| a / b)
                .collect();
            let r = median(&per_round);
            let diff = s.median / base - 1.0;
            if Kind::COMPARED.contains(&kind) {
                spread = spread.max(diff.abs());
            }
            writeln!(
                out,
                "| {} | {} | {} | {}-{} | {:+.1}% | {:+.1}% |",
                door.name(),
                kind.name(),
                ms(s.median),
                ms(s.p10),
                ms(s.p90),
                100.0 * diff,
                100.0 * (r - 1.0)
            )?;
        }
        worst.push((door, spread));
    }
    writeln!(out)?;
    write_targets(out, cells, &worst)
}

fn write_targets(out: &mut impl Write, cells: &[Cell], worst: &[(Door, f64)]) -> BoxResult<()> {
    writeln!(out, "| target | measured | goal | |")?;
    writeln!(out, "|---|---:|---:|---|")?;
    for (door, spread) in worst {
        writeln!(
            out,
            "| issue 25, {}: wrong code, unknown subject, replaced-set code; largest difference of medians | {:.1}% | <= {:.0}% | {} |",
            door.name(),
            100.0 * spread,
            100.0 * TARGET,
            verdict(*spread <= TARGET)
        )?;
    }
    let rest = |kind: Kind| {
        cells
            .iter()
            .find(|c| c.door == Door::Rest && c.kind == kind)
            .map(|c| median(&c.times))
    };
    for (unknown, which) in [
        (Kind::Unknown, "unknown user (tried again)"),
        (Kind::Fresh, "unknown user (a new one every try)"),
    ] {
        let (Some(wrong), Some(unknown)) = (rest(Kind::Wrong), rest(unknown)) else {
            continue;
        };
        let diff = unknown / wrong - 1.0;
        writeln!(
            out,
            "| issue 24, REST door: {which} vs an enrolled user's wrong code, medians | {} vs {} ms ({:+.1}%) | within {:.0}% | {} |",
            ms(unknown),
            ms(wrong),
            100.0 * diff,
            100.0 * TARGET,
            verdict(diff.abs() <= TARGET)
        )?;
    }
    writeln!(out)?;
    Ok(())
}
