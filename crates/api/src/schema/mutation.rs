//! The mutations: one per command of the lifecycle, each taking one `input` with an optional
//! `idempotencyKey`, each asking [`crate::policy`] who may do it before anything is recorded.

use async_graphql::{Context, InputObject, Object, SimpleObject, ID};
use wijkpuls_domain as domain;
use wijkpuls_domain::{
    CityState, Command, ConnectionTarget, InitiativeId, InitiativeView, WijkCode,
};

use super::scalars::{Channel, Money, PartyKind, Theme};
use super::types::{Budget, Initiative};
use super::{actor, app, AppState};
use crate::auth::Actor;
use crate::error::{ApiError, ApiResult};
use crate::personal::InitiatorData;
use crate::policy;
use crate::service::IdempotencyKey;

/// The mutation root.
pub struct Mutation;

/// Who submits an initiative: personal data, sealed and shown only to staff of the gebied,
/// admins and the initiator. Give an e-mail address or a phone number (or both).
#[derive(InputObject)]
pub struct InitiatorInput {
    /// Their name.
    pub name: String,
    /// Their e-mail address.
    pub email: Option<String>,
    /// Their phone number.
    pub phone: Option<String>,
}

/// A new initiative.
#[derive(InputObject)]
pub struct SubmitInitiativeInput {
    /// The wijk it is for (CBS code, `WK020207`).
    pub wijk_code: ID,
    /// One line of 3 to 120 characters.
    pub title: String,
    /// What the initiator wants to do, up to 5,000 characters.
    #[graphql(default)]
    pub description: String,
    /// The budget line it asks to be funded from.
    pub theme: Theme,
    /// What the initiator asks for.
    pub requested_amount: Money,
    /// Who submits it and how to reach them.
    pub initiator: InitiatorInput,
    /// How it came in (default WEB; staff entering one on a resident's behalf say how).
    pub channel: Option<Channel>,
    /// Any 1 to 100 characters you choose per action: retrying with the same key records
    /// nothing twice.
    pub idempotency_key: Option<String>,
}

/// A submitted initiative and its tracking code.
#[derive(SimpleObject)]
pub struct SubmitInitiativePayload {
    /// The initiative as submitted.
    pub initiative: Initiative,
    /// Give this to the initiator: with it they follow and can withdraw their initiative. It is
    /// shown only now (only its hash is kept).
    pub tracking_code: String,
}

/// A budget line to set: a wijk's allocation for one theme and year.
#[derive(InputObject)]
pub struct AllocateBudgetInput {
    /// The wijk (CBS code, `WK020207`).
    pub wijk_code: ID,
    /// The budget year.
    pub year: i32,
    /// The line's theme.
    pub theme: Theme,
    /// The line's new allocated amount (set, not added).
    pub amount: Money,
    /// Any 1 to 100 characters you choose per action: retrying with the same key records
    /// nothing twice.
    pub idempotency_key: Option<String>,
}

/// An organisation or person to connect an initiative with.
#[derive(InputObject)]
pub struct PartyInput {
    /// Its name (a person's name is sealed as personal data).
    pub name: String,
    /// Organisation or person.
    pub kind: PartyKind,
}

/// Connect to another initiative (`targetInitiativeId`) or to an organisation or person
/// (`party`): exactly one of the two.
#[derive(InputObject)]
pub struct ConnectInitiativeInput {
    /// The initiative's id.
    pub initiative_id: ID,
    /// The other initiative (may be in another wijk).
    pub target_initiative_id: Option<ID>,
    /// The organisation or person.
    pub party: Option<PartyInput>,
    /// Staff's note: why they belong together (seen only by staff of the gebied and admins).
    pub note: String,
    /// Any 1 to 100 characters you choose per action: retrying with the same key records
    /// nothing twice.
    pub idempotency_key: Option<String>,
}

/// An amount to commit to an initiative.
#[derive(InputObject)]
pub struct FundInitiativeInput {
    /// The initiative's id.
    pub initiative_id: ID,
    /// What to commit; at most what remains on the line.
    pub amount: Money,
    /// The budget year to fund from.
    pub year: i32,
    /// Any 1 to 100 characters you choose per action: retrying with the same key records
    /// nothing twice.
    pub idempotency_key: Option<String>,
}

