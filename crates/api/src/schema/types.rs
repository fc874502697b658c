//! The GraphQL object types: views of the live state. Places (`Wijk`, `Gebied`) are resolved
//! from the state when asked; an `Initiative` is a snapshot of its view taken when it was
//! looked up, so its fields agree with each other.

use std::sync::Arc;

use std::collections::HashMap;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{ComplexObject, Context, Object, SimpleObject, ID};
use wijkpuls_domain as domain;
use wijkpuls_domain::{ConnectionTarget, GebiedCode, InitiativeView, WijkCode};

use super::dashboards::{places_of, Past};
use super::query::PageOf;
use super::scalars::{
    Channel, EventType, InitiativeStatus, Money, PartyKind, Position, Theme, Timestamp, WithdrawnBy,
};
use super::{actor, app, current_year};
use crate::error::{ApiError, ApiResult};
use crate::feed::FeedItem;
use crate::policy;

/// One year's budget of a wijk, a gebied or the city: the sums of its lines (one per theme).
/// Public.
#[derive(SimpleObject, Clone)]
pub struct Budget {
    /// The budget year (a calendar year).
    pub year: i32,
    /// What the admin allocated for the year.
    pub allocated: Money,
    /// Committed to funded initiatives that are not completed yet.
    pub committed: Money,
    /// Reported spent by completed initiatives.
    pub spent: Money,
    /// allocated − committed − spent; never below zero.
    pub remaining: Money,
    /// One line per theme, all eight, in the order of `Theme`.
    pub lines: Vec<BudgetLine>,
}

/// One theme's part of a year's budget; amounts mean the same as in `Budget`.
#[derive(SimpleObject, Clone)]
pub struct BudgetLine {
    /// The theme the line is for.
    pub theme: Theme,
    /// What the admin allocated for this theme.
    pub allocated: Money,
    /// Committed to funded initiatives of this theme that are not completed yet.
    pub committed: Money,
    /// Reported spent by completed initiatives of this theme.
    pub spent: Money,
    /// allocated − committed − spent; never below zero.
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

/// How many initiatives are in each status now. Which initiatives: those of one year (an
/// initiative belongs to the year, in Arnhem, it was submitted in) or of all years, as the
/// field giving the counts says.
#[derive(SimpleObject, Clone, Copy)]
pub struct StatusCounts {
    /// Initiatives in status `SUBMITTED`.
    pub submitted: u64,
    /// Initiatives in status `CONNECTED`.
    pub connected: u64,
    /// Initiatives in status `FUNDED`.
    pub funded: u64,
    /// Initiatives in status `COMPLETED`.
    pub completed: u64,
    /// Initiatives in status `REJECTED`.
    pub rejected: u64,
    /// Initiatives in status `WITHDRAWN`.
    pub withdrawn: u64,
    /// Initiatives in status `REFERRED`.
    pub referred: u64,
    /// All initiatives: the sum of the others.
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
    /// The team's e-mail address.
    pub email: String,
    /// The team's phone number, as written for people to dial.
    pub phone: String,
}

/// A wijk (neighbourhood), by its CBS code.
#[derive(Clone)]
pub struct Wijk {
    pub code: WijkCode,
    /// The year `budget` and `initiativeCounts` show when none is asked (the overview's year).
    pub year: Option<i32>,
    /// The past moment it shows (`asOf`); `None`: as it is now.
    pub past: Past,
}

/// A wijk (neighbourhood) of Arnhem, by its CBS code: its budget and initiatives. Public.
#[Object]
impl Wijk {
    /// The CBS wijk code, e.g. `WK020207`.
    async fn code(&self) -> ID {
        ID(self.code.to_string())
    }

    /// The wijk's name, e.g. `Klarendal`.
    async fn name(&self, ctx: &Context<'_>) -> String {
        places_of(ctx, &self.past)
            .wijk(&self.code)
            .map(|w| w.name.as_str().to_owned())
            .unwrap_or_default()
    }

    /// The gebied (wijkprogramma) the wijk belongs to.
    async fn gebied(&self, ctx: &Context<'_>) -> ApiResult<Gebied> {
        let state = places_of(ctx, &self.past);
        let wijk = state
            .wijk(&self.code)
            .ok_or_else(|| ApiError::NotFound(format!("wijk {} was not found", self.code)))?;
        Ok(Gebied {
            code: wijk.gebied,
            year: self.year,
            past: self.past.clone(),
        })
    }

