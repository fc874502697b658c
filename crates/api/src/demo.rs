//! `--demo`: fills an empty store with a realistic demo year (the domain's generator), so the
//! overview is alive at once. Each step carries an idempotency key, so two instances starting
//! together on one empty database record it once.

use wijkpuls_domain::demo::{demo_year, DemoStep};
use wijkpuls_domain::InitiativeId;

use crate::app::system_actor;
use crate::personal::InitiatorData;
use crate::schema::{current_year, AppState};

const SEED: u64 = 2026;

pub async fn load_if_empty(state: &AppState) -> anyhow::Result<()> {
    if state.live.read().initiatives().len() > 0 {
        tracing::info!("the store has initiatives already; no demo loaded");
        return Ok(());
    }
    let year = current_year();
    let steps = demo_year(year, SEED)?;
    tracing::info!(steps = steps.len(), year, "loading the demo year");
    let actor = system_actor();
    for (index, step) in steps.into_iter().enumerate() {
        let sealed = match &step {
            DemoStep::Submit {
                id,
                initiator_name,
                initiator_email,
                initiator_phone,
                ..
            } => Some(seal(state, id, initiator_name, initiator_email, initiator_phone).await?),
            _ => None,
        };
        let command = step.into_command(|_, _, _| sealed.clone().expect("sealed for a submission"));
        state
            .service
            .execute(&actor, "demo", Some(&format!("{year}-{index}")), |_| {
                Ok(command.clone())
            })
            .await
            .map_err(|e| anyhow::anyhow!("demo step {index} failed: {}", e.detail()))?;
    }
    Ok(())
}

async fn seal(
    state: &AppState,
    id: &InitiativeId,
    name: &wijkpuls_domain::PersonName,
    email: &wijkpuls_domain::Email,
    phone: &wijkpuls_domain::Phone,
) -> anyhow::Result<(wijkpuls_domain::SealedInitiator, String)> {
    let data = InitiatorData {
        name: name.clone(),
        email: Some(email.clone()),
        phone: Some(phone.clone()),
    };
    let sealed = state.sealer.seal(*id, &data).await?;
    let code = crate::tracking::new_code(id, &state.tokens, None);
    Ok((sealed, crate::tracking::hash(&code)))
}