/// The result of a funded initiative.
#[derive(InputObject)]
pub struct CompleteInitiativeInput {
    /// The initiative's id.
    pub initiative_id: ID,
    /// At most the funded amount; the rest returns to the budget line.
    pub spent_amount: Money,
    /// What was done (public).
    #[graphql(default)]
    pub report: String,
    /// Any 1 to 100 characters you choose per action: retrying with the same key records
    /// nothing twice.
    pub idempotency_key: Option<String>,
}

/// An initiative to reject, and why.
#[derive(InputObject)]
pub struct RejectInitiativeInput {
    /// The initiative's id.
    pub initiative_id: ID,
    /// Why, in words the resident can read.
    pub reason: String,
    /// Any 1 to 100 characters you choose per action: retrying with the same key records
    /// nothing twice.
    pub idempotency_key: Option<String>,
}

/// An individual question to hand to a sociaal wijkteam.
#[derive(InputObject)]
pub struct ReferInitiativeInput {
    /// The initiative's id.
    pub initiative_id: ID,
    /// Which sociaal wijkteam takes the individual question.
    pub sociaal_wijkteam: String,
    /// Staff's note for the file (never shown in the API).
    pub note: Option<String>,
    /// Any 1 to 100 characters you choose per action: retrying with the same key records
    /// nothing twice.
    pub idempotency_key: Option<String>,
}

/// An initiative to withdraw.
#[derive(InputObject)]
pub struct WithdrawInitiativeInput {
    /// The initiative's id.
    pub initiative_id: ID,
    /// The initiator's tracking code, when the initiator withdraws it.
    pub tracking_code: Option<String>,
    /// Why (public).
    pub reason: Option<String>,
    /// Any 1 to 100 characters you choose per action: retrying with the same key records
    /// nothing twice.
    pub idempotency_key: Option<String>,
}

/// An initiative whose initiator's personal data to erase.
#[derive(InputObject)]
pub struct EraseInitiatorDataInput {
    /// The initiative's id.
    pub initiative_id: ID,
    /// Any 1 to 100 characters you choose per action: retrying with the same key records
    /// nothing twice.
    pub idempotency_key: Option<String>,
}

/// A gebied's new team Leefomgeving contact details.
#[derive(InputObject)]
pub struct ChangeTeamContactInput {
    /// The gebied (`W1` … `W8`).
    pub gebied_code: ID,
    /// The team's e-mail address.
    pub email: String,
    /// The team's phone number.
    pub phone: String,
    /// Any 1 to 100 characters you choose per action: retrying with the same key records
    /// nothing twice.
    pub idempotency_key: Option<String>,
}

/// What can be changed. Each mutation says who may call it; a refused one records nothing.
#[Object]
impl Mutation {
    /// Submits a new initiative. Anyone may; staff may enter one on a resident's behalf.
    async fn submit_initiative(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do; see `SubmitInitiativeInput`.")] input: SubmitInitiativeInput,
    ) -> ApiResult<SubmitInitiativePayload> {
        let app = app(ctx);
        let actor = actor(ctx);
        if policy::submissions_are_rate_limited(actor) {
            app.submit_limiter.check(actor.client)?;
        }
        let submission = Submission::parse(&input, actor)?;
        let idempotency_key = input
            .idempotency_key
            .as_deref()
            .map(|key| submission.fingerprinted_key(app, key))
            .transpose()?;
        // The tracking code of a retry is derived from the same key, so it is the first one's.
        let derive_from = idempotency_key
            .as_deref()
            .map(|k| format!("{}:{k}", actor.subject));
        let id = InitiativeId::new();
        let code = crate::tracking::new_code(&id, &app.tokens, derive_from.as_deref());
        // The key is stored with the events, in their transaction: a refused or failed
        // submission, or a retry answered with the first one, leaves no key behind.
        let (sealed, key) = app.sealer.seal(id, &submission.initiator);
        let command = submission.command(id, &sealed, crate::tracking::hash(&code));
        let outcome =
            record_submission(app, actor, command, key, idempotency_key.as_deref()).await?;
        let (id, code) = if outcome.duplicate {
            // A retry: answer with the first submission.
            let first_id = first_submission(app, &outcome).await?;
            let code = crate::tracking::new_code(&first_id, &app.tokens, derive_from.as_deref());
            (first_id, code)
        } else {
            (id, code)
        };
        Ok(SubmitInitiativePayload {
            initiative: initiative(app, &id)?,
            tracking_code: code,
        })
    }