    /// The wijk's budget for `year` (default: the year asked of the city overview, else the
    /// current year in Arnhem).
    async fn budget(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The budget year; a year without a budget shows zeros.")] year: Option<
            i32,
        >,
    ) -> Budget {
        let year = year.or(self.year).unwrap_or_else(current_year);
        Budget::from(&places_of(ctx, &self.past).wijk_budget(&self.code, year))
    }

    /// The years for which the wijk has a budget.
    async fn budget_years(&self, ctx: &Context<'_>) -> Vec<i32> {
        places_of(ctx, &self.past)
            .wijk(&self.code)
            .map(|w| w.budget_years().collect())
            .unwrap_or_default()
    }

    /// How many of the wijk's initiatives are in each status: those submitted in `year`
    /// (default: the year asked of the city overview, else all years).
    async fn initiative_counts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Count only initiatives submitted in this year (in Arnhem).")]
        year: Option<i32>,
    ) -> ApiResult<StatusCounts> {
        let year = counts_year(year, self.year)?;
        Ok(places_of(ctx, &self.past)
            .wijk_counts_in(&self.code, year)
            .into())
    }

    /// The wijk's initiatives, newest first unless `orderBy` says otherwise, a page at a time.
    async fn initiatives(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The page size: 0 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Start after this cursor (an `endCursor` of the previous page).")]
        after: Option<String>,
        #[graphql(desc = "Only initiatives in any of these statuses.")] status: Option<
            Vec<InitiativeStatus>,
        >,
        #[graphql(
            desc = "The order (default: newest first); a cursor is valid only in the \
                          order it came from."
        )]
        order_by: Option<super::query::InitiativeOrder>,
    ) -> ApiResult<InitiativeConnection> {
        let filter = super::query::InitiativeFilter {
            wijk: Some(ID(self.code.to_string())),
            status,
            ..Default::default()
        };
        let Some(moment) = &self.past else {
            return super::query::initiatives_page_at(
                ctx,
                PageOf::Now,
                first,
                after,
                Some(filter),
                order_by,
            );
        };
        // At a moment: from the live state, the statuses and last changes then, and the page's
        // nodes folded back to the moment.
        let order_field = order_by.unwrap_or_default().field;
        let updated = if order_field == super::query::InitiativeOrderField::UpdatedAt {
            let app = app(ctx);
            app.live
                .last_changes(&app.service.store, moment, self.code)
                .await?
        } else {
            Default::default()
        };
        let mut page = super::query::initiatives_page_at(
            ctx,
            PageOf::Past {
                moment,
                updated: &updated,
            },
            first,
            after,
            Some(filter),
            order_by,
        )?;
        super::query::past_nodes(ctx, &mut page, moment.position()).await?;
        Ok(page)
    }
}

/// A gebied: the area of one wijkprogramma and its team Leefomgeving.
#[derive(Clone)]
pub struct Gebied {
    pub code: GebiedCode,
    /// The year `budget` shows when none is asked (the overview's year).
    pub year: Option<i32>,
    /// The past moment it shows (`asOf`); `None`: as it is now.
    pub past: Past,
}

/// A gebied: the area of one wijkprogramma, a few wijken with one team Leefomgeving. Public.
#[Object]
impl Gebied {
    /// `W1` … `W8`.
    async fn code(&self) -> ID {
        ID(self.code.to_string())
    }

    /// The gebied's name, e.g. `Noordwest`.
    async fn name(&self, ctx: &Context<'_>) -> String {
        places_of(ctx, &self.past)
            .gebied(&self.code)
            .map(|g| g.name.as_str().to_owned())
            .unwrap_or_default()
    }

    /// Whom to contact: the team Leefomgeving.
    async fn team(&self, ctx: &Context<'_>) -> Option<Team> {
        places_of(ctx, &self.past).gebied(&self.code).map(|g| Team {
            email: g.team.email.as_str().to_owned(),
            phone: g.team.phone.as_str().to_owned(),
        })
    }

