//! Who may do what, and who may see what: every authorization rule of the API, in one place.
//! The resolvers ask here; nothing else compares roles or gebieden.
//!
//! The roles (docs/domain.md, "Roles"): the **public** (no token),
//! **staff** (a token with role `staff` and one or more gebieden) and **admin**. The
//! **initiator** is not a role: it is whoever shows the initiative's tracking code
//! ([`crate::tracking`] checks the code and counts wrong ones against the caller's address).
//! "Own gebied" is the gebied of the initiative's wijk; an admin works in every gebied.
//!
//! | rule | public | initiator | staff, own gebied | staff, other gebied | admin | function |
//! |---|---|---|---|---|---|---|
//! | `submitInitiative` | yes, rate-limited per address | – | yes | yes | yes | [`submissions_are_rate_limited`] |
//! | say how a submission came in (`channel`), entered on a resident's behalf | no (`BAD_USER_INPUT` for a channel other than `WEB`) | – | yes | yes | yes | [`enters_on_behalf`] |
//! | `connectInitiative`, `fundInitiative`, `completeInitiative`, `rejectInitiative`, `referInitiative` | `UNAUTHENTICATED` | – | yes | `FORBIDDEN` | yes | [`require_staff`], [`may_decide`] |
//! | `withdrawInitiative` | `UNAUTHENTICATED` | yes (a wrong code: `FORBIDDEN`) | yes | `FORBIDDEN` | yes | [`may_withdraw`] |
//! | `allocateBudget`, `changeTeamContact`, `eraseInitiatorData` | `UNAUTHENTICATED` | – | `FORBIDDEN` | `FORBIDDEN` | yes | [`require_admin`] |
//! | `eventFeed` | `UNAUTHENTICATED` | – | yes | yes | yes | [`may_follow_event_feed`] |
//! | `Initiative.similar` (to connect residents; `similarInitiatives` is public) | `UNAUTHENTICATED` | – | yes | yes | yes | [`may_see_similar_initiatives`] |
//! | the actor of an event (`events`, `eventFeed`, `publicEvents`) | `null` | `null` | yes | yes | yes | [`may_see_event_actors`] |
//! | the initiator's contact details (`Initiative.initiator`) | `null` | yes | yes | `null` | yes | [`may_see_initiator`] |
//! | a connected person's name, a connection's note | `null` | `null` | yes | `null` | yes | [`may_see_party_name`], [`may_see_personal_data`] |
//! | a connected organisation's name | yes | yes | yes | yes | yes | [`may_see_party_name`] |
//! | a referral's note | never shown | | | | | (no field) |
//! | the work list (`workList`, `workListUpdated`) | `UNAUTHENTICATED` | – | its initiatives | not in it | all | [`require_staff`], [`in_work_list`] |
//! | everything else: wijken, gebieden, budgets, initiatives, history, event lines | yes | yes | yes | yes | yes | (no check) |
//!
//! Erased personal data is `null` for everyone, whatever this allows. Subscriptions to the
//! live state are shared by callers who see the same ([`visibility`]).
//! The matrices of `tests/api/permissions.rs` check these rules end to end; the table in
//! `tests` below checks the functions.

use wijkpuls_domain::{GebiedCode, PartyKind, WithdrawnBy};

use crate::auth::{Actor, Role};
use crate::error::{ApiError, ApiResult};

/// Whether the actor works in `gebied`: staff of it, or an admin (who works everywhere).
fn works_in(actor: &Actor, gebied: &GebiedCode) -> bool {
    match actor.role {
        Role::Admin => true,
        Role::Staff => actor.gebieden.contains(gebied),
        Role::Public => false,
    }
}

/// Whether the actor is of the team (staff, in any gebied, or an admin).
fn is_team(actor: &Actor) -> bool {
    matches!(actor.role, Role::Staff | Role::Admin)
}

