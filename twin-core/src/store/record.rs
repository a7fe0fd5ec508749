//! How an entity record is laid out in the store: the record, then what
//! inference keeps for it, then the entity's own alarm limits, each part
//! only when there is anything, so that records written before a part
//! existed read as they are.

use serde::de::DeserializeOwned;

use super::{Result, StoreError};
use crate::{EntityId, EntityRecord};

/// The error for a record that does not decode; `key` names it, and is only
/// formatted when the error happens.
pub(crate) fn corrupt(key: impl FnOnce() -> String) -> impl FnOnce(postcard::Error) -> StoreError {
    move |source| StoreError::Decode { key: key(), source }
}

fn decode<T: DeserializeOwned>(bytes: &[u8], id: EntityId) -> Result<T> {
    postcard::from_bytes(bytes).map_err(corrupt(|| id.to_string()))
}

/// A stored record: the record, then what inference keeps for it, then the
/// entity's own alarm limits, each when there is anything. The later parts
/// are optional so that records written before they existed read as they
/// are.
pub(crate) fn encode_record(r: &EntityRecord, buf: Vec<u8>) -> Vec<u8> {
    let buf = postcard::to_extend(r, buf).expect("records serialise");
    let limits = r.common.extras.as_ref().map_or(&[][..], |e| &e.limits[..]);
    if r.inferred.is_empty() && limits.is_empty() {
        return buf;
    }
    let buf = postcard::to_extend(&r.inferred, buf).expect("records serialise");
    if limits.is_empty() {
        buf
    } else {
        postcard::to_extend(limits, buf).expect("records serialise")
    }
}

pub(crate) fn decode_record(bytes: &[u8], id: EntityId) -> Result<EntityRecord> {
    let (mut record, rest): (EntityRecord, _) =
        postcard::take_from_bytes(bytes).map_err(corrupt(|| id.to_string()))?;
    if !rest.is_empty() {
        let (inferred, rest) =
            postcard::take_from_bytes(rest).map_err(corrupt(|| id.to_string()))?;
        record.inferred = inferred;
        if !rest.is_empty() {
            record.common.extras_mut().limits = decode(rest, id)?;
        }
    }
    Ok(record)
}