    /// Sets a budget line's allocated amount (admin). Lowering it below what is committed and
    /// spent is refused.
    async fn allocate_budget(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do; see `AllocateBudgetInput`.")] input: AllocateBudgetInput,
    ) -> ApiResult<Budget> {
        let app = app(ctx);
        let actor = actor(ctx);
        policy::require_admin(actor)?;
        let wijk = WijkCode::parse(&input.wijk_code)?;
        app.service
            .execute(
                actor,
                "allocateBudget",
                input.idempotency_key.as_deref(),
                |_| {
                    Ok(Command::AllocateBudget {
                        wijk,
                        year: input.year,
                        theme: input.theme.into(),
                        amount: input.amount.0,
                    })
                },
            )
            .await?;
        Ok(Budget::from(
            &app.live.read().wijk_budget(&wijk, input.year),
        ))
    }

    /// Connects an initiative with another one (the link shows on both) or with an
    /// organisation or person (staff of the gebied).
    async fn connect_initiative(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do; see `ConnectInitiativeInput`.")]
        input: ConnectInitiativeInput,
    ) -> ApiResult<Initiative> {
        let id = InitiativeId::parse(&input.initiative_id)?;
        let target = match (&input.target_initiative_id, &input.party) {
            (Some(other), None) => ConnectionTarget::Initiative(InitiativeId::parse(other)?),
            (None, Some(party)) => {
                let name = domain::PartyName::parse(&party.name)?;
                match domain::PartyKind::from(party.kind) {
                    // A person's name is personal data: sealed with the initiative's key.
                    domain::PartyKind::Person => seal_person(ctx, &id, &name).await?,
                    kind => ConnectionTarget::Party { name, kind },
                }
            }
            _ => {
                return Err(ApiError::BadInput(
                    "give either targetInitiativeId or party".into(),
                ))
            }
        };
        let note = seal_note(ctx, &id, domain::Note::parse(&input.note)?).await?;
        staff_command(
            ctx,
            "connectInitiative",
            id,
            input.idempotency_key.as_deref(),
            |_| {
                Ok(Command::Connect {
                    id,
                    target: target.clone(),
                    note: note.clone(),
                })
            },
        )
        .await
    }

    /// Commits an amount from the wijk's budget line for the initiative's theme and `year`
    /// (staff of the gebied).
    async fn fund_initiative(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do; see `FundInitiativeInput`.")] input: FundInitiativeInput,
    ) -> ApiResult<Initiative> {
        let id = InitiativeId::parse(&input.initiative_id)?;
        staff_command(
            ctx,
            "fundInitiative",
            id,
            input.idempotency_key.as_deref(),
            |_| {
                Ok(Command::Fund {
                    id,
                    year: input.year,
                    amount: input.amount.0,
                })
            },
        )
        .await
    }

    /// Reports the result and what was spent; the rest returns to the budget line (staff of the
    /// gebied).
    async fn complete_initiative(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do; see `CompleteInitiativeInput`.")]
        input: CompleteInitiativeInput,
    ) -> ApiResult<Initiative> {
        let id = InitiativeId::parse(&input.initiative_id)?;
        let report = domain::Report::parse(&input.report)?;
        staff_command(
            ctx,
            "completeInitiative",
            id,
            input.idempotency_key.as_deref(),
            |_| {
                Ok(Command::Complete {
                    id,
                    spent: input.spent_amount.0,
                    report: report.clone(),
                })
            },
        )
        .await
    }

    /// Rejects an initiative, with a reason the resident reads (staff of the gebied).
    async fn reject_initiative(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do; see `RejectInitiativeInput`.")] input: RejectInitiativeInput,
    ) -> ApiResult<Initiative> {
        let id = InitiativeId::parse(&input.initiative_id)?;
        let reason = domain::Reason::parse(&input.reason)?;
        staff_command(
            ctx,
            "rejectInitiative",
            id,
            input.idempotency_key.as_deref(),
            |_| {
                Ok(Command::Reject {
                    id,
                    reason: reason.clone(),
                })
            },
        )
        .await
    }

