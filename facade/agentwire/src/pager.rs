//! Offset pagination as a stream, fetching the next page while the caller
//! works through the current one.

use std::collections::VecDeque;
use std::future::Future;

use agentwire_runtime::{Error, Result};
use futures_core::Stream;
use tokio::task::JoinHandle;

/// One fetched page: its items and whether another page follows.
pub(crate) struct Fetched<T> {
    pub items: Vec<T>,
    pub has_more: bool,
}

struct State<T, F> {
    fetch: F,
    page_size: u32,
    remaining: Option<u64>,
    offset: u64,
    buffer: VecDeque<T>,
    next: Option<JoinHandle<Result<Fetched<T>>>>,
    done: bool,
}

impl<T, F> Drop for State<T, F> {
    fn drop(&mut self) {
        // A caller that stops early must not leave a request running.
        if let Some(h) = self.next.take() {
            h.abort();
        }
    }
}

/// Streams items page by page. `fetch(offset, limit)` loads one page; at most
/// two pages are held at once (the one being yielded and the one loading).
pub(crate) fn paginate<T, F, Fut>(
    page_size: u32,
    max_results: Option<u64>,
    fetch: F,
) -> impl Stream<Item = Result<T>> + Send + 'static
where
    T: Send + 'static,
    F: Fn(u64, u32) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Fetched<T>>> + Send + 'static,
{
    let state = State {
        fetch,
        page_size: page_size.max(1),
        remaining: max_results,
        offset: 0,
        buffer: VecDeque::new(),
        next: None,
        done: max_results == Some(0),
    };
    futures_util::stream::unfold(state, |mut st| async move {
        loop {
            if st.remaining == Some(0) {
                return None;
            }
            if let Some(item) = st.buffer.pop_front() {
                if let Some(r) = st.remaining.as_mut() {
                    *r -= 1;
                }
                return Some((Ok(item), st));
            }
            if st.done {
                return None;
            }
            let handle = match st.next.take() {
                Some(h) => h,
                None => tokio::spawn((st.fetch)(st.offset, st.limit())),
            };
            let page = match handle.await {
                Ok(page) => page,
                Err(e) => Err(Error::Interrupted {
                    message: format!("the page request {e}"),
                }),
            };
            match page {
                Err(e) => {
                    st.done = true;
                    return Some((Err(e), st));
                }
                Ok(page) => {
                    st.offset += page.items.len() as u64;
                    let enough = st.remaining.is_some_and(|r| page.items.len() as u64 >= r);
                    if !page.has_more || page.items.is_empty() || enough {
                        st.done = true;
                    } else {
                        st.next = Some(tokio::spawn((st.fetch)(st.offset, st.limit())));
                    }
                    st.buffer = page.items.into();
                }
            }
        }
    })
}

impl<T, F> State<T, F> {
    /// The page size, shrunk for the last page when a maximum is set.
    fn limit(&self) -> u32 {
        let left = self
            .remaining
            .map_or(u64::MAX, |r| r.saturating_sub(self.buffer.len() as u64));
        u64::from(self.page_size).min(left.max(1)) as u32
    }
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;

    use super::*;

    #[tokio::test]
    async fn a_page_task_that_panics_ends_the_stream_with_interrupted() {
        let stream = paginate(2, None, |offset, _limit| async move {
            if offset > 0 {
                panic!("the fetch blew up");
            }
            Ok(Fetched {
                items: vec![1, 2],
                has_more: true,
            })
        });
        let got: Vec<Result<u32>> = Box::pin(stream).collect().await;
        assert_eq!(got.len(), 3, "two items, then the failure");
        match &got[2] {
            Err(Error::Interrupted { message }) => {
                assert!(message.contains("panicked"), "{message}")
            }
            other => panic!("{other:?}"),
        }
    }
}
