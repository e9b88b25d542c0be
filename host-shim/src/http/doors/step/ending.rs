//! How a flow ends or stops: its signed answers (success, failure,
//! cancelled), the lockout and rate answers, the pages for service errors
//! (from the doors' one reading of them, [`Fault`], with the step's signed
//! failure), and the single-use mark that says a flow has finished.

use crate::http::doors::answer::{Fault, Pages};
use crate::http::doors::step::ctx::StepCtx;
use crate::http::doors::step::flow::Flow;
use crate::http::doors::step::oidc_answer;
use crate::http::doors::step::refusals::{self, expired_flow};
use crate::http::doors::step::result::{Destination, Failure, Reason, Signed, StepResult};
use crate::http::doors::step::{StepTenant, spend};
use crate::http::views::handoff::Handoff;
use crate::http::views::refusal::Refusal;
use crate::http::views::text::attempts_note;
use crate::plugin::Rejection;
use crate::service::ServiceError;

impl StepCtx {
    /// A signed result of this flow, ready to post back: to the relying
    /// party for a step-up flow, else to the IdP's continue URL.
    pub fn hand_back(&self, result: StepResult) -> Result<Handoff, Refusal> {
        let flow = &self.flow;
        if let Some(answer) = &flow.answer {
            return oidc_answer::handoff(self, answer, result).map_err(|_| Refusal::internal());
        }
        let to = Destination {
            cont: &flow.cont,
            state: &flow.state,
            sub: Some(flow.sub.as_str()),
        };
        Signed::handoff(&self.state, &self.tenant, to, result).map_err(|_| Refusal::internal())
    }

    /// The signed failure of this flow.
    pub fn failure(&self, reason: Reason) -> Option<Handoff> {
        self.hand_back(StepResult::Failed(Failure::new(self.flow.action(), reason)))
            .ok()
    }

    /// The page for a posted form of a flow that has expired or finished: a
    /// way back to the IdP (a signed `cancelled`), nothing changed.
    pub fn ended(&self) -> Refusal {
        refusals::finished_flow()
            .back(self.failure(Reason::Cancelled))
            .for_reader(self.reader())
    }

    /// A lockout page with its signed failure.
    pub fn locked(&self, until: Option<i64>) -> Refusal {
        let failure = Failure::locked(self.flow.action(), until);
        let handoff = self.hand_back(StepResult::Failed(failure)).ok();
        refusals::locked(until, self.now(), handoff).for_reader(self.reader())
    }

    /// Every code of the set is used: the page with its signed failure.
    pub fn exhausted(&self) -> Refusal {
        refusals::exhausted(self.failure(Reason::Exhausted)).for_reader(self.reader())
    }

    /// The page for a service error, with the signed failure where one applies.
    pub fn refusal(&self, e: ServiceError) -> Refusal {
        self.fault(Fault::of(e))
    }

    /// The page for a fault, with the signed failure where one applies.
    pub fn fault(&self, fault: Fault) -> Refusal {
        fault
            .page(Pages::Step)
            .back(reason(fault).and_then(|r| self.failure(r)))
            .for_reader(self.reader())
    }

    /// Has the flow finished (its result was handed back)?
    pub async fn finished(&self) -> Result<bool, Refusal> {
        self.state
            .service
            .spent(finished_id(&self.tenant, &self.flow))
            .await
            .map_err(|e| Fault::of(e).page(Pages::Step))
    }

    /// Until when the flow's single-use marks (finished, sets issued) are
    /// kept: past every flow sharing its id. Reloads of one entry link reopen
    /// the flow, each with a fresh expiry, for as long as the IdP's session
    /// token is valid.
    pub fn marks_until(&self) -> i64 {
        let leeway = i64::try_from(self.state.limits.leeway_seconds).unwrap_or(i64::MAX);
        self.flow
            .exp
            .saturating_add(crate::http::doors::step::session::MAX_SESSION_LIFETIME)
            .saturating_add(leeway.saturating_mul(3))
            .saturating_add(60)
    }

    /// Mark the flow finished; refused when it already was.
    pub async fn finish(&self) -> Result<(), Refusal> {
        let mark = finished_id(&self.tenant, &self.flow);
        if spend(&self.state, mark, self.marks_until()).await? {
            Ok(())
        } else {
            Err(expired_flow())
        }
    }

    /// A wrong code: the note on attempts left for the page shown again, or,
    /// when it locked the set for good, the end of the flow.
    pub async fn rejected(&self, r: Rejection) -> Result<String, Refusal> {
        if r.permanent {
            self.finish().await?;
            return Err(self.locked(None));
        }
        let free = self
            .state
            .service
            .tenant(self.tenant.id())
            .map_or(0, |x| x.policy.free_failures);
        let until = r.locked_until.and_then(|u| i64::try_from(u).ok());
        Ok(attempts_note(
            &self.flow.tr(),
            free,
            r.consecutive_failures,
            until,
            self.now(),
        ))
    }

    /// Attempts are locked: the flow ends with a signed `locked`.
    pub async fn lock(&self, until: Option<u64>) -> Refusal {
        if let Err(refusal) = self.finish().await {
            return refusal;
        }
        self.locked(until.and_then(|u| i64::try_from(u).ok()))
    }
}

/// The single-use mark of a finished flow.
fn finished_id<'a>(t: &'a StepTenant, flow: &'a Flow) -> crate::store::Mark<'a> {
    crate::store::Mark::StepFinished {
        tenant: t.id(),
        fid: &flow.fid,
    }
}

/// The reason a step's signed failure gives for a fault (`None`: the page
/// alone, no answer to the IdP).
fn reason(fault: Fault) -> Option<Reason> {
    match fault {
        Fault::NotEnrolled | Fault::NoActiveSet => Some(Reason::NotEnrolled),
        Fault::AlreadyEnrolled => Some(Reason::AlreadyEnrolled),
        Fault::NoPendingSet => Some(Reason::NoPendingSet),
        Fault::InvalidSubject | Fault::UnknownTenant | Fault::RateLimited(_) => None,
        Fault::Busy | Fault::StoreDown | Fault::Failed => Some(Reason::Unavailable),
        Fault::InvalidCode(_) | Fault::Unexpected => Some(Reason::Error),
    }
}