/// Whether the actor's submissions count against the per-address limit: the public's do.
pub fn submissions_are_rate_limited(actor: &Actor) -> bool {
    actor.role == Role::Public
}

/// Whether a submission by the actor is entered on a resident's behalf, so that it may say how
/// it came in (`channel`): staff and admins.
pub fn enters_on_behalf(actor: &Actor) -> bool {
    is_team(actor)
}

/// Refuses the public a command for staff, before anything is looked up.
pub fn require_staff(actor: &Actor) -> ApiResult<()> {
    match actor.role {
        Role::Public => Err(ApiError::Unauthenticated(
            "sign in as staff of the team Leefomgeving to do this".into(),
        )),
        Role::Staff | Role::Admin => Ok(()),
    }
}

/// Whether the actor may decide on (connect, fund, complete, reject, refer, withdraw) an
/// initiative in `gebied`: staff of that gebied and admins.
pub fn may_decide(actor: &Actor, gebied: &GebiedCode) -> ApiResult<()> {
    require_staff(actor)?;
    if works_in(actor, gebied) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "you may act only on initiatives in your own gebied; this one is in {gebied}"
        )))
    }
}

/// Whether the actor may withdraw an initiative in `gebied`, and as whom. `tracking_code` is
/// whether the tracking code given is the initiative's (`None`: none given). With a code, the
/// code decides, whoever the actor is; without one, [`may_decide`] does.
pub fn may_withdraw(
    actor: &Actor,
    gebied: &GebiedCode,
    tracking_code: Option<bool>,
) -> ApiResult<WithdrawnBy> {
    match tracking_code {
        Some(true) => Ok(WithdrawnBy::Initiator),
        Some(false) => Err(ApiError::Forbidden(
            "this tracking code does not belong to this initiative".into(),
        )),
        None => may_decide(actor, gebied).map(|()| WithdrawnBy::Staff),
    }
}

/// Whether the actor may give the admin's commands (budgets, team contacts, erasure).
pub fn require_admin(actor: &Actor) -> ApiResult<()> {
    match actor.role {
        Role::Admin => Ok(()),
        Role::Public => Err(ApiError::Unauthenticated(
            "sign in as an admin to do this".into(),
        )),
        Role::Staff => Err(ApiError::Forbidden("only an admin may do this".into())),
    }
}

/// Whether the actor may follow the event feed (every event, with its actor): the team.
pub fn may_follow_event_feed(actor: &Actor) -> ApiResult<()> {
    if is_team(actor) {
        Ok(())
    } else {
        Err(ApiError::Unauthenticated(
            "sign in as staff to follow the event feed".into(),
        ))
    }
}

/// Whether the actor may ask which initiatives are like a given one, to connect the residents
/// behind them: the team, in any gebied (neighbours with the same idea may live across a
/// border). The public asks with its own text instead (`similarInitiatives`).
pub fn may_see_similar_initiatives(actor: &Actor) -> ApiResult<()> {
    if is_team(actor) {
        Ok(())
    } else {
        Err(ApiError::Unauthenticated(
            "sign in as staff to see initiatives similar to this one".into(),
        ))
    }
}

/// Whether the actor sees who recorded an event: the team.
pub fn may_see_event_actors(actor: &Actor) -> bool {
    is_team(actor)
}

/// Whether the actor sees the personal data staff keep about an initiative in `gebied`
/// (connected persons' names, connection notes): staff of that gebied and admins.
pub fn may_see_personal_data(actor: &Actor, gebied: &GebiedCode) -> bool {
    works_in(actor, gebied)
}

/// Whether the actor sees the name of a party of `kind` connected with an initiative in
/// `gebied`: an organisation's name is public, a person's is personal data.
pub fn may_see_party_name(actor: &Actor, gebied: &GebiedCode, kind: PartyKind) -> bool {
    kind == PartyKind::Organisation || may_see_personal_data(actor, gebied)
}