    /// Its wijken, ordered by code.
    async fn wijken(&self, ctx: &Context<'_>) -> Vec<Wijk> {
        places_of(ctx, &self.past)
            .gebied(&self.code)
            .map(|g| {
                g.wijken
                    .iter()
                    .map(|code| Wijk {
                        code: *code,
                        year: self.year,
                        past: self.past.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The wijkprogramma's budget for `year` (default: the year asked of the city overview,
    /// else the current year in Arnhem): its wijken together.
    async fn budget(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The budget year; a year without a budget shows zeros.")] year: Option<
            i32,
        >,
    ) -> Budget {
        let year = year.or(self.year).unwrap_or_else(current_year);
        Budget::from(&places_of(ctx, &self.past).gebied_budget(&self.code, year))
    }

    /// How many of its wijken's initiatives are in each status: those submitted in `year`
    /// (default: the year asked of the city overview, else all years).
    async fn initiative_counts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Count only initiatives submitted in this year (in Arnhem).")]
        year: Option<i32>,
    ) -> ApiResult<StatusCounts> {
        let year = counts_year(year, self.year)?;
        Ok(places_of(ctx, &self.past)
            .gebied_counts_in(&self.code, year)
            .into())
    }
}

/// All of the city at once: what the overview screen shows.
pub struct CityOverview {
    pub year: i32,
    /// The past moment it shows (`asOf`); `None`: as it is now.
    pub past: Past,
}

/// The whole city for one budget year: what a dashboard's overview shows. Public.
#[Object]
impl CityOverview {
    /// The budget year the overview shows.
    async fn year(&self) -> i32 {
        self.year
    }

    /// The position of the last event this overview includes.
    async fn position(&self, ctx: &Context<'_>) -> Position {
        match &self.past {
            Some(moment) => Position(moment.position()),
            None => Position(app(ctx).live.position()),
        }
    }

    /// When the last event it includes happened (`null` before any event).
    async fn as_of(&self, ctx: &Context<'_>) -> Option<Timestamp> {
        match &self.past {
            Some(moment) => moment.as_of().map(Timestamp),
            None => app(ctx).live.as_of().map(Timestamp),
        }
    }

    /// The city's budget for the year: all wijken together.
    async fn totals(&self, ctx: &Context<'_>) -> Budget {
        Budget::from(&places_of(ctx, &self.past).city_budget(self.year))
    }

    /// How many of the city's initiatives of the overview's year (submitted in it, in
    /// Arnhem) are in each status.
    async fn initiative_counts(&self, ctx: &Context<'_>) -> StatusCounts {
        places_of(ctx, &self.past)
            .city_counts_in(Some(self.year))
            .into()
    }

    /// Every gebied, ordered by code, with budgets of the overview's year.
    async fn gebieden(&self, ctx: &Context<'_>) -> Vec<Gebied> {
        places_of(ctx, &self.past)
            .gebieden()
            .map(|g| Gebied {
                code: g.code,
                year: Some(self.year),
                past: self.past.clone(),
            })
            .collect()
    }

    /// Every wijk, ordered by code, with budgets of the overview's year.
    async fn wijken(&self, ctx: &Context<'_>) -> Vec<Wijk> {
        places_of(ctx, &self.past)
            .wijken()
            .map(|w| Wijk {
                code: w.code,
                year: Some(self.year),
                past: self.past.clone(),
            })
            .collect()
    }

    /// The latest events (public lines), newest first.
    async fn recent_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            validator(minimum = 1, maximum = 50),
            desc = "How many lines: 1 to 50 (default 10)."
        )]
        first: Option<i32>,
        #[graphql(
            validator(minimum = 1, maximum = 50),
            desc = "How many lines: 1 to 50 (the old name of `first`).",
            deprecation = "Use `first` instead."
        )]
        limit: Option<i32>,
    ) -> ApiResult<Vec<EventRecord>> {
        let first = super::renamed_size("first", first, "limit", limit)?.unwrap_or(10);
        if let Some(moment) = &self.past {
            // Read from the log: the lines up to the moment asked.
            let app = app(ctx);
            let position = moment.position();
            let from = position.saturating_sub(first as u64);
            let records = app
                .service
                .store
                .read_batch(wijkpuls_event_store::Position(from), first as usize)
                .await?;
            let records: Vec<_> = records
                .into_iter()
                .filter(|r| r.position.0 <= position)
                .collect();
            let mut lines = super::feed_records(app, &records)?;
            lines.reverse();
            return Ok(lines);
        }
        let mut recent = app(ctx).live.recent();
        recent.reverse();
        Ok(recent
            .into_iter()
            .take(first as usize)
            .map(EventRecord)
            .collect())
    }
}