    /// Refers an individual (care) question to a sociaal wijkteam (staff of the gebied).
    async fn refer_initiative(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do; see `ReferInitiativeInput`.")] input: ReferInitiativeInput,
    ) -> ApiResult<Initiative> {
        let id = InitiativeId::parse(&input.initiative_id)?;
        let team = domain::SociaalWijkteam::parse(&input.sociaal_wijkteam)?;
        let note = match non_empty(input.note.as_deref()) {
            Some(note) => Some(seal_note(ctx, &id, domain::Note::parse(note)?).await?),
            None => None,
        };
        staff_command(
            ctx,
            "referInitiative",
            id,
            input.idempotency_key.as_deref(),
            |_| {
                Ok(Command::Refer {
                    id,
                    sociaal_wijkteam: team.clone(),
                    note: note.clone(),
                })
            },
        )
        .await
    }

    /// Withdraws an initiative: by its initiator (with the tracking code) or by staff. A funded
    /// amount returns to the budget line.
    async fn withdraw_initiative(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do; see `WithdrawInitiativeInput`.")]
        input: WithdrawInitiativeInput,
    ) -> ApiResult<Initiative> {
        let app = app(ctx);
        let actor = actor(ctx);
        let id = InitiativeId::parse(&input.initiative_id)?;
        let reason = non_empty(input.reason.as_deref())
            .map(domain::Reason::parse)
            .transpose()?;
        let code = input.tracking_code.clone();
        // Whether the code is right, decided once: the hash it is checked against never
        // changes, and is read from the log (not kept in the read model).
        let mut right = None;
        if let Some(code) = &code {
            // Counted against the caller's address before anything is decided.
            let view = app.live.read().initiative(&id).cloned();
            if let Some(view) = view {
                let is_right = crate::tracking::check_in(ctx, code, Some(&view)).await?;
                policy::may_withdraw(actor, &view.gebied, Some(is_right))?;
                right = Some(is_right);
            }
        }
        app.service
            .execute(
                actor,
                "withdrawInitiative",
                input.idempotency_key.as_deref(),
                |state| {
                    let view = find(state, &id)?;
                    // A code for an initiative that was not there when it was checked is no
                    // proof of anything.
                    let right = code.as_ref().map(|_| right.unwrap_or(false));
                    let by = policy::may_withdraw(actor, &view.gebied, right)?;
                    Ok(Command::Withdraw {
                        id,
                        by,
                        reason: reason.clone(),
                    })
                },
            )
            .await?;
        initiative(app, &id)
    }

    /// Erases the initiator's personal data (admin): the key is destroyed, the log keeps every
    /// other fact.
    async fn erase_initiator_data(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do; see `EraseInitiatorDataInput`.")]
        input: EraseInitiatorDataInput,
    ) -> ApiResult<Initiative> {
        let app = app(ctx);
        let actor = actor(ctx);
        policy::require_admin(actor)?;
        let id = InitiativeId::parse(&input.initiative_id)?;
        app.service
            .execute(
                actor,
                "eraseInitiatorData",
                input.idempotency_key.as_deref(),
                |_| Ok(Command::EraseInitiatorData { id }),
            )
            .await?;
        // Also when it was erased before: a key that survived a failure is destroyed now.
        app.sealer.erase(&crate::personal::key_id(&id)).await?;
        initiative(app, &id)
    }

    /// Changes a gebied's team Leefomgeving contact details (admin).
    async fn change_team_contact(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do; see `ChangeTeamContactInput`.")]
        input: ChangeTeamContactInput,
    ) -> ApiResult<super::types::Gebied> {
        let app = app(ctx);
        let actor = actor(ctx);
        policy::require_admin(actor)?;
        let gebied = domain::GebiedCode::parse(&input.gebied_code)?;
        let team = domain::TeamContact {
            email: domain::Email::parse(&input.email)?,
            phone: domain::Phone::parse(&input.phone)?,
        };
        app.service
            .execute(
                actor,
                "changeTeamContact",
                input.idempotency_key.as_deref(),
                |_| {
                    Ok(Command::ChangeTeamContact {
                        gebied,
                        team: team.clone(),
                    })
                },
            )
            .await?;
        Ok(super::types::Gebied {
            code: gebied,
            year: None,
            past: None,
        })
    }
}

