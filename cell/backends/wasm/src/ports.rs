//! Host ports of wasm instances: a range of its own (the cell gives the OCI backend another),
//! skipping ports something else already holds.

use std::collections::BTreeSet;
use std::net::{IpAddr, TcpListener};
use std::sync::Mutex;

use crate::error::{Result, WasmBackendError};

pub(crate) struct PortPool {
    range: (u32, u32),
    ip: IpAddr,
    taken: Mutex<BTreeSet<u32>>,
}

impl PortPool {
    pub(crate) fn new(range: (u32, u32), ip: IpAddr) -> Self {
        Self {
            range,
            ip,
            taken: Mutex::new(BTreeSet::new()),
        }
    }

    pub(crate) fn take(&self) -> Result<u32> {
        let mut taken = self.taken.lock().unwrap_or_else(|p| p.into_inner());
        for port in self.range.0..=self.range.1 {
            if taken.contains(&port) {
                continue;
            }
            // A port another process holds would fail the instance's bind later.
            let Ok(port16) = u16::try_from(port) else {
                break;
            };
            if TcpListener::bind((self.ip, port16)).is_err() {
                continue;
            }
            taken.insert(port);
            return Ok(port);
        }
        Err(WasmBackendError::NoFreePort(self.range.0, self.range.1))
    }

    pub(crate) fn release(&self, port: u32) {
        let mut taken = self.taken.lock().unwrap_or_else(|p| p.into_inner());
        taken.remove(&port);
    }
}
