//! Random (version 4) UUIDs for object uids, audit IDs and the like, drawn
//! from the kernel's generator in blocks: a create needs two, and one
//! `getrandom` call per 256 of them instead of one each keeps a syscall
//! off every request.

use std::cell::RefCell;

const BLOCK: usize = 4096;

struct Pool {
    bytes: [u8; BLOCK],
    used: usize,
}

thread_local! {
    static POOL: RefCell<Pool> = const { RefCell::new(Pool { bytes: [0; BLOCK], used: BLOCK }) };
}

/// A new random UUID (RFC 9562 version 4).
pub fn new_v4() -> uuid::Uuid {
    let drawn = POOL.with_borrow_mut(|p| {
        if p.used == BLOCK {
            getrandom::fill(&mut p.bytes).ok()?;
            p.used = 0;
        }
        let mut b = [0u8; 16];
        b.copy_from_slice(&p.bytes[p.used..p.used + 16]);
        // Spent bytes are not kept around.
        p.bytes[p.used..p.used + 16].fill(0);
        p.used += 16;
        Some(b)
    });
    match drawn {
        Some(b) => uuid::Builder::from_random_bytes(b).into_uuid(),
        None => uuid::Uuid::new_v4(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_are_version_4_and_distinct_across_refills() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..(3 * BLOCK / 16) {
            let u = new_v4();
            assert_eq!(u.get_version_num(), 4);
            assert_eq!(u.get_variant(), uuid::Variant::RFC4122);
            assert!(seen.insert(u), "{u} came twice");
        }
    }
}
