//! The event bus.
//!
//! Shards publish whole batches of events (`Arc<EventBatch>`), so publishing
//! costs one atomic clone per subscriber per batch, whatever the batch size.
//! Filters (by kind, entity, event type) run on the subscriber's side, so a
//! thousand watchers cost the publishers nothing more.
//!
//! The channel is a bounded broadcast ring: a publisher never waits. A
//! subscriber that falls more than the ring's capacity behind loses the oldest
//! batches and is told how many events it missed, computed from the global
//! sequence numbers every batch carries.

use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;
use twin_core::{EntityId, Event, EventType, Kind};

/// Events published together, numbered from `first_seq` in publication order.
#[derive(Debug)]
pub struct EventBatch {
    pub first_seq: u64,
    pub events: Vec<Event>,
}

/// What a subscriber wants. Empty lists mean "all".
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub kinds: Vec<Kind>,
    pub entities: Vec<EntityId>,
    pub types: Vec<EventType>,
}

impl Filter {
    pub fn all() -> Filter {
        Filter::default()
    }
    pub fn matches(&self, e: &Event) -> bool {
        (self.kinds.is_empty() || self.kinds.contains(&e.entity.kind()))
            && (self.entities.is_empty() || self.entities.contains(&e.entity))
            && (self.types.is_empty() || self.types.contains(&e.body.event_type()))
    }
    fn is_all(&self) -> bool {
        self.kinds.is_empty() && self.entities.is_empty() && self.types.is_empty()
    }
}

/// The publishing side. Cheap to clone.
#[derive(Clone)]
pub struct Bus {
    inner: Arc<BusInner>,
}

struct BusInner {
    tx: broadcast::Sender<Arc<EventBatch>>,
    /// Next sequence number; held while sending so that sequence order and
    /// channel order agree.
    seq: Mutex<u64>,
}

impl Bus {
    /// A bus whose ring holds `capacity` batches.
    pub fn new(capacity: usize) -> Bus {
        let (tx, _) = broadcast::channel(capacity.max(1));
        Bus {
            inner: Arc::new(BusInner {
                tx,
                seq: Mutex::new(0),
            }),
        }
    }

    /// Publishes a batch; never blocks on subscribers.
    pub fn publish(&self, events: Vec<Event>) {
        if events.is_empty() {
            return;
        }
        let mut seq = self.inner.seq.lock().expect("bus lock poisoned");
        let batch = EventBatch {
            first_seq: *seq,
            events,
        };
        *seq += batch.events.len() as u64;
        // An error only means nobody is subscribed: nothing to deliver.
        let _ = self.inner.tx.send(Arc::new(batch));
    }

    /// Total events published so far.
    pub fn published(&self) -> u64 {
        *self.inner.seq.lock().expect("bus lock poisoned")
    }

    pub fn subscribe(&self, filter: Filter) -> Subscription {
        let seq = self.inner.seq.lock().expect("bus lock poisoned");
        Subscription {
            rx: self.inner.tx.subscribe(),
            filter: Arc::new(filter),
            expected: *seq,
            pending: None,
        }
    }

    pub fn subscribers(&self) -> usize {
        self.inner.tx.receiver_count()
    }
}

/// What a subscriber receives.
#[derive(Debug)]
pub enum Delivery {
    /// The next batch, seen through the subscriber's filter.
    Events(Filtered),
    /// The subscriber fell behind: `missed` events (before filtering) were
    /// dropped for it. Deliveries resume with the oldest batch still held.
    Lagged { missed: u64 },
    /// The bus is gone (runtime stopped).
    Closed,
}

/// A batch seen through a filter, without copying it.
#[derive(Debug, Clone)]
pub struct Filtered {
    batch: Arc<EventBatch>,
    filter: Arc<Filter>,
}