/// An initiative, as it is now (or was at `asOf`).
#[derive(Clone)]
pub struct Initiative {
    pub view: Arc<InitiativeView>,
    /// Looked up with its tracking code: the caller is its initiator.
    pub opened_by_initiator: bool,
    /// The past moment it was looked up at (`asOf`), for its wijk; `None`: now.
    pub past: Past,
}

/// Events read from the log by position, for the fields whose data the read model leaves there
/// (an initiative's history, its connections' notes and names). The fields of one request that
/// run at once (a page of initiatives with their histories), and of requests running together,
/// are read in one query ([`EventStore::read_positions`]), not one each. No cache: the next
/// request reads again.
pub struct LogEvents(pub wijkpuls_event_store::EventStore);

impl LogEvents {
    /// The loader the schema carries: it starts a batch as soon as the fields that ask at once
    /// have asked (no waiting), in batches of at most a query's worth of positions.
    pub fn loader(store: wijkpuls_event_store::EventStore) -> DataLoader<LogEvents> {
        DataLoader::new(LogEvents(store), tokio::spawn)
            .delay(std::time::Duration::ZERO)
            .max_batch_size(wijkpuls_event_store::MAX_POSITIONS_READ)
    }
}

impl Loader<u64> for LogEvents {
    type Value = Arc<wijkpuls_domain::Recorded>;
    type Error = Arc<anyhow::Error>;

    async fn load(&self, keys: &[u64]) -> Result<HashMap<u64, Self::Value>, Self::Error> {
        let positions: Vec<_> = keys
            .iter()
            .map(|&p| wijkpuls_event_store::Position(p))
            .collect();
        let records = self
            .0
            .read_positions(&positions)
            .await
            .map_err(|e| Arc::new(anyhow::Error::from(e)))?;
        records
            .iter()
            .map(|record| {
                let recorded = crate::codec::to_recorded(record)
                    .map_err(|e| Arc::new(anyhow::Error::from(e)))?;
                Ok((recorded.position, Arc::new(recorded)))
            })
            .collect()
    }
}

/// The events at `positions` (through the request's [`LogEvents`] loader), in position order.
pub(crate) async fn log_events(
    ctx: &Context<'_>,
    positions: impl IntoIterator<Item = u64>,
) -> ApiResult<Vec<Arc<wijkpuls_domain::Recorded>>> {
    let loader = ctx.data_unchecked::<DataLoader<LogEvents>>();
    let found = loader
        .load_many(positions)
        .await
        .map_err(|e| anyhow::anyhow!("reading events from the log: {e:#}"))?;
    let mut events: Vec<_> = found.into_values().collect();
    events.sort_unstable_by_key(|e| e.position);
    Ok(events)
}

/// An initiative's history, made from its events read from the log (the read model keeps only
/// where they are: [`InitiativeView::steps`]).
pub(crate) async fn history_of(
    ctx: &Context<'_>,
    view: &InitiativeView,
) -> ApiResult<Vec<wijkpuls_domain::HistoryEntry>> {
    let events = log_events(ctx, view.history_positions()).await?;
    let history = view.history(&app(ctx).live.read(), &events);
    if history.len() != view.steps.len() {
        return Err(anyhow::anyhow!(
            "initiative {}'s history names {} events in the log, {} were found and about it",
            view.id,
            view.steps.len(),
            history.len()
        )
        .into());
    }
    Ok(history)
}

/// The `InitiativeConnected` events of an initiative's connections, by position, read from the
/// log (the read model keeps neither notes nor sealed names).
async fn connection_events(
    ctx: &Context<'_>,
    view: &InitiativeView,
) -> ApiResult<Vec<(u64, wijkpuls_domain::events::InitiativeConnected)>> {
    let mut events = Vec::with_capacity(view.connections.len());
    for recorded in log_events(ctx, view.connections.iter().map(|c| c.position)).await? {
        match &recorded.event {
            wijkpuls_domain::DomainEvent::InitiativeConnected(e) => {
                events.push((recorded.position, e.clone()))
            }
            _ => {
                return Err(anyhow::anyhow!(
                    "the event at position {} is not one of initiative {}'s connections",
                    recorded.position,
                    view.id
                )
                .into())
            }
        }
    }
    Ok(events)
}

