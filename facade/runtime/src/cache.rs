//! An opt-in in-memory cache of successful GET responses. Any successful
//! write through the same client empties it, since a write may change what
//! any GET would return.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, StatusCode};

/// Largest number of entries kept; beyond it the oldest expire first.
const MAX_ENTRIES: usize = 1024;

#[derive(Debug, Clone)]
pub(crate) struct CachedResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// Sent more than once under the runtime's own idempotency key.
    pub resent: bool,
}

#[derive(Debug)]
pub(crate) struct ResponseCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, CachedResponse)>>,
}

impl ResponseCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        ResponseCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<CachedResponse> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match entries.get(key) {
            Some((expires, r)) if Instant::now() < *expires => Some(r.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    pub(crate) fn put(&self, key: String, response: CachedResponse) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES {
            let now = Instant::now();
            entries.retain(|_, (expires, _)| *expires > now);
            if entries.len() >= MAX_ENTRIES {
                if let Some(oldest) = entries
                    .iter()
                    .min_by_key(|(_, (expires, _))| *expires)
                    .map(|(k, _)| k.clone())
                {
                    entries.remove(&oldest);
                }
            }
        }
        entries.insert(key, (Instant::now() + self.ttl, response));
    }

    pub(crate) fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(body: &'static str) -> CachedResponse {
        CachedResponse {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: Bytes::from_static(body.as_bytes()),
            resent: false,
        }
    }

    #[test]
    fn entries_expire_and_clear() {
        let c = ResponseCache::new(Duration::from_secs(60));
        c.put("a".into(), resp("1"));
        assert_eq!(c.get("a").unwrap().body, "1");
        c.clear();
        assert!(c.get("a").is_none());
        let c = ResponseCache::new(Duration::ZERO);
        c.put("a".into(), resp("1"));
        assert!(c.get("a").is_none());
    }

    #[test]
    fn size_is_bounded() {
        let c = ResponseCache::new(Duration::from_secs(60));
        for i in 0..(MAX_ENTRIES + 10) {
            c.put(i.to_string(), resp("x"));
        }
        assert!(c.len() <= MAX_ENTRIES);
    }
}
