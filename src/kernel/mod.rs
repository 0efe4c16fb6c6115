//! What the kernel says, and the syscalls to ask it: no terminal, session or workload code
//! here. Each module owns the types it returns; the snapshot embeds them.

pub mod addrspace;
pub mod advice;
pub mod cache;
pub mod counters;
pub mod features;
pub mod fsinfo;
pub mod machine;
pub mod mapping;
pub mod meminfo;
pub mod pagemap;
pub mod residency;
pub mod sys;
pub mod target;
pub mod tlb;