impl Initiative {
    pub fn new(view: InitiativeView) -> Initiative {
        Initiative {
            view: Arc::new(view),
            opened_by_initiator: false,
            past: None,
        }
    }

    /// An initiative its initiator opened with the tracking code (and so may see their data).
    pub fn for_initiator(view: InitiativeView) -> Initiative {
        Initiative {
            view: Arc::new(view),
            opened_by_initiator: true,
            past: None,
        }
    }

    /// The initiative as it was at a past moment (`asOf`).
    pub fn in_past(view: InitiativeView, past: Past) -> Initiative {
        Initiative {
            past,
            ..Initiative::new(view)
        }
    }

    /// The sociaal wijkteam it was referred to (`sociaalWijkteam`, formerly `referredTo`).
    fn referral_team(&self) -> Option<&str> {
        self.view
            .referral
            .as_ref()
            .map(|r| r.sociaal_wijkteam.as_str())
    }
}

/// A residents' initiative for their wijk, as it is now (or was at `asOf`). Public, except the
/// initiator's contact details and connected persons (see those fields).
#[Object]
impl Initiative {
    /// The initiative's id (a UUID); also its cursor in lists.
    async fn id(&self) -> ID {
        ID(self.view.id.to_string())
    }

    /// The wijk it is for.
    async fn wijk(&self) -> Wijk {
        Wijk {
            code: self.view.wijk,
            year: None,
            past: self.past.clone(),
        }
    }

    /// Its title, one line of 3 to 120 characters.
    async fn title(&self) -> &str {
        self.view.title.as_str()
    }

    /// What the initiator wants to do, up to 5,000 characters (may be empty).
    async fn description(&self) -> &str {
        self.view.description.as_str()
    }

    /// Its theme: the budget line it is funded from.
    async fn theme(&self) -> Theme {
        self.view.theme.into()
    }

    /// Where it is in its lifecycle.
    async fn status(&self) -> InitiativeStatus {
        self.view.status.into()
    }

    /// How it came in.
    async fn channel(&self) -> Channel {
        self.view.channel.into()
    }

    /// True when staff entered it on a resident's behalf.
    async fn entered_by_staff(&self) -> bool {
        self.view.entered_by_staff
    }

    /// What the initiator asked for.
    async fn requested_amount(&self) -> Money {
        self.view.requested_amount.into()
    }

    /// What it was given from the budget line: the funded amount once funded, also after
    /// completion (of which `spentAmount` was spent and `returnedAmount` went back); `"0.00"`
    /// after a withdrawal, which gave all of it back (`returnedAmount`); `null` when never
    /// funded. The amount funded at the time is in `history` (`INITIATIVE_FUNDED`).
    async fn funded_amount(&self) -> Option<Money> {
        self.view.funded_amount_now().map(Money)
    }

    /// The budget year it was funded from.
    async fn funded_year(&self) -> Option<i32> {
        self.view.funded_line.map(|l| l.year)
    }

    /// What was reported spent on completion.
    async fn spent_amount(&self) -> Option<Money> {
        self.view.spent_amount.map(Money)
    }

