//! The GraphQL object types: views of the live state. Places (`Wijk`, `Gebied`) are resolved
//! from the state when asked; an `Initiative` is a snapshot of its view taken when it was
//! looked up, so its fields agree with each other.

use std::sync::Arc;

use async_graphql::{ComplexObject, Context, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use wijkpuls_domain as domain;
use wijkpuls_domain::{ConnectionTarget, GebiedCode, InitiativeView, WijkCode};

use super::scalars::{Channel, InitiativeStatus, Money, PartyKind, Position, Theme, WithdrawnBy};
use super::{actor, app, current_year};
use crate::error::{ApiError, ApiResult};
use crate::feed::FeedItem;
use crate::policy;

/// One year's budget of a wijk, a gebied or the city.
#[derive(SimpleObject, Clone)]
pub struct Budget {
    pub year: i32,
    pub allocated: Money,
    pub committed: Money,
    pub spent: Money,
    /// allocated − committed − spent; never below zero.
    pub remaining: Money,
    /// One line per theme, all eight.
    pub lines: Vec<BudgetLine>,
}

#[derive(SimpleObject, Clone)]
pub struct BudgetLine {
    pub theme: Theme,
    pub allocated: Money,
    pub committed: Money,
    pub spent: Money,
    pub remaining: Money,
}

impl From<&domain::BudgetSummary> for Budget {
    fn from(summary: &domain::BudgetSummary) -> Budget {
        let t = summary.totals;
        Budget {
            year: summary.year,
            allocated: t.allocated.into(),
            committed: t.committed.into(),
            spent: t.spent.into(),
            remaining: t.remaining().into(),
            lines: summary
                .lines
                .iter()
                .map(|(theme, line)| BudgetLine {
                    theme: (*theme).into(),
                    allocated: line.allocated.into(),
                    committed: line.committed.into(),
                    spent: line.spent.into(),
                    remaining: line.remaining().into(),
                })
                .collect(),
        }
    }
}

/// How many initiatives are in each status.
#[derive(SimpleObject, Clone, Copy)]
pub struct StatusCounts {
    pub submitted: u64,
    pub connected: u64,
    pub funded: u64,
    pub completed: u64,
    pub rejected: u64,
    pub withdrawn: u64,
    pub referred: u64,
    pub total: u64,
}

impl From<domain::StatusCounts> for StatusCounts {
    fn from(c: domain::StatusCounts) -> StatusCounts {
        use domain::InitiativeStatus as S;
        StatusCounts {
            submitted: c.get(S::Submitted),
            connected: c.get(S::Connected),
            funded: c.get(S::Funded),
            completed: c.get(S::Completed),
            rejected: c.get(S::Rejected),
            withdrawn: c.get(S::Withdrawn),
            referred: c.get(S::Referred),
            total: c.total(),
        }
    }
}

/// The public contact details of a gebied's team Leefomgeving.
#[derive(SimpleObject, Clone)]
pub struct Team {
    pub email: String,
    pub phone: String,
}

/// A wijk (neighbourhood), by its CBS code.
#[derive(Clone)]
pub struct Wijk {
    pub code: WijkCode,
    /// The year `budget` shows when none is asked (the overview's year).
    pub year: Option<i32>,
}

#[Object]
impl Wijk {
    /// The CBS wijk code, e.g. `WK020207`.
    async fn code(&self) -> ID {
        ID(self.code.to_string())
    }

    async fn name(&self, ctx: &Context<'_>) -> String {
        app(ctx)
            .live
            .read()
            .wijk(&self.code)
            .map(|w| w.name.as_str().to_owned())
            .unwrap_or_default()
    }

    async fn gebied(&self, ctx: &Context<'_>) -> ApiResult<Gebied> {
        let state = app(ctx).live.read();
        let wijk = state
            .wijk(&self.code)
            .ok_or_else(|| ApiError::NotFound(format!("wijk {} was not found", self.code)))?;
        Ok(Gebied {
            code: wijk.gebied,
            year: self.year,
        })
    }

    /// The wijk's budget for `year` (default: the current year).
    async fn budget(&self, ctx: &Context<'_>, year: Option<i32>) -> Budget {
        let year = year.or(self.year).unwrap_or_else(current_year);
        Budget::from(&app(ctx).live.read().wijk_budget(&self.code, year))
    }

    /// The years for which the wijk has a budget.
    async fn budget_years(&self, ctx: &Context<'_>) -> Vec<i32> {
        app(ctx)
            .live
            .read()
            .wijk(&self.code)
            .map(|w| w.budget_years().collect())
            .unwrap_or_default()
    }

    async fn initiative_counts(&self, ctx: &Context<'_>) -> StatusCounts {
        app(ctx).live.read().wijk_counts(&self.code).into()
    }

    /// The wijk's initiatives, newest first.
    async fn initiatives(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        status: Option<Vec<InitiativeStatus>>,
    ) -> ApiResult<InitiativeConnection> {
        let filter = super::query::InitiativeFilter {
            wijk: Some(ID(self.code.to_string())),
            status,
            ..Default::default()
        };
        super::query::initiatives_page(ctx, first, after, Some(filter))
    }
}

/// A gebied: the area of one wijkprogramma and its team Leefomgeving.
#[derive(Clone)]
pub struct Gebied {
    pub code: GebiedCode,
    pub year: Option<i32>,
}

#[Object]
impl Gebied {
    /// `W1` … `W8`.
    async fn code(&self) -> ID {
        ID(self.code.to_string())
    }

    async fn name(&self, ctx: &Context<'_>) -> String {
        app(ctx)
            .live
            .read()
            .gebied(&self.code)
            .map(|g| g.name.as_str().to_owned())
            .unwrap_or_default()
    }

    /// Whom to contact: the team Leefomgeving.
    async fn team(&self, ctx: &Context<'_>) -> Option<Team> {
        app(ctx).live.read().gebied(&self.code).map(|g| Team {
            email: g.team.email.as_str().to_owned(),
            phone: g.team.phone.as_str().to_owned(),
        })
    }

    /// Its wijken, ordered by code.
    async fn wijken(&self, ctx: &Context<'_>) -> Vec<Wijk> {
        app(ctx)
            .live
            .read()
            .gebied(&self.code)
            .map(|g| {
                g.wijken
                    .iter()
                    .map(|code| Wijk {
                        code: *code,
                        year: self.year,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The wijkprogramma's budget for `year` (default: the current year): its wijken together.
    async fn budget(&self, ctx: &Context<'_>, year: Option<i32>) -> Budget {
        let year = year.or(self.year).unwrap_or_else(current_year);
        Budget::from(&app(ctx).live.read().gebied_budget(&self.code, year))
    }

    async fn initiative_counts(&self, ctx: &Context<'_>) -> StatusCounts {
        app(ctx).live.read().gebied_counts(&self.code).into()
    }
}

/// All of the city at once: what the overview screen shows.
pub struct CityOverview {
    pub year: i32,
}

#[Object]
impl CityOverview {
    async fn year(&self) -> i32 {
        self.year
    }

    /// The position of the last event this overview includes.
    async fn position(&self, ctx: &Context<'_>) -> Position {
        Position(app(ctx).live.position())
    }

    /// When the last event it includes was recorded.
    async fn as_of(&self, ctx: &Context<'_>) -> Option<DateTime<Utc>> {
        app(ctx).live.as_of()
    }

    /// The city's budget for the year: all wijken together.
    async fn totals(&self, ctx: &Context<'_>) -> Budget {
        Budget::from(&app(ctx).live.read().city_budget(self.year))
    }

    async fn initiative_counts(&self, ctx: &Context<'_>) -> StatusCounts {
        app(ctx).live.read().city_counts().into()
    }

    async fn gebieden(&self, ctx: &Context<'_>) -> Vec<Gebied> {
        app(ctx)
            .live
            .read()
            .gebieden()
            .map(|g| Gebied {
                code: g.code,
                year: Some(self.year),
            })
            .collect()
    }

    /// Every wijk, ordered by code, with budgets of the overview's year.
    async fn wijken(&self, ctx: &Context<'_>) -> Vec<Wijk> {
        app(ctx)
            .live
            .read()
            .wijken()
            .map(|w| Wijk {
                code: w.code,
                year: Some(self.year),
            })
            .collect()
    }

    /// The latest events (public lines), newest first.
    async fn recent_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 10, validator(minimum = 1, maximum = 50))] limit: i32,
    ) -> Vec<EventRecord> {
        let mut recent = app(ctx).live.recent();
        recent.reverse();
        recent
            .into_iter()
            .take(limit as usize)
            .map(EventRecord)
            .collect()
    }
}

/// An initiative, as it is now.
#[derive(Clone)]
pub struct Initiative {
    pub view: Arc<InitiativeView>,
    /// Looked up with its tracking code: the caller is its initiator.
    pub opened_by_initiator: bool,
}

impl Initiative {
    pub fn new(view: InitiativeView) -> Initiative {
        Initiative {
            view: Arc::new(view),
            opened_by_initiator: false,
        }
    }

    /// An initiative its initiator opened with the tracking code (and so may see their data).
    pub fn for_initiator(view: InitiativeView) -> Initiative {
        Initiative {
            view: Arc::new(view),
            opened_by_initiator: true,
        }
    }
}

#[Object]
impl Initiative {
    async fn id(&self) -> ID {
        ID(self.view.id.to_string())
    }

    async fn wijk(&self) -> Wijk {
        Wijk {
            code: self.view.wijk,
            year: None,
        }
    }

    async fn title(&self) -> &str {
        self.view.title.as_str()
    }

    async fn description(&self) -> &str {
        self.view.description.as_str()
    }

    async fn theme(&self) -> Theme {
        self.view.theme.into()
    }

    async fn status(&self) -> InitiativeStatus {
        self.view.status.into()
    }

    async fn channel(&self) -> Channel {
        self.view.channel.into()
    }

    /// True when staff entered it on a resident's behalf.
    async fn entered_by_staff(&self) -> bool {
        self.view.entered_by_staff
    }

    async fn requested_amount(&self) -> Money {
        self.view.requested_amount.into()
    }

    /// What was committed from the budget line, once funded.
    async fn funded_amount(&self) -> Option<Money> {
        self.view.funded_amount.map(Money)
    }

    /// The budget year it was funded from.
    async fn funded_year(&self) -> Option<i32> {
        self.view.funded_line.map(|l| l.year)
    }

    /// What was reported spent on completion.
    async fn spent_amount(&self) -> Option<Money> {
        self.view.spent_amount.map(Money)
    }

    /// The completion report.
    async fn report(&self) -> Option<&str> {
        self.view.report.as_ref().map(|r| r.as_str())
    }

    /// Why it was rejected (readable by the resident).
    async fn rejection_reason(&self) -> Option<&str> {
        self.view.rejection_reason.as_ref().map(|r| r.as_str())
    }

    /// The sociaal wijkteam it was referred to.
    async fn referred_to(&self) -> Option<&str> {
        self.view
            .referral
            .as_ref()
            .map(|r| r.sociaal_wijkteam.as_str())
    }

    async fn submitted_at(&self) -> DateTime<Utc> {
        self.view.submitted_at
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.view.updated_at
    }

    /// When it was funded; `null` until then.
    async fn funded_at(&self) -> Option<DateTime<Utc>> {
        self.view.funded_at
    }

    /// When it was decided on: funded, rejected or referred to a sociaal wijkteam (there is
    /// one decision). `null` while undecided and for one withdrawn before a decision.
    async fn decided_at(&self) -> Option<DateTime<Utc>> {
        self.view.decided_at
    }

    /// When it was reported completed; `null` until then.
    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.view.completed_at
    }

    /// Links to other initiatives (both ways) and to organisations or persons.
    async fn connections(&self, ctx: &Context<'_>) -> ApiResult<Vec<InitiativeLink>> {
        let actor = actor(ctx);
        let sees_people = policy::may_see_personal_data(actor, &self.view.gebied);
        let mut links = Vec::with_capacity(self.view.connections.len());
        for c in &self.view.connections {
            let party = match &c.target {
                ConnectionTarget::Party { name, kind } => Some(Party {
                    kind: (*kind).into(),
                    // A person's name is personal data: only staff of the gebied see it.
                    name: policy::may_see_party_name(actor, &self.view.gebied, *kind)
                        .then(|| name.as_str().to_owned()),
                }),
                ConnectionTarget::SealedPerson { name, .. } => Some(Party {
                    kind: domain::PartyKind::Person.into(),
                    // Opened only for those who see personal data; gone once erased.
                    name: if sees_people {
                        app(ctx).sealer.open_text(name).await?
                    } else {
                        None
                    },
                }),
                ConnectionTarget::Initiative(_) => None,
            };
            let target = match &c.target {
                ConnectionTarget::Initiative(id) => Some(*id),
                _ => None,
            };
            links.push(InitiativeLink {
                initiative_id: target.map(|id| ID(id.to_string())),
                target,
                party,
                incoming: c.direction == domain::ConnectionDirection::Incoming,
                // Staff's note: for staff of the gebied, and gone once the data is erased.
                note: match (&c.note, sees_people) {
                    (_, false) => None,
                    (domain::StaffNote::Plain(note), true) => Some(note.as_str().to_owned()),
                    (domain::StaffNote::Sealed(sealed), true) => {
                        app(ctx).sealer.open_text(sealed).await?
                    }
                },
                at: c.at,
            });
        }
        Ok(links)
    }

    /// What happened, oldest first, without personal data.
    async fn history(&self) -> Vec<HistoryEntry> {
        self.view
            .history
            .iter()
            .map(|h| HistoryEntry {
                position: Position(h.position),
                at: h.at,
                event_type: h.event_type.to_owned(),
                status: h.status_after.into(),
                summary: h.summary(),
            })
            .collect()
    }

    /// Who withdrew it, if withdrawn.
    async fn withdrawn_by(&self) -> Option<WithdrawnBy> {
        self.view.withdrawal.as_ref().map(|w| w.by.into())
    }

    /// The initiator's contact details: personal data. Shown to staff of the wijk's gebied,
    /// admins, and the initiator (who opened it with `trackedInitiative`, or passes the tracking
    /// code here); `null` for everyone else and after erasure.
    async fn initiator(
        &self,
        ctx: &Context<'_>,
        tracking_code: Option<String>,
    ) -> ApiResult<Option<Initiator>> {
        let app = app(ctx);
        let allowed = policy::may_see_initiator(actor(ctx), &self.view.gebied, || {
            Ok(self.opened_by_initiator
                || match tracking_code.as_deref() {
                    Some(code) => crate::tracking::check_in(ctx, code, Some(&self.view))?,
                    None => false,
                })
        })?;
        if !allowed {
            return Ok(None);
        }
        let Some(sealed) = &self.view.initiator else {
            return Ok(None);
        };
        let data = app.sealer.open(sealed).await?;
        Ok(data.map(|d| Initiator {
            name: d.name.as_str().to_owned(),
            email: d.email.map(|e| e.as_str().to_owned()),
            phone: d.phone.map(|p| p.as_str().to_owned()),
        }))
    }

    /// Whether the initiator's personal data was erased.
    async fn initiator_erased(&self) -> bool {
        self.view.initiator.is_none()
    }
}

/// The initiator's personal data.
#[derive(SimpleObject, Clone)]
pub struct Initiator {
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// A link from an initiative to another initiative or to an organisation or person.
#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct InitiativeLink {
    /// The other initiative's id, for a link between initiatives.
    pub initiative_id: Option<ID>,
    /// The same id, typed, to look the initiative up.
    #[graphql(skip)]
    pub target: Option<domain::InitiativeId>,
    /// The organisation or person, otherwise.
    pub party: Option<Party>,
    /// True when the other initiative made the link to this one.
    pub incoming: bool,
    /// Staff's note (visible to staff of the gebied).
    pub note: Option<String>,
    pub at: DateTime<Utc>,
}

#[ComplexObject]
impl InitiativeLink {
    /// The other initiative itself, for a link between initiatives (so a client needs no
    /// request per link); `null` for a link to a party.
    async fn initiative(&self, ctx: &Context<'_>) -> Option<Initiative> {
        let id = self.target?;
        app(ctx)
            .live
            .read()
            .initiative(&id)
            .cloned()
            .map(Initiative::new)
    }
}

#[derive(SimpleObject, Clone)]
pub struct Party {
    pub kind: PartyKind,
    /// A person's name is shown only to staff of the gebied.
    pub name: Option<String>,
}

#[derive(SimpleObject, Clone)]
pub struct HistoryEntry {
    pub position: Position,
    pub at: DateTime<Utc>,
    #[graphql(name = "type")]
    pub event_type: String,
    /// The status after this event.
    pub status: InitiativeStatus,
    /// What happened, in Dutch.
    pub summary: String,
}

/// A page of initiatives (Relay connection).
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct InitiativeConnection {
    pub edges: Vec<InitiativeEdge>,
    pub page_info: PageInfo,
    /// How many initiatives match the filter, on all pages.
    pub total_count: u64,
}

#[ComplexObject]
impl InitiativeConnection {
    /// The initiatives of this page, without cursors.
    async fn nodes(&self) -> Vec<Initiative> {
        self.edges.iter().map(|e| e.node.clone()).collect()
    }
}

#[derive(SimpleObject)]
pub struct InitiativeEdge {
    pub cursor: String,
    pub node: Initiative,
}

#[derive(SimpleObject)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub start_cursor: Option<String>,
    pub end_cursor: Option<String>,
}

/// One event of the log, as the public (and, with more detail, staff) may see it.
#[derive(Clone)]
pub struct EventRecord(pub Arc<FeedItem>);

#[Object]
impl EventRecord {
    async fn position(&self) -> Position {
        Position(self.0.position)
    }

    #[graphql(name = "type")]
    async fn event_type(&self) -> &str {
        &self.0.event_type
    }

    async fn recorded_at(&self) -> DateTime<Utc> {
        self.0.recorded_at
    }

    async fn wijk(&self) -> Option<Wijk> {
        self.0.wijk.map(|code| Wijk { code, year: None })
    }

    async fn initiative_id(&self) -> Option<ID> {
        self.0.initiative.map(|id| ID(id.to_string()))
    }

    /// What happened, in Dutch, without personal data.
    async fn summary(&self) -> &str {
        &self.0.summary
    }

    /// Who did it: for staff and admins only (`null` for the public).
    async fn actor(&self, ctx: &Context<'_>) -> Option<String> {
        policy::may_see_event_actors(actor(ctx)).then(|| self.0.actor.clone())
    }
}

/// An initiative's change, as `initiativeEvents` sends it.
#[derive(SimpleObject)]
pub struct InitiativeUpdate {
    /// The initiative after the change.
    pub initiative: Initiative,
    /// The event that changed it; `null` in the first message (the current state).
    pub event: Option<EventRecord>,
}
