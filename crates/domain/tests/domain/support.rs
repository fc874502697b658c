//! Shared helpers: a log that records decisions the way the api will, and fixtures in the
//! domain's words.

use chrono::{DateTime, Duration, TimeZone, Utc};
use uuid::Uuid;
use wijkpuls_domain::events::InitiativeSubmitted;
use wijkpuls_domain::projection::HistoryEntry;
use wijkpuls_domain::{
    decide, BudgetLineKey, Channel, CityState, Command, Decision, Description, DomainError,
    DomainEvent, InitiativeId, Money, Recorded, ReferenceData, SealedInitiator, Theme, Title,
    WijkCode,
};

/// The events so far and the state folded from them.
#[derive(Clone)]
pub struct Log {
    pub records: Vec<Recorded>,
    pub state: CityState,
}

/// The moment of the event at `position`: one minute apart from 2026-01-01 00:00 UTC on.
pub fn time_of(position: u64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::minutes(position as i64)
}

impl Log {
    /// An initiative's history, made from this log's events as the api makes it from the
    /// store's (the state keeps only where they are).
    pub fn history(&self, view: &wijkpuls_domain::InitiativeView) -> Vec<HistoryEntry> {
        let history = view.history(&self.state, &self.records);
        assert_eq!(
            history.len(),
            view.steps.len(),
            "every step's event is in the log"
        );
        history
    }

    pub fn empty() -> Log {
        Log {
            records: Vec::new(),
            state: CityState::new(),
        }
    }

    /// A store initialised with Arnhem's reference data.
    pub fn arnhem() -> Log {
        let mut log = Log::empty();
        log.execute(Command::RegisterReferenceData(ReferenceData::arnhem()));
        log
    }

    /// Appends events as the store would: the next positions, a minute apart.
    pub fn record(&mut self, events: impl IntoIterator<Item = DomainEvent>) {
        self.record_dated(events, None)
    }

    /// Appends events as the store would, as having occurred `at` (if given; else a minute
    /// after the previous position, as [`Log::record`] does).
    pub fn record_dated(
        &mut self,
        events: impl IntoIterator<Item = DomainEvent>,
        at: Option<DateTime<Utc>>,
    ) {
        for event in events {
            let position = self.records.len() as u64 + 1;
            let recorded = Recorded {
                position,
                recorded_at: at.unwrap_or_else(|| time_of(position)),
                event,
            };
            self.state.apply(&recorded);
            self.records.push(recorded);
        }
    }

    pub fn decide(&self, command: Command) -> Result<Decision, DomainError> {
        decide(&self.state, command)
    }

    /// Decides and records; panics when the command is refused.
    pub fn execute(&mut self, command: Command) -> Decision {
        let decision = self
            .decide(command.clone())
            .unwrap_or_else(|err| panic!("{command:?} was refused: {err}"));
        self.record(decision.events.clone());
        decision
    }
}

pub fn money(text: &str) -> Money {
    Money::parse(text).unwrap()
}

pub fn wijk(code: &str) -> WijkCode {
    WijkCode::parse(code).unwrap()
}

pub fn klarendal() -> WijkCode {
    wijk("WK020207")
}

/// A fixed initiative id per number, so expected events can be written out.
pub fn id(n: u128) -> InitiativeId {
    InitiativeId::from_uuid(Uuid::from_u128(
        0x0190_0000_0000_7000_8000_0000_0000_0000 + n,
    ))
}

pub fn sealed(n: u128) -> SealedInitiator {
    SealedInitiator {
        key_id: format!("key-{n}"),
        ciphertext: format!("SEALED-CIPHERTEXT-{n}"),
    }
}

pub fn line(wijk: WijkCode, year: i32, theme: Theme) -> BudgetLineKey {
    BudgetLineKey { wijk, year, theme }
}

/// The command submitting initiative `n` in `wijk` with `theme`.
pub fn submit(n: u128, wijk: WijkCode, theme: Theme, requested: &str) -> Command {
    let InitiativeSubmitted {
        id,
        wijk,
        title,
        description,
        theme,
        requested_amount,
        channel,
        initiator,
        tracking_code_hash,
        entered_by_staff,
    } = submitted(n, wijk, theme, requested);
    Command::Submit {
        id,
        wijk,
        title,
        description,
        theme,
        requested_amount,
        channel,
        initiator,
        tracking_code_hash,
        entered_by_staff,
    }
}

/// The event `submit` leads to.
pub fn submitted(n: u128, wijk: WijkCode, theme: Theme, requested: &str) -> InitiativeSubmitted {
    InitiativeSubmitted {
        id: id(n),
        wijk,
        title: Title::parse(&format!("Moestuin Sonsbeekweg {n}")).unwrap(),
        description: Description::parse("Samen groente kweken op het braakliggende veldje.")
            .unwrap(),
        theme,
        requested_amount: money(requested),
        channel: Channel::Web,
        initiator: sealed(n),
        tracking_code_hash: format!("{n:064x}"),
        entered_by_staff: false,
    }
}