    /// What went back to the budget line: on completion the funded amount less what was
    /// spent (may be `"0.00"`), on a withdrawal after funding all of the funded amount; `null`
    /// before either and when it was never funded.
    async fn returned_amount(&self) -> Option<Money> {
        self.view.returned_amount.map(Money)
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
    #[graphql(deprecation = "Use `sociaalWijkteam` instead (the name the input uses).")]
    async fn referred_to(&self) -> Option<&str> {
        self.referral_team()
    }

    /// The sociaal wijkteam it was referred to (as `referInitiative`'s input names it).
    async fn sociaal_wijkteam(&self) -> Option<&str> {
        self.referral_team()
    }

    /// When it was submitted.
    async fn submitted_at(&self) -> Timestamp {
        self.view.submitted_at.into()
    }

    /// When its last event happened.
    async fn updated_at(&self) -> Timestamp {
        self.view.updated_at.into()
    }

    /// When it was funded; `null` until then.
    async fn funded_at(&self) -> Option<Timestamp> {
        self.view.funded_at.map(Into::into)
    }

    /// When it was decided on: funded, rejected or referred to a sociaal wijkteam (there is
    /// one decision). `null` while undecided and for one withdrawn before a decision.
    async fn decided_at(&self) -> Option<Timestamp> {
        self.view.decided_at.map(Into::into)
    }

    /// When it was reported completed; `null` until then.
    async fn completed_at(&self) -> Option<Timestamp> {
        self.view.completed_at.map(Into::into)
    }

    /// Links to other initiatives (both ways) and to organisations or persons.
    async fn connections(&self, ctx: &Context<'_>) -> ApiResult<Vec<InitiativeLink>> {
        let actor = actor(ctx);
        let sees_people = policy::may_see_personal_data(actor, &self.view.gebied);
        // Notes and sealed names are in the log, read (in one query) only for those who see
        // them.
        let events = if sees_people {
            connection_events(ctx, &self.view).await?
        } else {
            Vec::new()
        };
        let mut links = Vec::with_capacity(self.view.connections.len());
        for c in self.view.connections.iter() {
            let event = events
                .binary_search_by_key(&c.position, |(position, _)| *position)
                .ok()
                .map(|found| &events[found].1);
            let party = match &c.target {
                domain::projection::ConnectedTo::Party { name, kind } => Some(Party {
                    kind: (*kind).into(),
                    // A person's name is personal data: only staff of the gebied see it.
                    name: policy::may_see_party_name(actor, &self.view.gebied, *kind)
                        .then(|| name.as_str().to_owned()),
                }),
                domain::projection::ConnectedTo::SealedPerson { .. } => Some(Party {
                    kind: domain::PartyKind::Person.into(),
                    // Opened only for those who see personal data; gone once erased.
                    name: match event.map(|e| &e.target) {
                        Some(ConnectionTarget::SealedPerson { name, .. }) => {
                            app(ctx).sealer.open_text(name).await?
                        }
                        _ => None,
                    },
                }),
                domain::projection::ConnectedTo::Initiative(_) => None,
            };
            let target = c.target.initiative();
            links.push(InitiativeLink {
                initiative_id: target.map(|id| ID(id.to_string())),
                target,
                party,
                incoming: c.direction == domain::ConnectionDirection::Incoming,
                // Staff's note: for staff of the gebied, and gone once the data is erased.
                note: match event.map(|e| &e.note) {
                    None => None,
                    Some(domain::StaffNote::Plain(note)) => Some(note.as_str().to_owned()),
                    Some(domain::StaffNote::Sealed(sealed)) => {
                        app(ctx).sealer.open_text(sealed).await?
                    }
                },
                at: c.at.into(),
                connected_at: c.at.into(),
            });
        }
        Ok(links)
    }

    /// What happened, oldest first, without personal data.
    async fn history(&self, ctx: &Context<'_>) -> ApiResult<Vec<HistoryEntry>> {
        history_of(ctx, &self.view)
            .await?
            .iter()
            .map(|h| {
                Ok(HistoryEntry {
                    position: Position(h.position),
                    at: h.at.into(),
                    occurred_at: h.at.into(),
                    kind: EventType::of(h.event_type())?,
                    event_type: h.event_type().to_owned(),
                    status: h.status_after.into(),
                    summary: h.summary(),
                })
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
        #[graphql(
            desc = "The tracking code the initiator got on submitting; a wrong one counts \
                          against the caller's address."
        )]
        tracking_code: Option<String>,
    ) -> ApiResult<Option<Initiator>> {
        let app = app(ctx);
        // The code is checked (reading its hash from the log) only when it matters: a wrong
        // one counts against the caller.
        let is_initiator = self.opened_by_initiator
            || match tracking_code.as_deref() {
                Some(code) if !policy::may_see_personal_data(actor(ctx), &self.view.gebied) => {
                    crate::tracking::check_in(ctx, code, Some(&self.view)).await?
                }
                _ => false,
            };
        let allowed =
            policy::may_see_initiator(actor(ctx), &self.view.gebied, || Ok(is_initiator))?;
        if !allowed {
            return Ok(None);
        }
        let Some(sealed) =
            crate::personal::sealed_initiator(&app.service.store, &app.live, &self.view).await?
        else {
            return Ok(None);
        };
        let data = app.sealer.open(&sealed).await?;
        Ok(data.map(|d| Initiator {
            name: d.name.as_str().to_owned(),
            email: d.email.map(|e| e.as_str().to_owned()),
            phone: d.phone.map(|p| p.as_str().to_owned()),
        }))
    }

    /// Whether the initiator's personal data was erased.
    async fn initiator_erased(&self) -> bool {
        self.view.initiator_erased
    }

    // Similar initiatives (issue 13): see `similar.rs`.

    /// Initiatives that say much the same as this one, best first, for staff connecting the
    /// residents behind them (`UNAUTHENTICATED` for the public). Leaves out this initiative,
    /// those it is connected with already, and withdrawn and rejected ones.
    async fn similar(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            default = 5,
            desc = "How many at most: 1 to 20 (`BAD_USER_INPUT` otherwise)."
        )]
        first: Option<i32>,
    ) -> ApiResult<Vec<super::similar::SimilarInitiative>> {
        super::similar::similar_to(ctx, &self.view, first)
    }
}