/// A command only staff of the initiative's gebied (or an admin) may give.
async fn staff_command(
    ctx: &Context<'_>,
    operation: &str,
    id: InitiativeId,
    idempotency_key: Option<&str>,
    command: impl Fn(&CityState) -> ApiResult<Command>,
) -> ApiResult<Initiative> {
    let app = app(ctx);
    let actor = actor(ctx);
    policy::require_staff(actor)?;
    app.service
        .execute(actor, operation, idempotency_key, |state| {
            policy::may_decide(actor, &find(state, &id)?.gebied)?;
            command(state)
        })
        .await?;
    initiative(app, &id)
}

fn find<'a>(state: &'a CityState, id: &InitiativeId) -> ApiResult<&'a InitiativeView> {
    state
        .initiative(id)
        .ok_or_else(|| ApiError::NotFound(format!("initiative {id} was not found")))
}

fn initiative(app: &AppState, id: &InitiativeId) -> ApiResult<Initiative> {
    let state = app.live.read();
    Ok(Initiative::new(find(&state, id)?.clone()))
}

/// A submission's fields, checked.
struct Submission {
    wijk: WijkCode,
    title: domain::Title,
    description: domain::Description,
    theme: domain::Theme,
    requested_amount: domain::Money,
    channel: domain::Channel,
    initiator: InitiatorData,
    entered_by_staff: bool,
}

impl Submission {
    /// Checks every field; only staff say how an initiative came in (other than the web).
    fn parse(input: &SubmitInitiativeInput, actor: &Actor) -> ApiResult<Submission> {
        let wijk = WijkCode::parse(&input.wijk_code)?;
        let title = domain::Title::parse(&input.title)?;
        let description = domain::Description::parse(&input.description)?;
        let initiator = InitiatorData {
            name: domain::PersonName::parse(&input.initiator.name)?,
            email: non_empty(input.initiator.email.as_deref())
                .map(domain::Email::parse)
                .transpose()?,
            phone: non_empty(input.initiator.phone.as_deref())
                .map(domain::Phone::parse)
                .transpose()?,
        };
        if initiator.email.is_none() && initiator.phone.is_none() {
            return Err(ApiError::BadInput(
                "give the initiator's e-mail or phone, so the team can reach them".into(),
            ));
        }
        let staff = policy::enters_on_behalf(actor);
        let channel = match (input.channel, staff) {
            (Some(channel), true) => channel.into(),
            (Some(Channel::Web) | None, _) => domain::Channel::Web,
            (Some(_), false) => {
                return Err(ApiError::BadInput(
                    "only staff record how an initiative came in".into(),
                ))
            }
        };
        Ok(Submission {
            wijk,
            title,
            description,
            theme: input.theme.into(),
            requested_amount: input.requested_amount.0,
            channel,
            initiator,
            entered_by_staff: staff,
        })
    }

    /// The client's idempotency key with a fingerprint of what is submitted.
    ///
    /// Anonymous clients share one subject, so a key alone could let one resident's retry
    /// answer with another's submission (and tracking code). The key therefore counts only
    /// together with a fingerprint of what is submitted, including a keyed hash of the
    /// personal data: public fields can be copied by anyone, the initiator's contact details
    /// cannot. Keyed (HMAC under the server's key), so the log, which keeps the key, holds
    /// nothing a dictionary attack could turn back into a name.
    fn fingerprinted_key(&self, app: &AppState, key: &str) -> ApiResult<String> {
        let initiator = &self.initiator;
        let personal = hex8(
            &app.tokens.derive(
                "initiator-fingerprint",
                &[
                    initiator.name.as_str(),
                    initiator.email.as_ref().map_or("", |e| e.as_str()),
                    initiator.phone.as_ref().map_or("", |p| p.as_str()),
                ]
                .join("\0"),
            ),
        );
        let fingerprint = fingerprint(&[
            self.wijk.as_str(),
            self.title.as_str(),
            self.description.as_str(),
            self.theme.as_str(),
            &self.requested_amount.to_string(),
            &personal,
        ]);
        IdempotencyKey::fingerprinted(key, fingerprint).map(|key| key.to_string())
    }

