//! Testing jobs without a database (feature `testing`): each job to its
//! outcome with `mq::testing::run_job`, and the code that spawns them on the
//! in-memory backend.
//!
//! The tests at the bottom are what a test module of yours would look like
//! (`cargo test --example testing_jobs --features testing`); running the
//! example does the same steps and prints what happens:
//!
//! ```sh
//! cargo run --example testing_jobs --features testing
//! ```

use std::error::Error;
use std::sync::{Arc, Mutex};

use mq::admin::{self, JobQuery};
use mq::testing::{JobTester, MemoryBackend, RunOutcome, run_job};
use mq::{CurrentJob, Executor, JobRegistry, job};
use serde::{Deserialize, Serialize};

type JobError = Box<dyn Error + Send + Sync + 'static>;

/// Where the jobs below record what they did; a test looks at it after.
#[derive(Clone, Default)]
struct Ledger(Arc<Mutex<Vec<String>>>);

impl Ledger {
    fn entries(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

#[derive(Serialize, Deserialize)]
struct Invoice {
    customer: String,
    cents: u64,
}

/// Charges an invoice. An empty invoice is an error, every attempt.
#[job(channel_name = "billing", retries = 2, backoff_secs = 30)]
async fn charge(mut job: CurrentJob, ledger: Ledger) -> Result<(), JobError> {
    let invoice: Invoice = job.json()?.ok_or("no invoice")?;
    if invoice.cents == 0 {
        return Err(format!("nothing to charge {}", invoice.customer).into());
    }
    ledger
        .0
        .lock()
        .unwrap()
        .push(format!("charged {} {}", invoice.customer, invoice.cents));
    job.complete().await?;
    Ok(())
}

/// Sends a receipt; the mail server turns the first attempt away.
#[job(channel_name = "emails", retries = 3)]
async fn send_receipt(mut job: CurrentJob, ledger: Ledger) -> Result<(), JobError> {
    let to: String = job.json()?.ok_or("no recipient")?;
    if job.attempt() == 1 {
        return Err("421 try again later".into());
    }
    ledger.0.lock().unwrap().push(format!("receipt to {to}"));
    job.complete().await?;
    Ok(())
}

fn registry(ledger: &Ledger) -> JobRegistry {
    let mut registry = JobRegistry::new(&[charge, send_receipt]);
    registry.set_context(ledger.clone());
    registry
}

fn invoice(customer: &str, cents: u64) -> Invoice {
    Invoice {
        customer: customer.to_owned(),
        cents,
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let ledger = Ledger::default();
    let registry = registry(&ledger);

    // One job, to its outcome. The 30 s backoff is skipped.
    let outcome = run_job(&registry, charge.builder().set_json(&invoice("ada", 1250))?).await?;
    println!("charge ada: {outcome}");
    assert_eq!(outcome, RunOutcome::Completed { attempts: 1 });

    let outcome = run_job(&registry, charge.builder().set_json(&invoice("bob", 0))?).await?;
    println!("charge bob: {outcome}");
    assert_eq!(outcome.error(), Some("nothing to charge bob"));

    // Its first attempt alone.
    let mut first_attempt = JobTester::new(&registry);
    first_attempt.set_max_attempts(1);
    let outcome = first_attempt
        .run(send_receipt.builder().set_json("ada@example.com")?)
        .await?;
    println!("receipt, first attempt: {outcome}");
    assert!(matches!(outcome, RunOutcome::Retrying { attempts: 1, .. }));

    let outcome = run_job(
        &registry,
        send_receipt.builder().set_json("ada@example.com")?,
    )
    .await?;
    println!("receipt: {outcome}");
    assert_eq!(outcome, RunOutcome::Completed { attempts: 2 });
    println!("ledger: {:?}", ledger.entries());

    // Code that spawns jobs, on the in-memory backend instead of a pool.
    let backend = MemoryBackend::new();
    bill(&backend, &[invoice("carol", 300), invoice("dave", 120)]).await?;
    let page = admin::list(&backend, JobQuery::new().set_channel_name("billing")).await?;
    for job in &page.jobs {
        println!(
            "spawned: {} on {}, {}",
            job.name, job.channel_name, job.state
        );
    }
    assert_eq!(page.jobs.len(), 2);
    Ok(())
}

/// Spawns a charge for each invoice, in one batch: through a pool in
/// production (`bill(&pool, ...)`), or a transaction, or the in-memory
/// backend in a test.
async fn bill<D, E: Executor<D>>(executor: E, invoices: &[Invoice]) -> mq::Result<Vec<mq::Uuid>> {
    let mut jobs = Vec::new();
    for invoice in invoices {
        jobs.push(charge.builder().set_json(invoice)?.clone());
    }
    mq::spawn_many(executor, &jobs).await
}

#[cfg(test)]
mod tests {
    use mq::JobState;

    use super::*;

    #[tokio::test]
    async fn charging_records_the_charge() -> Result<(), JobError> {
        let ledger = Ledger::default();
        let job = charge.builder().set_json(&invoice("ada", 1250))?.clone();
        let outcome = run_job(&registry(&ledger), &job).await?;
        assert_eq!(outcome, RunOutcome::Completed { attempts: 1 });
        assert_eq!(ledger.entries(), ["charged ada 1250"]);
        Ok(())
    }

    #[tokio::test]
    async fn an_empty_invoice_fails_every_attempt() -> Result<(), JobError> {
        let ledger = Ledger::default();
        let job = charge.builder().set_json(&invoice("bob", 0))?.clone();
        let outcome = run_job(&registry(&ledger), &job).await?;
        assert_eq!(
            outcome,
            RunOutcome::Failed {
                attempts: 3,
                error: "nothing to charge bob".into()
            }
        );
        assert!(ledger.entries().is_empty());
        Ok(())
    }

    #[tokio::test]
    async fn the_receipt_is_sent_on_the_retry() -> Result<(), JobError> {
        let ledger = Ledger::default();
        let registry = registry(&ledger);
        let job = send_receipt.builder().set_json("ada@example.com")?.clone();

        let mut tester = JobTester::new(&registry);
        let first = tester.set_max_attempts(1).run(&job).await?;
        assert_eq!(first.error(), Some("421 try again later"));
        assert!(ledger.entries().is_empty());

        let outcome = run_job(&registry, &job).await?;
        assert_eq!(outcome, RunOutcome::Completed { attempts: 2 });
        assert_eq!(ledger.entries(), ["receipt to ada@example.com"]);
        Ok(())
    }

    #[tokio::test]
    async fn billing_spawns_a_ready_charge_per_invoice() -> Result<(), JobError> {
        let backend = MemoryBackend::new();
        let ids = bill(&backend, &[invoice("carol", 300), invoice("dave", 120)]).await?;
        for id in ids {
            let job = admin::get(&backend, id).await?.expect("spawned");
            assert_eq!((job.name.as_str(), job.state), ("charge", JobState::Ready));
        }
        Ok(())
    }

    #[tokio::test]
    async fn a_registry_without_the_ledger_is_refused() {
        let bare = JobRegistry::new(&[charge]);
        let refused = run_job(&bare, &charge.builder()).await;
        assert!(matches!(refused, Err(mq::Error::MissingContext { .. })));
    }
}
