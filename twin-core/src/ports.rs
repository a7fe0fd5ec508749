//! The two seams between the runtime and whatever feeds it.
//!
//! The runtime (crate `twin-actors`) does not know the simulated world (crate
//! `twin-scenarios`) and the world does not know the runtime; the binary wires
//! them through these traits. A live feed or a recording implements the same
//! source, so the runtime cannot tell a simulation from a real site.

use crate::command::Command;
use crate::observation::Observation;
use crate::time::SimTime;

/// Something that produces observations as simulated time advances.
pub trait ObservationSource {
    /// Advances to `until` and appends every observation due by then, in time
    /// order. Returns `false` once the source has nothing more to give.
    fn advance(&mut self, until: SimTime, out: &mut Vec<Observation>) -> bool;
}

/// Something that acts on commands issued by the twin.
pub trait CommandSink {
    fn deliver(&mut self, command: Command);
}