/// The initiator's personal data: who submitted an initiative and how to reach them.
#[derive(SimpleObject, Clone)]
pub struct Initiator {
    /// Their name.
    pub name: String,
    /// Their e-mail address, if they gave one.
    pub email: Option<String>,
    /// Their phone number, if they gave one.
    pub phone: Option<String>,
}

/// A connection of an initiative: with another initiative or with an organisation or person.
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
    /// Staff's note (visible to staff of the gebied and admins; `null` for others and after
    /// erasure).
    pub note: Option<String>,
    /// When the connection was made.
    #[graphql(deprecation = "Use `connectedAt` instead.")]
    pub at: Timestamp,
    /// When the connection was made.
    pub connected_at: Timestamp,
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

/// An organisation or person an initiative is connected with.
#[derive(SimpleObject, Clone)]
pub struct Party {
    /// Organisation or person.
    pub kind: PartyKind,
    /// Its name. An organisation's name is public; a person's name is shown only to staff of
    /// the gebied and admins (`null` for others and after erasure).
    pub name: Option<String>,
}

/// One event in an initiative's history. Public.
#[derive(SimpleObject, Clone)]
pub struct HistoryEntry {
    /// The event's position in the log.
    pub position: Position,
    /// When it happened.
    #[graphql(deprecation = "Use `occurredAt` instead.")]
    pub at: Timestamp,
    /// When it happened.
    pub occurred_at: Timestamp,
    /// The event type, one of the values listed at `EventRecord.type` (here only
    /// `Initiative…` and `InitiatorDataErased`).
    #[graphql(name = "type", deprecation = "Use `kind` instead.")]
    pub event_type: String,
    /// What kind of event it is (here only `INITIATIVE_…` and `INITIATOR_DATA_ERASED`).
    pub kind: EventType,
    /// The status after this event.
    pub status: InitiativeStatus,
    /// What happened, in Dutch.
    pub summary: String,
}

