//! `gate demo` end to end: it must run on a machine with only git and tmux, and show every key
//! moment of the tour.

use crate::env::{TestEnv, assert_contains, assert_exit, stdout};

#[test]
fn the_demo_runs_end_to_end_and_shows_each_key_moment() {
    let env = TestEnv::plain();
    let out = env.gate_in(&env.base_dir(), &["demo"]);
    assert_exit(&out, 0);
    assert_contains(
        &stdout(&out),
        &[
            "gate: commit refused",
            "[feature-branch] main is protected",
            "switched to new branch feature/001-shopping-cart",
            "[implementation-gate] implementation files staged while spec.md of 001-shopping-cart is incomplete",
            "✗ refused: plan.md needs a complete specs/001-shopping-cart/spec.md",
            "✓ implementation may begin",
            "Progress: 1 added (src/checkout.rs)",
            "The agent's pane received a nudge:",
            "The agent's pane received the check-in:",
            "as stable-001-shopping-cart-",
            "team shop is up in",
            "▶ You are ann, the engineer of team shop.",
            "team shop (3 agents",
            "✓ ann            engineer     feature/002-search-box       alive",
            "stopped session shop",
            "gate status",
        ],
    );
}
