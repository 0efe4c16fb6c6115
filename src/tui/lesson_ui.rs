//! The lesson side of the live view: the picker's keys and the requests the event loop turns
//! into controller calls ([`crate::lesson::controller::Controller`] lives in the loop, since
//! its probes and set-up act on the world; [`App`] stays pure state).

use super::app::App;
use super::keymap::{self, Action, Key, Mode};
use crate::session::snapshot::Command;
use crossterm::event::KeyEvent;

/// What a lesson key asks of the event loop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LessonRequest {
    Next,
    Prev,
    /// `.`: one access.
    Access,
    /// Start the lesson of this name (from the picker).
    Start(String),
}

impl App {
    /// The lesson keys (`n`, `p`, `.` in a lesson; `L` and the picker's keys).
    pub(super) fn lesson_action(&mut self, action: Action) -> Vec<Command> {
        match action {
            Action::LessonNext => self.lesson_requests.push(LessonRequest::Next),
            Action::LessonPrev => self.lesson_requests.push(LessonRequest::Prev),
            Action::LessonAccess => self.lesson_requests.push(LessonRequest::Access),
            Action::OpenPicker => {
                self.help = false;
                self.log = false;
                self.picker = Some((0, None));
            }
            Action::PickerUp | Action::PickerDown => {
                let n = self.lessons.len().max(1);
                if let Some((sel, note)) = &mut self.picker {
                    *sel = if action == Action::PickerUp {
                        (*sel + n - 1) % n
                    } else {
                        (*sel + 1) % n
                    };
                    *note = None;
                }
            }
            Action::PickerChoose => {
                if let Some((sel, _)) = self.picker {
                    if let Some(e) = self.lessons.get(sel) {
                        self.lesson_requests
                            .push(LessonRequest::Start(e.name.clone()));
                    }
                }
            }
            Action::PickerClose => self.picker = None,
            _ => {}
        }
        vec![]
    }

    /// Keys while the picker is open: its own, plus quit; everything else waits.
    pub(super) fn picker_key(&mut self, key: KeyEvent) -> Vec<Command> {
        let Some(k) = Key::of(&key) else {
            return vec![];
        };
        match keymap::lookup(k, Mode::Picker) {
            Some(Action::Quit) => self.quit_with(super::app::ExitKind::Normal),
            Some(Action::Interrupt) => self.quit_with(super::app::ExitKind::Interrupted),
            Some(
                a @ (Action::PickerUp
                | Action::PickerDown
                | Action::PickerChoose
                | Action::PickerClose),
            ) => self.lesson_action(a),
            _ => vec![],
        }
    }

    /// The event loop's answer to a Start request that cannot run in this session.
    pub fn picker_refused(&mut self, why: String) {
        if let Some((_, note)) = &mut self.picker {
            *note = Some(why);
        }
    }

    /// Takes the lesson requests the keys made since the last call.
    pub fn take_lesson_requests(&mut self) -> Vec<LessonRequest> {
        std::mem::take(&mut self.lesson_requests)
    }
}
