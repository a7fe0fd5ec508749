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
//!
//! Watchers of a few entities each (a dashboard, an inspector) are many, and
//! waking every one of them for every batch would cost them all the whole
//! stream. They subscribe by entity instead ([`Bus::subscribe_entities`]):
//! the publisher looks each event's entity up in an index once and appends
//! it to the bounded queues of the watchers that asked for it, dropping (and
//! counting) what a full queue cannot take.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};

use tokio::sync::{Notify, broadcast};
use twin_core::id::IdMap;
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
    /// Entity subscriptions by entity; dead ones are pruned on subscribe.
    by_entity: RwLock<IdMap<Vec<Weak<EntityQueue>>>>,
    /// How many entity subscriptions exist (0: publishing skips the index).
    entity_subs: AtomicUsize,
    /// One bit per bucket of entity ids that an entity subscription asked
    /// for: small enough to stay in cache, it turns away most events of
    /// unwatched entities before the index is looked at. Bits are never
    /// cleared; one left by a closed subscription costs a lookup, no more.
    watched: Box<[AtomicU64]>,
}

/// Bits in [`BusInner::watched`] (32 KiB).
const WATCHED_BITS: u64 = 1 << 18;

impl BusInner {
    fn watched_bit(id: EntityId) -> (usize, u64) {
        // Ids are hashes already: their low bits are as good as any.
        let bit = id.raw() % WATCHED_BITS;
        ((bit / 64) as usize, 1 << (bit % 64))
    }

    fn may_be_watched(&self, id: EntityId) -> bool {
        let (word, mask) = Self::watched_bit(id);
        self.watched[word].load(Ordering::Relaxed) & mask != 0
    }
}

/// The bounded queue of one entity subscription.
struct EntityQueue {
    types: Vec<EventType>,
    capacity: usize,
    state: Mutex<QueueState>,
    ready: Notify,
}

#[derive(Default)]
struct QueueState {
    events: VecDeque<Event>,
    missed: u64,
}

impl Bus {
    /// A bus whose ring holds `capacity` batches.
    pub fn new(capacity: usize) -> Bus {
        let (tx, _) = broadcast::channel(capacity.max(1));
        Bus {
            inner: Arc::new(BusInner {
                tx,
                seq: Mutex::new(0),
                by_entity: RwLock::new(IdMap::default()),
                entity_subs: AtomicUsize::new(0),
                watched: (0..WATCHED_BITS / 64).map(|_| AtomicU64::new(0)).collect(),
            }),
        }
    }

    /// Publishes a batch; never blocks on subscribers.
    pub fn publish(&self, events: Vec<Event>) {
        if events.is_empty() {
            return;
        }
        // Routing to entity watchers needs no sequence number: it is done
        // before taking the lock, so shards publishing at once route in
        // parallel instead of queueing behind each other.
        if self.inner.entity_subs.load(Ordering::Relaxed) > 0 {
            self.route_to_entities(&events);
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

    /// Appends each event to the queues of the entity subscriptions that
    /// asked for its entity; a full queue drops it and counts it missed.
    /// A queue's watcher takes everything queued when it wakes, so it is
    /// woken only when its queue stops being empty.
    fn route_to_entities(&self, events: &[Event]) {
        let index = self.inner.by_entity.read().expect("bus index poisoned");
        for e in events {
            if !self.inner.may_be_watched(e.entity) {
                continue;
            }
            let Some(subs) = index.get(&e.entity) else {
                continue;
            };
            for q in subs.iter().filter_map(Weak::upgrade) {
                if !q.types.is_empty() && !q.types.contains(&e.body.event_type()) {
                    continue;
                }
                let mut st = q.state.lock().expect("queue lock poisoned");
                let was_empty = st.events.is_empty() && st.missed == 0;
                if st.events.len() < q.capacity {
                    st.events.push_back(e.clone());
                } else {
                    st.missed += 1;
                }
                drop(st);
                if was_empty {
                    q.ready.notify_one();
                }
            }
        }
    }

    /// A subscription to the events of `entities` (of `types`, all when
    /// empty), holding at most `capacity` undelivered events.
    pub fn subscribe_entities(
        &self,
        entities: &[EntityId],
        types: Vec<EventType>,
        capacity: usize,
    ) -> EntitySubscription {
        let queue = Arc::new(EntityQueue {
            types,
            capacity: capacity.max(1),
            state: Mutex::new(QueueState::default()),
            ready: Notify::new(),
        });
        let mut index = self.inner.by_entity.write().expect("bus index poisoned");
        for id in entities {
            let (word, mask) = BusInner::watched_bit(*id);
            self.inner.watched[word].fetch_or(mask, Ordering::Relaxed);
            let subs = index.entry(*id).or_default();
            subs.retain(|w| w.strong_count() > 0);
            subs.push(Arc::downgrade(&queue));
        }
        self.inner.entity_subs.fetch_add(1, Ordering::Relaxed);
        EntitySubscription {
            queue,
            bus: self.inner.clone(),
        }
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

/// A subscription by entity; see [`Bus::subscribe_entities`].
pub struct EntitySubscription {
    queue: Arc<EntityQueue>,
    bus: Arc<BusInner>,
}

/// What an entity subscription receives.
#[derive(Debug)]
pub enum EntityDelivery {
    Events(Vec<Event>),
    /// Events dropped for this subscriber since its last delivery.
    Lagged {
        missed: u64,
    },
}

impl EntitySubscription {
    /// Waits for events (or news of missed ones); delivers what is queued.
    pub async fn recv(&mut self) -> EntityDelivery {
        loop {
            {
                let mut st = self.queue.state.lock().expect("queue lock poisoned");
                if st.missed > 0 {
                    return EntityDelivery::Lagged {
                        missed: std::mem::take(&mut st.missed),
                    };
                }
                if !st.events.is_empty() {
                    return EntityDelivery::Events(st.events.drain(..).collect());
                }
            }
            self.queue.ready.notified().await;
        }
    }
}

impl Drop for EntitySubscription {
    fn drop(&mut self) {
        self.bus.entity_subs.fetch_sub(1, Ordering::Relaxed);
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
    fn entity_subscriptions_get_their_entities_and_count_what_they_miss() {
        let bus = Bus::new(4);
        let batch = events(10, Kind::Sensor);
        let (a, b) = (batch[2].entity, batch[7].entity);
        let mut sub = bus.subscribe_entities(&[a, b], vec![], 3);
        for _ in 0..2 {
            bus.publish(events(10, Kind::Sensor));
        }
        // Four matching events, room for three.
        let d = futures::executor::block_on(sub.recv());
        assert!(matches!(d, EntityDelivery::Lagged { missed: 1 }), "{d:?}");
        match futures::executor::block_on(sub.recv()) {
            EntityDelivery::Events(e) => {
                assert_eq!(e.len(), 3);
                assert!(e.iter().all(|e| e.entity == a || e.entity == b));
            }
            other => panic!("{other:?}"),
        }
        drop(sub);
        assert_eq!(bus.inner.entity_subs.load(Ordering::Relaxed), 0);
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
