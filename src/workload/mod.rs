//! What runs against the mapping: the worker process and its protocol, the access patterns,
//! the scratch files write demos use (the user's file is never written), the two-process
//! MAP_SHARED IPC demo.

pub mod ipc;
pub mod patterns;
pub mod scratch;
pub mod worker;
