//! # twin-proto: the wire contract
//!
//! The `twin.v1` gRPC service: `proto/twin/v1/*.proto` compiled with tonic and
//! prost (without a system `protoc`), and the conversions between its messages
//! and the twin-core vocabulary. The proto files are the contract with clients
//! (the viewer, Python and Rust clients); the server in `twin-actors` is a thin
//! mapping of them onto the runtime.
//!
//! The service arrives with the gRPC API issue; until then this crate only
//! reserves its place in the workspace.