/// A page of initiatives (Relay connection).
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct InitiativeConnection {
    /// The initiatives of this page, each with its cursor.
    pub edges: Vec<InitiativeEdge>,
    /// Whether there are more pages, and the cursors to get them.
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

/// An initiative in a page, with its cursor.
#[derive(SimpleObject)]
pub struct InitiativeEdge {
    /// Pass as `after` to get the initiatives after this one.
    pub cursor: String,
    /// The initiative.
    pub node: Initiative,
}

/// Where a page is in the whole list (Relay).
#[derive(SimpleObject)]
pub struct PageInfo {
    /// True when more initiatives follow this page.
    pub has_next_page: bool,
    /// True when initiatives come before this page.
    pub has_previous_page: bool,
    /// The cursor of the page's first initiative (`null` for an empty page).
    pub start_cursor: Option<String>,
    /// The cursor of the page's last initiative: pass as `after` for the next page.
    pub end_cursor: Option<String>,
}

/// One event of the log, as the public (and, with more detail, staff) may see it.
#[derive(Clone)]
pub struct EventRecord(pub Arc<FeedItem>);

/// One event of the log as a line without personal data: public, except `actor`.
#[Object]
impl EventRecord {
    /// The event's position in the log: pass as `after` to go on from here.
    async fn position(&self) -> Position {
        Position(self.0.position)
    }

    /// The event type, one of: `MunicipalityRegistered`, `GebiedRegistered`, `WijkRegistered`,
    /// `TeamContactChanged`, `BudgetAllocated`, `InitiativeSubmitted`, `InitiativeConnected`,
    /// `InitiativeFunded`, `InitiativeCompleted`, `InitiativeRejected`, `InitiativeReferred`,
    /// `InitiativeWithdrawn`, `InitiatorDataErased`. New types may be added: show `summary` for
    /// one you do not know.
    #[graphql(name = "type", deprecation = "Use `kind` instead.")]
    async fn event_type(&self) -> &str {
        &self.0.event_type
    }

    /// When the store recorded the event (for demo data later than when it happened).
    async fn recorded_at(&self) -> Timestamp {
        self.0.recorded_at.into()
    }

    /// The wijk it concerns, if one (`null` for a gebied's or the municipality's events).
    async fn wijk(&self) -> Option<Wijk> {
        self.0.wijk.map(|code| Wijk {
            code,
            year: None,
            past: None,
        })
    }

    /// The initiative it concerns, if one.
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

    // The event's facts as data (issue 16), beside `summary`.

    /// What kind of event it is.
    async fn kind(&self) -> ApiResult<EventType> {
        EventType::of(&self.0.event_type)
    }

    /// When it happened (for demo data and imports earlier than `recordedAt`); the time
    /// the initiative's `history` and the projections show.
    async fn occurred_at(&self) -> Timestamp {
        self.0.occurred_at.into()
    }

    /// The initiative it concerns, if one, as it is now (public, like every initiative; its
    /// personal data as `Initiative.initiator` allows).
    async fn initiative(&self, ctx: &Context<'_>) -> Option<Initiative> {
        let id = self.0.initiative?;
        app(ctx)
            .live
            .read()
            .initiative(&id)
            .cloned()
            .map(Initiative::new)
    }

    /// The theme: of the budget line (`BUDGET_ALLOCATED`) or of the initiative; `null` for
    /// other events.
    async fn theme(&self) -> Option<Theme> {
        self.0.facts.theme.map(Into::into)
    }

    /// The year it counts in: for an event that moves money (`BUDGET_ALLOCATED`,
    /// `INITIATIVE_FUNDED`, `INITIATIVE_COMPLETED`, an `INITIATIVE_WITHDRAWN` that gave money
    /// back) the budget line's year; for an initiative's other events the year it belongs to
    /// (submitted in, in Arnhem); `null` for registrations and team contacts.
    async fn year(&self) -> Option<i32> {
        self.0.facts.year
    }

    /// The amount the event is about: the line's new allocation (`BUDGET_ALLOCATED`), the
    /// requested amount (`INITIATIVE_SUBMITTED`), the funded amount (`INITIATIVE_FUNDED`), what
    /// was spent (`INITIATIVE_COMPLETED`), what went back to the line (`INITIATIVE_WITHDRAWN`
    /// after funding); `null` for other events.
    async fn amount(&self) -> Option<Money> {
        self.0.facts.amount.map(Money)
    }

    /// What went back to the budget line: the funded amount less what was spent
    /// (`INITIATIVE_COMPLETED`, may be `"0.00"`) or all of it (`INITIATIVE_WITHDRAWN` after
    /// funding); `null` for other events.
    async fn returned_amount(&self) -> Option<Money> {
        self.0.facts.returned.map(Money)
    }

    /// The initiative's status just after the event; `null` for events of no initiative.
    async fn status_after(&self) -> Option<InitiativeStatus> {
        self.0.facts.status_after.map(Into::into)
    }
}

/// The year counts are for: the year asked, else the overview's, else `None` (all years).
fn counts_year(asked: Option<i32>, overview: Option<i32>) -> ApiResult<Option<i32>> {
    asked
        .or(overview)
        .map(|year| Ok(wijkpuls_domain::check_year(year)?))
        .transpose()
}

/// An initiative's change, as `initiativeEvents` sends it.
#[derive(SimpleObject)]
pub struct InitiativeUpdate {
    /// The initiative after the change.
    pub initiative: Initiative,
    /// The event that changed it; `null` in the first message (the current state).
    pub event: Option<EventRecord>,
}