/// Whether the actor sees the initiator's contact details of an initiative in `gebied`: those
/// who see its personal data, and the initiator. `is_initiator` says whether the caller proved
/// to be the initiator; it is asked only when the answer matters (a wrong tracking code counts
/// against the caller, and may be refused with `RATE_LIMITED`).
pub fn may_see_initiator(
    actor: &Actor,
    gebied: &GebiedCode,
    is_initiator: impl FnOnce() -> ApiResult<bool>,
) -> ApiResult<bool> {
    Ok(may_see_personal_data(actor, gebied) || is_initiator()?)
}

/// Whether an initiative in `gebied` is on the actor's work list: staff have their gebieden's,
/// an admin has all. The public has no work list ([`require_staff`] refuses it).
pub fn in_work_list(actor: &Actor, gebied: &GebiedCode) -> bool {
    works_in(actor, gebied)
}

/// What the actor may see, as a key: actors with equal keys see the same (role and gebieden),
/// so a live state view can be computed once for all of them.
pub fn visibility(actor: &Actor) -> String {
    let mut gebieden: Vec<String> = actor.gebieden.iter().map(|g| g.to_string()).collect();
    gebieden.sort();
    format!("{}:{}", actor.role.as_str(), gebieden.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    const ALLOWED: Result<(), ErrorCode> = Ok(());
    const UNAUTHENTICATED: Result<(), ErrorCode> = Err(ErrorCode::Unauthenticated);
    const FORBIDDEN: Result<(), ErrorCode> = Err(ErrorCode::Forbidden);

    fn gebied(code: &str) -> GebiedCode {
        GebiedCode::parse(code).unwrap()
    }

    fn actor(role: Role, gebieden: &[&str]) -> Actor {
        Actor {
            role,
            subject: role.as_str().into(),
            gebieden: gebieden.iter().map(|g| gebied(g)).collect(),
            client: None,
        }
    }

    /// The actors of the table, each about an initiative in W2.
    fn actors() -> [(&'static str, Actor); 5] {
        [
            ("public", Actor::public(None)),
            ("staff of W2", actor(Role::Staff, &["W2"])),
            ("staff of W1 and W2", actor(Role::Staff, &["W1", "W2"])),
            ("staff of W1", actor(Role::Staff, &["W1"])),
            ("admin", actor(Role::Admin, &[])),
        ]
    }

    fn code(result: ApiResult<impl Sized>) -> Result<(), ErrorCode> {
        result.map(|_| ()).map_err(|error| error.code())
    }

    /// One row: a rule and its answer for each of [`actors`], in order.
    struct Row<T> {
        rule: &'static str,
        check: fn(&Actor, &GebiedCode) -> T,
        expected: [T; 5],
    }

    fn check_rows<T: PartialEq + std::fmt::Debug + Copy>(rows: &[Row<T>]) {
        let w2 = gebied("W2");
        for row in rows {
            for ((who, actor), expected) in actors().iter().zip(row.expected) {
                assert_eq!((row.check)(actor, &w2), expected, "{}: {who}", row.rule);
            }
        }
    }

    #[test]
    fn who_may_do_what() {
        check_rows(&[
            Row {
                rule: "require_staff",
                check: |actor, _| code(require_staff(actor)),
                expected: [UNAUTHENTICATED, ALLOWED, ALLOWED, ALLOWED, ALLOWED],
            },
            Row {
                rule: "may_decide",
                check: |actor, gebied| code(may_decide(actor, gebied)),
                expected: [UNAUTHENTICATED, ALLOWED, ALLOWED, FORBIDDEN, ALLOWED],
            },
            Row {
                rule: "may_withdraw without a code",
                check: |actor, gebied| code(may_withdraw(actor, gebied, None)),
                expected: [UNAUTHENTICATED, ALLOWED, ALLOWED, FORBIDDEN, ALLOWED],
            },
            Row {
                rule: "may_withdraw with the right code",
                check: |actor, gebied| code(may_withdraw(actor, gebied, Some(true))),
                expected: [ALLOWED; 5],
            },
            Row {
                rule: "may_withdraw with a wrong code",
                check: |actor, gebied| code(may_withdraw(actor, gebied, Some(false))),
                expected: [FORBIDDEN; 5],
            },
            Row {
                rule: "require_admin",
                check: |actor, _| code(require_admin(actor)),
                expected: [UNAUTHENTICATED, FORBIDDEN, FORBIDDEN, FORBIDDEN, ALLOWED],
            },
            Row {
                rule: "may_follow_event_feed",
                check: |actor, _| code(may_follow_event_feed(actor)),
                expected: [UNAUTHENTICATED, ALLOWED, ALLOWED, ALLOWED, ALLOWED],
            },
            Row {
                rule: "may_see_similar_initiatives",
                check: |actor, _| code(may_see_similar_initiatives(actor)),
                expected: [UNAUTHENTICATED, ALLOWED, ALLOWED, ALLOWED, ALLOWED],
            },
        ]);
        check_rows(&[
            Row {
                rule: "submissions_are_rate_limited",
                check: |actor, _| submissions_are_rate_limited(actor),
                expected: [true, false, false, false, false],
            },
            Row {
                rule: "enters_on_behalf",
                check: |actor, _| enters_on_behalf(actor),
                expected: [false, true, true, true, true],
            },
        ]);
    }

    #[test]
    fn who_may_see_what() {
        check_rows(&[
            Row {
                rule: "may_see_event_actors",
                check: |actor, _| may_see_event_actors(actor),
                expected: [false, true, true, true, true],
            },
            Row {
                rule: "may_see_personal_data",
                check: may_see_personal_data,
                expected: [false, true, true, false, true],
            },
            Row {
                rule: "in_work_list",
                check: in_work_list,
                expected: [false, true, true, false, true],
            },
            Row {
                rule: "may_see_party_name of a person",
                check: |actor, gebied| may_see_party_name(actor, gebied, PartyKind::Person),
                expected: [false, true, true, false, true],
            },
            Row {
                rule: "may_see_party_name of an organisation",
                check: |actor, gebied| may_see_party_name(actor, gebied, PartyKind::Organisation),
                expected: [true; 5],
            },
            Row {
                rule: "may_see_initiator, not the initiator",
                check: |actor, gebied| may_see_initiator(actor, gebied, || Ok(false)).unwrap(),
                expected: [false, true, true, false, true],
            },
            Row {
                rule: "may_see_initiator, the initiator",
                check: |actor, gebied| may_see_initiator(actor, gebied, || Ok(true)).unwrap(),
                expected: [true; 5],
            },
        ]);
    }

    #[test]
    fn the_initiator_is_asked_only_when_it_matters() {
        let w2 = gebied("W2");
        let refused = || {
            Err(ApiError::RateLimited(
                "too many wrong tracking codes".into(),
            ))
        };
        // Staff of the gebied see the data without a code being checked (and counted).
        assert!(may_see_initiator(&actor(Role::Staff, &["W2"]), &w2, refused).unwrap());
        assert_eq!(
            code(may_see_initiator(&Actor::public(None), &w2, refused)),
            Err(ErrorCode::RateLimited)
        );
    }

    #[test]
    fn who_sees_alike() {
        let key = |role, gebieden: &[&str]| visibility(&actor(role, gebieden));
        assert_eq!(
            key(Role::Staff, &["W2", "W1"]),
            key(Role::Staff, &["W1", "W2"])
        );
        assert_ne!(key(Role::Staff, &["W1"]), key(Role::Staff, &["W2"]));
        assert_ne!(key(Role::Staff, &[]), visibility(&Actor::public(None)));
        assert_ne!(key(Role::Admin, &[]), key(Role::Staff, &[]));
    }
}