impl Filtered {
    pub fn iter(&self) -> impl Iterator<Item = &Event> {
        let all = self.filter.is_all();
        self.batch
            .events
            .iter()
            .filter(move |e| all || self.filter.matches(e))
    }
    /// Number of matching events.
    pub fn count(&self) -> usize {
        if self.filter.is_all() {
            self.batch.events.len()
        } else {
            self.iter().count()
        }
    }
    pub fn first_seq(&self) -> u64 {
        self.batch.first_seq
    }
}

pub struct Subscription {
    rx: broadcast::Receiver<Arc<EventBatch>>,
    filter: Arc<Filter>,
    /// Sequence number of the next event this subscriber should see.
    expected: u64,
    /// A batch received while detecting a lag, delivered next.
    pending: Option<Arc<EventBatch>>,
}

impl Subscription {
    /// Waits for the next delivery.
    pub async fn recv(&mut self) -> Delivery {
        if let Some(b) = self.pending.take() {
            return self.deliver(b);
        }
        loop {
            match self.rx.recv().await {
                Ok(b) => return self.deliver(b),
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let next = self.rx.recv().await.ok();
                    if let Some(d) = self.after_lag(next) {
                        return d;
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return Delivery::Closed,
            }
        }
    }

    /// The next delivery if one is ready, without waiting.
    pub fn try_recv(&mut self) -> Option<Delivery> {
        if let Some(b) = self.pending.take() {
            return Some(self.deliver(b));
        }
        match self.rx.try_recv() {
            Ok(b) => Some(self.deliver(b)),
            Err(broadcast::error::TryRecvError::Lagged(_)) => {
                let next = self.rx.try_recv().ok();
                self.after_lag(next)
            }
            Err(broadcast::error::TryRecvError::Closed) => Some(Delivery::Closed),
            Err(broadcast::error::TryRecvError::Empty) => None,
        }
    }

    /// Blocks the calling (non-async) thread until the next delivery.
    pub fn blocking_recv(&mut self) -> Delivery {
        futures::executor::block_on(self.recv())
    }

    fn after_lag(&mut self, next: Option<Arc<EventBatch>>) -> Option<Delivery> {
        let next = next?;
        let missed = next.first_seq.saturating_sub(self.expected);
        self.expected = next.first_seq;
        self.pending = Some(next);
        Some(Delivery::Lagged { missed })
    }

    fn deliver(&mut self, batch: Arc<EventBatch>) -> Delivery {
        self.expected = batch.first_seq + batch.events.len() as u64;
        Delivery::Events(Filtered {
            batch,
            filter: self.filter.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use twin_core::{EventBody, SimTime};

    fn events(n: usize, kind: Kind) -> Vec<Event> {
        (0..n)
            .map(|i| Event {
                time: SimTime(i as i64),
                entity: EntityId::of(kind, &format!("e{i}")),
                body: EventBody::Created,
            })
            .collect()
    }

    #[test]
    fn filters_by_kind() {
        let bus = Bus::new(8);
        let mut sub = bus.subscribe(Filter {
            kinds: vec![Kind::Machine],
            ..Filter::default()
        });
        let mut batch = events(3, Kind::Sensor);
        batch.extend(events(2, Kind::Machine));
        bus.publish(batch);
        match sub.try_recv() {
            Some(Delivery::Events(f)) => assert_eq!(f.count(), 2),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_slow_subscriber_is_told_what_it_missed_and_never_blocks_publishers() {
        let bus = Bus::new(4);
        let mut slow = bus.subscribe(Filter::all());
        for _ in 0..10 {
            bus.publish(events(100, Kind::Sensor)); // would block if it waited
        }
        match slow.try_recv() {
            Some(Delivery::Lagged { missed }) => assert_eq!(missed, 600),
            other => panic!("{other:?}"),
        }
        let mut seen = 0;
        while let Some(Delivery::Events(f)) = slow.try_recv() {
            seen += f.count();
        }
        assert_eq!(seen, 400);
        assert_eq!(bus.published(), 1000);
    }
}
