//! The keys of `mmviz replay`: part of the one keymap (help, man page and README read it).

use super::Key;

/// What a key does in `mmviz replay` (its own small key set: the recording is played, not
/// steered, so none of the live view's actions apply).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReplayAction {
    PlayPause,
    NextFrame,
    PrevFrame,
    Forward10s,
    Back10s,
    Slower,
    Faster,
    /// `0`..`9`: seek to that tenth of the recording.
    SeekTenth,
    First,
    Last,
    /// `n` / `p`: the next / previous lesson step recorded.
    NextLessonStep,
    PrevLessonStep,
    Quit,
}

/// One row of the replay keys: the keys, the short form the replay's status line shows
/// (`""`: not shown there), the help text, the bindings.
#[derive(Clone, Copy, Debug)]
pub struct ReplayRow {
    pub keys: &'static str,
    pub status: &'static str,
    pub help: &'static str,
    pub bindings: &'static [(Key, ReplayAction)],
}

use Key as K;
use ReplayAction as R;

/// Every key of `mmviz replay`, in help order (the status line shows them in this order, as
/// many as fit, `q quit` always).
pub const REPLAY_KEYMAP: &[ReplayRow] = &[
    ReplayRow {
        keys: "space",
        status: "space play",
        help: "play / pause (at the end: play again from the start)",
        bindings: &[(K::Char(' '), R::PlayPause)],
    },
    ReplayRow {
        keys: "→ ←  . ,",
        status: "←→ frame",
        help: "next / previous frame (pauses)",
        bindings: &[
            (K::Right, R::NextFrame),
            (K::Char('.'), R::NextFrame),
            (K::Left, R::PrevFrame),
            (K::Char(','), R::PrevFrame),
        ],
    },
    ReplayRow {
        keys: "n p",
        status: "n/p step",
        help: "jump to the next / previous lesson step recorded (the status line shows the \
step and its checks as measured)",
        bindings: &[
            (K::Char('n'), R::NextLessonStep),
            (K::Char('p'), R::PrevLessonStep),
        ],
    },
    ReplayRow {
        keys: "PgDn PgUp",
        status: "PgUp/PgDn ±10s",
        help: "10 seconds forward / back",
        bindings: &[(K::PageDown, R::Forward10s), (K::PageUp, R::Back10s)],
    },
    ReplayRow {
        keys: "[  ]",
        status: "[ ] speed",
        help: "slower / faster (¼× … 16×)",
        bindings: &[(K::Char('['), R::Slower), (K::Char(']'), R::Faster)],
    },
    ReplayRow {
        keys: "0-9",
        status: "0-9 seek",
        help: "seek to 0 %, 10 % … 90 % of the recording",
        bindings: &[
            (K::Char('0'), R::SeekTenth),
            (K::Char('1'), R::SeekTenth),
            (K::Char('2'), R::SeekTenth),
            (K::Char('3'), R::SeekTenth),
            (K::Char('4'), R::SeekTenth),
            (K::Char('5'), R::SeekTenth),
            (K::Char('6'), R::SeekTenth),
            (K::Char('7'), R::SeekTenth),
            (K::Char('8'), R::SeekTenth),
            (K::Char('9'), R::SeekTenth),
        ],
    },
    ReplayRow {
        keys: "Home End",
        status: "Home/End ends",
        help: "first / last frame",
        bindings: &[(K::Home, R::First), (K::End, R::Last)],
    },
    ReplayRow {
        keys: "q  Esc  Ctrl-C",
        status: "q quit",
        help: "quit",
        bindings: &[
            (K::Char('q'), R::Quit),
            (K::Esc, R::Quit),
            (K::Ctrl('c'), R::Quit),
        ],
    },
];

/// The replay action bound to `key`, if any.
pub fn replay_lookup(key: Key) -> Option<ReplayAction> {
    REPLAY_KEYMAP
        .iter()
        .flat_map(|r| r.bindings.iter())
        .find(|(k, _)| *k == key)
        .map(|&(_, a)| a)
}

/// The README's table of the replay keys (Markdown), generated from [`REPLAY_KEYMAP`].
pub fn replay_markdown_table() -> String {
    let mut s = String::from("| key (replay) | action |\n|---|---|\n");
    for r in REPLAY_KEYMAP {
        let keys: Vec<String> = r
            .keys
            .split_whitespace()
            .map(|k| format!("`{k}`"))
            .collect();
        s.push_str(&format!("| {} | {} |\n", keys.join(" "), r.help));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn replay_keys_are_unique_and_looked_up() {
        let mut seen: HashMap<Key, ReplayAction> = HashMap::new();
        for (k, a) in REPLAY_KEYMAP.iter().flat_map(|r| r.bindings.iter()) {
            if let Some(prev) = seen.insert(*k, *a) {
                panic!("{k:?} is bound to {prev:?} and {a:?} in replay");
            }
        }
        assert_eq!(
            replay_lookup(Key::Char('n')),
            Some(ReplayAction::NextLessonStep)
        );
        assert_eq!(replay_lookup(Key::Ctrl('c')), Some(ReplayAction::Quit));
        assert_eq!(replay_lookup(Key::Char('e')), None);
    }
}
