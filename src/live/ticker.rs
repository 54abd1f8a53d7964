//! The hub's clock: every [`LiveSettings::flush_every`] it sends the typing lines and
//! counts that changed, pings one slice of the sockets (so that ten thousand sockets
//! do not all ping in the same instant, and no socket keeps a timer of its own), and
//! now and then renews this process's presence leases.
use std::{collections::HashMap, sync::Weak, time::Instant};

use super::{
    Hub, LiveSettings,
    hub::Inner,
    leases,
    outgoing::{Outgoing, broadcast},
};

pub(super) async fn run(hub: Weak<Inner>) {
    let Some(settings) = hub.upgrade().map(|inner| inner.settings.clone()) else {
        return;
    };
    let slices = ping_slices(&settings);
    let mut interval = tokio::time::interval(settings.flush_every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut written = HashMap::new();
    let mut leases_kept = Instant::now();
    let mut ticks: u64 = 0;
    loop {
        interval.tick().await;
        let Some(inner) = hub.upgrade() else { return };
        let hub = Hub { inner };
        hub.flush_coalesced();
        hub.flush_typing();
        hub.flush_presence(&mut written).await;
        hub.ping_slice(ticks % slices, slices);
        ticks = ticks.wrapping_add(1);
        if leases_kept.elapsed() >= leases::RENEW_EVERY {
            leases_kept = Instant::now();
            hub.keep_leases().await;
        }
    }
}

/// Into how many slices the sockets are cut, one pinged per tick.
fn ping_slices(settings: &LiveSettings) -> u64 {
    let ticks = settings.ping_every.as_millis() / settings.flush_every.as_millis().max(1);
    (ticks as u64).max(1)
}

impl Hub {
    /// Pings the sockets of one slice of `slices` (one frame, shared by all of them).
    pub(super) fn ping_slice(&self, slice: u64, slices: u64) {
        let ping = Outgoing::ping();
        let state = self.state();
        let due = state
            .registry
            .sockets
            .iter()
            .filter(|(id, _)| *id % slices == slice)
            .map(|(_, e)| &e.subscriber);
        broadcast(due, &ping, &self.inner.metrics);
    }
}
