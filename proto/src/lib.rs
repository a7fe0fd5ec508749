//! # twin-proto: the wire contract
//!
//! The `twin.v1` gRPC service: `proto/twin/v1/*.proto` compiled with tonic and
//! prost (through protox, without a system `protoc`), and the conversions
//! between its messages and the twin-core vocabulary. The proto files are the
//! contract with clients (the viewer, Python and Rust clients); the server in
//! `twin-actors` is a thin mapping of them onto the runtime.

/// The generated messages, client and server of `twin.v1`.
#[allow(clippy::all, missing_docs)]
pub mod v1 {
    tonic::include_proto!("twin.v1");
}

/// The encoded file descriptor set of `twin.v1`, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/twin_descriptor.bin"));

pub mod client;
pub mod convert;
pub mod plan;
pub mod state;
pub mod workorder;
