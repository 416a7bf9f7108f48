//! [`Answer`]: what a nonce or rate-limit check returns — a value at once when the state is in
//! this process's memory (SQLite: one `serve` per database), or a future when it is in the store
//! (PostgreSQL: every node's state in one database). The in-memory path allocates nothing: it is a
//! [`std::future::Ready`] inside an enum.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The answer of a check, awaited by the pipeline either way.
pub enum Answer<'a, T> {
    /// Known now (in memory).
    Ready(std::future::Ready<T>),
    /// Known after I/O (the store): boxed, borrowing the checker for `'a`.
    Later(Pin<Box<dyn Future<Output = T> + Send + 'a>>),
}

impl<'a, T> Answer<'a, T> {
    /// An answer known now.
    pub fn ready(value: T) -> Self {
        Self::Ready(std::future::ready(value))
    }

    /// An answer `future` will give.
    pub fn later(future: impl Future<Output = T> + Send + 'a) -> Self {
        Self::Later(Box::pin(future))
    }
}

impl<T> Future for Answer<'_, T> {
    type Output = T;

    /// Polls the inner future. Like [`std::future::Ready`], an answer polled again after it
    /// completed panics (a bug in the caller, never input).
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match self.get_mut() {
            Self::Ready(ready) => Pin::new(ready).poll(cx),
            Self::Later(future) => future.as_mut().poll(cx),
        }
    }
}

impl<T> std::fmt::Debug for Answer<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Ready(_) => "Answer::Ready",
            Self::Later(_) => "Answer::Later",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn both_kinds_give_their_value() {
        assert_eq!(Answer::ready(1).await, 1);
        assert_eq!(Answer::later(async { 2 }).await, 2);
    }
}
