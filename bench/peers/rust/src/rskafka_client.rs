//! rskafka: not wired yet.

use anyhow::{Result, bail};

use crate::common::{ConsumeArgs, ConsumeOut, E2eArgs, E2eOut, GroupArgs, ProduceArgs, ProduceOut};

pub async fn produce(_a: &ProduceArgs) -> Result<ProduceOut> {
    bail!("not implemented yet")
}

pub async fn consume(_a: &ConsumeArgs) -> Result<ConsumeOut> {
    bail!("not implemented yet")
}

pub async fn e2e(_a: &E2eArgs) -> Result<E2eOut> {
    bail!("not implemented yet")
}

#[allow(dead_code)]
pub async fn group(_a: &GroupArgs) -> Result<ConsumeOut> {
    bail!("not implemented yet")
}
