//! The `-m` selector and `--slo` objective parsers on arbitrary text: no panic, and what parses
//! prints as something that parses again.
#![no_main]

use kubelet_metrics::exposition::Selector;
use kubelet_metrics::slo::Objective;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(selector) = text.parse::<Selector>() {
        let shown = selector.to_string();
        let again: Selector = shown.parse().unwrap_or_else(|e| panic!("{text:?} → {shown:?}: {e}"));
        for name in ["kubelet_pod_start_duration_seconds", "x", "", "a_bucket", text] {
            assert_eq!(selector.keeps_family(name), again.keeps_family(name), "{text:?} on {name:?}");
        }
    }
    if let Ok(objective) = Objective::parse(text) {
        let shown = objective.to_string();
        Objective::parse(&shown).unwrap_or_else(|e| panic!("{text:?} → {shown:?}: {e}"));
    }
});