    /// The command submitting it as initiative `id`, its initiator sealed.
    fn command(
        &self,
        id: InitiativeId,
        sealed: &domain::SealedInitiator,
        tracking_code_hash: String,
    ) -> Command {
        Command::Submit {
            id,
            wijk: self.wijk,
            title: self.title.clone(),
            description: self.description.clone(),
            theme: self.theme,
            requested_amount: self.requested_amount,
            channel: self.channel,
            initiator: sealed.clone(),
            tracking_code_hash,
            entered_by_staff: self.entered_by_staff,
        }
    }
}

/// Records a submission with its initiator's key; where it is in the log (a duplicate for a
/// retry of an earlier one).
async fn record_submission(
    app: &AppState,
    actor: &Actor,
    command: Command,
    key: wijkpuls_event_store::SubjectKey,
    idempotency_key: Option<&str>,
) -> ApiResult<wijkpuls_event_store::AppendOutcome> {
    let executed = app
        .service
        .execute_with_keys(
            actor,
            "submitInitiative",
            idempotency_key,
            vec![key],
            |_| Ok(command.clone()),
        )
        .await?;
    executed
        .outcome
        .ok_or_else(|| ApiError::from(anyhow::anyhow!("a submission recorded nothing")))
}

/// The initiative an earlier submission (answered again for a retry) recorded.
async fn first_submission(
    app: &AppState,
    outcome: &wijkpuls_event_store::AppendOutcome,
) -> ApiResult<InitiativeId> {
    let first = app.service.recorded(outcome).await?;
    first
        .iter()
        .find_map(|r| r.event.initiative_id())
        .ok_or_else(|| ApiError::from(anyhow::anyhow!("retry found no initiative")))
}

/// A short hash of a request's (non-personal) fields, to tell different requests apart.
fn fingerprint(fields: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for field in fields {
        hasher.update(field.as_bytes());
        hasher.update([0]);
    }
    hex8(&hasher.finalize())
}

/// The first 8 bytes of a digest in hex.
fn hex8(digest: &[u8]) -> String {
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// The key that seals initiative `id`'s personal data, if it still exists; checks first that
/// the caller may act on it (sealing touches the vault).
fn initiator_key(ctx: &Context<'_>, id: &InitiativeId) -> ApiResult<Option<String>> {
    let state = app(ctx).live.read();
    let view = find(&state, id)?;
    policy::may_decide(actor(ctx), &view.gebied)?;
    Ok((!view.initiator_erased).then(|| crate::personal::key_id(id)))
}

/// A person to connect to initiative `id`, their name sealed under the initiator's key.
async fn seal_person(
    ctx: &Context<'_>,
    id: &InitiativeId,
    name: &domain::PartyName,
) -> ApiResult<ConnectionTarget> {
    let app = app(ctx);
    let sealed = match initiator_key(ctx, id)? {
        Some(key_id) => app.sealer.seal_text(&key_id, name.as_str()).await?,
        None => None,
    };
    let Some(sealed) = sealed else {
        return Err(ApiError::BadInput(
            "this initiative's personal data was erased: connect an organisation, not a person"
                .into(),
        ));
    };
    let fingerprint = hex8(&app.tokens.derive(
        "connected-person",
        &format!("{id}\0{}", name.as_str().to_lowercase()),
    ));
    Ok(ConnectionTarget::SealedPerson {
        name: sealed,
        fingerprint,
    })
}

/// Staff's note about initiative `id` (it may name people), sealed under the initiator's key
/// so erasure reaches it. After an erasure there is no key: the note is then kept plain (it
/// was written after the erasure, knowing it).
async fn seal_note(
    ctx: &Context<'_>,
    id: &InitiativeId,
    note: domain::Note,
) -> ApiResult<domain::StaffNote> {
    let sealed = match initiator_key(ctx, id)? {
        Some(key_id) => app(ctx).sealer.seal_text(&key_id, note.as_str()).await?,
        None => None,
    };
    Ok(sealed.map_or(domain::StaffNote::Plain(note), domain::StaffNote::Sealed))
}

fn non_empty(text: Option<&str>) -> Option<&str> {
    text.filter(|t| !t.trim().is_empty())
}
