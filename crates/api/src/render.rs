//! Rendering large list answers without stalling the requests queued behind them.
//!
//! Turning a thousand sessions into JSON takes tens of milliseconds of one async worker
//! thread. Every other request whose task waits in that worker's queue (whoami, above all)
//! would wait that long too: on a 2-core machine, one caller's searches put whoami's p99 at
//! several times its idle value. `block_in_place` hands the worker's queue to another thread
//! for the duration, so the operating system time-slices the rendering with everything else
//! instead. The list limits still bound how many such renderings run at once.

use tokio::runtime::{Handle, RuntimeFlavor};

/// Rows from which rendering counts as large; below it the hand-over costs more than it saves.
const LARGE: usize = 100;

/// Runs `render` (of `rows` items) off this worker's queue when it is large and the runtime
/// can hand the queue over (the multi-threaded one `lanyard serve` uses); else in place.
pub(crate) fn render_list<R>(rows: usize, render: impl FnOnce() -> R) -> R {
    let can_hand_over = Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread);
    if rows >= LARGE && can_hand_over {
        tokio::task::block_in_place(render)
    } else {
        render()
    }
}
