//! `backup-codes-shim webhooks …`: the outbox from the command line, on the
//! store alone (no component): list, inspect and replay events, count, and
//! make a secret.

use anyhow::{Context as _, bail};
use backup_codes_shim::config::Config;
use clap::Subcommand;

use crate::{init_logging, print_json};

#[derive(Subcommand)]
pub enum WebhooksCommand {
    /// List outbox rows, oldest first, one JSON object per line.
    List {
        #[command(flatten)]
        scope: Scope,
        /// Only rows in this state.
        #[arg(long, value_enum)]
        state: Option<RowState>,
        /// At most this many rows.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Show one event's rows and the body it is sent with.
    Inspect {
        /// Its `webhook-id` (msg_…).
        event_id: String,
        /// Only its row for this endpoint.
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Send dead events again (same `webhook-id`, a fresh retry window).
    Replay {
        /// One event's `webhook-id`; or use --dead.
        #[arg(required_unless_present = "dead", conflicts_with = "dead")]
        event_id: Option<String>,
        /// Every dead event of the scope.
        #[arg(long)]
        dead: bool,
        #[command(flatten)]
        scope: Scope,
    },
    /// Count rows by tenant, endpoint and state.
    Stats,
    /// Print a fresh endpoint secret (whsec_…).
    Secret,
}

#[derive(clap::Args)]
pub struct Scope {
    /// Only this tenant's rows.
    #[arg(long)]
    tenant: Option<String>,
    /// Only this endpoint's rows.
    #[arg(long)]
    endpoint: Option<String>,
}

/// An outbox row's state.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum RowState {
    Pending,
    Delivered,
    Dead,
}

impl RowState {
    fn name(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Dead => "dead",
        }
    }
}

/// The `webhooks` commands: the store only, no component.
pub async fn run(config: &Config, command: WebhooksCommand) -> anyhow::Result<()> {
    use backup_codes_shim::store::{OutboxFilter, Store};
    use backup_codes_shim::webhooks::admin;
    if let WebhooksCommand::Secret = command {
        let secret = admin::new_secret().context("the OS random source failed")?;
        println!("{secret}");
        return Ok(());
    }
    init_logging(config);
    let store = Store::connect(&config.database_url, 1)
        .await
        .context("opening the database")?;
    store.migrate().await.context("migrating the schema")?;
    let result = match command {
        WebhooksCommand::List {
            scope,
            state,
            limit,
        } => {
            let rows = store
                .list_outbox(&OutboxFilter {
                    tenant: scope.tenant.as_deref(),
                    endpoint: scope.endpoint.as_deref(),
                    state: state.map(RowState::name),
                    event_id: None,
                    limit,
                })
                .await
                .context("listing the outbox")?;
            for row in rows {
                println!("{}", serde_json::to_string(&row)?);
            }
            Ok(())
        }
        WebhooksCommand::Inspect { event_id, endpoint } => {
            let found = admin::inspect(
                &store,
                &OutboxFilter {
                    event_id: Some(&event_id),
                    endpoint: endpoint.as_deref(),
                    limit: 100,
                    ..OutboxFilter::default()
                },
            )
            .await
            .context("reading the outbox")?;
            if found.rows.is_empty() {
                bail!("no outbox row has the id {event_id}");
            }
            print_json(&found)
        }
        WebhooksCommand::Replay {
            event_id,
            dead: _,
            scope,
        } => {
            let replayed = admin::replay(
                &store,
                &OutboxFilter {
                    tenant: scope.tenant.as_deref(),
                    endpoint: scope.endpoint.as_deref(),
                    event_id: event_id.as_deref(),
                    ..OutboxFilter::default()
                },
            )
            .await
            .context("replaying")?;
            print_json(&replayed)
        }
        WebhooksCommand::Stats => print_json(&admin::stats(&store).await.context("counting")?),
        WebhooksCommand::Secret => Ok(()),
    };
    store.close().await;
    result
}
